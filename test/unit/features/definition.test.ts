import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shopViews } from '../../../examples/shop/views.ts';
import {
  compileView,
  defineFeatureView,
  type FeatureViewDef,
} from '../../../services/features/definition.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { baseDef } from './fixtures.ts';

function rejects(def: FeatureViewDef, ...fragments: RegExp[]): void {
  assert.throws(
    () => defineFeatureView(def),
    (err: unknown) => {
      assert.ok(err instanceof FlywheelError, `expected a FlywheelError, got ${String(err)}`);
      assert.equal(err.code, 'FW_FEATURE_VIEW_INVALID');
      for (const f of fragments) assert.match(err.message, f);
      return true;
    },
  );
}

test('a valid view compiles to an id, resolutions, features and a retention', () => {
  const view = defineFeatureView(
    baseDef({ aggregations: [{ name: 'n', kind: 'count', windows: ['10m', '1h', '24h'] }] }),
  );
  assert.equal(view.id, 'orders:v1');
  assert.deepEqual(view.resolutions, [60_000, 3_600_000]);
  assert.deepEqual(
    view.features.map((f) => [f.name, f.windowMs, f.exact]),
    [
      ['n_10m', 600_000, true],
      ['n_1h', 3_600_000, true],
      ['n_1d', 86_400_000, true],
    ],
  );
  assert.equal(view.retentionMs, 86_400_000);
  assert.equal(view.source.allowedLatenessMs, 300_000);
  assert.equal(view.ttlMs, 7 * 86_400_000);
});

test('the entity must be the source key field', () => {
  rejects(
    baseDef({ entity: 'merchant' }),
    /orders v1/,
    /entity "merchant" must be the source's key field "user"/,
  );
});

test('every kind but count needs a field', () => {
  rejects(
    baseDef({ aggregations: [{ name: 'total', kind: 'sum', windows: ['10m'] }] }),
    /aggregation total \(sum\) needs a field/,
  );
  // count alone may omit it.
  assert.doesNotThrow(() => defineFeatureView(baseDef()));
});

test('two features with the same name are refused', () => {
  rejects(
    baseDef({
      aggregations: [
        { name: 'n', kind: 'count', windows: ['10m'] },
        { name: 'n', kind: 'count', field: 'amount', windows: ['10m'] },
      ],
    }),
    /feature n_10m is declared twice/,
  );
  // '60m' and '1h' are the same window: the canonical name collides.
  rejects(baseDef({ aggregations: [{ name: 'n', kind: 'count', windows: ['60m', '1h'] }] }), /n_1h/);
});

test('a window must be a multiple of the tile', () => {
  rejects(
    baseDef({ tile: '1m', aggregations: [{ name: 'n', kind: 'count', windows: ['90s'] }] }),
    /90000 ms/,
    /60000 ms base tile/,
  );
  rejects(
    baseDef({ tile: '7m', aggregations: [{ name: 'n', kind: 'count', windows: ['10m'] }] }),
    /multiple/,
  );
});

test('bad durations, names and shapes name the offending path', () => {
  rejects(baseDef({ tile: '1 minute' }), /invalid duration "1 minute"/, /e\.g\. "30s"/);
  rejects(
    baseDef({ aggregations: [{ name: 'n', kind: 'count', windows: ['0m'] }] }),
    /invalid duration "0m"/,
  );
  rejects(baseDef({ ttl: '-1d' }), /invalid duration "-1d"/);
  rejects(
    baseDef({ source: { topic: 'x', keyField: 'user', timestampField: 'ts', allowedLateness: 'soon' } }),
    /invalid duration "soon"/,
  );
  rejects(baseDef({ name: 'Orders' }), /feature view Orders is invalid/, /- name:/);
  rejects(baseDef({ version: 0 }), /- version:/);
  rejects(baseDef({ aggregations: [] }), /- aggregations:/);
  rejects(
    baseDef({ aggregations: [{ name: 'n', kind: 'median' as 'count', windows: ['10m'] }] }),
    /- aggregations\.0\.kind:/,
  );
  rejects(
    baseDef({ source: { topic: 'bad topic', keyField: 'user', timestampField: 'ts' } }),
    /- source\.topic:/,
  );
  rejects(
    baseDef({
      aggregations: [
        { name: 'p', kind: 'approx_quantile', field: 'amount', quantiles: [1.5], windows: ['1m'] },
      ],
    }),
    /quantiles/,
  );
});

test('one slot per (kind, field, quantiles), shared by all of its windows and names', () => {
  const view = defineFeatureView(
    baseDef({
      aggregations: [
        { name: 'a_sum', kind: 'sum', field: 'amount', windows: ['10m', '1h'] },
        { name: 'a_total', kind: 'sum', field: 'amount', windows: ['24h'] },
        { name: 'n', kind: 'count', windows: ['10m', '1h'] },
        { name: 'p', kind: 'approx_quantile', field: 'amount', quantiles: [0.5], windows: ['1h'] },
        { name: 'q', kind: 'approx_quantile', field: 'amount', quantiles: [0.9], windows: ['1h'] },
      ],
    }),
  );
  assert.equal(view.slots.length, 4);
  const slotOf = (name: string) => view.features.find((f) => f.name === name)!.slot;
  assert.equal(slotOf('a_sum_10m'), slotOf('a_sum_1h'));
  assert.equal(slotOf('a_sum_1h'), slotOf('a_total_1d'));
  assert.notEqual(slotOf('a_sum_10m'), slotOf('n_10m'));
  assert.notEqual(slotOf('p_1h'), slotOf('q_1h'));
  assert.deepEqual(
    view.slots.map((s) => s.index),
    [0, 1, 2, 3],
  );
});

test('the fingerprint changes with the definition and ignores key order', () => {
  const a = compileView(baseDef());
  const reordered = compileView({
    aggregations: [{ windows: ['10m'], kind: 'count', name: 'n' }],
    ttl: '7d',
    tile: '1m',
    entity: 'user',
    source: { allowedLateness: '5m', timestampField: 'ts', keyField: 'user', topic: 'events.unit' },
    version: 1,
    name: 'orders',
  });
  assert.match(a.fingerprint, /^[0-9a-f]{16}$/);
  assert.equal(reordered.fingerprint, a.fingerprint);
  // Defaults are part of the parsed definition: spelling one out does not change the fingerprint.
  assert.equal(compileView({ ...baseDef(), description: '' }).fingerprint, a.fingerprint);
  const changed = [
    baseDef({ tile: '30s' }),
    baseDef({ ttl: '1d' }),
    baseDef({ aggregations: [{ name: 'n', kind: 'count', windows: ['20m'] }] }),
    baseDef({
      source: { topic: 'events.unit', keyField: 'user', timestampField: 'ts', allowedLateness: '1m' },
    }),
    baseDef({ description: 'now documented' }),
  ];
  for (const def of changed)
    assert.notEqual(compileView(def).fingerprint, a.fingerprint, JSON.stringify(def));
  // The version is part of the fingerprint too, but it is also part of the id.
  assert.notEqual(compileView(baseDef({ version: 2 })).fingerprint, a.fingerprint);
});

test('the demo shop views compile and share one source', () => {
  const views = shopViews('events.test');
  assert.deepEqual(
    views.map((v) => v.id),
    ['user_spend:v1', 'user_activity:v1', 'user_risk:v1'],
  );
  for (const v of views) {
    assert.equal(v.source.topic, 'events.test');
    assert.equal(v.features.length, 15);
  }
});
