import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { FlywheelError } from '../../services/platform/errors.ts';
import { createConsumer, createKafka, createProducer, ensureTopics } from '../../services/platform/kafka.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { eventually, quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';

const config = testConfig();
const logger = quietLogger();

const ORDER_V1 = {
  type: 'record',
  name: 'FoundationOrder',
  namespace: 'dev.flywheel.test',
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'user_id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

before(async () => {
  await useStack(config);
});
after(async () => {
  await closeEmbeddedClickHouse();
});

test('an Avro event goes through the registry and Kafka to a consumer group, then to Redis and ClickHouse', async () => {
  const topic = uniqueName('it.foundation');
  const kafka = createKafka(config, logger);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 2 }]);
  await admin.disconnect();

  const codec = createRegistryCodec(config.registry.url);
  const { id, subject } = await codec.register(topic, ORDER_V1);
  assert.equal(subject, `${topic}-value`);

  const orders = Array.from({ length: 20 }, (_, i) => ({
    order_id: `o${i}`,
    user_id: `u${i % 4}`,
    amount: i * 1.5,
    ts: 1_700_000_000_000 + i,
  }));
  const producer = createProducer(kafka);
  await producer.connect();
  await producer.send({
    topic,
    messages: await Promise.all(
      orders.map(async (o) => ({ key: o.user_id, value: await codec.encode(id, o) })),
    ),
  });
  await producer.disconnect();

  const redis = createRedis(config.redis.url);
  const ch = await createClickHouse(config);
  const table = `${topic.replace(/[^a-z0-9]/gi, '_')}`;
  await ch.command({
    query: `CREATE TABLE ${table} (order_id String, user_id String, amount Float64, ts DateTime64(3)) ENGINE = MergeTree ORDER BY order_id`,
  });

  const consumer = createConsumer(kafka, uniqueName('it-group'));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  await consumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const decoded = await Promise.all(
        batch.messages.map((m) => codec.decode<(typeof orders)[number]>(m.value!)),
      );
      const pipeline = redis.pipeline();
      for (const o of decoded)
        pipeline.hset(`${topic}:order:${o.order_id}`, { user_id: o.user_id, amount: String(o.amount) });
      await pipeline.exec();
      await ch.insert({
        table,
        values: decoded.map((o) => ({ ...o, ts: Number(o.ts) })),
        format: 'JSONEachRow',
      });
      for (const m of batch.messages) resolveOffset(m.offset);
      seen += decoded.length;
      await heartbeat();
    },
  });
  await eventually(async () => (seen >= orders.length ? true : undefined), 30_000, 'all orders consumed');
  await consumer.disconnect();

  assert.equal(seen, orders.length);
  assert.deepEqual(await redis.hgetall(`${topic}:order:o7`), { user_id: 'u3', amount: '10.5' });
  const rows = await (
    await ch.query({
      query: `SELECT count() AS n, sum(amount) AS total, uniqExact(user_id) AS users FROM ${table}`,
      format: 'JSONEachRow',
    })
  ).json<{ n: number; total: number; users: number }>();
  assert.deepEqual(rows, [{ n: 20, total: orders.reduce((s, o) => s + o.amount, 0), users: 4 }]);
  await redis.quit();
});

test('a BACKWARD-compatible schema change registers; an incompatible one is refused with a clear error', async () => {
  const topic = uniqueName('it.schema');
  const codec = createRegistryCodec(config.registry.url);
  const v1 = await codec.register(topic, ORDER_V1);
  const compatible = {
    ...ORDER_V1,
    fields: [...ORDER_V1.fields, { name: 'channel', type: 'string', default: 'web' }],
  };
  const v2 = await codec.register(topic, compatible);
  assert.notEqual(v2.id, v1.id);

  const incompatible = { ...ORDER_V1, fields: [...ORDER_V1.fields, { name: 'merchant_id', type: 'string' }] };
  await assert.rejects(codec.register(topic, incompatible), (err: unknown) => {
    assert.ok(err instanceof FlywheelError);
    assert.equal(err.code, 'FW_SCHEMA_INCOMPATIBLE');
    assert.match(err.message, /not BACKWARD-compatible/);
    assert.match(err.message, new RegExp(`${topic}-value`));
    return true;
  });
});
