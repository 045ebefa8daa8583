import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shopViews } from '../../../examples/shop/views.ts';
import { defineFeatureView } from '../../../services/features/definition.ts';
import {
  type Admission,
  admit,
  formatOrigin,
  parseOrigin,
  type SourceRecord,
} from '../../../services/features/engine/admission.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { ownerPartition } from '../../../services/platform/partitioner.ts';
import { crc32 } from '../../support/crc32-partitioner.ts';

const PARTITIONS = 4;
const NOW = Date.UTC(2026, 5, 1, 12);
const source = shopViews('t.admission')[0]!.source;
const GROUP = 'g';

function order(over: Record<string, unknown> = {}) {
  return { event_id: 'e', user_id: 'u1', amount: 1, ts: NOW - 1_000, ...over };
}

/** A record of `fields`, keyed by its user and placed on the partition that owns it (unless told). */
function record(fields: Record<string, unknown>, over: Partial<SourceRecord> = {}): SourceRecord {
  return {
    offset: '10',
    key: Buffer.from(String(fields.user_id)),
    value: Buffer.from('stands in for Avro'),
    timestamp: String(NOW),
    ...over,
  };
}

function decide(fields: Record<string, unknown>, over: Partial<SourceRecord> = {}, partition?: number) {
  const r = record(fields, over);
  const at = partition ?? ownerPartition(r.key ?? Buffer.alloc(0), PARTITIONS);
  return admit(r, { ok: true, value: fields }, source, {
    group: GROUP,
    partition: at,
    partitions: PARTITIONS,
    now: NOW,
  });
}

function deadCode(a: Admission): string {
  assert.equal(a.kind, 'dead', JSON.stringify(a));
  return (a as { code: string }).code;
}

test('a good record on the partition that owns its key is an event with its offset, entity and time', () => {
  const a = decide(order());
  assert.equal(a.kind, 'event');
  if (a.kind !== 'event') return;
  assert.deepEqual(
    [a.event.offset, a.event.entity, a.event.eventTime, a.origin],
    [10, 'u1', NOW - 1_000, undefined],
  );
});

test('event time: before 2000-01-01, negative, or more than 5 minutes ahead → FW_EVENT_TIME_OUT_OF_BOUNDS', () => {
  for (const ts of [-5, 0, Date.UTC(1999, 11, 31, 23, 59), 99_999_999_999_999, NOW + 5 * 60_000 + 1]) {
    const a = decide(order({ ts }));
    assert.equal(deadCode(a), 'FW_EVENT_TIME_OUT_OF_BOUNDS', String(ts));
    assert.match((a as { message: string }).message, /^ts: /);
  }
  assert.match(
    (decide(order({ ts: 99_999_999_999_999 })) as { message: string }).message,
    /5138-11-16T09:46:39\.999Z\) is \d+ ms ahead of the receiving clock \(\d+\); the source allows at most 300000 ms/,
  );
  assert.equal(decide(order({ ts: NOW + 5 * 60_000 })).kind, 'event', 'exactly at the bound is fine');
  assert.equal(decide(order({ ts: Date.UTC(2000, 0, 1) })).kind, 'event');
});

test('the receiving clock is the earlier of the record timestamp and the processor clock', () => {
  // A producer that stamps its record far in the future does not excuse a future event time.
  const forged = decide(order({ ts: NOW + 3_600_000 }), { timestamp: String(NOW + 7_200_000) });
  assert.equal(deadCode(forged), 'FW_EVENT_TIME_OUT_OF_BOUNDS');
  // A record appended an hour ago is judged against then, whenever it is processed (replays agree).
  const old = decide(order({ ts: NOW - 3_600_000 + 6 * 60_000 }), { timestamp: String(NOW - 3_600_000) });
  assert.equal(deadCode(old), 'FW_EVENT_TIME_OUT_OF_BOUNDS');
});

test('a source may widen its bounds (maxFutureSkew, minEventTime)', () => {
  const [view] = shopViews('t.wide');
  const wide = defineFeatureView({
    ...view!.definition,
    source: { ...view!.definition.source, maxFutureSkew: '2h', minEventTime: '1990-01-01T00:00:00Z' },
  }).source;
  const fields = order({ ts: NOW + 3_600_000 });
  const ctx = { group: GROUP, partition: ownerPartition('u1', PARTITIONS), partitions: PARTITIONS, now: NOW };
  assert.equal(admit(record(fields), { ok: true, value: fields }, wide, ctx).kind, 'event');
  const early = order({ ts: Date.UTC(1995, 0, 1) });
  assert.equal(admit(record(early), { ok: true, value: early }, wide, ctx).kind, 'event');
});

test('entity key: empty, over 256 bytes, or with a control character → FW_ENTITY_KEY_INVALID', () => {
  assert.match((decide(order({ user_id: '' })) as { message: string }).message, /user_id: must not be empty/);
  const long = decide(order({ user_id: 'é'.repeat(129) })); // 258 bytes in UTF-8
  assert.equal(deadCode(long), 'FW_ENTITY_KEY_INVALID');
  assert.match((long as { message: string }).message, /is 258 bytes; the limit is 256/);
  assert.equal(decide(order({ user_id: 'é'.repeat(128) })).kind, 'event', '256 bytes is fine');
  for (const bad of ['u\u00001', 'u\n1', 'u\u007f', 'u\u009b']) {
    const a = decide(order({ user_id: bad }));
    assert.equal(deadCode(a), 'FW_ENTITY_KEY_INVALID', JSON.stringify(bad));
    assert.match((a as { message: string }).message, /control character U\+00[0-9A-F]{2} at index 1/);
  }
});

test('record key: null, or differing from the value user_id → FW_KEY_MISMATCH naming both', () => {
  const nullKey = decide(order(), { key: null }, 0);
  assert.equal(deadCode(nullKey), 'FW_KEY_MISMATCH');
  assert.match((nullKey as { message: string }).message, /record has no key; key it by user_id \("u1"\)/);
  const other = decide(order(), { key: Buffer.from('u2') }, ownerPartition('u2', PARTITIONS));
  assert.match((other as { message: string }).message, /record key "u2" differs from user_id "u1"/);
});

test('tombstones, oversize values and decode failures are dead letters with their own codes', () => {
  const ctx = { group: GROUP, partition: 0, partitions: PARTITIONS, now: NOW };
  assert.equal(deadCode(admit(record(order(), { value: null }), undefined, source, ctx)), 'FW_DECODE_FAILED');
  const big = admit(record(order(), { value: Buffer.alloc(64 * 1024 + 1) }), undefined, source, ctx);
  assert.equal(deadCode(big), 'FW_PAYLOAD_TOO_LARGE');
  assert.match((big as { message: string }).message, /65537 bytes; the limit for t\.admission is 65536/);
  const failed = {
    ok: false as const,
    error: new FlywheelError('FW_SCHEMA_SUBJECT_MISMATCH', 'schema id 9 …'),
  };
  assert.equal(deadCode(admit(record(order()), failed, source, ctx)), 'FW_SCHEMA_SUBJECT_MISMATCH');
});

test('a record a CRC32 partitioner misplaced is rerouted to its murmur2 owner; a rerouted copy is not again', () => {
  let rerouted = 0;
  for (let i = 0; i < 200; i++) {
    const user = `u${i}`;
    const crcPartition = crc32(Buffer.from(user)) % PARTITIONS;
    const owner = ownerPartition(user, PARTITIONS);
    const a = decide(order({ user_id: user }), {}, crcPartition);
    if (crcPartition === owner) assert.equal(a.kind, 'event');
    else {
      rerouted++;
      assert.deepEqual(a, { kind: 'reroute', to: owner });
      const copy = decide(
        order({ user_id: user }),
        { reroutedFrom: { partition: crcPartition, offset: i, group: GROUP } },
        crcPartition,
      );
      assert.equal(deadCode(copy), 'FW_PARTITION_MISMATCH');
    }
  }
  assert.ok(rerouted > 100, `most users land elsewhere under CRC32 (${rerouted} of 200)`);
});

test('rerouted copies: our own is an event with its origin; another group is skipped', () => {
  const origin = { partition: 3, offset: 77, group: GROUP };
  const own = decide(order(), { reroutedFrom: origin });
  assert.equal(own.kind, 'event');
  assert.deepEqual(own.kind === 'event' && own.origin, origin);
  assert.deepEqual(decide(order(), { reroutedFrom: { ...origin, group: 'other' } }), {
    kind: 'foreign-copy',
  });
});

test('the origin header round-trips, group names with slashes included; junk reads as no origin', () => {
  const origin = { partition: 2, offset: 123456789012, group: 'team/a/features' };
  assert.deepEqual(parseOrigin(Buffer.from(formatOrigin(origin))), origin);
  for (const junk of ['', '1/2', 'a/1/g', '1/b/g', '-1/2/g', undefined, 42])
    assert.equal(parseOrigin(junk), undefined, String(junk));
});
