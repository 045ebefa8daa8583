import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MINUTE } from '../../../services/core/windows/tiles.ts';
import { defineFeatureView } from '../../../services/features/definition.ts';
import { EMPTY_CHECKPOINT, PartitionState } from '../../../services/features/engine/partition-state.ts';
import { createRng } from '../../support/prng.ts';
import { fold, memoryStore } from './engine-harness.ts';
import { baseDef, everyKindView, LATENESS_MS, randomStream } from './fixtures.ts';

const T0 = Date.UTC(2026, 0, 1);

/**
 * A crash at any point: what was persisted is the tiles and the checkpoint of the last flush. A new
 * owner rebuilds its state from them and the stream is replayed from an EARLIER offset (Kafka's committed
 * offset trails the stored one, and a partition may be re-read from anywhere). Per-tile lastOffset must
 * make the duplicates no-ops, so the stored tiles end byte for byte where an uninterrupted run ends.
 */
test('property: crash at a random cut + replay from an earlier offset = uninterrupted fold, byte for byte', () => {
  const views = [everyKindView(1), everyKindView(2)];
  for (let seed = 1; seed <= 12; seed++) {
    const rng = createRng(seed * 7919);
    const events = randomStream(rng, {
      count: 1_500,
      users: 6,
      start: T0,
      stepMs: 30_000,
      jitterMs: 3 * MINUTE,
      lateFraction: 0.03,
    });
    const chunk = rng.int(1, 200);

    const straight = memoryStore();
    fold(new PartitionState(views, LATENESS_MS, EMPTY_CHECKPOINT), straight, events, { chunk });

    const crashed = memoryStore();
    const cut = rng.int(1, events.length - 1);
    fold(new PartitionState(views, LATENESS_MS, EMPTY_CHECKPOINT), crashed, events.slice(0, cut), { chunk });
    const checkpoint = crashed.checkpoint!;
    assert.equal(checkpoint.next, cut);
    // The new owner: only what was persisted, a different flush size, and a small tile cache.
    const replayFrom = rng.int(0, cut - 1);
    const revived = new PartitionState(views, LATENESS_MS, checkpoint, rng.int(1, 2_000));
    fold(revived, crashed, events.slice(replayFrom), { chunk: rng.int(1, 200) });

    assert.equal(crashed.tiles.size, straight.tiles.size, `seed ${seed}: same tiles`);
    for (const [key, text] of straight.tiles)
      assert.equal(
        crashed.tiles.get(key),
        text,
        `seed ${seed} (cut ${cut}, replay from ${replayFrom}): tile ${key}`,
      );
    assert.equal(revived.checkpoint.next, events.length);
    assert.equal(revived.checkpoint.maxEventTime, straight.checkpoint!.maxEventTime);
  }
});

test('replaying the whole stream twice into the same state changes nothing', () => {
  const views = [everyKindView()];
  const events = randomStream(createRng(3), {
    count: 800,
    users: 4,
    start: T0,
    stepMs: 20_000,
    jitterMs: MINUTE,
    lateFraction: 0.02,
  });
  const store = memoryStore();
  fold(new PartitionState(views, LATENESS_MS, EMPTY_CHECKPOINT), store, events, { chunk: 64 });
  const before = new Map(store.tiles);
  fold(new PartitionState(views, LATENESS_MS, store.checkpoint!), store, events, { chunk: 50 });
  assert.deepEqual(store.tiles, before);
});

// BUG (reported to the lead): after a restart PartitionState forgets each entity's newest event time, so
// the first in-lateness event it folds writes a SMALLER `_t` (freshness, TTL status) than the stored one.
test('the stored newest event time of an entity never moves back across a restart', () => {
  const view = defineFeatureView(baseDef());
  const store = memoryStore();
  const first = [
    { offset: 0, entity: 'u1', eventTime: T0 + 10 * MINUTE, record: { user: 'u1' } },
    { offset: 1, entity: 'u2', eventTime: T0 + 10 * MINUTE, record: { user: 'u2' } },
  ];
  fold(new PartitionState([view], LATENESS_MS, EMPTY_CHECKPOINT), store, first);
  const key = `${view.id}\u0000u1`;
  assert.equal(store.lastEventTimes.get(key), T0 + 10 * MINUTE);
  // A new owner (restart, rebalance) folds an out-of-order event that is within the allowed lateness.
  const outOfOrder = [{ offset: 2, entity: 'u1', eventTime: T0 + 8 * MINUTE, record: { user: 'u1' } }];
  const outcomes = fold(new PartitionState([view], LATENESS_MS, store.checkpoint!), store, outOfOrder);
  assert.deepEqual(outcomes, ['accepted']);
  assert.equal(store.lastEventTimes.get(key), T0 + 10 * MINUTE, '_t went back in time');
});
