import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import * as ort from 'onnxruntime-node';
import { parseDuration } from '../core/windows/duration.ts';
import type { CompiledView } from '../features/index.ts';
import { buildReferenceProfile, createMonitorStore, metricsFor } from '../monitor/index.ts';
import type { Logger } from '../platform/logger.ts';
import type { ModelDefinitionSpec } from '../project/index.ts';
import {
  failedEvent,
  loadSession,
  type ModelEvent,
  type ModelRegistry,
  type ModelVersion,
  type PipelineRuns,
  signatureOf,
  versionEvent,
} from '../registry/index.ts';
import type { TrainingSetBuilder } from '../training/index.ts';
import type { TrainerSettings } from './config.ts';
import {
  checkLabels,
  columnWithMissing,
  type Range,
  slice,
  splitByTime,
  type TrainingData,
} from './core/dataset.ts';
import type { TrainResult } from './core/train-job.ts';
import { eventOffsets, labelSpineQuery, loadTrainingData } from './dataset-store.ts';
import { trainInWorker } from './run-in-worker.ts';

/**
 * One retrain run, from request to registered version (DESIGN decision 8 and C3): build the
 * point-in-time training set of the model's window, split it by time, train off the event loop, check
 * that onnxruntime reproduces the trainer's predictions, measure the holdout, build the reference
 * profile with the monitor's code, register the version (its reference written before the version row:
 * a crash leaves no half version), record the step and announce it.
 *
 * Idempotent per run id: a run already trained (or failed) is not trained again; a run found in
 * `training` was interrupted and starts over. Training is deterministic, so a run restarted after its
 * version was registered produces the same bytes and finds that version rather than adding one.
 */
export interface RunRequest {
  readonly runId: string;
  readonly model: string;
  readonly reason: string;
  readonly dataWindowStart: number;
  readonly dataWindowEnd: number;
  readonly sourceOffsets: Readonly<Record<string, number>>;
  readonly requestedAt: number;
  readonly requestedBy: string;
  /** The controller's evidence (the request's details), kept with the run. */
  readonly evidence: Record<string, unknown>;
  /** A spine other than the monitor's labels (a first model, before anything was served). */
  readonly spine?: { query: string };
}

export type RunOutcome =
  | { kind: 'trained'; version: ModelVersion; created: boolean }
  | { kind: 'skipped'; state: string; version: number | null }
  | { kind: 'failed'; error: string };

export interface PipelineDeps {
  clickhouse: ClickHouseClient;
  db: string;
  views: readonly CompiledView[];
  models: ReadonlyMap<string, ModelDefinitionSpec>;
  registry: ModelRegistry;
  runs: PipelineRuns;
  builder: TrainingSetBuilder;
  publish: (e: ModelEvent) => Promise<void>;
  settings: TrainerSettings;
  codeVersion: string;
  logger: Logger;
  /** Called while a run trains (the service heartbeats Kafka from here). */
  onProgress?: (runId: string, stage: string, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Largest difference allowed between onnxruntime's outputs and the trainer's own. */
export const ONNX_TOLERANCE = 1e-5;

const DONE_STATES = new Set(['trained', 'gating', 'promoted', 'rejected', 'rolled_back', 'failed']);

export function createTrainingPipeline(deps: PipelineDeps) {
  const { logger } = deps;
  const monitorStore = createMonitorStore(deps.clickhouse, deps.db);

  async function run(request: RunRequest): Promise<RunOutcome> {
    const prior = await deps.runs.state(request.runId);
    if (prior && DONE_STATES.has(prior.state)) {
      logger.info('retrain run already done: not training again', {
        runId: request.runId,
        state: prior.state,
      });
      return { kind: 'skipped', state: prior.state, version: prior.version };
    }
    const definition = deps.models.get(request.model);
    const step = (
      state: 'requested' | 'training' | 'trained' | 'failed',
      details: object,
      version?: number,
    ) =>
      deps.runs.record({
        runId: request.runId,
        model: request.model,
        state,
        actor: 'trainer',
        details: details as Record<string, unknown>,
        ...(version !== undefined ? { version } : {}),
      });
    if (!prior) await step('requested', requestDetails(request));
    try {
      if (!definition) throw new Error(`the project has no model "${request.model}"`);
      await step('training', { restarted: prior?.state === 'training' });
      const { version, created, details } = await train(request, definition);
      await step('trained', details, version.version);
      await deps.publish(versionEvent('TRAINED', version, { runId: request.runId, details }));
      logger.info('model trained', { runId: request.runId, model: request.model, version: version.version });
      return { kind: 'trained', version, created };
    } catch (err) {
      if (deps.signal?.aborted) throw err;
      const error = (err as Error).message;
      logger.error('retrain run failed', { runId: request.runId, model: request.model, error });
      await step('failed', { error });
      await deps.publish(failedEvent(request.model, request.runId, { error }));
      return { kind: 'failed', error };
    }
  }

  async function train(request: RunRequest, definition: ModelDefinitionSpec) {
    const timings: Record<string, number> = {};
    let mark = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      timings[name] = (now - mark) / 1000;
      mark = now;
    };
    const features = definition.features;
    const setId = `run.${request.runId}`;
    const views = [...new Set(features.map((f) => f.slice(0, f.indexOf('.'))))];
    await deps.builder.build({
      setId,
      views,
      spine: request.spine ?? {
        query: labelSpineQuery(deps.db, {
          model: request.model,
          start: request.dataWindowStart,
          end: request.dataWindowEnd,
          knownAt: request.requestedAt,
        }),
      },
      onProgress: (p) => deps.onProgress?.(request.runId, 'training set', p.rows, p.totalRows),
    });
    lap('training_set');
    const data = await loadTrainingData(deps.clickhouse, deps.db, {
      setId,
      features,
      task: definition.task,
      maxRows: deps.settings.maxTrainingRows,
    });
    const splits = splitByTime(data, {
      windowEnd: request.dataWindowEnd,
      holdoutMs: parseDuration(definition.training.holdout),
      validationShare: deps.settings.validationShare,
      minRowsPerSplit: deps.settings.minRowsPerSplit,
    });
    checkLabels(definition.task, slice(data, splits.train).y, 'training rows');
    checkLabels(definition.task, slice(data, splits.holdout).y, 'holdout rows');
    lap('load');
    const all: Range = { from: 0, to: data.rows };
    const result = await trainInWorker(
      {
        task: definition.task,
        algorithm: definition.algorithm,
        params: { seed: deps.settings.seed },
        features,
        train: slice(data, splits.train),
        validation: slice(data, splits.validation),
        score: [slice(data, all).m],
      },
      {
        onProgress: (done, total) => deps.onProgress?.(request.runId, 'training', done, total),
        ...(deps.signal ? { signal: deps.signal } : {}),
      },
    );
    lap('train');
    const { scores, maxAbsDiff } = await checkWithOnnxRuntime(result, data);
    lap('onnx_check');
    const holdoutScores = scores.subarray(splits.holdout.from, splits.holdout.to);
    const metrics = numericMetrics(metricsFor(definition.task, slice(data, splits.holdout).y, holdoutScores));
    const splitRows = {
      train: splits.train.to - splits.train.from,
      validation: splits.validation.to - splits.validation.from,
      holdout: splits.holdout.to - splits.holdout.from,
    };
    const viewIds = views.map((v) => deps.views.find((x) => x.name === v || x.id === v)!).map((v) => v.id);
    const offsets = {
      ...(await eventOffsets(
        deps.clickhouse,
        deps.db,
        [...new Set(views.map((v) => deps.views.find((x) => x.name === v)!.source.topic))],
        request.dataWindowEnd,
      )),
      ...request.sourceOffsets,
    };
    const details = {
      setId,
      holdoutStart: splits.holdoutStart,
      rows: splitRows,
      onnxMaxAbsDiff: maxAbsDiff,
      seconds: result.seconds,
      timings,
    };
    const registered = await deps.registry.register(request.model, result.onnx, {
      features,
      metrics: { ...metrics, holdout_rows: splitRows.holdout },
      lineage: { reason: request.reason, setId, holdoutStart: splits.holdoutStart },
      createdBy: 'trainer',
      provenance: {
        runId: request.runId,
        algorithm: definition.algorithm,
        parameters: result.parameters,
        featureViews: viewIds,
        featureDefinitionVersion: definitionVersion(deps.views, viewIds),
        datasetWindow: { start: request.dataWindowStart, end: request.dataWindowEnd },
        datasetRows: splitRows,
        sourceOffsets: offsets,
        codeVersion: deps.codeVersion,
        referenceId: request.runId,
      },
      beforeCommit: (version) =>
        monitorStore.saveReference(
          buildReferenceProfile({
            model: request.model,
            version,
            id: request.runId,
            columns: Object.fromEntries(features.map((f, i) => [f, columnWithMissing(data, i)])),
            scores,
            metrics,
            kinds: kindsOf(definition),
          }),
        ),
    });
    lap('register');
    return { version: registered, created: registered.created, details };
  }

  /** Scores every row with onnxruntime and compares with the trainer's own predictions. */
  async function checkWithOnnxRuntime(result: TrainResult, data: TrainingData) {
    const session = await loadSession(result.onnx);
    try {
      const signature = signatureOf(session);
      const own = result.scores[0]!;
      const scores = new Float64Array(data.rows);
      const cols = data.features.length;
      const batch = 8192;
      let maxAbsDiff = 0;
      for (let from = 0; from < data.rows; from += batch) {
        const n = Math.min(batch, data.rows - from);
        const input = new ort.Tensor('float32', data.x.subarray(from * cols, (from + n) * cols), [n, cols]);
        const out = (await session.run({ [signature.input]: input }))[signature.outputs[0] as string]!
          .data as Float32Array;
        for (let r = 0; r < n; r++) {
          const v = out[r]!;
          scores[from + r] = v;
          const diff = Math.abs(v - own[from + r]!);
          // NaN compares false: a NaN anywhere must fail the check, not slip past it.
          if (!(diff <= maxAbsDiff)) maxAbsDiff = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
        }
      }
      if (!(maxAbsDiff <= ONNX_TOLERANCE))
        throw new Error(
          `onnxruntime does not reproduce the trainer's predictions: max abs difference ${maxAbsDiff} > ${ONNX_TOLERANCE}`,
        );
      return { scores, maxAbsDiff };
    } finally {
      await session.release();
    }
  }

  return { run };
}

export type TrainingPipeline = ReturnType<typeof createTrainingPipeline>;

function requestDetails(r: RunRequest): Record<string, unknown> {
  return {
    reason: r.reason,
    requestedBy: r.requestedBy,
    requestedAt: r.requestedAt,
    dataWindow: { start: r.dataWindowStart, end: r.dataWindowEnd },
    sourceOffsets: r.sourceOffsets,
    evidence: r.evidence,
  };
}

function numericMetrics(m: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

function kindsOf(d: ModelDefinitionSpec): Record<string, 'numerical' | 'categorical'> {
  const out: Record<string, 'numerical' | 'categorical'> = {};
  for (const [f, s] of Object.entries(d.monitoring.features)) if (s.type) out[f] = s.type;
  return out;
}

/** A hash of the definitions of the views the model reads: changes when any of them does. */
export function definitionVersion(views: readonly CompiledView[], ids: readonly string[]): string {
  const h = createHash('sha256');
  for (const id of [...ids].sort()) h.update(`${id}=${views.find((v) => v.id === id)?.fingerprint ?? ''}\n`);
  return h.digest('hex').slice(0, 16);
}
