import { buildLinearModel } from '../../core/onnx/index.ts';
import { buildTreeEnsembleModel } from '../../core/onnx/tree-ensemble.ts';
import { type GbdtParams, predictGbdt, trainGbdt } from './gbdt.ts';
import { type LinearParams, linearModelSpec, predictLinear, trainLinear } from './linear.ts';
import type { FeatureMatrix, TrainTask } from './matrix.ts';

/**
 * One training job, pure: matrices in, an ONNX model and the trainer's own predictions out. It runs in a
 * worker thread (train-worker.ts), so everything here is plain data that crosses a thread boundary.
 */
export type Algorithm = 'logistic_regression' | 'gradient_boosted_trees';

export interface TrainJob {
  readonly task: TrainTask;
  readonly algorithm: Algorithm;
  readonly params: Readonly<Record<string, unknown>>;
  readonly features: readonly string[];
  readonly train: { readonly m: FeatureMatrix; readonly y: Float64Array };
  readonly validation: { readonly m: FeatureMatrix; readonly y: Float64Array };
  /** Rows the trainer predicts for the ONNX check and the metrics: the holdout, then the rest. */
  readonly score: readonly FeatureMatrix[];
}

export interface TrainResult {
  readonly onnx: Uint8Array;
  /** The fitted model as data (trees or weights), recorded with the version's parameters. */
  readonly model: unknown;
  /** Parameters as used (defaults filled in) and what training found (best iteration). */
  readonly parameters: Record<string, unknown>;
  /** The trainer's own predictions on each `score` matrix, in its float64 arithmetic. */
  readonly scores: Float64Array[];
  readonly seconds: number;
}

export function runTrainJob(job: TrainJob, onProgress: (done: number, total: number) => void): TrainResult {
  const started = performance.now();
  const out =
    job.algorithm === 'gradient_boosted_trees'
      ? trainTrees(job, onProgress)
      : trainLinearJob(job, onProgress);
  return { ...out, seconds: (performance.now() - started) / 1000 };
}

function trainTrees(job: TrainJob, onProgress: (done: number, total: number) => void) {
  const model = trainGbdt(
    job.train.m,
    job.train.y,
    {
      ...(job.params as Partial<GbdtParams>),
      task: job.task,
      validation: { m: job.validation.m, y: job.validation.y },
    },
    onProgress,
  );
  return {
    onnx: buildTreeEnsembleModel(model, job.features),
    model,
    parameters: { ...model.params, bestIteration: model.bestIteration, trees: model.trees.length },
    scores: job.score.map((m) => predictGbdt(model, m)),
  };
}

function trainLinearJob(job: TrainJob, onProgress: (done: number, total: number) => void) {
  const model = trainLinear(
    job.train.m,
    job.train.y,
    { ...(job.params as Partial<LinearParams>), task: job.task },
    (p) => onProgress(p.iteration, 0),
  );
  const spec = linearModelSpec(model);
  return {
    onnx: buildLinearModel({ ...spec, featureNames: job.features }),
    model,
    parameters: { ...model.params },
    scores: job.score.map((m) => predictLinear(model, m)),
  };
}
