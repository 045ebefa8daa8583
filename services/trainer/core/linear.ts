import type { LinearModelSpec } from '../../core/onnx/linear-model.ts';
import { checkMatrix, type FeatureMatrix, type Labels, type TrainTask } from './matrix.ts';

/**
 * Linear models for the trainer, in plain TypeScript:
 * - binary_classification: L2-regularised logistic regression with scikit-learn's objective
 *   (LogisticRegression(C, l2, fit_intercept=True)): minimise ½‖w‖² + C · Σ logloss(yᵢ, xᵢ·w + b).
 * - regression: ridge, scikit-learn's Ridge(alpha, fit_intercept=True): minimise ‖y − Xw − b‖² + α‖w‖².
 * The intercept is never penalised.
 *
 * Both solve in standardised coordinates zⱼ = (xⱼ − μⱼ) / sⱼ, for conditioning only: the penalty is
 * carried over exactly (‖w‖² = Σ w′ⱼ² / sⱼ²), so the optimum is the raw-feature one scikit-learn finds.
 * Logistic regression uses damped Newton steps — each a Cholesky solve of the (F+1)×(F+1) Hessian — and
 * ridge the normal equations, solved by Cholesky once. Every sum runs in a fixed order on one thread,
 * so the same input gives the same model bit for bit.
 */

export interface LinearParams {
  /** scikit-learn's C: the inverse L2 strength of logistic regression. */
  readonly c: number;
  /** scikit-learn's Ridge alpha: the L2 strength of ridge regression. */
  readonly alpha: number;
  /** Newton stops once no coefficient moves by more than this (per standard deviation of its input). */
  readonly tolerance: number;
  readonly maxIterations: number;
}

export const DEFAULT_LINEAR_PARAMS: LinearParams = Object.freeze({
  c: 1,
  alpha: 1,
  tolerance: 1e-10,
  maxIterations: 100,
});

/** Plain data (it crosses a worker_thread boundary): weights and bias apply to the raw features. */
export interface LinearModel {
  readonly algorithm: 'logistic_regression' | 'ridge';
  readonly task: TrainTask;
  readonly weights: readonly number[];
  readonly bias: number;
  /**
   * The training columns' means, as float32: the ONNX export subtracts them before the product, so its
   * float32 sum adds small centred terms rather than large raw ones (an input around 1e4 otherwise costs
   * 1e-4 of the logit in float32, beyond the trainer's 1e-5 check).
   */
  readonly offsets: readonly number[];
  readonly params: LinearParams;
  /** scikit-learn's objective at the solution (its raw-feature form, as in the module comment). */
  readonly objective: number;
  readonly iterations: number;
  readonly converged: boolean;
}

export interface LinearProgress {
  readonly iteration: number;
  readonly objective: number;
  /** The largest coefficient change of the step, per standard deviation of its input. */
  readonly largestStep: number;
}

export type LinearParamsInput = Partial<LinearParams> & { readonly task: TrainTask };

export function trainLinear(
  m: FeatureMatrix,
  y: Labels,
  params: LinearParamsInput,
  onProgress?: (progress: LinearProgress) => void,
): LinearModel {
  checkMatrix(m, y);
  const resolved = resolveParams(params);
  const scaling = columnScaling(m);
  if (params.task === 'binary_classification') {
    checkBinaryLabels(y);
    return fitLogistic(m, y, scaling, resolved, onProgress);
  }
  return fitRidge(m, y, scaling, resolved, onProgress);
}

/** Probabilities for a logistic model, predicted values for ridge; float64 throughout. */
export function predictLinear(model: LinearModel, m: FeatureMatrix): Float64Array {
  const cols = model.weights.length;
  if (m.cols !== cols) throw new RangeError(`the model takes ${cols} features, the matrix has ${m.cols}`);
  const scores = linearScores(model.weights, model.bias, m);
  return model.task === 'binary_classification' ? scores.map(logistic) : scores;
}

/** x·w + b per row, in float64. */
function linearScores(weights: readonly number[], bias: number, m: FeatureMatrix): Float64Array {
  const cols = m.cols;
  const out = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let z = bias;
    for (let c = 0, at = r * cols; c < cols; c++, at++) z += weights[c]! * m.x[at]!;
    out[r] = z;
  }
  return out;
}

/**
 * What services/core/onnx/linear-model.ts's buildLinearModel exports: (x − offsets)·w + b′ with
 * b′ = b + Σ wⱼ offsetⱼ, the same function as x·w + b, centred.
 */
export function linearModelSpec(model: LinearModel, featureNames?: readonly string[]): LinearModelSpec {
  let bias = model.bias;
  model.weights.forEach((w, c) => {
    bias += w * model.offsets[c]!;
  });
  const spec = {
    weights: [...model.weights],
    bias,
    offsets: [...model.offsets],
    sigmoid: model.task === 'binary_classification',
  };
  return featureNames ? { ...spec, featureNames } : spec;
}

const float32Means = (scaling: ColumnScaling): number[] => Array.from(scaling.mean, (v) => Math.fround(v));

function resolveParams(params: LinearParamsInput): LinearParams {
  const resolved: LinearParams = {
    c: params.c ?? DEFAULT_LINEAR_PARAMS.c,
    alpha: params.alpha ?? DEFAULT_LINEAR_PARAMS.alpha,
    tolerance: params.tolerance ?? DEFAULT_LINEAR_PARAMS.tolerance,
    maxIterations: params.maxIterations ?? DEFAULT_LINEAR_PARAMS.maxIterations,
  };
  if (!(resolved.c > 0 && Number.isFinite(resolved.c)))
    throw new RangeError(`C must be > 0, got ${resolved.c}`);
  if (!(resolved.alpha >= 0 && Number.isFinite(resolved.alpha)))
    throw new RangeError(`alpha must be >= 0, got ${resolved.alpha}`);
  if (!(resolved.tolerance > 0)) throw new RangeError(`tolerance must be > 0, got ${resolved.tolerance}`);
  if (!(Number.isInteger(resolved.maxIterations) && resolved.maxIterations >= 1))
    throw new RangeError(`maxIterations must be a positive integer, got ${resolved.maxIterations}`);
  return Object.freeze(resolved);
}

function checkBinaryLabels(y: Labels): void {
  let positives = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new RangeError(`label ${i} is ${y[i]}: binary labels must be 0 or 1`);
    positives += y[i]!;
  }
  if (positives === 0 || positives === y.length)
    throw new RangeError(
      `logistic regression needs both classes: all ${y.length} labels are ${positives === 0 ? 0 : 1}`,
    );
}

// ---------------------------------------------------------------------------------------------------
// Standardised coordinates.

/** zⱼ = (xⱼ − mean[j]) · inverseScale[j]; a constant column has inverseScale 0, so its z is 0. */
interface ColumnScaling {
  readonly mean: Float64Array;
  readonly inverseScale: Float64Array;
}

/**
 * Two passes (mean, then squared deviations) so a large offset does not swamp a small spread. Float32
 * values add up exactly in a float64 below 2²⁹ rows, so a constant column's mean is its value and its
 * variance exactly 0: its inverse scale is 0 and its weight comes out exactly 0.
 */
function columnScaling(m: FeatureMatrix): ColumnScaling {
  const cols = m.cols;
  const mean = new Float64Array(cols);
  const squares = new Float64Array(cols);
  for (let at = 0; at < m.x.length; at += cols) for (let c = 0; c < cols; c++) mean[c]! += m.x[at + c]!;
  for (let c = 0; c < cols; c++) mean[c]! /= m.rows;
  for (let at = 0; at < m.x.length; at += cols)
    for (let c = 0; c < cols; c++) {
      const d = m.x[at + c]! - mean[c]!;
      squares[c]! += d * d;
    }
  const inverseScale = squares.map((s) => (s > 0 ? 1 / Math.sqrt(s / m.rows) : 0));
  return { mean, inverseScale };
}

/**
 * Rows go through the solvers a block at a time, standardised and stored column by column: every sum
 * over rows (gradient entries, Gram entries, margins) is then a contiguous loop over one block, which
 * stays in cache.
 */
const BLOCK_ROWS = 256;

/** Up to BLOCK_ROWS standardised rows: column k at [k · BLOCK_ROWS, …), the intercept's 1s last. */
interface RowBlock {
  readonly columns: Float64Array;
  first: number;
  count: number;
}

function createBlock(cols: number): RowBlock {
  return { columns: new Float64Array((cols + 1) * BLOCK_ROWS), first: 0, count: 0 };
}

/** Loads rows first … first + count − 1 (count ≤ BLOCK_ROWS) into the block. */
function loadBlock(m: FeatureMatrix, scaling: ColumnScaling, first: number, block: RowBlock): void {
  const cols = m.cols;
  const count = Math.min(BLOCK_ROWS, m.rows - first);
  const { columns } = block;
  for (let c = 0; c < cols; c++) {
    const mean = scaling.mean[c]!;
    const inverseScale = scaling.inverseScale[c]!;
    const base = c * BLOCK_ROWS;
    for (let i = 0, at = first * cols + c; i < count; i++, at += cols)
      columns[base + i] = (m.x[at]! - mean) * inverseScale;
  }
  // Reset each time: scaleBlockRows may have weighted the intercept's column too.
  columns.fill(1, cols * BLOCK_ROWS);
  block.first = first;
  block.count = count;
}

/** Σᵢ column k[i] · v[i] over the block. */
function columnDot(block: RowBlock, k: number, v: Float64Array): number {
  const { columns, count } = block;
  const base = k * BLOCK_ROWS;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += columns[base + i]! * v[i]!;
  return sum;
}

/** Multiplies row i of the block by factor[i]. */
function scaleBlockRows(block: RowBlock, factor: Float64Array, size: number): void {
  const { columns, count } = block;
  for (let k = 0; k < size; k++)
    for (let i = 0, base = k * BLOCK_ROWS; i < count; i++) columns[base + i]! *= factor[i]!;
}

/**
 * The penalty's diagonal in standardised coordinates, strength / sⱼ² (the intercept, last, has none).
 * A constant column's z is 0, so any positive diagonal pins its weight at 0: 1 keeps the system regular.
 */
function penaltyDiagonal(scaling: ColumnScaling, strength: number): Float64Array {
  const diagonal = new Float64Array(scaling.mean.length + 1);
  scaling.inverseScale.forEach((inv, c) => {
    diagonal[c] = inv === 0 ? 1 : strength * inv * inv;
  });
  return diagonal;
}

/** Raw-feature weights and bias from standardised ones: wⱼ = w′ⱼ / sⱼ, b = b′ − Σ wⱼ μⱼ. */
function toRawFeatures(scaled: Float64Array, scaling: ColumnScaling): { weights: number[]; bias: number } {
  const cols = scaling.mean.length;
  const weights = Array.from({ length: cols }, (_, c) => scaled[c]! * scaling.inverseScale[c]!);
  let bias = scaled[cols]!;
  for (let c = 0; c < cols; c++) bias -= weights[c]! * scaling.mean[c]!;
  return { weights, bias };
}

// ---------------------------------------------------------------------------------------------------
// Dense symmetric algebra on (F+1)×(F+1) row-major matrices.

/**
 * Adds the block's Gram matrix, Σᵢ vᵢ vᵢᵀ, to the lower triangle of gram (size × size). Entries go in
 * 2×2 tiles — four dot products sharing their loads — which halves the memory traffic of the pass
 * that dominates training; a leftover odd column goes one entry at a time.
 */
function addBlockGram(block: RowBlock, size: number, gram: Float64Array): void {
  const { columns, count } = block;
  let a = 0;
  for (; a + 1 < size; a += 2) {
    const a0 = a * BLOCK_ROWS;
    const a1 = a0 + BLOCK_ROWS;
    for (let b = 0; b < a; b += 2) {
      const b0 = b * BLOCK_ROWS;
      const b1 = b0 + BLOCK_ROWS;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let i = 0; i < count; i++) {
        const x0 = columns[a0 + i]!;
        const x1 = columns[a1 + i]!;
        const y0 = columns[b0 + i]!;
        const y1 = columns[b1 + i]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      gram[a * size + b]! += s00;
      gram[a * size + b + 1]! += s01;
      gram[(a + 1) * size + b]! += s10;
      gram[(a + 1) * size + b + 1]! += s11;
    }
    let s00 = 0;
    let s10 = 0;
    let s11 = 0;
    for (let i = 0; i < count; i++) {
      const x0 = columns[a0 + i]!;
      const x1 = columns[a1 + i]!;
      s00 += x0 * x0;
      s10 += x1 * x0;
      s11 += x1 * x1;
    }
    gram[a * size + a]! += s00;
    gram[(a + 1) * size + a]! += s10;
    gram[(a + 1) * size + a + 1]! += s11;
  }
  if (a < size) for (let b = 0; b <= a; b++) gram[a * size + b]! += blockColumnProduct(block, a, b);
}

function blockColumnProduct(block: RowBlock, a: number, b: number): number {
  const { columns, count } = block;
  let sum = 0;
  for (let i = 0, at = a * BLOCK_ROWS, bt = b * BLOCK_ROWS; i < count; i++)
    sum += columns[at + i]! * columns[bt + i]!;
  return sum;
}

/** Copies the lower triangle onto the upper one. */
function symmetrise(matrix: Float64Array, size: number): Float64Array {
  for (let a = 0; a < size; a++) for (let b = 0; b < a; b++) matrix[b * size + a] = matrix[a * size + b]!;
  return matrix;
}

/**
 * A pivot below this share of its diagonal entry means the matrix is singular to working precision
 * (only ridge with alpha = 0 and collinear inputs gets there: every other system carries a penalty).
 */
const SINGULAR_PIVOT = 1e-13;

/** Solves A x = rhs for symmetric positive-definite A (n×n, row-major) by Cholesky; A is overwritten. */
function solveCholesky(a: Float64Array, rhs: Float64Array): Float64Array {
  const n = rhs.length;
  for (let j = 0; j < n; j++) {
    let pivot = a[j * n + j]!;
    for (let k = 0; k < j; k++) pivot -= a[j * n + k]! ** 2;
    if (!(pivot > SINGULAR_PIVOT * a[j * n + j]!))
      throw new RangeError(
        `the normal equations are singular at input ${j}: collinear inputs need a penalty (alpha > 0)`,
      );
    const root = Math.sqrt(pivot);
    a[j * n + j] = root;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= a[i * n + k]! * a[j * n + k]!;
      a[i * n + j] = s / root;
    }
  }
  const x = Float64Array.from(rhs);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) x[i]! -= a[i * n + k]! * x[k]!;
    x[i]! /= a[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) x[i]! -= a[k * n + i]! * x[k]!;
    x[i]! /= a[i * n + i]!;
  }
  return x;
}

function meanOf(v: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]!;
  return sum / v.length;
}

function largestMagnitude(v: Float64Array): number {
  let max = 0;
  for (const value of v) max = Math.max(max, Math.abs(value));
  return max;
}

// ---------------------------------------------------------------------------------------------------
// Logistic regression.

function logistic(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** ½ vᵀ P v for the diagonal penalty P. */
function penaltyOf(v: Float64Array, diagonal: Float64Array): number {
  let sum = 0;
  for (let c = 0; c < v.length; c++) sum += diagonal[c]! * v[c]! * v[c]!;
  return sum / 2;
}

/** One logistic-regression problem in standardised coordinates (weights: the intercept last). */
interface LogisticProblem {
  readonly m: FeatureMatrix;
  readonly y: Labels;
  readonly scaling: ColumnScaling;
  readonly c: number;
  readonly penalty: Float64Array;
}

interface Derivatives {
  readonly value: number;
  readonly gradient: Float64Array;
  /** Row-major; overwritten by the Cholesky solve. */
  readonly hessian: Float64Array;
}

interface NewtonResult {
  readonly weights: Float64Array;
  readonly objective: number;
  readonly iterations: number;
  readonly converged: boolean;
}

/** Armijo's sufficient-decrease fraction. */
const ARMIJO = 1e-4;
/**
 * An increase this small relative to the objective counts as none: it is the rounding of a sum over
 * the rows, not a worse point, and rejecting a step for it would stall Newton at its optimum.
 */
const OBJECTIVE_ROUNDING = 1e-12;
/** Backtracking gives up below this step: the direction does not descend at all. */
const SMALLEST_STEP = 1e-10;

function fitLogistic(
  m: FeatureMatrix,
  y: Labels,
  scaling: ColumnScaling,
  params: LinearParams,
  onProgress?: (progress: LinearProgress) => void,
): LinearModel {
  const problem = { m, y, scaling, c: params.c, penalty: penaltyDiagonal(scaling, 1) };
  const result = newton(problem, subsampleStart(problem) ?? baseRateStart(m.cols, y), params, onProgress);
  const { weights, bias } = toRawFeatures(result.weights, scaling);
  return {
    algorithm: 'logistic_regression',
    task: 'binary_classification',
    weights,
    bias,
    offsets: float32Means(scaling),
    params,
    objective: result.objective,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/** A subsample for the warm start holds about this many rows; smaller matrices start from the base rate. */
const WARM_START_ROWS = 50_000;
/** The subsample's optimum only seeds the full solve: a loose tolerance suffices. */
const WARM_START_TOLERANCE = 1e-4;

/**
 * The optimum on every k-th row, with C × k so the penalty weighs as much against the loss as on all
 * rows: within sampling error (~1/√50 000) of the full optimum. Newton converges quadratically from
 * there, so the full passes — each ~0.45 s at 1M × 30 — drop from seven to four. It changes
 * only where Newton starts, not the optimum it reaches. null when there are too few rows to gain, or
 * the subsample holds one class.
 */
function subsampleStart(problem: LogisticProblem): Float64Array | null {
  const { m, y } = problem;
  const stride = Math.floor(m.rows / WARM_START_ROWS);
  if (stride < 4) return null;
  const rows = Math.floor(m.rows / stride);
  const x = new Float32Array(rows * m.cols);
  const labels = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    x.set(m.x.subarray(r * stride * m.cols, (r * stride + 1) * m.cols), r * m.cols);
    labels[r] = y[r * stride]!;
  }
  const positives = meanOf(labels) * rows;
  if (positives === 0 || positives === rows) return null;
  const subsample = { ...problem, m: { rows, cols: m.cols, x }, y: labels, c: problem.c * stride };
  const params = { ...DEFAULT_LINEAR_PARAMS, tolerance: WARM_START_TOLERANCE };
  return newton(subsample, baseRateStart(m.cols, labels), params).weights;
}

/** Zero weights and the intercept that fits the base rate. */
function baseRateStart(cols: number, y: Labels): Float64Array {
  const positives = meanOf(y) * y.length;
  const weights = new Float64Array(cols + 1);
  weights[cols] = Math.log(positives / (y.length - positives));
  return weights;
}

/**
 * Damped Newton, one pass over the rows per iteration: the pass at a step's end point yields both its
 * objective, for Armijo's test, and the derivatives for the next direction. A failed test halves the
 * step and costs a pass; full Newton steps on the logistic loss seldom overshoot (its curvature only
 * falls as margins grow), so that takes (nearly) separable data with a large C.
 */
function newton(
  problem: LogisticProblem,
  start: Float64Array,
  params: LinearParams,
  onProgress?: (progress: LinearProgress) => void,
): NewtonResult {
  let weights = start;
  let here = logisticDerivatives(problem, weights);
  for (let iteration = 0; ; iteration++) {
    const descent = here.gradient.map((g) => -g);
    const direction = solveCholesky(here.hessian, descent);
    // Newton's step is the distance to the optimum to first order: this small, it is the optimum.
    if (largestMagnitude(direction) <= params.tolerance * Math.max(1, largestMagnitude(weights)))
      return {
        weights: movedAlong(weights, direction, 1),
        objective: here.value,
        iterations: iteration,
        converged: true,
      };
    if (iteration === params.maxIterations)
      return { weights, objective: here.value, iterations: iteration, converged: false };
    const next = backtrack(problem, weights, here, direction);
    if (!next) return { weights, objective: here.value, iterations: iteration, converged: false };
    weights = next.weights;
    here = next.derivatives;
    onProgress?.({
      iteration: iteration + 1,
      objective: here.value,
      largestStep: next.step * largestMagnitude(direction),
    });
  }
}

/** The first of steps 1, ½, ¼, … along the direction that passes Armijo's test; null if none does. */
function backtrack(
  problem: LogisticProblem,
  weights: Float64Array,
  here: Derivatives,
  direction: Float64Array,
) {
  let slope = 0;
  for (let k = 0; k < direction.length; k++) slope += here.gradient[k]! * direction[k]!;
  const allowance = OBJECTIVE_ROUNDING * Math.abs(here.value);
  for (let step = 1; step >= SMALLEST_STEP; step /= 2) {
    const moved = movedAlong(weights, direction, step);
    const derivatives = logisticDerivatives(problem, moved);
    if (derivatives.value <= here.value + ARMIJO * step * slope + allowance)
      return { weights: moved, derivatives, step };
  }
  return null;
}

function movedAlong(weights: Float64Array, direction: Float64Array, step: number): Float64Array {
  return weights.map((w, k) => w + step * direction[k]!);
}

/** The objective, its gradient and its Hessian at the weights: one pass over the rows. */
function logisticDerivatives(problem: LogisticProblem, weights: Float64Array): Derivatives {
  const { m, c, penalty } = problem;
  const size = m.cols + 1;
  const hessian = new Float64Array(size * size);
  const gradient = new Float64Array(size);
  const block = createBlock(m.cols);
  const residuals = new Float64Array(BLOCK_ROWS);
  const rootCurvatures = new Float64Array(BLOCK_ROWS);
  let loss = 0;
  for (let first = 0; first < m.rows; first += BLOCK_ROWS) {
    loadBlock(m, problem.scaling, first, block);
    loss += blockResiduals(problem.y, block, weights, residuals, rootCurvatures);
    for (let k = 0; k < size; k++) gradient[k]! += columnDot(block, k, residuals);
    scaleBlockRows(block, rootCurvatures, size);
    addBlockGram(block, size, hessian);
  }
  symmetrise(hessian, size);
  for (let k = 0; k < size; k++) {
    gradient[k] = c * gradient[k]! + penalty[k]! * weights[k]!;
    for (let j = 0; j < size; j++) hessian[k * size + j]! *= c;
    hessian[k * size + k]! += penalty[k]!;
  }
  return { gradient, hessian, value: c * loss + penaltyOf(weights, penalty) };
}

/**
 * Per row of the block: p − y into residuals, and √(p(1 − p)) — the row's Hessian weight, rooted so the
 * weighted Gram is a plain Gram of scaled rows — into rootCurvatures. Returns the block's log loss.
 */
function blockResiduals(
  y: Labels,
  block: RowBlock,
  weights: Float64Array,
  residuals: Float64Array,
  rootCurvatures: Float64Array,
): number {
  const margins = blockMargins(block, weights);
  let loss = 0;
  for (let i = 0; i < block.count; i++) {
    const margin = margins[i]!;
    const label = y[block.first + i]!;
    // Everything from one e^−|margin| ∈ (0, 1]: no overflow, and p(1 − p) keeps its precision where p
    // rounds to 1.
    const e = Math.exp(-Math.abs(margin));
    residuals[i] = (margin >= 0 ? 1 / (1 + e) : e / (1 + e)) - label;
    rootCurvatures[i] = Math.sqrt(e) / (1 + e);
    // −log P(label) = log(1 + e^−|margin|), plus |margin| when the margin points away from the label.
    loss += Math.log1p(e) + Math.max(0, label === 1 ? -margin : margin);
  }
  return loss;
}

/** z·w for every row of the block, a column at a time. */
function blockMargins(block: RowBlock, weights: Float64Array): Float64Array {
  const margins = new Float64Array(block.count);
  for (let k = 0; k < weights.length; k++) {
    const w = weights[k]!;
    for (let i = 0, at = k * BLOCK_ROWS; i < block.count; i++, at++) margins[i]! += block.columns[at]! * w;
  }
  return margins;
}

// ---------------------------------------------------------------------------------------------------
// Ridge regression.

function fitRidge(
  m: FeatureMatrix,
  y: Labels,
  scaling: ColumnScaling,
  params: LinearParams,
  onProgress?: (progress: LinearProgress) => void,
): LinearModel {
  const size = m.cols + 1;
  const labelMean = meanOf(y);
  const { gram, moment } = ridgeNormalEquations(m, y, scaling, labelMean);
  const penalty = penaltyDiagonal(scaling, params.alpha);
  for (let k = 0; k < size; k++) gram[k * size + k]! += penalty[k]!;
  const solution = solveCholesky(gram, moment);
  solution[m.cols]! += labelMean;
  const { weights, bias } = toRawFeatures(solution, scaling);
  const objective = ridgeObjective(m, y, weights, bias, params.alpha);
  onProgress?.({ iteration: 1, objective, largestStep: largestMagnitude(solution.subarray(0, m.cols)) });
  return {
    algorithm: 'ridge',
    task: 'regression',
    weights,
    bias,
    offsets: float32Means(scaling),
    params,
    objective,
    iterations: 1,
    converged: true,
  };
}

/**
 * ZᵀZ and Zᵀ(y − ȳ) in standardised coordinates, with the intercept's column. Centred labels, as
 * scikit-learn centres them, keep the moments free of the labels' offset.
 */
function ridgeNormalEquations(m: FeatureMatrix, y: Labels, scaling: ColumnScaling, labelMean: number) {
  const size = m.cols + 1;
  const gram = new Float64Array(size * size);
  const moment = new Float64Array(size);
  const block = createBlock(m.cols);
  const centred = new Float64Array(BLOCK_ROWS);
  for (let first = 0; first < m.rows; first += BLOCK_ROWS) {
    loadBlock(m, scaling, first, block);
    for (let i = 0; i < block.count; i++) centred[i] = y[first + i]! - labelMean;
    for (let k = 0; k < size; k++) moment[k]! += columnDot(block, k, centred);
    addBlockGram(block, size, gram);
  }
  return { gram: symmetrise(gram, size), moment };
}

function ridgeObjective(m: FeatureMatrix, y: Labels, weights: number[], bias: number, alpha: number): number {
  const predicted = linearScores(weights, bias, m);
  let squares = 0;
  for (let r = 0; r < y.length; r++) squares += (y[r]! - predicted[r]!) ** 2;
  let norm = 0;
  for (const w of weights) norm += w * w;
  return squares + alpha * norm;
}
