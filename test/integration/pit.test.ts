import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { shopViews } from '../../examples/shop/views.ts';
import type { AggregationOutput } from '../../services/core/aggregation/index.ts';
import { createOnlineReader, type ViewStatus } from '../../services/features/online-reader.ts';
import { createFeaturesService } from '../../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { createTrainingSetBuilder } from '../../services/training/builder.ts';
import { waitUntilCovered } from '../support/checkpoints.ts';
import { quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { createRng } from '../support/prng.ts';
import { scratchDir } from '../support/scratch.ts';
import { createShopTopic, generateOrders, partitionOf, shopOrderSchema } from '../support/shop-events.ts';

/**
 * Online/offline agreement on a live stream. Orders are produced in batches with event time = a
 * simulated clock (in order, no late events, ending near now). After each batch the test waits until
 * the processor's checkpoint covers every produced offset, then reads the online store at asOf = a
 * simulated instant t between this batch's last event and the next batch's first one. At that moment the
 * online store has folded exactly the events with event time ≤ t — the precondition under which the
 * point-in-time value must equal the online value. Afterwards a training set over the recorded
 * (entity, t) spine must reproduce every recorded online value: exact kinds bit for bit, sketches within
 * their documented bounds.
 */
const EVENTS = Number(process.env.FLYWHEEL_TEST_PIT_EVENTS ?? 10_000);
const READS = Number(process.env.FLYWHEEL_TEST_PIT_READS ?? 300);
const USERS = 60;
const PARTITIONS = 4;
const prefix = `${uniqueName('fwp')}:`;
const config = testConfig({ redis: { keyPrefix: prefix } });
const logger = quietLogger();

before(async () => useStack(config));
after(async () => closeEmbeddedClickHouse());

interface Recorded {
  entity: string;
  t: number;
  views: Array<{ status: ViewStatus; features: Record<string, AggregationOutput | null> }>;
}

test(`training-set values equal the online values read live at ${READS} instants (${EVENTS} orders)`, async () => {
  const topic = uniqueName('it.pit');
  const views = shopViews(topic);
  const kafka = createKafka(config, logger);
  const codec = createRegistryCodec(config.registry.url);
  const redis = createRedis(config.redis.url);
  const clickhouse = await createClickHouse(config);
  await createShopTopic(kafka, topic, PARTITIONS);
  const { id } = await codec.register(topic, shopOrderSchema());
  const encode = await codec.encoderFor(id);

  const stepMs = 1_000;
  const start = Math.floor(Date.now() / 1_000) * 1_000 - EVENTS * stepMs;
  // Users 0..USERS-1 order; readers also ask for USERS..USERS+4, never seen ('missing').
  const orders = generateOrders({
    count: EVENTS,
    users: USERS,
    start,
    spanMs: EVENTS * stepMs,
    jitterMs: 0,
    lateFraction: 0,
    lateByMs: 0,
    seed: 31,
  });
  for (const [i, o] of orders.entries()) o.ts = start + i * stepMs;

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
  const producer = createProducer(kafka);
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();
  const reader = createOnlineReader({ redis, prefix, views });
  const rng = createRng(5);
  const recorded: Recorded[] = [];
  const batch = Math.ceil(EVENTS / READS);
  try {
    for (let i = 0; i < orders.length; i += batch) {
      const part = orders.slice(i, i + batch);
      await producer.send({
        topic,
        acks: -1,
        messages: part.map((o) => ({
          key: o.user_id,
          value: encode(o),
          partition: partitionOf(o.user_id, PARTITIONS),
        })),
      });
      await waitUntilCovered({
        offsets: admin,
        topic,
        checkpoints: () => service.checkpoints(topic),
        what: 'the checkpoint to cover the batch',
      });
      // Every event with ts ≤ t is folded, none after: the next batch starts at last.ts + stepMs > t.
      const t = part.at(-1)!.ts + rng.int(0, stepMs - 1);
      const entity = rng.bool(0.7) ? rng.pick(part).user_id : `u${rng.int(0, USERS + 4)}`;
      const [vector] = await reader.read(
        [entity],
        views.map((v) => v.id),
        { asOf: t },
      );
      recorded.push({
        entity,
        t,
        views: vector!.views.map((v) => ({ status: v.status, features: v.features })),
      });
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
  await service.stop();
  const [row] = await (
    await clickhouse.query({
      query: `SELECT count() AS n FROM ${config.clickhouse.database}.events FINAL WHERE topic = {t:String}`,
      query_params: { t: topic },
      format: 'JSONEachRow',
    })
  ).json<{ n: number | string }>();
  assert.equal(Number(row!.n), EVENTS, 'every event is in ClickHouse once');

  const builder = createTrainingSetBuilder({ clickhouse, db: config.clickhouse.database, views, logger });
  const names = views.map((v) => v.name);
  const result = await builder.build({
    setId: 'pit-it',
    spine: recorded.map((r, i) => ({ entity: r.entity, ts: r.t, label: i % 2 })),
    views: names,
  });
  assert.equal(result.rows, recorded.length);
  const out = join(scratchDir('flywheel-pit'), 'set.jsonl');
  assert.equal(await builder.exportJsonl('pit-it', out), recorded.length);
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, recorded.length);

  let exact = 0;
  let approx = 0;
  let identicalApprox = 0;
  const statuses = new Map<string, number>();
  for (const [i, r] of recorded.entries()) {
    const line = lines[i]!;
    assert.equal(line.entity, r.entity);
    assert.equal(line.ts, r.t);
    assert.equal(line.label, String(i % 2));
    for (const [vi, view] of views.entries()) {
      const online = r.views[vi]!;
      const where = `${r.entity}@${r.t} ${view.name}`;
      assert.equal(line[`${view.name}.__status`], online.status, `${where} status`);
      statuses.set(online.status, (statuses.get(online.status) ?? 0) + 1);
      for (const f of view.features) {
        const got = line[`${view.name}.${f.name}`] as AggregationOutput | null;
        const want = online.features[f.name] ?? null;
        const kind = view.slots[f.slot]!.kind;
        if (f.exact) {
          assert.deepEqual(got, want, `${where} ${f.name}`);
          exact++;
        } else {
          approx++;
          if (JSON.stringify(got) === JSON.stringify(want)) identicalApprox++;
          else if (kind === 'approx_distinct')
            assert.ok(
              Math.abs((got as number) - (want as number)) <= Math.max(1, 0.05 * (want as number)),
              where,
            );
          else
            for (const [qi, q] of (want as number[]).entries())
              assert.ok(Math.abs((got as number[])[qi]! - q) <= 0.0201 * Math.abs(q), `${where} ${f.name}`);
        }
      }
    }
  }
  logger.info('pit comparison', { exact, approx, identicalApprox, statuses: Object.fromEntries(statuses) });
  process.stderr.write(
    `pit: ${recorded.length} reads, ${exact} exact values equal, ${identicalApprox}/${approx} sketch values identical, statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`,
  );
  assert.ok((statuses.get('ok') ?? 0) > recorded.length, 'most reads see data');
  assert.ok((statuses.get('missing') ?? 0) > 0, 'some reads ask for never-seen entities');
  await redis.quit();
});
