/**
 * Model-performance metrics for the drift monitor. Pure functions, no I/O.
 *
 *   realised   the metric of a window whose labels have arrived: ROC AUC, accuracy and log loss for
 *              binary classification, MAE and RMSE for regression — each equal to its scikit-learn
 *              function (roc_auc_score, accuracy_score, log_loss, mean_absolute_error, √mean_squared_error);
 *   estimated  the expected metric of a window whose labels have not arrived, from the model's own
 *              probabilities (CBPE, confidence-based performance estimation, after NannyML), with the
 *              isotonic calibration CBPE applies first (sklearn's IsotonicRegression).
 *
 * Equal to scikit-learn within 1e-12 relative on fixtures committed to the repo
 * (test/fixtures/performance/, the script that made them beside them).
 *
 * Every function refuses, with a RangeError naming the problem: inputs of different lengths, empty
 * inputs, NaN or infinite values, labels other than 0 and 1, probabilities outside [0, 1] — a bad value
 * never passes as a metric. The dispatchers (computeMetric, estimateMetric, metricsFor) return null for
 * an empty window instead: in a live monitor an hour without traffic is a state, not a bug.
 */
import { CompensatedSum } from '../../core/statistics/numeric.ts';

/** The gate and monitoring metrics of a project (services/project/schema.ts, `gate.metric`). */
export type Metric = 'auc' | 'accuracy' | 'log_loss' | 'mae' | 'rmse';

export type PerformanceTask = 'binary_classification' | 'regression';

/** Which way is better: a drop of AUC or accuracy is harm, and so is a rise of a loss or an error. */
export const HIGHER_IS_BETTER: Readonly<Record<Metric, boolean>> = Object.freeze({
  auc: true,
  accuracy: true,
  log_loss: false,
  mae: false,
  rmse: false,
});

/** The probability at and above which a row is predicted positive. */
export const DEFAULT_THRESHOLD = 0.5;

/**
 * log_loss clips probabilities to [ε, 1 − ε] with ε = np.finfo(float64).eps = 2⁻⁵² (scikit-learn ≥ 1.5;
 * before, a fixed 1e-15), so a confident wrong answer costs −ln ε ≈ 36 rather than infinity.
 */
export const LOG_LOSS_EPS = Number.EPSILON;

/** sklearn's IsotonicRegression pools x values closer than np.finfo(float64).resolution. */
const ISOTONIC_RESOLUTION = 1e-15;

// ---------------------------------------------------------------------------------------------------
// Input checks. One linear pass each; the message names the function, the input and the first bad row.

function checkLengths(
  what: string,
  a: ArrayLike<number>,
  aName: string,
  b: ArrayLike<number>,
  bName: string,
) {
  if (a.length !== b.length)
    throw new RangeError(`${what}: ${aName} has ${a.length} values but ${bName} has ${b.length}`);
  if (a.length === 0) throw new RangeError(`${what}: ${aName} and ${bName} are empty`);
}

function checkNonEmpty(what: string, values: ArrayLike<number>, name: string): void {
  if (values.length === 0) throw new RangeError(`${what}: ${name} is empty`);
}

/** Labels must be exactly 0 or 1; returns the number of 1s. */
function checkLabels(what: string, labels: ArrayLike<number>): number {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v === 1) positives++;
    else if (v !== 0) throw new RangeError(`${what}: labels[${i}] = ${v} is not 0 or 1`);
  }
  return positives;
}

function checkFinite(what: string, values: ArrayLike<number>, name: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) throw new RangeError(`${what}: ${name}[${i}] is NaN`);
    if (!Number.isFinite(v)) throw new RangeError(`${what}: ${name}[${i}] = ${v} is not finite`);
  }
}

function checkProbabilities(what: string, values: ArrayLike<number>, name: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) throw new RangeError(`${what}: ${name}[${i}] is NaN`);
    if (v < 0 || v > 1) throw new RangeError(`${what}: ${name}[${i}] = ${v} is outside [0, 1]`);
  }
}

function checkThreshold(what: string, threshold: number): void {
  if (Number.isNaN(threshold)) throw new RangeError(`${what}: threshold is NaN`);
}

function clipProbability(p: number): number {
  return p < LOG_LOSS_EPS ? LOG_LOSS_EPS : p > 1 - LOG_LOSS_EPS ? 1 - LOG_LOSS_EPS : p;
}

/** The values at the rows where labels[i] === label, sorted ascending. */
function sortedWhere(labels: ArrayLike<number>, values: ArrayLike<number>, label: number, count: number) {
  const out = new Float64Array(count);
  let at = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === label) out[at++] = values[i]!;
  return out.sort();
}

// ---------------------------------------------------------------------------------------------------
// Realised metrics.

/**
 * ROC AUC = P(score of a random positive > score of a random negative), ties counting one half: the
 * Mann–Whitney U / (n₊ · n₋), which is what sklearn.metrics.roc_auc_score's trapezoids add up to.
 * null when a class is absent: the AUC is undefined there (scikit-learn raises).
 *
 * Sorts the positives' and the negatives' scores apart (two native Float64Array sorts, O(n log n)) and
 * merges them once. 2U is counted as an integer — exact for n below ~1.3 · 10⁸ — so the result is the
 * exact ratio, correctly rounded, where scikit-learn's trapezoid sum carries a few ulps of rounding.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  checkLengths('rocAuc', labels, 'labels', scores, 'scores');
  const positives = checkLabels('rocAuc', labels);
  checkFinite('rocAuc', scores, 'scores');
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return null;
  const pos = sortedWhere(labels, scores, 1, positives);
  const neg = sortedWhere(labels, scores, 0, negatives);
  return twiceMannWhitneyU(pos, neg) / (2 * positives * negatives);
}

/** 2U for sorted samples: each positive scores 2 per negative below it and 1 per negative tied with it. */
function twiceMannWhitneyU(pos: Float64Array, neg: Float64Array): number {
  let twiceU = 0;
  let below = 0;
  let i = 0;
  while (i < pos.length) {
    const v = pos[i]!;
    let end = i;
    while (end < pos.length && pos[end] === v) end++;
    while (below < neg.length && neg[below]! < v) below++;
    let tiedEnd = below;
    while (tiedEnd < neg.length && neg[tiedEnd] === v) tiedEnd++;
    twiceU += (end - i) * (2 * below + (tiedEnd - below));
    i = end;
  }
  return twiceU;
}

/**
 * The share of rows whose predicted class equals the label, a row being predicted positive when its
 * score is AT OR ABOVE the threshold (score >= threshold; a score of exactly 0.5 is a positive at the
 * default threshold). Equal to sklearn.metrics.accuracy_score(labels, scores >= threshold).
 */
export function accuracy(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  threshold: number = DEFAULT_THRESHOLD,
): number {
  checkLengths('accuracy', labels, 'labels', scores, 'scores');
  checkLabels('accuracy', labels);
  checkFinite('accuracy', scores, 'scores');
  checkThreshold('accuracy', threshold);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if ((scores[i]! >= threshold ? 1 : 0) === labels[i]) correct++;
  return correct / labels.length;
}

/**
 * Mean cross-entropy −[y ln p + (1 − y) ln(1 − p)], equal to sklearn.metrics.log_loss(labels, p,
 * labels=[0, 1]) — the explicit classes make a one-class window valid. As scikit-learn, the probability
 * of the observed class (p, or the double 1 − p) is clipped to [ε, 1 − ε], ε = LOG_LOSS_EPS.
 */
export function logLoss(labels: ArrayLike<number>, probabilities: ArrayLike<number>): number {
  checkLengths('logLoss', labels, 'labels', probabilities, 'probabilities');
  checkLabels('logLoss', labels);
  checkProbabilities('logLoss', probabilities, 'probabilities');
  const total = new CompensatedSum();
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i]!;
    total.add(-Math.log(clipProbability(labels[i] === 1 ? p : 1 - p)));
  }
  return total.value / labels.length;
}

/**
 * sklearn.metrics.mean_absolute_error(actual, predicted). Compensated (Neumaier) sums throughout: numpy
 * sums pairwise, and a plain loop would drift by up to n · ε — visible at 1e-12 once outliers of 1e5 sit
 * among unit errors in a window of 10⁵ rows.
 */
export function meanAbsoluteError(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkRegression('meanAbsoluteError', actual, predicted);
  const total = new CompensatedSum();
  for (let i = 0; i < actual.length; i++) total.add(Math.abs(actual[i]! - predicted[i]!));
  return total.value / actual.length;
}

/** √sklearn.metrics.mean_squared_error(actual, predicted), compensated as meanAbsoluteError. */
export function rootMeanSquaredError(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkRegression('rootMeanSquaredError', actual, predicted);
  const total = new CompensatedSum();
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i]! - predicted[i]!;
    total.add(d * d);
  }
  return Math.sqrt(total.value / actual.length);
}

function checkRegression(what: string, actual: ArrayLike<number>, predicted: ArrayLike<number>): void {
  checkLengths(what, actual, 'actual', predicted, 'predicted');
  checkFinite(what, actual, 'actual');
  checkFinite(what, predicted, 'predicted');
}

// ---------------------------------------------------------------------------------------------------
// Dispatch by metric name, as the monitor and the deploy gate call them.

/**
 * The realised metric of one window: labels (or actual values) against scores (probabilities, or
 * predicted values). null for an empty window, and for AUC when the window holds one class only.
 * Accuracy uses DEFAULT_THRESHOLD.
 */
export function computeMetric(
  metric: Metric,
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): number | null {
  checkMetric('computeMetric', metric);
  if (labels.length === 0 && scores.length === 0) return null;
  switch (metric) {
    case 'auc':
      return rocAuc(labels, scores);
    case 'accuracy':
      return accuracy(labels, scores);
    case 'log_loss':
      return logLoss(labels, scores);
    case 'mae':
      return meanAbsoluteError(labels, scores);
    case 'rmse':
      return rootMeanSquaredError(labels, scores);
  }
}

/** A metric name from configuration or a caller in plain JavaScript may be anything. */
function checkMetric(what: string, metric: string): void {
  if (!Object.hasOwn(HIGHER_IS_BETTER, metric)) throw new RangeError(`${what}: unknown metric ${metric}`);
}

export interface ClassificationMetrics {
  readonly auc: number | null;
  readonly accuracy: number | null;
  readonly log_loss: number | null;
  readonly count: number;
  readonly positives: number;
}

export interface RegressionMetrics {
  readonly mae: number | null;
  readonly rmse: number | null;
  readonly count: number;
}

/**
 * Every metric of the task for one window; the metrics are null for an empty window. Classification
 * scores must be probabilities (log loss refuses anything outside [0, 1]); accuracy is at 0.5.
 */
export function metricsFor(
  task: 'binary_classification',
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): ClassificationMetrics;
export function metricsFor(
  task: 'regression',
  actual: ArrayLike<number>,
  predicted: ArrayLike<number>,
): RegressionMetrics;
export function metricsFor(
  task: PerformanceTask,
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): ClassificationMetrics | RegressionMetrics;
export function metricsFor(
  task: PerformanceTask,
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): ClassificationMetrics | RegressionMetrics {
  if (task === 'regression') {
    return {
      mae: computeMetric('mae', labels, scores),
      rmse: computeMetric('rmse', labels, scores),
      count: labels.length,
    };
  }
  if (task !== 'binary_classification') throw new RangeError(`metricsFor: unknown task ${String(task)}`);
  return {
    auc: computeMetric('auc', labels, scores),
    accuracy: computeMetric('accuracy', labels, scores),
    log_loss: computeMetric('log_loss', labels, scores),
    count: labels.length,
    positives: checkLabels('metricsFor', labels),
  };
}

// ---------------------------------------------------------------------------------------------------
// CBPE: confidence-based performance estimation (NannyML) for binary classification.
//
// When the labels of a window have not arrived, a CALIBRATED probability p is the chance that the label
// is 1, so the expected value of a metric follows from the probabilities alone: a row predicted positive
// is a true positive with probability p and a false positive with 1 − p. The estimate is only as good
// as the calibration — hence fitCalibration on a reference set with labels, as NannyML does — and it
// assumes the relation between inputs and labels has not changed (covariate shift only).
//
// `probabilities` are the calibrated P(label = 1); `scores` the model's outputs the metric is of (its
// predicted class is scores >= threshold, its log loss that of the scores). They default to the
// probabilities — a calibrated model. After calibration pass the raw outputs as `scores`: the estimate
// is then of the model's actual decisions and losses, not of the calibrated probabilities'.

/**
 * Expected accuracy: the mean over rows of P(prediction correct) = p when the row is predicted positive
 * (score >= threshold), 1 − p otherwise. Exactly E[accuracy(labels, scores, threshold)] when each
 * label is an independent Bernoulli(p).
 */
export function estimatedAccuracy(
  probabilities: ArrayLike<number>,
  threshold: number = DEFAULT_THRESHOLD,
  scores: ArrayLike<number> = probabilities,
): number {
  checkEstimateInputs('estimatedAccuracy', probabilities, scores, false);
  checkThreshold('estimatedAccuracy', threshold);
  const total = new CompensatedSum();
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i]!;
    total.add(scores[i]! >= threshold ? p : 1 - p);
  }
  return total.value / probabilities.length;
}

/**
 * Expected log loss: the mean of −p ln q − (1 − p) ln(1 − q) with q the score (by default p itself,
 * giving the mean binary entropy), clipped as logLoss clips. Exactly E[logLoss(labels, scores)] when
 * each label is an independent Bernoulli(p), clipping included.
 */
export function estimatedLogLoss(
  probabilities: ArrayLike<number>,
  scores: ArrayLike<number> = probabilities,
): number {
  checkEstimateInputs('estimatedLogLoss', probabilities, scores, true);
  const total = new CompensatedSum();
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i]!;
    const q = scores[i]!;
    total.add(p * -Math.log(clipProbability(q)) + (1 - p) * -Math.log(clipProbability(1 - q)));
  }
  return total.value / probabilities.length;
}

/**
 * NannyML's estimated ROC AUC. Rows by p descending; cutting after each run of tied p, the expected true
 * positives are the cumulative sum of p and the expected false positives that of 1 − p, so
 * tpr = TP / Σp and fpr = FP / Σ(1 − p); the AUC is the trapezoidal area under (fpr, tpr) from (0, 0)
 * to (1, 1). It is sklearn's roc_auc_score on the data set holding every row once as a positive of
 * weight p and once as a negative of weight 1 − p (the fixture script checks this).
 *
 * A tie is one step, as a tie is one threshold: within it the segment is straight, so its area does not
 * depend on the order of the tied rows. Only the probabilities matter: ranking by raw scores instead (as
 * NannyML does after calibrating) gives the same area, because the isotonic map is non-decreasing and
 * runs it flattens lie on one straight segment. NannyML also rounds TP and FP to 5 decimals before
 * dividing; we do not, so its value can differ from ours in the 5th decimal.
 *
 * null when Σp = 0 or Σ(1 − p) = 0: no expected positive (or negative), and the AUC is undefined.
 */
export function estimatedRocAuc(probabilities: ArrayLike<number>): number | null {
  checkNonEmpty('estimatedRocAuc', probabilities, 'probabilities');
  checkProbabilities('estimatedRocAuc', probabilities, 'probabilities');
  const sorted = Float64Array.from(probabilities).sort();
  // The totals are summed in the order of the curve, so the last point is exactly (1, 1).
  const positives = new CompensatedSum();
  const negatives = new CompensatedSum();
  for (let i = sorted.length - 1; i >= 0; i--) {
    positives.add(sorted[i]!);
    negatives.add(1 - sorted[i]!);
  }
  if (positives.value === 0 || negatives.value === 0) return null;
  return trapezoidsDescending(sorted, positives.value, negatives.value);
}

/** The area under the expected ROC curve, walking the ascending array from its end. */
function trapezoidsDescending(sorted: Float64Array, positives: number, negatives: number): number {
  const tp = new CompensatedSum();
  const fp = new CompensatedSum();
  const area = new CompensatedSum();
  let tprBefore = 0;
  let fprBefore = 0;
  let i = sorted.length - 1;
  while (i >= 0) {
    const v = sorted[i]!;
    for (; i >= 0 && sorted[i] === v; i--) {
      tp.add(v);
      fp.add(1 - v);
    }
    const tpr = tp.value / positives;
    const fpr = fp.value / negatives;
    area.add(((fpr - fprBefore) * (tpr + tprBefore)) / 2);
    tprBefore = tpr;
    fprBefore = fpr;
  }
  return area.value;
}

function checkEstimateInputs(
  what: string,
  probabilities: ArrayLike<number>,
  scores: ArrayLike<number>,
  scoresAreProbabilities: boolean,
): void {
  checkLengths(what, probabilities, 'probabilities', scores, 'scores');
  checkProbabilities(what, probabilities, 'probabilities');
  if (scores === probabilities) return;
  if (scoresAreProbabilities) checkProbabilities(what, scores, 'scores');
  else checkFinite(what, scores, 'scores');
}

/**
 * The CBPE estimate of a metric for one window; null for an empty window, for AUC without an expected
 * positive or negative, and always for mae and rmse. Those are not estimable this way: a regression
 * prediction is a point, not a distribution of the target, so it carries no expected error of its own
 * (NannyML estimates them with a second model of the error trained on labelled reference data — DLE).
 */
export function estimateMetric(
  metric: Metric,
  probabilities: ArrayLike<number>,
  scores: ArrayLike<number> = probabilities,
): number | null {
  checkMetric('estimateMetric', metric);
  if (metric === 'mae' || metric === 'rmse') return null;
  if (probabilities.length === 0 && scores.length === 0) return null;
  switch (metric) {
    case 'auc':
      checkLengths('estimateMetric', probabilities, 'probabilities', scores, 'scores');
      return estimatedRocAuc(probabilities);
    case 'accuracy':
      return estimatedAccuracy(probabilities, DEFAULT_THRESHOLD, scores);
    case 'log_loss':
      return estimatedLogLoss(probabilities, scores);
  }
}

// ---------------------------------------------------------------------------------------------------
// Calibration: isotonic regression of the labels on the probabilities, as
// sklearn.isotonic.IsotonicRegression(out_of_bounds='clip', y_min=0, y_max=1).fit(probabilities, labels).

/**
 * A non-decreasing piecewise-linear map of [0, 1] into [0, 1]: linear between knots, flat outside them
 * (sklearn's X_thresholds_ / y_thresholds_, out_of_bounds='clip'). Plain arrays, so it serialises as JSON.
 */
export interface CalibrationMap {
  /** Knots, strictly ascending: the ends of every flat run of the fit. */
  readonly x: readonly number[];
  /** The calibrated probability at each knot, non-decreasing. */
  readonly y: readonly number[];
  /** The bins of `ece`. */
  readonly bins: number;
  /**
   * Expected calibration error of the raw probabilities on the fitting set (expectedCalibrationError):
   * how far from calibrated the model was, so how much CBPE without calibration would have been off.
   */
  readonly ece: number;
}

/**
 * Fits the map on a labelled reference set, as NannyML's CBPE does before estimating. Steps as sklearn:
 * distinct probabilities (values closer than 1e-15 to the first of a run pool, sklearn's resolution),
 * the mean label of each, pool-adjacent-violators weighted by the rows, then only the ends of flat runs
 * kept as knots. The map's values are means of 0/1 labels, so y_min = 0 and y_max = 1 never bind.
 * `bins` is only for the reported `ece`; the fit itself has no bins.
 */
export function fitCalibration(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  bins = 20,
): CalibrationMap {
  checkLengths('fitCalibration', labels, 'labels', probabilities, 'probabilities');
  const positives = checkLabels('fitCalibration', labels);
  checkProbabilities('fitCalibration', probabilities, 'probabilities');
  checkBins('fitCalibration', bins);
  const distinct = distinctWithLabels(labels, probabilities, positives);
  const fit = poolAdjacentViolators(distinct.means, distinct.weights);
  const knots = trimFlatRuns(distinct.x, fit);
  return { ...knots, bins, ece: eceOf(labels, probabilities, bins) };
}

interface Distinct {
  readonly x: number[];
  readonly means: Float64Array;
  readonly weights: Float64Array;
}

/** The distinct probabilities (pooled at sklearn's resolution), with the row count and mean label of each. */
function distinctWithLabels(labels: ArrayLike<number>, probabilities: ArrayLike<number>, positives: number) {
  const pos = sortedWhere(labels, probabilities, 1, positives);
  const neg = sortedWhere(labels, probabilities, 0, labels.length - positives);
  const x: number[] = [];
  const rows: number[] = [];
  const ones: number[] = [];
  let i = 0;
  let j = 0;
  while (i < pos.length || j < neg.length) {
    const first = j >= neg.length || (i < pos.length && pos[i]! <= neg[j]!) ? pos[i]! : neg[j]!;
    const startI = i;
    const startJ = j;
    while (i < pos.length && pos[i]! - first < ISOTONIC_RESOLUTION) i++;
    while (j < neg.length && neg[j]! - first < ISOTONIC_RESOLUTION) j++;
    x.push(first);
    ones.push(i - startI);
    rows.push(i - startI + (j - startJ));
  }
  const weights = Float64Array.from(rows);
  const means = Float64Array.from(ones, (k, at) => k / rows[at]!);
  return { x, means, weights } satisfies Distinct;
}

/**
 * Weighted isotonic (non-decreasing) regression by pool-adjacent-violators in O(n): Algorithm 1 of
 * Busing (2022), "Monotone Regression: A Simple and Fast O(n) PAVA Implementation", J. Stat. Softw.
 * 102(1), with >= for > in both violation tests — the form scipy.optimize.isotonic_regression runs, which
 * scikit-learn calls. The same additions in the same order give the same doubles as scipy.
 */
function poolAdjacentViolators(values: Float64Array, weights: Float64Array): Float64Array {
  const n = values.length;
  const x = values.slice();
  const w = weights.slice();
  const ends = new Int32Array(n + 1); // block b covers rows ends[b] .. ends[b + 1] − 1
  ends[1] = 1;
  let b = 0;
  let i = 1;
  while (i < n) {
    b++;
    let xb = x[i]!;
    let wb = w[i]!;
    if (x[b - 1]! >= xb) {
      b--;
      let sb = w[b]! * x[b]! + wb * xb;
      wb += w[b]!;
      xb = sb / wb;
      while (i < n - 1 && xb >= x[i + 1]!) {
        i++;
        sb += w[i]! * x[i]!;
        wb += w[i]!;
        xb = sb / wb;
      }
      while (b > 0 && x[b - 1]! >= xb) {
        b--;
        sb += w[b]! * x[b]!;
        wb += w[b]!;
        xb = sb / wb;
      }
    }
    x[b] = xb;
    w[b] = wb;
    ends[b + 1] = i + 1;
    i++;
  }
  const fit = new Float64Array(n);
  for (let k = 0; k <= b; k++) fit.fill(x[k]!, ends[k]!, ends[k + 1]!);
  return fit;
}

/** Keeps the first and last point and each point that differs from a neighbour (sklearn's trim). */
function trimFlatRuns(x: readonly number[], fit: Float64Array): { x: number[]; y: number[] } {
  const keptX: number[] = [];
  const keptY: number[] = [];
  const last = fit.length - 1;
  for (let k = 0; k <= last; k++) {
    if (k === 0 || k === last || fit[k] !== fit[k - 1] || fit[k] !== fit[k + 1]) {
      keptX.push(x[k]!);
      keptY.push(fit[k]!);
    }
  }
  return { x: keptX, y: keptY };
}

/** The calibrated probability of p (or of each of many): IsotonicRegression.predict. */
export function calibrate(map: CalibrationMap, p: number): number;
export function calibrate(map: CalibrationMap, p: ArrayLike<number>): Float64Array;
export function calibrate(map: CalibrationMap, p: number | ArrayLike<number>): number | Float64Array {
  checkMap(map);
  if (typeof p === 'number') {
    checkProbabilities('calibrate', [p], 'p');
    return interpolate(map, p);
  }
  checkProbabilities('calibrate', p, 'probabilities');
  return Float64Array.from(p, (v) => interpolate(map, v));
}

function checkMap(map: CalibrationMap): void {
  if (map.x.length === 0 || map.x.length !== map.y.length)
    throw new RangeError(`calibrate: the map has ${map.x.length} knots and ${map.y.length} values`);
}

/**
 * np.interp(v, x, y) after clipping v to [x₀, x_last], as scipy's interp1d delegates to it: the segment
 * with x[j] <= v < x[j + 1], value slope · (v − x[j]) + y[j] — the same operations, so the same doubles.
 */
function interpolate(map: CalibrationMap, v: number): number {
  const { x, y } = map;
  const last = x.length - 1;
  if (v <= x[0]!) return y[0]!;
  if (v >= x[last]!) return y[last]!;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (x[mid]! <= v) lo = mid;
    else hi = mid;
  }
  const slope = (y[lo + 1]! - y[lo]!) / (x[lo + 1]! - x[lo]!);
  return slope * (v - x[lo]!) + y[lo]!;
}

/**
 * Expected calibration error over `bins` equal-width bins of [0, 1]: Σ over non-empty bins of
 * (rows in bin / n) · |mean label − mean p|. The bins are sklearn.calibration.calibration_curve's
 * (strategy='uniform'): edges k · (1 / bins) as np.linspace makes them, and a p on an edge falls in the
 * bin below it (np.searchsorted, side='left'), except 0, which opens the first bin.
 */
export function expectedCalibrationError(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  bins = 20,
): number {
  checkLengths('expectedCalibrationError', labels, 'labels', probabilities, 'probabilities');
  checkLabels('expectedCalibrationError', labels);
  checkProbabilities('expectedCalibrationError', probabilities, 'probabilities');
  checkBins('expectedCalibrationError', bins);
  return eceOf(labels, probabilities, bins);
}

function checkBins(what: string, bins: number): void {
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`${what}: bins = ${bins} is not a positive integer`);
}

function eceOf(labels: ArrayLike<number>, probabilities: ArrayLike<number>, bins: number): number {
  const step = 1 / bins;
  const edges = Float64Array.from({ length: bins - 1 }, (_, k) => (k + 1) * step);
  const rows = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i]!;
    const bin = countBelow(edges, p);
    // Plain sums in row order, as np.bincount adds its weights.
    rows[bin] = rows[bin]! + 1;
    sumP[bin] = sumP[bin]! + p;
    sumY[bin] = sumY[bin]! + labels[i]!;
  }
  const n = probabilities.length;
  const total = new CompensatedSum();
  for (let k = 0; k < bins; k++) {
    if (rows[k] === 0) continue;
    total.add((rows[k]! / n) * Math.abs(sumY[k]! / rows[k]! - sumP[k]! / rows[k]!));
  }
  return total.value;
}

/** How many of the ascending edges are strictly below v (np.searchsorted(edges, v, side='left')). */
function countBelow(edges: Float64Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------------
// Standard errors: how far a window's metric wanders by chance, so the controller does not read noise
// as harm (a 200-row window's AUC moves by ±0.03).

/**
 * Hanley & McNeil (1982): the AUC's standard error from its value and the two class counts,
 * Q₁ = A/(2 − A), Q₂ = 2A²/(1 + A). Exact for exponential score distributions, a good guide otherwise.
 */
export function aucStandardError(auc: number, positives: number, negatives: number): number {
  if (!(positives > 0 && negatives > 0)) return Number.POSITIVE_INFINITY;
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance =
    (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) /
    (positives * negatives);
  return Math.sqrt(Math.max(0, variance));
}

/** The standard error of a mean over rows: the rows' sd (ddof 1) over √n. */
function meanStandardError(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return Number.POSITIVE_INFINITY;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  return Math.sqrt(ss / (n - 1) / n);
}

const clip = (p: number) => Math.min(1 - LOG_LOSS_EPS, Math.max(LOG_LOSS_EPS, p));

/**
 * A classification figure's standard error from its value, its row count, its (expected) positives and
 * its per-row log losses: Hanley–McNeil for AUC, binomial for accuracy, the losses' for log loss.
 */
function classificationStandardError(
  metric: 'auc' | 'accuracy' | 'log_loss',
  value: number,
  n: number,
  positives: number,
  rowLosses: () => Float64Array,
): number {
  if (metric === 'auc') return aucStandardError(value, positives, n - positives);
  if (metric === 'accuracy') return Math.sqrt((value * (1 - value)) / n);
  return meanStandardError(rowLosses());
}

const sum = (values: ArrayLike<number>) => {
  let t = 0;
  for (let i = 0; i < values.length; i++) t += values[i]!;
  return t;
};

/**
 * The standard error of a realised metric on these rows: Hanley–McNeil for AUC, binomial for accuracy,
 * the per-row losses' for log loss and MAE, and the delta method on the squared errors' for RMSE.
 */
export function metricStandardError(
  metric: Metric,
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
): number {
  checkMetric('metricStandardError', metric);
  const n = labels.length;
  if (n === 0 || n !== scores.length) return Number.POSITIVE_INFINITY;
  const value = computeMetric(metric, labels, scores);
  if (value === null) return Number.POSITIVE_INFINITY;
  const perRow = (f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
  if (metric === 'mae') return meanStandardError(perRow((i) => Math.abs(labels[i]! - scores[i]!)));
  if (metric === 'rmse') {
    const se = meanStandardError(perRow((i) => (labels[i]! - scores[i]!) ** 2));
    return value > 0 ? se / (2 * value) : Number.POSITIVE_INFINITY;
  }
  return classificationStandardError(metric, value, n, sum(labels), () =>
    perRow((i) => (labels[i]! === 1 ? -Math.log(clip(scores[i]!)) : -Math.log(1 - clip(scores[i]!)))),
  );
}

/**
 * The standard error of a confidence-based estimate, by the same formulas with the expected counts:
 * Σp positives for AUC, the estimate itself for accuracy, the expected per-row losses for log loss.
 */
export function estimateStandardError(metric: Metric, probabilities: ArrayLike<number>): number | null {
  checkMetric('estimateStandardError', metric);
  const n = probabilities.length;
  const value = estimateMetric(metric, probabilities);
  if (value === null || n === 0 || metric === 'mae' || metric === 'rmse') return null;
  return classificationStandardError(metric, value, n, sum(probabilities), () =>
    Float64Array.from({ length: n }, (_, i) => {
      const p = clip(probabilities[i]!);
      return -p * Math.log(p) - (1 - p) * Math.log(1 - p);
    }),
  );
}
