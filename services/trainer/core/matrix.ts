/**
 * What every trainer algorithm takes: a dense row-major float32 matrix of model inputs and one label
 * per row. Float32 because serving hands the model float32 (services/serving/model-inputs.ts): training
 * on the very values the model will see is what lets onnxruntime reproduce the trainer's own
 * predictions. Missing inputs are already imputed the way serving imputes them (0), so every value is
 * finite.
 */
export interface FeatureMatrix {
  readonly rows: number;
  readonly cols: number;
  /** rows × cols, row-major: x[r * cols + c]. */
  readonly x: Float32Array;
}

export type TrainTask = 'binary_classification' | 'regression';

/** Labels: 0/1 for binary classification, finite numbers for regression. */
export type Labels = Float64Array;

export function checkMatrix(m: FeatureMatrix, y: ArrayLike<number>): void {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 1 || m.cols < 1)
    throw new RangeError(`a training matrix needs at least one row and one column (${m.rows}×${m.cols})`);
  if (m.x.length !== m.rows * m.cols)
    throw new RangeError(`matrix of ${m.rows}×${m.cols} holds ${m.x.length} values`);
  if (y.length !== m.rows) throw new RangeError(`${y.length} labels for ${m.rows} rows`);
  for (let i = 0; i < m.x.length; i++)
    if (!Number.isFinite(m.x[i]!))
      throw new RangeError(`value ${i} (row ${Math.floor(i / m.cols)}) is not finite`);
  for (let i = 0; i < y.length; i++)
    if (!Number.isFinite(y[i]!)) throw new RangeError(`label ${i} is not finite`);
}
