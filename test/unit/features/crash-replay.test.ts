import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { fieldName, MINUTE, tilesForEvent } from '../../../services/core/windows/tiles.ts';
import { type CompiledView, defineFeatureView } from '../../../services/features/definition.ts';
import {
  EMPTY_CHECKPOINT,
  PartitionState,
  type SourceEvent,
} from '../../../services/features/engine/partition-state.ts';
import { decodeTile } from '../../../services/features/engine/tile-codec.ts';
import {
  createTileStore,
  LAST_EVENT_FIELD,
  parseCheckpoint,
  type TileStore,
  tileHashKey,
} from '../../../services/features/engine/tile-store.ts';
import { createRedis } from '../../../services/platform/redis.ts';
import { redisAnswers } from '../../../services/platform/stack/probes.ts';
import { freePort } from '../../support/ports.ts';
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

/**
 * The newest event time `_t` of an entity is kept as a maximum by the commit script itself (Lua in
 * tile-store.ts), not by PartitionState: after a restart the state no longer knows an entity's newest
 * event time and drains a SMALLER one for an in-lateness event (reported to the lead). So this runs the
 * real commit script on a Redis of its own (redis-server from the OS packages, a free port, in memory)
 * and asserts what the script left in Redis: `_t`, the tiles and the checkpoint it stored.
 */
let redisServer: ChildProcess | undefined;
let redis: Redis;
let store: TileStore;
const PREFIX = 'unit-crash:';
const GROUP = 'unit-group';
const TOPIC = 'events.unit';

before(async () => {
  const port = await freePort();
  redisServer = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<never>((_, reject) => {
    redisServer!.once('error', (err) => reject(new Error(`redis-server did not start: ${err.message}`)));
    redisServer!.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  const up = (async () => {
    const deadline = Date.now() + 10_000;
    while (!(await redisAnswers(port, 200))) {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await Promise.race([up, exited]);
  redis = createRedis(`redis://127.0.0.1:${port}`);
  store = createTileStore(redis, PREFIX);
});

after(async () => {
  await redis?.quit().catch(() => redis.disconnect());
  redisServer?.kill('SIGKILL');
});

/** A new owner of partition 0: claims it (a new epoch) and rebuilds its state from what Redis holds. */
async function claimOwner(views: readonly CompiledView[]) {
  const { epoch, checkpoint } = await store.claim(GROUP, TOPIC, 0);
  return { epoch, state: new PartitionState(views, LATENESS_MS, checkpoint) };
}

/** One flush the way the processor makes it: load missing tiles, apply, drain, commit (the Lua script). */
async function flush(owner: Awaited<ReturnType<typeof claimOwner>>, events: readonly SourceEvent[]) {
  const { state, epoch } = owner;
  const missing = state.missingTiles(events);
  if (missing.length > 0)
    for (const t of (await store.loadTiles(missing)).tiles) state.loadTile(t.key, t.view, t.tile);
  const outcomes = events.map((e) => state.apply(e));
  state.advanceTo(events.at(-1)!.offset + 1);
  const { tiles, entities, checkpoint } = state.drain();
  await store.commit({
    group: GROUP,
    topic: TOPIC,
    partition: 0,
    epoch,
    tiles,
    entities,
    checkpoint,
    finalBefore: state.watermark(),
  });
  return outcomes;
}

test('the commit script keeps the newest event time `_t` as a maximum in Redis, across a restart', async () => {
  const view = defineFeatureView(baseDef());
  const hash = tileHashKey(PREFIX, view.id, 'u1');
  const storedT = async () => redis.hget(hash, LAST_EVENT_FIELD);
  const storedNext = async () =>
    parseCheckpoint((await redis.hget(`${PREFIX}cp:${GROUP}:${TOPIC}`, '0'))!).next;
  const count = async (eventTime: number) => {
    const ref = tilesForEvent(eventTime, view.resolutions).find((r) => r.res === view.tileMs)!;
    const text = await redis.hget(hash, fieldName(ref));
    return text === null ? null : decodeTile(view, text).irs[0];
  };
  const ev = (offset: number, entity: string, minute: number) => ({
    offset,
    entity,
    eventTime: T0 + minute * MINUTE,
    record: { user: entity },
  });

  const first = await claimOwner([view]);
  await flush(first, [ev(0, 'u1', 10), ev(1, 'u2', 10)]);
  assert.equal(await storedT(), String(T0 + 10 * MINUTE), 'the first write sets `_t`');
  assert.equal(await storedNext(), 2);

  // A new owner (restart, rebalance) folds an out-of-order event that is within the allowed lateness.
  const second = await claimOwner([view]);
  assert.deepEqual(await flush(second, [ev(2, 'u1', 8)]), ['accepted']);
  assert.equal(await storedNext(), 3, 'the commit ran: the checkpoint moved on');
  assert.equal(await count(T0 + 8 * MINUTE), 1, 'the commit ran: the late event is in its tile');
  assert.equal(await storedT(), String(T0 + 10 * MINUTE), '`_t` went back in time');

  // And a newer event still moves it forward (a max, not "set once").
  await flush(second, [ev(3, 'u1', 12)]);
  assert.equal(await storedT(), String(T0 + 12 * MINUTE), 'a newer event moves `_t` forward');
  assert.equal(await storedNext(), 4);
});
