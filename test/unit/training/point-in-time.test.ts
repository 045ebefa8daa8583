import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_QUANTILES } from '../../../services/core/aggregation/index.ts';
import { windowSpan } from '../../../services/core/windows/tiles.ts';
import { type CompiledView, defineFeatureView } from '../../../services/features/definition.ts';
import {
  EMPTY_CHECKPOINT,
  PartitionState,
  type SourceEvent,
} from '../../../services/features/engine/partition-state.ts';
import { type PitEvent, pointInTimeValues } from '../../../services/training/point-in-time.ts';
import { referenceValue } from '../../support/naive-reference.ts';
import { createRng, type Rng } from '../../support/prng.ts';
import { fold, memoryStore, readFeature } from '../features/engine-harness.ts';
import { baseDef, everyKindView, LATENESS_MS, randomStream } from '../features/fixtures.ts';

const MIN = 60_000;
const START = Date.UTC(2026, 0, 1);

/** One entity's real-time stream: event times never decrease in offset order (ties allowed). */
function realTimeStream(rng: Rng, count: number, exactAmounts: boolean): SourceEvent[] {
  let ts = START;
  return Array.from({ length: count }, (_, i) => {
    ts += rng.bool(0.2) ? 0 : rng.int(1, 90_000);
    const amount = rng.bool(0.05) ? null : exactAmounts ? rng.int(-400, 4_000) / 4 : rng.next() * 1_000 - 100;
    const cat = rng.bool(0.05) ? null : rng.pick(['a', 'b', 'c', 'd', 'e', '10', '9']);
    return { offset: i, entity: 'u1', eventTime: ts, record: { user: 'u1', ts, amount, cat } };
  });
}

const pit = (events: readonly SourceEvent[]): PitEvent[] =>
  events.map((e) => ({ eventTime: e.eventTime, record: e.record }));

test('equals the online read bit for bit, every kind, when the read at t has folded exactly the events ≤ t', () => {
  const view = everyKindView();
  for (const seed of [1, 2, 3]) {
    const rng = createRng(seed);
    const events = realTimeStream(rng, 600, false);
    // Read instants between (and on) event times, ascending, some in the same base tile.
    const times: number[] = [];
    for (let t = START - MIN; t < events.at(-1)!.eventTime + 3 * MIN; t += rng.int(1, 4 * MIN)) times.push(t);
    times.push(...events.filter(() => rng.bool(0.05)).map((e) => e.eventTime));
    times.sort((a, b) => a - b);
    const expected = pointInTimeValues(view, pit(events), times);

    const state = new PartitionState([view], LATENESS_MS, EMPTY_CHECKPOINT);
    const store = memoryStore();
    let folded = 0;
    for (const [k, t] of times.entries()) {
      let to = folded;
      while (to < events.length && events[to]!.eventTime <= t) to++;
      if (to > folded) fold(state, store, events.slice(folded, to), { chunk: 37, prune: true });
      folded = to;
      const got = expected[k]!;
      const last = store.lastEventTimes.get(`${view.id}\u0000u1`);
      if (last === undefined) {
        assert.equal(got.status, 'missing');
        continue;
      }
      assert.equal(got.lastEventTime, last);
      assert.equal(got.status, t - last > view.ttlMs ? 'expired' : 'ok');
      for (const f of view.features) {
        const online = readFeature(store, view, 'u1', f.name, t);
        assert.deepEqual(got.features[f.name], online, `seed ${seed} t=${t} ${f.name}`);
      }
    }
  }
});

test('equals the brute-force reference over [spanStart, t] for exact kinds, also with disorder inside tiles', () => {
  const view = everyKindView();
  for (const seed of [11, 12]) {
    const rng = createRng(seed);
    // Out of order (± 2 min jitter) with exact amounts: the partial tile is often not an offset prefix.
    const events = randomStream(rng, {
      count: 800,
      users: 1,
      start: START,
      stepMs: 20_000,
      jitterMs: 120_000,
      lateFraction: 0,
    });
    const times: number[] = [];
    for (let t = START - 5 * MIN; t < START + 800 * 20_000 + 5 * MIN; t += rng.int(1, 3 * MIN)) times.push(t);
    const got = pointInTimeValues(view, pit(events), times);
    let compared = 0;
    for (const [k, t] of times.entries()) {
      const v = got[k]!;
      if (!events.some((e) => e.eventTime <= t)) {
        assert.equal(v.status, 'missing');
        continue;
      }
      assert.equal(v.status, 'ok');
      for (const f of view.features) {
        const slot = view.slots[f.slot]!;
        const span = windowSpan(t, view.tileMs, f.windowMs);
        const raw = events.map((e) => ({
          ts: e.eventTime,
          value: slot.field ? ((e.record[slot.field] as number | string | null) ?? null) : 1,
        }));
        const ref = referenceValue(slot.kind, raw, span.start, t + 1, {
          quantiles: slot.quantiles ?? DEFAULT_QUANTILES,
        });
        const value = v.features[f.name] ?? null;
        if (slot.aggregator.exact && slot.kind !== 'variance' && slot.kind !== 'stddev') {
          assert.deepEqual(value, ref, `seed ${seed} t=${t} ${f.name}`);
          compared++;
        } else if ((slot.kind === 'variance' || slot.kind === 'stddev') && ref !== null) {
          const e = ref as number;
          assert.ok(
            Math.abs((value as number) - e) <= 1e-9 * Math.max(1, Math.abs(e)),
            `${f.name}: ${value} vs ${e}`,
          );
        } else if (slot.kind === 'approx_distinct') {
          assert.ok(Math.abs((value as number) - (ref as number)) <= Math.max(1, (ref as number) * 0.05));
        } else if (ref !== null) {
          for (const [i, q] of (ref as number[]).entries())
            assert.ok(
              Math.abs((value as number[])[i]! - q) <= Math.abs(q) * 0.0101,
              `${f.name} ${value} vs ${ref}`,
            );
        }
      }
    }
    assert.ok(compared > 3_000, `compared ${compared}`);
  }
});

test('no leakage: events after t never change the value at t', () => {
  const view = everyKindView();
  const rng = createRng(21);
  const events = realTimeStream(rng, 300, false);
  const times = events.filter((_, i) => i % 7 === 3).map((e) => e.eventTime);
  const before = pointInTimeValues(view, pit(events), times);
  for (const [k, t] of times.entries()) {
    // Append events at t + 1 and later (a later offset, in the same tiles as t and beyond).
    const future = [1, 2, 30_000, 3 * MIN, 2 * 3_600_000].map((d, i) => ({
      eventTime: t + d,
      record: { user: 'u1', ts: t + d, amount: 1e6 + i, cat: `z${i}` },
    }));
    // Interleave them early in fold order too: offsets do not matter, event time does.
    const mixed = [...future.slice(0, 2), ...pit(events), ...future.slice(2)];
    const [after] = pointInTimeValues(view, mixed, [t]);
    assert.deepEqual(after, before[k], `t=${t}`);
  }
});

test('TTL: missing before the first event, ok up to ttl after the newest event ≤ t, expired after', () => {
  const view = defineFeatureView(
    baseDef({ ttl: '1h', aggregations: [{ name: 'n', kind: 'count', windows: ['10m'] }] }),
  );
  const hour = 60 * MIN;
  const events: PitEvent[] = [
    { eventTime: START, record: {} },
    { eventTime: START + 3 * hour, record: {} },
  ];
  const times = [START - 1, START, START + hour, START + hour + 1, START + 3 * hour - 1, START + 3 * hour];
  const got = pointInTimeValues(view, events, times);
  assert.deepEqual(
    got.map((v) => v.status),
    ['missing', 'ok', 'ok', 'expired', 'expired', 'ok'],
  );
  assert.deepEqual(got[0]!.features, { n_10m: null });
  assert.deepEqual(got[1]!.features, { n_10m: 1 });
  assert.equal(got[2]!.features.n_10m, 0, 'ok with nothing in the window reads 0 (count)');
  assert.deepEqual(got[3]!.features, { n_10m: null });
  assert.equal(got[3]!.lastEventTime, START);
  // An entity whose earlier events were not loaded still reads expired, not missing.
  const prior = pointInTimeValues(view, [], [START + 2 * hour], { priorLastEventTime: START });
  assert.equal(prior[0]!.status, 'expired');
});

test('a coarse tile containing t is partial too (1h tile inside a 24h window)', () => {
  const view = defineFeatureView(
    baseDef({ aggregations: [{ name: 'amount_sum', kind: 'sum', field: 'amount', windows: ['1d'] }] }),
  );
  assert.deepEqual(view.resolutions, [MIN, 60 * MIN]);
  const hourStart = START + 10 * 60 * MIN;
  // t = hh:59:30: the 1d cover ends with the whole hour tile [hh:00, hh+1:00), which contains t.
  const t = hourStart + 59 * MIN + 30_000;
  const events: PitEvent[] = [
    { eventTime: hourStart + 5 * MIN, record: { amount: 1 } },
    { eventTime: t, record: { amount: 2 } },
    { eventTime: t + 1, record: { amount: 4 } },
    { eventTime: hourStart + 59 * MIN + 59_999, record: { amount: 8 } },
  ];
  const [v] = pointInTimeValues(view, events, [t]);
  assert.equal(v!.features.amount_sum_1d, 3);
});

test('times must be ascending', () => {
  const view: CompiledView = everyKindView();
  assert.throws(() => pointInTimeValues(view, [], [2, 1]), /ascending/);
});
