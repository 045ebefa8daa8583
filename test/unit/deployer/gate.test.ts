import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decide,
  type GateSettings,
  type ModelMeasurement,
  percentile,
  shadowDecision,
} from '../../../services/deployer/core/gate.ts';

const classifier: GateSettings = {
  task: 'binary_classification',
  metric: 'accuracy',
  tolerance: 0.01,
  latencyBudgetMs: 10,
};
const labels = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0];
/** Right on 9 of the 10 rows: accuracy 0.9, counted by hand. */
const good = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.4, 0.1];

const measured = (over: Partial<ModelMeasurement> = {}): ModelMeasurement => ({
  loadError: null,
  smokeOutputs: [0.5, 0.5],
  holdoutOutputs: good,
  latencyP99Ms: 2,
  ...over,
});

test('a sound challenger with no champion passes every check', () => {
  const d = decide(classifier, measured(), labels, null);
  assert.equal(d.promote, true);
  assert.deepEqual(
    d.checks.map((c) => c.name),
    ['loads', 'finite', 'range', 'latency', 'metric'],
  );
  assert.equal(d.challengerMetric, 0.9);
  assert.deepEqual(d.reasons, []);
});

test('the metric line is the champion’s minus the tolerance, on the same rows', () => {
  assert.equal(
    decide(classifier, measured(), labels, { version: 1, metric: 0.91, sameHoldout: true }).promote,
    true,
  );
  const worse = decide(classifier, measured(), labels, { version: 1, metric: 0.92, sameHoldout: true });
  assert.equal(worse.promote, false);
  assert.match(
    worse.reasons[0]!,
    /^metric: accuracy 0\.9000 on the holdout against champion v1 0\.9200 on the same rows; the line is 0\.9100/,
  );
});

test('for a loss, lower is better: the line is the champion’s plus the tolerance', () => {
  const regression: GateSettings = { task: 'regression', metric: 'mae', tolerance: 0.5, latencyBudgetMs: 10 };
  const actual = [1, 2, 3, 4];
  const predicted = [2, 3, 4, 5]; // MAE 1, by hand
  const m = measured({ holdoutOutputs: predicted, smokeOutputs: [-1e6, 1e6] });
  assert.equal(decide(regression, m, actual, { version: 3, metric: 0.6, sameHoldout: true }).promote, true);
  assert.equal(decide(regression, m, actual, { version: 3, metric: 0.4, sameHoldout: true }).promote, false);
  assert.ok(
    !decide(regression, m, actual, null).checks.some((c) => c.name === 'range'),
    'a regressor has no range',
  );
});

test('NaN or infinite outputs fail finite; a probability outside [0, 1] fails range; the metric is not reached', () => {
  const nan = decide(classifier, measured({ smokeOutputs: [0.5, Number.NaN] }), labels, null);
  assert.equal(nan.promote, false);
  assert.deepEqual(
    nan.checks.filter((c) => !c.passed).map((c) => c.name),
    ['finite', 'range'],
  );
  assert.ok(!nan.checks.some((c) => c.name === 'metric'));
  const out = decide(classifier, measured({ holdoutOutputs: [...good.slice(0, 9), 1.5] }), labels, null);
  assert.deepEqual(
    out.checks.filter((c) => !c.passed).map((c) => c.name),
    ['range'],
  );
  assert.match(out.reasons[0]!, /output 11 is 1\.5/);
});

test('too slow fails latency; a model that does not load fails loads and nothing else is checked', () => {
  const slow = decide(classifier, measured({ latencyP99Ms: 10.5 }), labels, null);
  assert.deepEqual(slow.reasons, ['latency: p99 10.500 ms for one row (budget 10 ms)']);
  const broken = decide(
    classifier,
    measured({ loadError: 'it takes 3 inputs; the version registers 2 features' }),
    labels,
    null,
  );
  assert.deepEqual(
    broken.checks.map((c) => [c.name, c.passed]),
    [['loads', false]],
  );
  assert.equal(broken.challengerMetric, null);
});

test('a holdout of one class gives no AUC: the metric check fails instead of passing on NaN', () => {
  const auc: GateSettings = { ...classifier, metric: 'auc' };
  const d = decide(auc, measured({ holdoutOutputs: [0.2, 0.8] }), [1, 1], null);
  assert.equal(d.promote, false);
  assert.match(d.reasons[0]!, /undefined/);
});

test('percentile is nearest-rank', () => {
  const values = Array.from({ length: 200 }, (_, i) => i + 1);
  assert.equal(percentile(values, 99), 198);
  assert.equal(percentile(values, 50), 100);
  assert.equal(percentile([5], 99), 5);
  assert.ok(Number.isNaN(percentile([], 99)));
});

test('the shadow verdict: both models on the same labelled live rows, too few rows is a rejection', () => {
  const rows = { labels, champion: [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9], challenger: good };
  // The champion calls everything 1: right on the 5 positives, accuracy 0.5; the challenger 0.9.
  const won = shadowDecision(classifier, rows, 10);
  assert.deepEqual(
    { promote: won.promote, rows: won.rows, champion: won.champion, challenger: won.challenger },
    {
      promote: true,
      rows: 10,
      champion: 0.5,
      challenger: 0.9,
    },
  );
  const lost = shadowDecision(classifier, { ...rows, champion: good, challenger: rows.champion }, 10);
  assert.equal(lost.promote, false);
  assert.match(
    lost.reason,
    /accuracy 0\.5000 against the champion's 0\.9000 on 10 labelled live predictions/,
  );
  const few = shadowDecision(classifier, rows, 11);
  assert.deepEqual([few.promote, few.reason], [false, '10 labelled shadow predictions, fewer than 11']);
});
