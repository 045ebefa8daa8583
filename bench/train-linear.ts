import { cpus, loadavg } from 'node:os';
import { rocAuc } from '../services/monitor/core/performance.ts';
import { predictLinear, trainLinear } from '../services/trainer/core/linear.ts';
import type { FeatureMatrix, Labels } from '../services/trainer/core/matrix.ts';
import { createRng, normal } from '../test/support/prng.ts';
import { intFlag } from './support/args.ts';
import { median, progress, round } from './support/stats.ts';

/**
 * Logistic regression (services/trainer/core/linear.ts, scikit-learn's defaults: C = 1) on a training
 * matrix, scored on a held-out one. `timeLogisticRegression` is what the trainer benchmark calls with
 * its own matrices; `run` makes it a benchmark of its own on a synthetic matrix:
 *
 *   npm run bench -- train-linear [--rows 1000000] [--cols 30] [--runs 3]
 *
 * - lr_s: wall-clock seconds of trainLinear alone (the matrix is built before the clock starts); the
 *   median of `runs`. lr_cpu_s: the process's CPU time over the same call — the figure to trust on a
 *   shared machine, since the training is one thread.
 * - lr_auc: ROC AUC of the predicted probabilities on the test matrix (rocAuc, the monitor's own).
 */
export interface LinearBenchResult {
  readonly lr_s: number;
  readonly lr_auc: number;
}

export function timeLogisticRegression(
  train: FeatureMatrix,
  trainLabels: Labels,
  test: FeatureMatrix,
  testLabels: Labels,
): LinearBenchResult & {
  readonly lr_cpu_s: number;
  readonly iterations: number;
  readonly converged: boolean;
} {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const model = trainLinear(train, trainLabels, { task: 'binary_classification' });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const auc = rocAuc(testLabels, predictLinear(model, test));
  if (auc === null) throw new RangeError('the test labels hold one class only: AUC is undefined');
  return {
    lr_s: seconds,
    lr_auc: auc,
    lr_cpu_s: (cpu.user + cpu.system) / 1e6,
    iterations: model.iterations,
    converged: model.converged,
  };
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const rows = intFlag(args, 'rows', 1_000_000);
  const cols = intFlag(args, 'cols', 30);
  const runs = intFlag(args, 'runs', 3);
  progress(`generating ${rows} training and ${Math.ceil(rows / 4)} test rows × ${cols} inputs`);
  const world = syntheticWorld(cols, 20240917);
  const train = world.sample(rows);
  const test = world.sample(Math.ceil(rows / 4));
  const results = Array.from({ length: runs }, (_, i) => {
    const result = timeLogisticRegression(train.m, train.y, test.m, test.y);
    progress(`run ${i + 1}/${runs}: ${round(result.lr_s)} s (${result.iterations} Newton steps)`);
    return result;
  });
  const last = results.at(-1)!;
  return {
    rows,
    cols,
    test_rows: test.m.rows,
    lr_s: round(median(results.map((r) => r.lr_s))),
    lr_runs_s: results.map((r) => round(r.lr_s)),
    lr_cpu_s: round(median(results.map((r) => r.lr_cpu_s))),
    lr_auc: round(last.lr_auc, 6),
    iterations: last.iterations,
    converged: last.converged,
    cpus: cpus().length,
    // Wall-clock figures mean little on a loaded machine: the load is recorded beside them.
    load_average: round(loadavg()[0]!, 2),
  };
}

/**
 * Labels from a logistic model over inputs of mixed scales — unit normals, some ×100 around 50, some
 * ×0.01 — so the solver meets the spreads a real feature table has. One seed; train and test are
 * successive draws from it.
 */
function syntheticWorld(cols: number, seed: number) {
  const rng = createRng(seed);
  const scale = Array.from({ length: cols }, (_, c) => [1, 100, 0.01][c % 3]!);
  const offset = Array.from({ length: cols }, (_, c) => (c % 3 === 1 ? 50 : 0));
  const truth = Array.from({ length: cols }, (_, c) => (normal(rng) * 0.4) / scale[c]!);
  const sample = (rows: number): { m: FeatureMatrix; y: Labels } => {
    const x = new Float32Array(rows * cols);
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let margin = -0.5;
      for (let c = 0; c < cols; c++) {
        const spread = normal(rng) * scale[c]!;
        x[r * cols + c] = offset[c]! + spread;
        margin += truth[c]! * spread;
      }
      y[r] = Number(rng.next() < 1 / (1 + Math.exp(-margin)));
    }
    return { m: { rows, cols, x }, y };
  };
  return { sample };
}
