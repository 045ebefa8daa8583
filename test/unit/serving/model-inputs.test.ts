import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shopViews } from '../../../examples/shop/views.ts';
import type { EntityVector } from '../../../services/features/online-reader.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { buildInputs, planInputs } from '../../../services/serving/model-inputs.ts';

const views = shopViews('events.test');
const resolveView = (nameOrId: string) => {
  const view = views.find((v) => v.name === nameOrId || v.id === nameOrId);
  if (!view) throw new FlywheelError('FW_NOT_FOUND', nameOrId);
  return view;
};
const names = ['user_spend.amount_sum_1h', 'user_risk:v1.order_count_10m', 'user_spend.amount_max_1d'];

test('planInputs resolves <view>.<feature> by view name or id, and reads each view once', () => {
  const plan = planInputs(names, resolveView);
  assert.deepEqual(plan.viewIds, ['user_spend:v1', 'user_risk:v1']);
  assert.deepEqual(
    plan.columns.map((c) => [c.viewId, c.feature]),
    [
      ['user_spend:v1', 'amount_sum_1h'],
      ['user_risk:v1', 'order_count_10m'],
      ['user_spend:v1', 'amount_max_1d'],
    ],
  );
});

test('planInputs refuses names a model cannot be fed', () => {
  for (const bad of ['amount_sum_1h', 'nope.amount_sum_1h', 'user_spend.nope', 'user_spend.amount_p_1h']) {
    assert.throws(
      () => planInputs([bad], resolveView),
      (err: unknown) => err instanceof FlywheelError && err.code === 'FW_MODEL_INVALID',
      bad,
    );
  }
});

test('buildInputs fills a row-major float32 tensor and imputes 0 for missing, expired, null and non-numbers', () => {
  const plan = planInputs(names, resolveView);
  const spend = (features: Record<string, unknown>, status = 'ok', freshnessMs: number | null = 1_000) => ({
    view: 'user_spend:v1',
    status,
    lastEventTime: null,
    freshnessMs,
    features,
  });
  const risk = (n: unknown, status = 'ok', freshnessMs: number | null = 2_000) => ({
    view: 'user_risk:v1',
    status,
    lastEventTime: null,
    freshnessMs,
    features: { order_count_10m: n },
  });
  const vectors = [
    { entity: 'a', views: [spend({ amount_sum_1h: 12.5, amount_max_1d: 0.1 }), risk(3)] },
    {
      entity: 'b',
      views: [spend({ amount_sum_1h: null, amount_max_1d: 'x' }), risk(null, 'missing', null)],
    },
    {
      entity: 'c',
      views: [spend({ amount_sum_1h: Number.NaN, amount_max_1d: 7 }, 'expired', 9e9), risk(1)],
    },
  ] as unknown as EntityVector[];
  const { data, rows } = buildInputs(plan, vectors);
  assert.deepEqual([...data], [12.5, 3, Math.fround(0.1), 0, 0, 0, 0, 1, 7]);
  assert.deepEqual(rows[0], {
    features: {
      'user_spend.amount_sum_1h': 12.5,
      'user_risk:v1.order_count_10m': 3,
      'user_spend.amount_max_1d': 0.1,
    },
    missing: [],
    freshness: { 'user_spend:v1': 1_000, 'user_risk:v1': 2_000 },
  });
  assert.deepEqual(rows[1]!.missing, names);
  assert.equal(rows[1]!.features['user_spend.amount_sum_1h'], null);
  assert.deepEqual(rows[1]!.freshness, { 'user_spend:v1': 1_000, 'user_risk:v1': null });
  assert.deepEqual(rows[2]!.missing, ['user_spend.amount_sum_1h']);
});
