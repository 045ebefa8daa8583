import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { shopViews } from '../../examples/shop/views.ts';
import { createOnlineReader } from '../../services/features/online-reader.ts';
import { createFeaturesService } from '../../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { createKafka } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { eventually, quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { createRng } from '../support/prng.ts';
import { acceptedByWatermark, assertViewMatchesReference } from '../support/reference-features.ts';
import { createShopTopic, generateOrders, produceOrders, type ShopOrder } from '../support/shop-events.ts';

const EVENTS = Number(process.env.FLYWHEEL_TEST_EVENTS ?? 200_000);
const PARTITIONS = 4;
const LATENESS_MS = 5 * 60_000;
const prefix = `${uniqueName('fwt')}:`;
const config = testConfig({ redis: { keyPrefix: prefix } });
const logger = quietLogger();

before(async () => useStack(config));
after(async () => closeEmbeddedClickHouse());

test(`online values equal a brute-force reference at 1,000 random probes (${EVENTS} events, out of order, some late)`, async () => {
  const topic = uniqueName('it.features');
  const views = shopViews(topic);
  const kafka = createKafka(config, logger);
  const codec = createRegistryCodec(config.registry.url);
  const redis = createRedis(config.redis.url);
  const clickhouse = await createClickHouse(config);
  const start = Date.UTC(2026, 0, 1);
  const orders = generateOrders({
    count: EVENTS,
    users: 500,
    start,
    spanMs: 6 * 3_600_000,
    jitterMs: 90_000,
    lateFraction: 0.01,
    lateByMs: 20 * 60_000,
    seed: 7,
  });
  await createShopTopic(kafka, topic, PARTITIONS);
  await produceOrders(kafka, codec, topic, orders, PARTITIONS);

  const service = createFeaturesService({
    config,
    logger,
    metrics: new MetricsRegistry(),
    kafka,
    redis,
    clickhouse,
    codec,
    views,
  });
  await service.start();
  const { accepted, late } = acceptedByWatermark(orders, PARTITIONS, LATENESS_MS);
  await eventually(
    async () => {
      const cps = Object.values(await service.checkpoints(topic));
      const done = cps.reduce((s, c) => s + c.accepted + c.late + c.invalid, 0);
      return done >= orders.length ? cps : undefined;
    },
    240_000,
    'all events processed',
  );
  const cps = Object.values(await service.checkpoints(topic));
  assert.equal(
    cps.reduce((s, c) => s + c.late, 0),
    late,
    'late events counted per the watermark rule',
  );
  assert.equal(
    cps.reduce((s, c) => s + c.accepted, 0),
    accepted.length,
  );
  assert.ok(late > 0, 'the stream has late events');

  const byUser = new Map<string, ShopOrder[]>();
  for (const o of accepted) (byUser.get(o.user_id) ?? byUser.set(o.user_id, []).get(o.user_id)!).push(o);
  const maxTs = accepted.reduce((m, o) => Math.max(m, o.ts), 0);
  const reader = createOnlineReader({ redis, prefix, views });
  const rng = createRng(99);
  let compared = 0;
  for (let probe = 0; probe < 1_000; probe++) {
    const user = `u${rng.int(0, 499)}`;
    const asOf = maxTs - rng.int(0, 3 * 3_600_000);
    const [vector] = await reader.read(
      [user],
      views.map((v) => v.id),
      { asOf },
    );
    assert.ok(vector);
    for (const [vi, view] of views.entries()) {
      const events = byUser.get(user) ?? [];
      compared += assertViewMatchesReference(
        `${user}@${asOf}`,
        view,
        vector.views[vi]!.features,
        events,
        asOf,
      );
    }
  }
  assert.ok(compared > 20_000, `compared ${compared} feature values`);

  await service.stop(); // drains the ClickHouse writes that trail the Redis commits
  const ch = await (
    await clickhouse.query({
      query: `SELECT count() AS n FROM ${config.clickhouse.database}.events FINAL WHERE topic = {t:String}`,
      query_params: { t: topic },
      format: 'JSONEachRow',
    })
  ).json<{ n: number }>();
  assert.equal(Number(ch[0]!.n), accepted.length, 'every accepted event is in ClickHouse once');
  await redis.quit();
});
