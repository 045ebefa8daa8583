import type { FeatureMatrix, TrainTask } from './matrix.ts';

/**
 * A training set as the trainer holds it: rows in time order, one float32 column per model input, the
 * labels, and which inputs were missing. Pure: the adapter (dataset-store.ts) fills it from ClickHouse.
 *
 * Imputation is serving's (services/serving/model-inputs.ts): a value that is not a finite number is 0
 * in the matrix the model learns from, exactly as it will be in the tensor serving hands it; the mask
 * keeps the fact, so the reference profile counts it missing as the monitor's live windows do.
 */
export interface TrainingData {
  readonly features: readonly string[];
  readonly rows: number;
  /** Epoch ms of each row, ascending. */
  readonly ts: Float64Array;
  /** rows × features, row-major, imputed. */
  readonly x: Float32Array;
  /** 1 where the value was missing (imputed 0). */
  readonly missing: Uint8Array;
  readonly y: Float64Array;
}

export interface Splits {
  /** Row ranges [from, to) of the time-ordered data. */
  readonly train: Range;
  readonly validation: Range;
  readonly holdout: Range;
  /** Epoch ms where the holdout begins (its rows have ts at or after it). */
  readonly holdoutStart: number;
}

export interface Range {
  readonly from: number;
  readonly to: number;
}

export interface SplitOptions {
  /** Exclusive end of the training window, epoch ms. */
  readonly windowEnd: number;
  /** The newest span of the window kept for the gate (the project's training.holdout). */
  readonly holdoutMs: number;
  /** Share of the rows before the holdout, the newest of them, kept for early stopping. */
  readonly validationShare: number;
  /** Fewest rows each split must have. */
  readonly minRowsPerSplit: number;
}

export class DatasetError extends Error {}

/**
 * Splits by time, never at random: the holdout is the newest `holdoutMs` of the window, validation the
 * newest share of what is before it, training the rest. A model is judged only on rows after every row
 * it learned from, as it will be in production.
 */
export function splitByTime(data: TrainingData, o: SplitOptions): Splits {
  const holdoutStart = o.windowEnd - o.holdoutMs;
  let h = data.rows;
  while (h > 0 && data.ts[h - 1]! >= holdoutStart) h--;
  const validationRows = Math.floor(h * o.validationShare);
  const splits = {
    train: { from: 0, to: h - validationRows },
    validation: { from: h - validationRows, to: h },
    holdout: { from: h, to: data.rows },
    holdoutStart,
  };
  for (const [name, r] of Object.entries(splits)) {
    if (typeof r === 'number') continue;
    if (r.to - r.from < o.minRowsPerSplit)
      throw new DatasetError(
        `the ${name} split has ${r.to - r.from} rows (of ${data.rows}; holdout from ${new Date(holdoutStart).toISOString()}), fewer than ${o.minRowsPerSplit}: widen training.window, shorten training.holdout, or wait for more labels`,
      );
  }
  return splits;
}

/** The rows of a range as a matrix and labels (views on the data, no copy). */
export function slice(data: TrainingData, r: Range): { m: FeatureMatrix; y: Float64Array } {
  const cols = data.features.length;
  return {
    m: { rows: r.to - r.from, cols, x: data.x.subarray(r.from * cols, r.to * cols) },
    y: data.y.subarray(r.from, r.to),
  };
}

/** Refuses labels the task cannot learn from: a classifier needs both classes in its training rows. */
export function checkLabels(task: TrainTask, y: ArrayLike<number>, where: string): void {
  let positives = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (task === 'binary_classification' && v !== 0 && v !== 1)
      throw new DatasetError(`${where}: label ${v} at row ${i} is not 0 or 1`);
    if (!Number.isFinite(v)) throw new DatasetError(`${where}: label at row ${i} is not a finite number`);
    positives += v;
  }
  if (task === 'binary_classification' && (positives === 0 || positives === y.length))
    throw new DatasetError(
      `${where}: every label is ${positives === 0 ? 0 : 1}; a classifier needs both classes`,
    );
}

/** One input's column with missing values as null: what the reference profile takes. */
export function columnWithMissing(data: TrainingData, feature: number): (number | null)[] {
  const cols = data.features.length;
  const out = new Array<number | null>(data.rows);
  for (let r = 0; r < data.rows; r++)
    out[r] = data.missing[r * cols + feature] ? null : data.x[r * cols + feature]!;
  return out;
}
