import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { shopViews } from '../../examples/shop/views.ts';
import { fieldName } from '../../services/core/windows/tiles.ts';
import { type BackfillProgress, backfillView } from '../../services/features/backfill.ts';
import { type CompiledView, defineFeatureView } from '../../services/features/definition.ts';
import type { Checkpoint } from '../../services/features/engine/partition-state.ts';
import { createOfflineStore } from '../../services/features/offline-store.ts';
import { createOnlineReader } from '../../services/features/online-reader.ts';
import { createFeaturesService } from '../../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { createKafka } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { waitUntilCovered } from '../support/checkpoints.ts';
import { quietLogger, testConfig, uniqueName, useStack, withoutWriteMarkers } from '../support/env.ts';
import { createRng } from '../support/prng.ts';
import { acceptedByWatermark, assertViewMatchesReference } from '../support/reference-features.ts';
import { createShopTopic, generateOrders, produceOrders, type ShopOrder } from '../support/shop-events.ts';

const EVENTS = Number(process.env.FLYWHEEL_TEST_BACKFILL_EVENTS ?? 20_000);
const MORE = 1_000;
const PARTITIONS = 4;
const LATENESS_MS = 5 * 60_000;
const prefix = `${uniqueName('fwb')}:`;
const otherPrefix = `${uniqueName('fwb2')}:`;
const config = testConfig({ redis: { keyPrefix: prefix } });
const logger = quietLogger();

before(async () => useStack(config));
after(async () => closeEmbeddedClickHouse());

/** user_spend v2: v1's aggregations plus a count over four windows and a 30 minute min. */
function userSpendV2(topic: string): CompiledView {
  const v1 = shopViews(topic).find((v) => v.name === 'user_spend')!;
  return defineFeatureView({
    ...v1.definition,
    version: 2,
    aggregations: [
      ...v1.definition.aggregations,
      { name: 'orders', kind: 'count', windows: ['10m', '1h', '2h', '24h'] },
      { name: 'amount_min', kind: 'min', field: 'amount', windows: ['30m'] },
    ],
  });
}

async function tileHashes(
  redis: Redis,
  keyPrefix: string,
  viewId: string,
): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  const pattern = `${keyPrefix}t:${viewId}:*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    for (const k of keys)
      out.set(k.slice(`${keyPrefix}t:${viewId}:`.length), withoutWriteMarkers(await redis.hgetall(k)));
  } while (cursor !== '0');
  return out;
}

test(`a backfilled new view version equals a live processor's, tile for tile (${EVENTS} events)`, async () => {
  const topic = uniqueName('it.backfill');
  const views = shopViews(topic);
  const kafka = createKafka(config, logger);
  const codec = createRegistryCodec(config.registry.url);
  const redis = createRedis(config.redis.url);
  const clickhouse = await createClickHouse(config);
  const start = Date.UTC(2026, 1, 1);
  const spanMs = 6 * 3_600_000;
  const shape = { users: 300, jitterMs: 90_000, lateFraction: 0.01, lateByMs: 20 * 60_000 };
  const orders = generateOrders({ ...shape, count: EVENTS, start, spanMs, seed: 11 });
  await createShopTopic(kafka, topic, PARTITIONS);
  await produceOrders(kafka, codec, topic, orders, PARTITIONS);
  const deps = { config, logger, metrics: new MetricsRegistry(), kafka, redis, clickhouse, codec };

  // 1. The live service with view set A (all v1) consumes the topic.
  const liveGroup = uniqueName('live-a');
  const liveA = createFeaturesService({ ...deps, views }, { groupId: liveGroup });
  await liveA.start();
  await waitUntilCovered({
    offsets: kafka,
    topic,
    checkpoints: () => liveA.checkpoints(topic),
    timeoutMs: 180_000,
    what: 'view set A covers the topic',
  });
  const liveByPartition = await liveA.checkpoints(topic);
  const liveCps = Object.values(liveByPartition);
  await liveA.stop();
  const acceptedA = liveCps.reduce((s, c) => s + c.accepted, 0);
  assert.equal(acceptedA, acceptedByWatermark(orders, PARTITIONS, LATENESS_MS).accepted.length);
  assert.ok(liveCps.reduce((s, c) => s + c.late, 0) > 0, 'the stream has late events');

  // 2. A new version of user_spend, backfilled from ClickHouse into a fresh group.
  const v2 = userSpendV2(topic);
  const group = uniqueName('backfill-v2');
  const progress: BackfillProgress[] = [];
  const result = await backfillView(
    { clickhouse, database: config.clickhouse.database, redis, redisPrefix: prefix, logger },
    { view: v2, group, sourceGroup: liveGroup, rowsPerChunk: 1_500, onProgress: (p) => progress.push(p) },
  );
  assert.equal(result.totalRows, acceptedA, 'the snapshot is every accepted event');
  assert.equal(result.rows, acceptedA);
  assert.equal(result.late, 0, 'same lateness: every stored event is accepted again');
  assert.ok(progress.length >= acceptedA / 1_500, `progress reported ${progress.length} times`);
  for (const [i, p] of progress.entries()) {
    assert.equal(p.totalRows, acceptedA);
    if (i > 0) assert.ok(p.rows >= progress[i - 1]!.rows, 'progress never goes back');
  }
  assert.equal(progress.at(-1)!.rows, progress.at(-1)!.totalRows, 'progress reached the total');
  for (const part of result.partitions)
    assert.equal(
      part.next,
      liveByPartition[String(part.partition)]!.next,
      `partition ${part.partition} hands off where A stopped`,
    );

  // 3. Live v2 processors: one continues the backfilled group in the same prefix (hand-off); the other
  //    runs v2 from the start of the topic in another prefix. More events arrive meanwhile.
  const handoff = createFeaturesService({ ...deps, views: [v2] }, { groupId: group });
  const fromStart = createFeaturesService(
    { ...deps, views: [v2], config: { ...config, redis: { ...config.redis, keyPrefix: otherPrefix } } },
    { groupId: uniqueName('live-v2') },
  );
  await handoff.start();
  await fromStart.start();
  const more = generateOrders({
    ...shape,
    count: MORE,
    start: start + spanMs + 10 * 60_000,
    spanMs: 1_800_000,
    seed: 12,
  });
  await produceOrders(kafka, codec, topic, more, PARTITIONS);
  await waitUntilCovered({
    offsets: kafka,
    topic,
    checkpoints: () => handoff.checkpoints(topic),
    timeoutMs: 180_000,
    what: 'the hand-off processor covers the topic',
  });
  await waitUntilCovered({
    offsets: kafka,
    topic,
    checkpoints: () => fromStart.checkpoints(topic),
    timeoutMs: 180_000,
    what: 'the from-start processor covers the topic',
  });
  const handoffCps = await handoff.checkpoints(topic);
  const acceptedMore =
    acceptedByWatermark([...orders, ...more], PARTITIONS, LATENESS_MS).accepted.length - acceptedA;
  assert.equal(
    Object.values(handoffCps).reduce((s, c) => s + c.accepted, 0),
    acceptedA + acceptedMore,
    'the hand-off folded only the new events after the backfilled ones',
  );
  await handoff.stop();
  await fromStart.stop();

  // 4. Tile for tile: HGETALL of every key of v2 equal in both prefixes.
  const backfilled = await tileHashes(redis, prefix, v2.id);
  const live = await tileHashes(redis, otherPrefix, v2.id);
  assert.ok(backfilled.size >= 250, `${backfilled.size} entities`);
  assert.deepEqual([...backfilled.keys()].sort(), [...live.keys()].sort());
  for (const [entity, hash] of live) assert.deepEqual(backfilled.get(entity), hash, `entity ${entity}`);

  // 5. ClickHouse feature_tiles hold the same states as Redis.
  const rows = await (
    await clickhouse.query({
      query: `SELECT entity, resolution_ms AS res, toUnixTimestamp64Milli(tile_start) AS start, state
              FROM ${config.clickhouse.database}.feature_tiles FINAL WHERE view = 'user_spend' AND view_version = 2`,
      format: 'JSONEachRow',
    })
  ).json<{ entity: string; res: number | string; start: number | string; state: string }>();
  const fields = [...backfilled.values()].reduce((s, h) => s + Object.keys(h).length - 1, 0); // minus _t
  assert.equal(rows.length, fields, 'one feature_tiles row per Redis tile');
  for (const r of rows.slice(0, 2_000)) {
    const field = fieldName({ res: Number(r.res), start: Number(r.start) });
    assert.equal(r.state, backfilled.get(r.entity)?.[field], `${r.entity} ${field}`);
  }

  // 6. Online values of the backfilled view at random probes equal the brute-force reference.
  const { accepted } = acceptedByWatermark([...orders, ...more], PARTITIONS, LATENESS_MS);
  const byUser = new Map<string, ShopOrder[]>();
  for (const o of accepted) (byUser.get(o.user_id) ?? byUser.set(o.user_id, []).get(o.user_id)!).push(o);
  const maxTs = accepted.reduce((m, o) => Math.max(m, o.ts), 0);
  const reader = createOnlineReader({ redis, prefix, views: [v2] });
  const rng = createRng(5);
  let compared = 0;
  for (let probe = 0; probe < 200; probe++) {
    const user = `u${rng.int(0, shape.users - 1)}`;
    const asOf = maxTs - rng.int(0, 4 * 3_600_000);
    const [vector] = await reader.read([user], [v2.id], { asOf });
    assert.ok(vector);
    compared += assertViewMatchesReference(
      `${user}@${asOf}`,
      v2,
      vector.views[0]!.features,
      byUser.get(user) ?? [],
      asOf,
    );
  }
  assert.ok(compared > 2_000, `compared ${compared} feature values`);
  await redis.quit();
});

test('backfill skips and counts stored events outside the bounds; they never move the watermark', async () => {
  // Rows stored before the processor enforced the bounds (written here straight into ClickHouse).
  const topic = uniqueName('it.backfill-bounds');
  const [view] = shopViews(topic, '5m', 9); // a version of its own: this folder registered v1 already
  const clickhouse = await createClickHouse(config);
  const redis = createRedis(config.redis.url);
  const offline = createOfflineStore(clickhouse, config.clickhouse.database);
  await offline.migrate();
  const t0 = Date.UTC(2026, 3, 1, 12);
  const row = (offset: number, entity: string, eventTime: number) => ({
    offset,
    entity,
    eventTime,
    record: {
      user_id: entity,
      amount: 1,
      merchant_id: 'm',
      category: 'c',
      device: null,
      country: 'DE',
      ts: eventTime,
    },
  });
  await offline.insertEvents(topic, 0, [
    row(0, 'u1', t0),
    row(1, 'u1', Date.UTC(2200, 0, 1)), // the far future (DateTime64 stores up to 2299)
    row(2, 'u1', t0 + 1_000),
    row(3, 'u1', Date.UTC(1999, 0, 1)), // before the earliest plausible time
    row(4, 'u2', t0 + 2_000),
  ]);
  const group = uniqueName('backfill-bounds');
  const result = await backfillView(
    { clickhouse, database: config.clickhouse.database, redis, redisPrefix: prefix, logger },
    { view: view!, group, sourceGroup: uniqueName('no-live-group') },
  );
  assert.equal(result.rows, 5);
  assert.equal(result.outOfBounds, 2);
  assert.equal(result.late, 0, 'nothing late: the 2200 row did not move the watermark');
  const cp = JSON.parse((await redis.hget(`${prefix}cp:${group}:${topic}`, '0'))!) as Checkpoint;
  assert.equal(cp.maxEventTime, t0 + 2_000);
  assert.deepEqual(cp.deadLetters, { FW_EVENT_TIME_OUT_OF_BOUNDS: 2 });
  assert.equal(cp.next, 5);
  const [u1] = await createOnlineReader({ redis, prefix, views: [view!] }).read(['u1'], [view!.id], {
    asOf: t0 + 2_000,
  });
  assert.equal(u1?.views[0]?.features.amount_sum_10m, 2, 'the two plausible events of u1');
  await redis.quit();
});
