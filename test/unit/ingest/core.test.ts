import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { eventsOf, invalidBatchError, validateBatch } from '../../../services/ingest/core.ts';
import { createSourceCatalogue } from '../../../services/ingest/sources.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { SHOP_SCHEMA_FILES, shopSources } from '../../support/shop-sources.ts';

const catalogue = shopSources();
const shop = catalogue.get('shop')!;
const small = { ...shop, limits: { ...shop.limits, maxEvents: 3, maxEventBytes: 400 } };

const order = (i = 0) => ({
  event_id: `e${i}`,
  user_id: `u${i % 3}`,
  merchant_id: 'm1',
  amount: 10 + i,
  currency: 'EUR',
  category: 'books',
  country: 'DE',
  ts: 1_700_000_000_000 + i,
});

const code = (c: string) => (err: unknown) => err instanceof FlywheelError && err.code === c;

test('the catalogue maps demo sources to topics and key fields', () => {
  assert.deepEqual(
    [...catalogue.values()].map((s) => [
      s.name,
      s.topic,
      s.keyField,
      s.limits.maxEvents,
      s.limits.maxEventBytes,
    ]),
    [
      ['shop', 'events.shop', 'user_id', 1000, 65_536],
      ['shop-outcomes', 'outcomes.shop', 'user_id', 1000, 65_536],
    ],
  );
  assert.throws(
    () =>
      createSourceCatalogue(
        [{ name: 'x', topic: 'events.shop', keyField: 'device', timestampField: 'ts' }],
        () => JSON.parse(readFileSync(SHOP_SCHEMA_FILES.order, 'utf8')),
      ),
    /key field/,
  );
});

test('three body shapes: one event, {events: [...]}, a bare array', () => {
  assert.equal(eventsOf(order()).length, 1);
  assert.equal(eventsOf({ events: [order(), order(1)] }).length, 2);
  assert.equal(eventsOf([order()]).length, 1);
  assert.throws(() => eventsOf('text'), code('FW_BAD_REQUEST'));
  assert.throws(() => eventsOf({ events: 'nope' }), code('FW_BAD_REQUEST'));
  assert.throws(() => validateBatch({ events: [] }, shop), code('FW_BAD_REQUEST'));
});

test('a valid batch returns parsed events with defaults and ISO timestamps converted', () => {
  const r = validateBatch({ events: [order(), { ...order(1), ts: '2024-05-01T00:00:00Z' }] }, shop);
  assert.ok(r.ok);
  assert.equal(r.events[0]!.device, null);
  assert.equal(r.events[1]!.ts, Date.UTC(2024, 4, 1));
});

test('all-or-nothing: one bad event rejects the batch and every error carries index and path', () => {
  const r = validateBatch(
    [order(0), { ...order(1), amount: 'ten' }, { ...order(2), user_id: undefined, x: 1 }],
    shop,
  );
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors, [
    { index: 1, path: 'amount', message: 'expected number, got string' },
    { index: 2, path: 'user_id', message: 'required field is missing' },
    { index: 2, path: 'x', message: 'unknown field (not in the Avro schema)' },
  ]);
  const err = invalidBatchError('shop', r.ok ? [] : r.errors);
  assert.equal(err.code, 'FW_EVENT_INVALID');
  assert.match(err.message, /events\[1\]\.amount: expected number, got string/);
  assert.equal((err.details?.errors as unknown[]).length, 3);
});

test('limits: too many events → FW_BATCH_TOO_LARGE, one oversized event → FW_PAYLOAD_TOO_LARGE', () => {
  assert.throws(() => validateBatch([order(), order(), order(), order()], small), code('FW_BATCH_TOO_LARGE'));
  assert.throws(
    () => validateBatch([order(), { ...order(), category: 'x'.repeat(500) }], small),
    (err: unknown) => {
      assert.ok(err instanceof FlywheelError && err.code === 'FW_PAYLOAD_TOO_LARGE');
      assert.equal(err.details?.index, 1);
      return true;
    },
  );
  // The default single-event limit is 64 KiB: a 100 KB string is refused before zod looks at it.
  assert.throws(
    () => validateBatch({ ...order(), category: 'y'.repeat(100_000) }, shop),
    code('FW_PAYLOAD_TOO_LARGE'),
  );
});

test('hostile input: prototype keys are refused without polluting anything', () => {
  for (const text of [
    '{"__proto__": {"polluted": true}, "event_id": "e"}',
    '{"events": [{"constructor": {"prototype": {"polluted": true}}}]}',
    '[{"event_id": "e", "nested": {"prototype": 1}}]',
  ]) {
    const r = validateBatch(JSON.parse(text), shop);
    assert.equal(r.ok, false, text);
    assert.match(!r.ok ? r.errors[0]!.message : '', /forbidden field name/);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('hostile input: deep nesting is refused iteratively (no stack overflow)', () => {
  const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
  const r = validateBatch({ ...order(), category: deep }, shop);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.errors[0]!.message : '', /nested deeper than 32 levels/);
  const wide = validateBatch([1, 'x', null], shop);
  assert.equal(wide.ok ? 0 : wide.errors.length, 3);
});

test('event-time bounds: far future, before 2000 and negative are refused with the value and the bound', () => {
  const now = Date.UTC(2026, 5, 1);
  const refuse = (ts: number) => {
    const r = validateBatch({ ...order(), ts }, shop, now);
    assert.equal(r.ok, false, String(ts));
    return r.ok ? undefined : r.errors[0]!;
  };
  const future = refuse(99_999_999_999_999)!;
  assert.equal(future.path, 'ts');
  assert.equal(future.code, 'FW_EVENT_TIME_OUT_OF_BOUNDS');
  assert.match(future.message, /^99999999999999 \(5138-11-16T09:46:39\.999Z\) is \d+ ms ahead/);
  assert.match(future.message, /allows at most 300000 ms$/);
  assert.match(refuse(-5)!.message, /before the earliest plausible event time 946684800000 \(2000-01-01/);
  refuse(now + 300_001);
  assert.equal(validateBatch({ ...order(), ts: now + 300_000 }, shop, now).ok, true);
  const err = invalidBatchError('shop', [refuse(-5)!]);
  assert.equal(err.code, 'FW_EVENT_TIME_OUT_OF_BOUNDS', 'one kind of error answers with its own code');
  assert.equal(err.status, 400);
  assert.match(err.message, /events\[0\]\.ts: -5 \(1969-12-31T23:59:59\.995Z\) is before/);
});

test('entity-key limits: empty, 60 KB and control characters are refused; the message names the limit', () => {
  const now = Date.UTC(2026, 5, 1);
  const refuse = (user_id: string, source = shop) => {
    const r = validateBatch({ ...order(), user_id }, source, now);
    assert.equal(r.ok, false);
    return r.ok ? undefined : r.errors[0]!;
  };
  assert.deepEqual(
    { ...refuse('')!, index: 0 },
    { index: 0, path: 'user_id', message: 'must not be empty', code: 'FW_ENTITY_KEY_INVALID' },
  );
  const wide = { ...shop, limits: { ...shop.limits, maxEventBytes: 100_000 } };
  assert.equal(refuse('x'.repeat(60_000), wide)!.message, 'is 60000 bytes; the limit is 256');
  assert.match(refuse('u\u00071')!.message, /control character U\+0007 at index 1/);
  const mixed = invalidBatchError('shop', [refuse('')!, { index: 1, path: 'amount', message: 'x' }]);
  assert.equal(mixed.code, 'FW_EVENT_INVALID', 'mixed kinds answer with the general code');
});
