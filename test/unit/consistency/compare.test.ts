import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shopViews } from '../../../examples/shop/views.ts';
import {
  approxBound,
  compareFeature,
  emptyTally,
  resolveInput,
  tallyPrediction,
} from '../../../services/consistency/compare.ts';

const exact = { kind: 'sum', exact: true } as const;
const hll = { kind: 'approx_distinct', exact: false } as const;

test('exact kinds: identical floats agree, any difference is a value mismatch', () => {
  assert.deepEqual(compareFeature(0.1 + 0.2, { status: 'ok', value: 0.1 + 0.2 }, exact), {
    compared: true,
    mismatch: false,
  });
  assert.deepEqual(compareFeature(0.3, { status: 'ok', value: 0.1 + 0.2 }, exact), {
    compared: true,
    mismatch: true,
    reason: 'value',
  });
});

test('approx kinds: within the documented bound agree, beyond it mismatch', () => {
  assert.equal(approxBound('approx_distinct', 10), 1);
  assert.equal(approxBound('approx_distinct', 100), 5);
  assert.equal(compareFeature(105, { status: 'ok', value: 100 }, hll).mismatch, false);
  assert.deepEqual(compareFeature(106, { status: 'ok', value: 100 }, hll), {
    compared: true,
    mismatch: true,
    reason: 'bound',
  });
  assert.equal(compareFeature(3, { status: 'ok', value: 2 }, hll).mismatch, false);
});

test('missing/imputed: served null agrees with a non-ok PIT status (not compared) and with a non-number', () => {
  assert.deepEqual(compareFeature(null, { status: 'missing', value: null }, exact), {
    compared: false,
    mismatch: false,
  });
  assert.deepEqual(compareFeature(null, { status: 'expired', value: null }, exact), {
    compared: false,
    mismatch: false,
  });
  // ok but an empty window (null) or a string `last`: serving imputes, so null is right
  assert.deepEqual(compareFeature(null, { status: 'ok', value: null }, exact), {
    compared: true,
    mismatch: false,
  });
  assert.equal(compareFeature(null, { status: 'ok', value: 'DE' }, exact).mismatch, false);
  assert.deepEqual(compareFeature(1, { status: 'ok', value: 'DE' }, exact), {
    compared: true,
    mismatch: true,
    reason: 'value',
  });
  // ok with a number but served imputed: a mismatch
  assert.deepEqual(compareFeature(null, { status: 'ok', value: 0 }, exact), {
    compared: true,
    mismatch: true,
    reason: 'imputed',
  });
});

test('status disagreement: a served number where the PIT view is missing or expired', () => {
  for (const status of ['missing', 'expired'] as const)
    assert.deepEqual(compareFeature(0, { status, value: null }, exact), {
      compared: true,
      mismatch: true,
      reason: 'status',
    });
});

test('resolveInput: logged names by view name or id; unknown views/features are undefined', () => {
  const views = shopViews('t');
  const byId = new Map(views.flatMap((v) => [[v.id, v] as const, [v.name, v] as const]));
  const r = resolveInput('user_spend.amount_sum_1h', (v) => byId.get(v));
  assert.deepEqual(r, {
    name: 'user_spend.amount_sum_1h',
    view: 'user_spend',
    feature: 'amount_sum_1h',
    kind: 'sum',
    exact: true,
  });
  assert.equal(resolveInput('user_activity:v1.merchants_1h', (v) => byId.get(v))?.exact, false);
  assert.equal(
    resolveInput('nope.amount_sum_1h', (v) => byId.get(v)),
    undefined,
  );
  assert.equal(
    resolveInput('user_spend.nope', (v) => byId.get(v)),
    undefined,
  );
  assert.equal(
    resolveInput('plain', (v) => byId.get(v)),
    undefined,
  );
});

test('tallyPrediction: counts by view and exactness, keeps the first examples, skips unknown inputs', () => {
  const views = shopViews('t');
  const byName = new Map(views.map((v) => [v.name, v]));
  const names = ['user_spend.amount_sum_1h', 'user_activity.merchants_1h', 'user_risk.order_count_1d'];
  const inputs = new Map(names.map((n) => [n, resolveInput(n, (v) => byName.get(v))!]));
  const tally = emptyTally();
  const pit = {
    'user_spend.__status': 'ok',
    'user_spend.amount_sum_1h': 12.5,
    'user_activity.__status': 'ok',
    'user_activity.merchants_1h': 3,
    'user_risk.__status': 'missing',
    'user_risk.order_count_1d': null,
  };
  const p = (id: string, features: Record<string, number | null>) => ({
    request_id: id,
    entity: 'u1',
    predicted_at: 1_000,
    features,
  });
  tallyPrediction(
    tally,
    p('a', {
      'user_spend.amount_sum_1h': 12.5,
      'user_activity.merchants_1h': 3,
      'user_risk.order_count_1d': null,
      'other.x': 1,
    }),
    pit,
    inputs,
    1,
  );
  assert.equal(tally.compared, 2);
  assert.equal(tally.mismatches, 0);
  assert.equal(tally.skipped, 2, 'the missing view and the unknown input');
  tallyPrediction(
    tally,
    p('b', {
      'user_spend.amount_sum_1h': 13,
      'user_activity.merchants_1h': 3,
      'user_risk.order_count_1d': 0,
    }),
    pit,
    inputs,
    1,
  );
  assert.equal(tally.compared, 5);
  assert.equal(tally.mismatches, 2);
  assert.deepEqual(tally.byExactness, {
    exact: { compared: 3, mismatches: 2 },
    approx: { compared: 2, mismatches: 0 },
  });
  assert.deepEqual(tally.byView.get('user_risk'), { compared: 1, mismatches: 1 });
  assert.equal(tally.examples.length, 1, 'bounded by maxExamples');
  assert.deepEqual(tally.examples[0], {
    request_id: 'b',
    entity: 'u1',
    predicted_at: 1_000,
    feature: 'user_spend.amount_sum_1h',
    view: 'user_spend',
    reason: 'value',
    served: 13,
    offline: 12.5,
    offline_status: 'ok',
  });
});
