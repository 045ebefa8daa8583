import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  accuracy,
  aucStandardError,
  type CalibrationMap,
  calibrate,
  computeMetric,
  DEFAULT_THRESHOLD,
  estimatedAccuracy,
  estimatedLogLoss,
  estimatedRocAuc,
  estimateMetric,
  expectedCalibrationError,
  fitCalibration,
  HIGHER_IS_BETTER,
  LOG_LOSS_EPS,
  logLoss,
  type Metric,
  meanAbsoluteError,
  metricStandardError,
  metricsFor,
  rocAuc,
  rootMeanSquaredError,
} from '../../../services/monitor/core/performance.ts';
import { createRng, type Rng } from '../../support/prng.ts';

/**
 * Reference values: test/fixtures/performance/reference.json, written by make_fixtures.py beside it —
 * scikit-learn for the realised metrics and the isotonic calibration, numpy by the stated formula for
 * the confidence-based estimates (cross-checked there against weighted scikit-learn metrics).
 *
 * Tolerance, for every value: 1e-12 relative, or 1e-15 absolute where the reference is exactly 0.
 * Observed worst case: 2.6e-16 relative (log loss, 1% positives in 20,000 rows) — about one ulp;
 * accuracy and the isotonic fit (knots, predictions) agree with scikit-learn to the last bit.
 */
const REL = 1e-12;
const ABS = 1e-15;

interface Threshold {
  readonly threshold: number;
  readonly value: number;
}

interface Estimated {
  readonly accuracy: readonly Threshold[];
  readonly auc: number | null;
  readonly logLoss: number;
}

interface ClassificationCase {
  readonly name: string;
  readonly n: number;
  readonly positives: number;
  readonly labels?: number[];
  readonly scores?: number[];
  readonly counts?: { scores: number[]; positives: number[]; negatives: number[] };
  readonly auc: number | null;
  readonly accuracy: readonly Threshold[];
  readonly logLoss: number | null;
  readonly estimated: Estimated | null;
}

interface CbpeCase extends Estimated {
  readonly name: string;
  readonly probabilities: number[];
  readonly scores?: number[];
}

interface RegressionCase {
  readonly name: string;
  readonly n: number;
  readonly actual?: number[];
  readonly predicted?: number[];
  readonly counts?: { actual: number[]; predicted: number[]; counts: number[] };
  readonly mae: number;
  readonly rmse: number;
}

interface CalibrationCase {
  readonly name: string;
  readonly labels: number[];
  readonly probabilities: number[];
  readonly knotsX: number[];
  readonly knotsY: number[];
  readonly fitted: number[];
  readonly grid: number[];
  readonly gridPredicted: number[];
  readonly bins: number;
  readonly ece: number;
}

interface Reference {
  readonly meta: { readonly 'scikit-learn': string; readonly numpy: string; readonly logLossEps: number };
  readonly classification: readonly ClassificationCase[];
  readonly cbpe: readonly CbpeCase[];
  readonly regression: readonly RegressionCase[];
  readonly calibration: readonly CalibrationCase[];
}

const REFERENCE_PATH = new URL('../../fixtures/performance/reference.json', import.meta.url);
const ref = JSON.parse(readFileSync(REFERENCE_PATH, 'utf8')) as Reference;

function relativeError(actual: number, expected: number): number {
  if (actual === expected) return 0;
  return expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
}

function assertClose(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: ${actual}, scikit-learn has no value`);
    return;
  }
  assert.ok(actual !== null, `${what}: null, scikit-learn has ${expected}`);
  const err = relativeError(actual, expected);
  assert.ok(
    expected === 0 ? err <= ABS : err <= REL,
    `${what}: ${actual} vs reference ${expected} (error ${err})`,
  );
}

function assertAllClose(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assertClose(actual[i]!, expected[i]!, `${what}[${i}]`);
}

/** A classification case's rows; stored counts expand as the script's np.repeat: positives, then negatives. */
function rows(c: ClassificationCase): { labels: Float64Array; scores: Float64Array } {
  if (c.labels && c.scores)
    return { labels: Float64Array.from(c.labels), scores: Float64Array.from(c.scores) };
  const k = c.counts!;
  const labels = new Float64Array(c.n);
  const scores = new Float64Array(c.n);
  let at = 0;
  k.scores.forEach((s, i) => {
    const positives = k.positives[i]!;
    const all = positives + k.negatives[i]!;
    labels.fill(1, at, at + positives);
    scores.fill(s, at, at + all);
    at += all;
  });
  assert.equal(at, c.n);
  return { labels, scores };
}

function regressionRows(c: RegressionCase): { actual: Float64Array; predicted: Float64Array } {
  if (c.actual && c.predicted) {
    return { actual: Float64Array.from(c.actual), predicted: Float64Array.from(c.predicted) };
  }
  const k = c.counts!;
  const actual = new Float64Array(c.n);
  const predicted = new Float64Array(c.n);
  let at = 0;
  k.counts.forEach((n, i) => {
    actual.fill(k.actual[i]!, at, at + n);
    predicted.fill(k.predicted[i]!, at, at + n);
    at += n;
  });
  assert.equal(at, c.n);
  return { actual, predicted };
}

const byName = <T extends { name: string }>(cases: readonly T[], prefix: string): T => {
  const found = cases.find((c) => c.name.startsWith(prefix));
  assert.ok(found, `fixture case "${prefix}…" exists`);
  return found;
};

describe('realised classification metrics match scikit-learn', () => {
  for (const c of ref.classification) {
    it(c.name, () => {
      const { labels, scores } = rows(c);
      assert.equal(labels.length, c.n);
      // roc_auc_score(labels, scores); None where scikit-learn raises (one class).
      assertClose(rocAuc(labels, scores), c.auc, 'AUC');
      // accuracy_score(labels, scores >= t).
      for (const t of c.accuracy)
        assertClose(accuracy(labels, scores, t.threshold), t.value, `accuracy@${t.threshold}`);
      if (c.logLoss === null) {
        assert.throws(() => logLoss(labels, scores), { name: 'RangeError', message: /outside \[0, 1\]/ });
        return;
      }
      // log_loss(labels, scores, labels=[0, 1]).
      assertClose(logLoss(labels, scores), c.logLoss, 'log loss');
      const m = metricsFor('binary_classification', labels, scores);
      assertClose(m.auc, c.auc, 'metricsFor auc');
      assertClose(
        m.accuracy,
        c.accuracy.find((t) => t.threshold === DEFAULT_THRESHOLD)!.value,
        'metricsFor accuracy',
      );
      assertClose(m.log_loss, c.logLoss, 'metricsFor log_loss');
      assert.equal(m.count, c.n);
      assert.equal(m.positives, c.positives);
      assertClose(computeMetric('auc', labels, scores), c.auc, 'computeMetric auc');
      assertClose(computeMetric('log_loss', labels, scores), c.logLoss, 'computeMetric log_loss');
    });
  }

  it('the fixtures cover one class, n = 1, 100,000 rows, AUC 0 and 1, ties, 1% positives', () => {
    const cases = ref.classification;
    assert.ok(cases.some((c) => c.auc === null && c.positives === 0));
    assert.ok(cases.some((c) => c.auc === null && c.positives === c.n));
    assert.ok(cases.some((c) => c.n === 1));
    assert.ok(cases.some((c) => c.n === 100_000));
    assert.ok(cases.some((c) => c.auc === 0) && cases.some((c) => c.auc === 1));
    assert.ok(cases.some((c) => c.positives / c.n === 0.01));
    assert.equal(ref.meta.logLossEps, LOG_LOSS_EPS);
  });

  it('counts tied scores one half (Mann–Whitney), as in scikit-learn’s docstring example', () => {
    assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
    assert.equal(rocAuc([0, 1], [0.5, 0.5]), 0.5);
    assert.equal(rocAuc([0, 1, 0, 1], [0.2, 0.2, 0.7, 0.9]), 0.625);
  });

  it('predicts positive at score >= threshold, so a score equal to it is a positive', () => {
    assert.equal(accuracy([1], [0.5]), 1);
    assert.equal(accuracy([0], [0.5]), 0);
    assert.equal(accuracy([0, 1], [0.3, 0.3], 0.3), 0.5);
  });

  it('clips log loss at eps = 2^-52: a certain wrong answer costs -ln(eps) ≈ 36.04', () => {
    assert.equal(logLoss([1], [0]), -Math.log(LOG_LOSS_EPS));
    assert.equal(logLoss([0], [1]), -Math.log(LOG_LOSS_EPS));
    assert.equal(logLoss([1], [1]), -Math.log(1 - LOG_LOSS_EPS));
  });

  it('sorts once: AUC of 1,000,000 rows in well under the budget', () => {
    const rng = createRng(7);
    const labels = new Float64Array(1_000_000);
    const scores = new Float64Array(1_000_000);
    for (let i = 0; i < labels.length; i++) {
      labels[i] = rng.bool(0.3) ? 1 : 0;
      scores[i] = rng.next() * 0.8 + labels[i]! * 0.2;
    }
    const started = performance.now();
    const auc = rocAuc(labels, scores)!;
    const estimate = estimatedRocAuc(scores)!;
    // Generous: a quadratic pair count would take hours; two sorts and a merge take well under a second.
    assert.ok(performance.now() - started < 5000);
    // Uniform(0, 0.8) against uniform(0.2, 1): P(pos > neg) = 1 − 0.5 · 0.75² = 0.71875.
    assert.ok(Math.abs(auc - 0.71875) < 0.003, `AUC ${auc}`);
    assert.ok(estimate > 0.5 && estimate < 1, `estimated AUC ${estimate}`);
  });
});

describe('regression metrics match scikit-learn', () => {
  for (const c of ref.regression) {
    it(c.name, () => {
      const { actual, predicted } = regressionRows(c);
      // mean_absolute_error, sqrt(mean_squared_error).
      assertClose(meanAbsoluteError(actual, predicted), c.mae, 'MAE');
      assertClose(rootMeanSquaredError(actual, predicted), c.rmse, 'RMSE');
      const m = metricsFor('regression', actual, predicted);
      assertClose(m.mae, c.mae, 'metricsFor mae');
      assertClose(m.rmse, c.rmse, 'metricsFor rmse');
      assert.equal(m.count, c.n);
      assertClose(computeMetric('rmse', actual, predicted), c.rmse, 'computeMetric rmse');
    });
  }

  it('compensates its sums: a million unit errors after one of 1e16 are not lost', () => {
    assert.ok(ref.regression.some((c) => c.n === 100_000));
    assert.ok(ref.regression.some((c) => c.rmse > 1000 && c.mae < 1000));
    // A plain loop adds each 1 to 1e16 and rounds it away: 1e-10 relative short of the exact mean.
    const n = 1_000_001;
    const actual = new Float64Array(n).fill(1);
    actual[0] = 1e16;
    assert.equal(meanAbsoluteError(actual, new Float64Array(n)), (1e16 + 1e6) / n);
    actual[0] = 1e8;
    assert.equal(rootMeanSquaredError(actual, new Float64Array(n)), Math.sqrt((1e16 + 1e6) / n));
  });
});

describe('CBPE estimates match numpy by the formula', () => {
  for (const c of ref.classification.filter((x) => x.estimated !== null)) {
    it(c.name, () => {
      const { scores } = rows(c);
      const e = c.estimated!;
      for (const t of e.accuracy) {
        assertClose(estimatedAccuracy(scores, t.threshold), t.value, `estimated accuracy@${t.threshold}`);
      }
      assertClose(estimatedRocAuc(scores), e.auc, 'estimated AUC');
      assertClose(estimatedLogLoss(scores), e.logLoss, 'estimated log loss');
      assertClose(estimateMetric('auc', scores), e.auc, 'estimateMetric auc');
      assertClose(estimateMetric('log_loss', scores), e.logLoss, 'estimateMetric log_loss');
    });
  }

  for (const c of ref.cbpe) {
    it(c.name, () => {
      const p = c.probabilities;
      const s = c.scores ?? p;
      for (const t of c.accuracy) {
        assertClose(estimatedAccuracy(p, t.threshold, s), t.value, `estimated accuracy@${t.threshold}`);
      }
      assertClose(estimatedRocAuc(p), c.auc, 'estimated AUC');
      assertClose(estimatedLogLoss(p, s), c.logLoss, 'estimated log loss');
      const at05 = c.accuracy.find((t) => t.threshold === DEFAULT_THRESHOLD)!.value;
      assertClose(estimateMetric('accuracy', p, s), at05, 'estimateMetric accuracy');
    });
  }

  it('walks the expected ROC curve from (0, 0), one step per tied probability', () => {
    // Points (0, 0), (0.2, 0.8), (1, 1): 0.2 · 0.8 / 2 + 0.8 · 1.8 / 2.
    assert.equal(estimatedRocAuc([0.2, 0.8]), 0.8);
    assert.equal(estimatedRocAuc([0.8, 0.2, 0.8, 0.2]), 0.8);
    // One distinct probability: the diagonal.
    assert.equal(estimatedRocAuc([0.3, 0.3, 0.3]), 0.5);
    assert.equal(estimatedRocAuc([0, 0]), null);
    assert.equal(estimatedRocAuc([1]), null);
  });
});

/** Labels drawn as independent Bernoulli(p). */
function drawLabels(rng: Rng, p: ArrayLike<number>, out: Float64Array): Float64Array {
  for (let i = 0; i < p.length; i++) out[i] = rng.next() < p[i]! ? 1 : 0;
  return out;
}

interface MonteCarlo {
  readonly mean: number;
  readonly standardError: number;
}

/** The realised metric over `draws` label vectors drawn from p; its mean and standard error. */
function monteCarlo(
  p: ArrayLike<number>,
  draws: number,
  seed: number,
  metric: (labels: Float64Array) => number,
): MonteCarlo {
  const rng = createRng(seed);
  const labels = new Float64Array(p.length);
  let sum = 0;
  let sumSq = 0;
  for (let d = 0; d < draws; d++) {
    const v = metric(drawLabels(rng, p, labels));
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / draws;
  const variance = (sumSq - draws * mean * mean) / (draws - 1);
  return { mean, standardError: Math.sqrt(variance / draws) };
}

describe('CBPE is the expectation of the realised metric when labels are Bernoulli(p) (Monte Carlo)', () => {
  const DRAWS = 2000;
  const calibrated = byName(ref.classification, 'calibrated:');
  const p = rows(calibrated).scores;
  const overconfident = byName(ref.cbpe, 'an overconfident model');

  it('estimatedAccuracy = E[accuracy], within 4 standard errors; a wrong formula is far outside', () => {
    for (const t of [0.5, 0.7]) {
      const mc = monteCarlo(p, DRAWS, 101, (labels) => accuracy(labels, p, t));
      const estimate = estimatedAccuracy(p, t);
      assert.ok(
        Math.abs(mc.mean - estimate) <= 4 * mc.standardError,
        `t = ${t}: Monte Carlo ${mc.mean} ± ${mc.standardError}, estimate ${estimate}`,
      );
      // The check has power: the mean probability, a plausible slip, is dozens of errors away.
      const slip = p.reduce((s, v) => s + v, 0) / p.length;
      assert.ok(Math.abs(mc.mean - slip) > 20 * mc.standardError, `mean p ${slip} is rejected`);
    }
  });

  it('estimatedAccuracy with raw scores estimates the accuracy of the scores’ decisions', () => {
    const q = overconfident.probabilities;
    const s = overconfident.scores!;
    for (const t of [0.5, 0.2]) {
      const mc = monteCarlo(q, DRAWS, 202, (labels) => accuracy(labels, s, t));
      const estimate = estimatedAccuracy(q, t, s);
      assert.ok(Math.abs(mc.mean - estimate) <= 4 * mc.standardError, `t = ${t}: ${mc.mean} vs ${estimate}`);
      // Taking the scores as probabilities (no calibration) misses by far.
      const naive = estimatedAccuracy(s, t);
      assert.ok(Math.abs(mc.mean - naive) > 20 * mc.standardError, `uncalibrated ${naive} is rejected`);
    }
  });

  it('estimatedLogLoss = E[log loss], for calibrated and for raw scores', () => {
    const mc = monteCarlo(p, DRAWS, 303, (labels) => logLoss(labels, p));
    const estimate = estimatedLogLoss(p);
    assert.ok(Math.abs(mc.mean - estimate) <= 4 * mc.standardError, `${mc.mean} vs ${estimate}`);
    const q = overconfident.probabilities;
    const s = overconfident.scores!;
    const raw = monteCarlo(q, DRAWS, 304, (labels) => logLoss(labels, s));
    const rawEstimate = estimatedLogLoss(q, s);
    assert.ok(Math.abs(raw.mean - rawEstimate) <= 4 * raw.standardError, `${raw.mean} vs ${rawEstimate}`);
  });

  it('estimatedRocAuc is close to E[AUC] (a ratio of expectations, so equal only as n grows)', () => {
    const mc = monteCarlo(p, 500, 404, (labels) => rocAuc(labels, p)!);
    const estimate = estimatedRocAuc(p)!;
    // 5,000 rows: the ratio's bias is O(1/n), allowed 5e-4 on top; observed within 1.7 standard errors
    // (≈ 5e-4) over four seeds, so the bias does not show at this size.
    assert.ok(Math.abs(mc.mean - estimate) <= 4 * mc.standardError + 5e-4, `${mc.mean} vs ${estimate}`);
    assert.ok(Math.abs(mc.mean - (1 - estimate)) > 0.4, 'a swapped tpr / fpr would be 1 − AUC');
  });
});

describe('fitCalibration matches sklearn IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)', () => {
  for (const c of ref.calibration) {
    it(c.name, () => {
      const map = fitCalibration(c.labels, c.probabilities, c.bins);
      // X_thresholds_ exactly (they are input values), y_thresholds_ within the tolerance.
      assert.deepEqual(map.x, c.knotsX);
      assertAllClose(map.y, c.knotsY, 'knot');
      // predict() at the training points and on a grid that reaches outside the training range.
      assertAllClose(calibrate(map, c.probabilities), c.fitted, 'fitted');
      assertAllClose(calibrate(map, c.grid), c.gridPredicted, 'predict(grid)');
      assert.equal(calibrate(map, c.grid[3]!), calibrate(map, c.grid)[3]);
      assertClose(map.ece, c.ece, `ECE over ${c.bins} bins`);
      assertClose(expectedCalibrationError(c.labels, c.probabilities, c.bins), c.ece, 'ECE');
    });
  }

  it('keeps the mean label on the fitting set, and the map is non-decreasing in [0, 1]', () => {
    const c = byName(ref.calibration, 'an overconfident model');
    const map = fitCalibration(c.labels, c.probabilities);
    const fitted = calibrate(map, c.probabilities);
    const positives = c.labels.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(fitted.reduce((s, v) => s + v, 0) - positives) < 1e-9);
    for (let i = 1; i < map.x.length; i++) {
      assert.ok(map.x[i]! > map.x[i - 1]! && map.y[i]! >= map.y[i - 1]!);
    }
    assert.ok(map.y[0]! >= 0 && map.y[map.y.length - 1]! <= 1);
  });

  it('calibrating a miscalibrated model makes CBPE track the realised accuracy', () => {
    // True probability q ~ U(0, 1); the model outputs q³. Raw, CBPE would report ~0.85; truly ~0.66.
    const rng = createRng(20240612);
    const sample = (n: number) => {
      const scores = new Float64Array(n);
      const labels = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const q = rng.next();
        scores[i] = q ** 3;
        labels[i] = rng.next() < q ? 1 : 0;
      }
      return { scores, labels };
    };
    const reference = sample(20_000);
    const analysis = sample(20_000);
    const map: CalibrationMap = fitCalibration(reference.labels, reference.scores);
    assert.ok(map.ece > 0.1, `the raw scores are far from calibrated (ECE ${map.ece})`);
    const realised = accuracy(analysis.labels, analysis.scores);
    const estimate = estimatedAccuracy(calibrate(map, analysis.scores), DEFAULT_THRESHOLD, analysis.scores);
    const uncalibrated = estimatedAccuracy(analysis.scores);
    // Sampling sd of the realised accuracy ≈ 0.0034; 0.015 leaves room for the map's own error.
    assert.ok(
      Math.abs(estimate - realised) < 0.015,
      `calibrated estimate ${estimate} vs realised ${realised}`,
    );
    assert.ok(
      Math.abs(uncalibrated - realised) > 0.1,
      `uncalibrated ${uncalibrated} vs realised ${realised}`,
    );
  });
});

describe('dispatch by metric name', () => {
  it('knows which way each metric is better', () => {
    assert.deepEqual(HIGHER_IS_BETTER, {
      auc: true,
      accuracy: true,
      log_loss: false,
      mae: false,
      rmse: false,
    });
  });

  it('returns null for an empty window, and for AUC of one class', () => {
    for (const m of Object.keys(HIGHER_IS_BETTER) as Metric[]) {
      assert.equal(computeMetric(m, [], []), null, m);
      assert.equal(estimateMetric(m, []), null, m);
    }
    assert.equal(computeMetric('auc', [1, 1], [0.2, 0.9]), null);
    assert.deepEqual(metricsFor('binary_classification', [], []), {
      auc: null,
      accuracy: null,
      log_loss: null,
      count: 0,
      positives: 0,
    });
    assert.deepEqual(metricsFor('regression', [], []), { mae: null, rmse: null, count: 0 });
    assert.deepEqual(metricsFor('binary_classification', [1, 1], [0.9, 0.4]), {
      auc: null,
      accuracy: 0.5,
      log_loss: (-Math.log(0.9) - Math.log(0.4)) / 2,
      count: 2,
      positives: 2,
    });
  });

  it('does not estimate regression metrics (a point prediction carries no error distribution)', () => {
    assert.equal(estimateMetric('mae', [0.2, 0.7]), null);
    assert.equal(estimateMetric('rmse', [0.2, 0.7]), null);
    assert.equal(estimateMetric('accuracy', [0.2, 0.7]), 0.75);
  });

  it('refuses an unknown metric or task', () => {
    assert.throws(() => computeMetric('f1' as Metric, [], []), {
      name: 'RangeError',
      message: /unknown metric f1/,
    });
    assert.throws(() => estimateMetric('toString' as Metric, [0.5]), /unknown metric/);
    assert.throws(() => metricsFor('ranking' as 'regression', [1], [1]), /unknown task/);
  });
});

describe('every function refuses bad input with a RangeError naming the problem', () => {
  const calls: ReadonlyArray<[string, (a: number[], b: number[]) => unknown]> = [
    ['rocAuc', (a, b) => rocAuc(a, b)],
    ['accuracy', (a, b) => accuracy(a, b)],
    ['logLoss', (a, b) => logLoss(a, b)],
    ['fitCalibration', (a, b) => fitCalibration(a, b)],
    ['expectedCalibrationError', (a, b) => expectedCalibrationError(a, b)],
    ['computeMetric', (a, b) => computeMetric('auc', a, b)],
    ['metricsFor', (a, b) => metricsFor('binary_classification', a, b)],
  ];
  const refuses = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, { name: 'RangeError', message: pattern });

  for (const [name, call] of calls) {
    it(`${name}: lengths, emptiness, NaN, labels not 0/1, and (where probabilities) [0, 1]`, () => {
      refuses(() => call([0, 1, 1], [0.2, 0.4]), /labels has 3 values but \w+ has 2/);
      if (name !== 'computeMetric' && name !== 'metricsFor') refuses(() => call([], []), /empty/);
      refuses(() => call([0, 2], [0.2, 0.4]), /labels\[1\] = 2 is not 0 or 1/);
      refuses(() => call([0, Number.NaN], [0.2, 0.4]), /labels\[1\] = NaN is not 0 or 1/);
      refuses(() => call([0, 1], [0.2, Number.NaN]), /\w+\[1\] is NaN/);
      refuses(
        () => call([0, 1], [0.2, Number.POSITIVE_INFINITY]),
        /\[1\] = Infinity is (not finite|outside)/,
      );
    });
  }

  it('probabilities outside [0, 1]', () => {
    refuses(() => logLoss([0, 1], [0.2, 1.5]), /logLoss: probabilities\[1\] = 1.5 is outside \[0, 1\]/);
    refuses(() => fitCalibration([0, 1], [-0.1, 0.5]), /probabilities\[0\] = -0.1 is outside/);
    refuses(() => estimatedAccuracy([0.2, 1.01]), /estimatedAccuracy: probabilities\[1\] = 1.01 is outside/);
    refuses(() => estimatedRocAuc([0.2, -1]), /outside \[0, 1\]/);
    refuses(() => estimatedLogLoss([0.2, 0.5], [0.3, 2]), /scores\[1\] = 2 is outside/);
    refuses(() => calibrate(fitCalibration([0, 1], [0.2, 0.6]), 1.2), /p\[0\] = 1.2 is outside/);
    // Scores for AUC and accuracy may be any finite number (a margin, a logit).
    assert.equal(rocAuc([0, 1], [-3, 7]), 1);
    assert.equal(accuracy([0, 1], [-3, 7], 0), 1);
  });

  it('the CBPE estimates: lengths, emptiness, NaN', () => {
    refuses(() => estimatedAccuracy([0.2, 0.4], 0.5, [0.1]), /probabilities has 2 values but scores has 1/);
    refuses(() => estimatedLogLoss([0.2], [0.1, 0.3]), /has 1 values but scores has 2/);
    refuses(() => estimateMetric('auc', [0.2], [0.1, 0.3]), /has 1 values but scores has 2/);
    refuses(() => estimatedAccuracy([]), /empty/);
    refuses(() => estimatedLogLoss([]), /empty/);
    refuses(() => estimatedRocAuc([]), /empty/);
    refuses(() => estimatedRocAuc([0.2, Number.NaN]), /probabilities\[1\] is NaN/);
    refuses(() => estimatedAccuracy([0.2], Number.NaN), /threshold is NaN/);
    refuses(() => estimatedAccuracy([0.2], 0.5, [Number.NaN]), /scores\[0\] is NaN/);
  });

  it('the regression metrics: lengths, emptiness, NaN, infinity', () => {
    for (const fn of [meanAbsoluteError, rootMeanSquaredError]) {
      refuses(() => fn([1, 2], [1]), /actual has 2 values but predicted has 1/);
      refuses(() => fn([], []), /empty/);
      refuses(() => fn([1, Number.NaN], [1, 2]), /actual\[1\] is NaN/);
      refuses(() => fn([1, 2], [Number.NEGATIVE_INFINITY, 2]), /predicted\[0\] = -Infinity is not finite/);
    }
    refuses(() => computeMetric('mae', [1], []), /actual has 1 values but predicted has 0/);
  });

  it('thresholds, bins and calibration maps', () => {
    refuses(() => accuracy([0, 1], [0.2, 0.4], Number.NaN), /accuracy: threshold is NaN/);
    refuses(() => fitCalibration([0, 1], [0.2, 0.4], 0), /bins = 0 is not a positive integer/);
    refuses(() => expectedCalibrationError([0, 1], [0.2, 0.4], 2.5), /bins = 2.5/);
    refuses(() => calibrate({ x: [], y: [], bins: 20, ece: 0 }, 0.5), /0 knots/);
    refuses(() => calibrate({ x: [0, 1], y: [0], bins: 20, ece: 0 }, [0.5]), /2 knots and 1 values/);
  });
});

describe('standard errors, against the spread of the metric over many seeded samples', () => {
  const sample = (seed: number, n: number) => {
    const rng = createRng(seed);
    const scores = Float64Array.from({ length: n }, () => rng.next());
    // Labels drawn from the scores themselves: a calibrated model, AUC ≈ 0.83.
    const labels = Float64Array.from(scores, (p) => (rng.next() < p ? 1 : 0));
    return { labels, scores };
  };
  const spread = (values: number[]) => {
    const m = values.reduce((a, b) => a + b, 0) / values.length;
    return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / (values.length - 1));
  };

  for (const metric of ['auc', 'accuracy', 'log_loss'] as const) {
    it(`${metric}: the formula's standard error is within 25% of the observed spread at n = 200`, () => {
      const values: number[] = [];
      const errors: number[] = [];
      for (let k = 0; k < 1500; k++) {
        const { labels, scores } = sample(1000 + k, 200);
        values.push(computeMetric(metric, labels, scores)!);
        errors.push(metricStandardError(metric, labels, scores));
      }
      const observed = spread(values);
      const predicted = errors.reduce((a, b) => a + b, 0) / errors.length;
      assert.ok(
        Math.abs(predicted / observed - 1) < 0.25,
        `${metric}: predicted ${predicted}, observed ${observed}`,
      );
    });
  }

  it('Hanley–McNeil at its textbook point: A = 0.5, 10 and 10 → √(0.25·…)/100', () => {
    // Q1 = 1/3, Q2 = 1/3: var = (0.25 + 9·(1/3 − 1/4) + 9·(1/3 − 1/4)) / 100 = (0.25 + 1.5) / 100.
    assert.ok(Math.abs(aucStandardError(0.5, 10, 10) - Math.sqrt(1.75 / 100)) < 1e-15);
    assert.equal(aucStandardError(0.8, 0, 10), Number.POSITIVE_INFINITY);
  });
});
