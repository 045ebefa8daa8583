import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { shopViews } from '../../examples/shop/views.ts';
import { REROUTED_FROM_HEADER } from '../../services/features/engine/admission.ts';
import type { Checkpoint } from '../../services/features/engine/partition-state.ts';
import { createOnlineReader } from '../../services/features/online-reader.ts';
import { createFeaturesService, type FeaturesService } from '../../services/features/service.ts';
import { registerIngestRoutes } from '../../services/ingest/routes.ts';
import { createIngestService } from '../../services/ingest/service.ts';
import { createSourceCatalogue } from '../../services/ingest/sources.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { createHttpServer, type HttpServer } from '../../services/platform/http.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { ownerPartition } from '../../services/platform/partitioner.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { createSubjectVersions } from '../../services/platform/subject-versions.ts';
import { createFlywheelProducer } from '../../services/sdk/producer.ts';
import { crc32, crc32Partitioner } from '../support/crc32-partitioner.ts';
import { eventually, quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { createShopTopic, type ShopOrder, shopOrderSchema } from '../support/shop-events.ts';

/**
 * The processor's input path under hostile records written straight to Kafka (and ingest's refusals of
 * the same): each is dead-lettered with its reason, never folded, never moves the watermark, and a good
 * event right behind it on the same partition is folded and served. Then producers with another
 * partitioner (librdkafka's CRC32) beside the SDK: every event counted once.
 */
const PARTITIONS = 4;
const prefix = `${uniqueName('fwh')}:`;
const config = testConfig({ redis: { keyPrefix: prefix } });
const logger = quietLogger();
const topic = uniqueName('it.hostile');
const group = uniqueName('hostile');
const views = shopViews(topic);
const kafka = createKafka(config, logger);
const codec = createRegistryCodec(config.registry.url);
const redis = createRedis(config.redis.url);
const now = Date.now();
let features: FeaturesService;
let ingest: { http: HttpServer; url: string; stop(): Promise<void> };
let orderSchemaId: number;

/** A user owned by each partition (murmur2), so each hostile record has a good neighbour behind it. */
const owners = Array.from({ length: PARTITIONS }, (_, p) => {
  for (let i = 0; ; i++) if (ownerPartition(`h${i}`, PARTITIONS) === p) return `h${i}`;
});

function order(user: string, i: number, over: Partial<ShopOrder> = {}): ShopOrder {
  return {
    event_id: `${user}-${i}`,
    user_id: user,
    merchant_id: 'm1',
    amount: 10,
    currency: 'EUR',
    category: 'books',
    device: null,
    country: 'DE',
    ts: now - 60_000 + i,
    ...over,
  };
}

before(async () => {
  await useStack(config);
  await createShopTopic(kafka, topic, PARTITIONS);
  orderSchemaId = (await codec.register(topic, shopOrderSchema())).id;
  const clickhouse = await createClickHouse(config);
  features = createFeaturesService(
    { config, logger, metrics: new MetricsRegistry(), kafka, redis, clickhouse, codec, views },
    { groupId: group },
  );
  await features.start();
  const metrics = new MetricsRegistry();
  const sources = createSourceCatalogue(
    [{ name: 'shop', topic, keyField: 'user_id', timestampField: 'ts' }],
    () => shopOrderSchema(),
  );
  const service = createIngestService({ config, logger, metrics, kafka, codec, sources });
  const http = createHttpServer({
    name: 'ingest',
    logger,
    metrics,
    maxBodyBytes: 1 << 20,
    ready: service.ready,
  });
  registerIngestRoutes(http, service);
  const port = await http.listen(0, '127.0.0.1');
  await service.start();
  ingest = { http, url: `http://127.0.0.1:${port}`, stop: () => service.stop() };
});

after(async () => {
  await ingest?.http.close();
  await ingest?.stop();
  await features?.stop();
  redis.disconnect();
  await closeEmbeddedClickHouse();
});

const checkpoints = async () => Object.values(await features.checkpoints(topic)) as Checkpoint[];
const sum = (cps: Checkpoint[], f: (c: Checkpoint) => number) => cps.reduce((s, c) => s + f(c), 0);
const decided = (c: Checkpoint) => c.accepted + c.late + c.invalid + c.rerouted + c.duplicates;

async function waitDecided(records: number): Promise<Checkpoint[]> {
  return eventually(
    async () => {
      const cps = await checkpoints();
      return sum(cps, decided) >= records ? cps : undefined;
    },
    60_000,
    `${records} records decided`,
  );
}

async function countOf(user: string): Promise<unknown> {
  const reader = createOnlineReader({ redis, prefix, views, cacheEntries: 0 });
  const [vector] = await reader.read([user], ['user_risk:v1']);
  return vector?.views[0]?.features.order_count_1d;
}

/** Dead letters on `<topic>.dlq`, by `partition/offset` of the source record → error code. */
async function deadLetters(
  expected: number,
): Promise<Map<string, { code: string; message: string; truncated: string }>> {
  const found = new Map<string, { code: string; message: string; truncated: string }>();
  const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
  await consumer.connect();
  await consumer.subscribe({ topics: [`${topic}.dlq`], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const h = message.headers ?? {};
      const [, partition, offset] = /\/(\d+)\/(\d+)$/.exec(String(h['flywheel-source']))!;
      found.set(`${partition}/${offset}`, {
        code: String(h['flywheel-error-code']),
        message: String(h['flywheel-error-message']),
        truncated: String(h['flywheel-truncated'] ?? ''),
      });
    },
  });
  await eventually(async () => (found.size >= expected ? true : undefined), 30_000, 'dead letters');
  await consumer.disconnect();
  return found;
}

test('ingest refuses hostile events with 400, the field, the problem and the bound', async () => {
  const post = (body: string) =>
    fetch(`${ingest.url}/v1/events/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
  const cases: Array<[string, Record<string, unknown> | string, string, RegExp]> = [
    [
      'year 5138',
      { ...order('u', 0), ts: 99_999_999_999_999 },
      'FW_EVENT_TIME_OUT_OF_BOUNDS',
      /events\[0\]\.ts: 99999999999999 \(5138-.*allows at most 300000 ms/,
    ],
    [
      'negative time',
      { ...order('u', 0), ts: -5 },
      'FW_EVENT_TIME_OUT_OF_BOUNDS',
      /events\[0\]\.ts: -5 .*before the earliest plausible event time 946684800000/,
    ],
    [
      'empty key',
      { ...order('u', 0), user_id: '' },
      'FW_ENTITY_KEY_INVALID',
      /events\[0\]\.user_id: must not be empty/,
    ],
    [
      '60 KB key',
      { ...order('u', 0), user_id: 'x'.repeat(60_000) },
      'FW_ENTITY_KEY_INVALID',
      /is 60000 bytes; the limit is 256/,
    ],
    [
      'control character',
      { ...order('u', 0), user_id: 'u\u00001' },
      'FW_ENTITY_KEY_INVALID',
      /control character U\+0000 at index 1/,
    ],
    [
      '1e400',
      JSON.stringify(order('u', 0)).replace('"amount":10', '"amount":1e400'),
      'FW_EVENT_INVALID',
      /events\[0\]\.amount: .*finite/,
    ],
  ];
  for (const [what, body, code, message] of cases) {
    const res = await post(typeof body === 'string' ? body : JSON.stringify(body));
    const json = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 400, what);
    assert.equal(json.error.code, code, what);
    assert.match(json.error.message, message, what);
  }
  const ok = await post(JSON.stringify(order(owners[0]!, 0)));
  assert.equal(ok.status, 202);
  await eventually(
    async () => ((await countOf(owners[0]!)) === 1 ? true : undefined),
    30_000,
    'the good event',
  );
});

test('hostile records straight to Kafka: each dead-lettered with its reason; the next good event is folded', async () => {
  const encode = await codec.encoderFor(orderSchemaId);
  // A schema of another subject that happens to carry user_id and ts.
  const foreign = {
    type: 'record',
    name: 'Refund',
    namespace: 'dev.other',
    fields: [
      { name: 'user_id', type: 'string' },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'refund', type: 'double' },
    ],
  };
  const foreignId = (await codec.register(`${topic}-refunds`, foreign)).id;
  const encodeForeign = await codec.encoderFor(foreignId);
  const hostile: Array<{
    what: string;
    code: string;
    message: RegExp;
    make(user: string): { key: Buffer | null; value: Buffer | null };
  }> = [
    {
      what: 'not Avro',
      code: 'FW_DECODE_FAILED',
      message: /not in the schema-registry wire format/,
      make: (u) => ({ key: Buffer.from(u), value: Buffer.from('{"user_id":"x"}') }),
    },
    {
      what: 'unknown schema id',
      code: 'FW_DECODE_FAILED',
      message: /unknown schema id 987654/,
      make: (u) => ({ key: Buffer.from(u), value: withId(987_654, Buffer.from('abc')) }),
    },
    {
      what: 'another subject',
      code: 'FW_SCHEMA_SUBJECT_MISMATCH',
      message: new RegExp(`schema id ${foreignId} is not a registered version of subject ${topic}-value`),
      make: (u) => ({ key: Buffer.from(u), value: encodeForeign({ user_id: u, ts: now, refund: 1 }) }),
    },
    {
      what: 'truncated',
      code: 'FW_DECODE_FAILED',
      message: /Avro decoding failed/,
      make: (u) => ({ key: Buffer.from(u), value: encode(order(u, 1)).subarray(0, 20) }),
    },
    {
      what: 'oversize',
      code: 'FW_PAYLOAD_TOO_LARGE',
      message: /is 70005 bytes; the limit for .* is 65536/,
      make: (u) => ({ key: Buffer.from(u), value: withId(orderSchemaId, Buffer.alloc(70_000)) }),
    },
    {
      what: 'near the broker limit (its dead letter keeps a prefix)',
      code: 'FW_PAYLOAD_TOO_LARGE',
      message: /is 900005 bytes; the limit for .* is 65536/,
      make: (u) => ({ key: Buffer.from(u), value: withId(orderSchemaId, Buffer.alloc(900_000)) }),
    },
    {
      what: 'null key',
      code: 'FW_KEY_MISMATCH',
      message: /record has no key; key it by user_id/,
      make: (u) => ({ key: null, value: encode(order(u, 2)) }),
    },
    {
      what: 'key mismatch',
      code: 'FW_KEY_MISMATCH',
      message: /record key "someone-else" differs from user_id/,
      make: (u) => ({ key: Buffer.from('someone-else'), value: encode(order(u, 3)) }),
    },
    {
      what: 'year 5138',
      code: 'FW_EVENT_TIME_OUT_OF_BOUNDS',
      message: /ts: 99999999999999 \(5138-/,
      make: (u) => ({ key: Buffer.from(u), value: encode(order(u, 4, { ts: 99_999_999_999_999 })) }),
    },
    {
      what: 'negative time',
      code: 'FW_EVENT_TIME_OUT_OF_BOUNDS',
      message: /ts: -5 /,
      make: (u) => ({ key: Buffer.from(u), value: encode(order(u, 5, { ts: -5 })) }),
    },
    {
      what: 'empty user_id',
      code: 'FW_ENTITY_KEY_INVALID',
      message: /user_id: must not be empty/,
      make: () => ({ key: Buffer.from(''), value: encode(order('', 6)) }),
    },
    {
      what: 'control character',
      code: 'FW_ENTITY_KEY_INVALID',
      message: /U\+001B/,
      make: (u) => ({ key: Buffer.from(`${u}\u001b`), value: encode(order(`${u}\u001b`, 7)) }),
    },
    {
      what: 'a tombstone',
      code: 'FW_DECODE_FAILED',
      message: /tombstone/,
      make: (u) => ({ key: Buffer.from(u), value: null }),
    },
  ];
  const before = await checkpoints();
  const producer = createProducer(kafka);
  await producer.connect();
  // On every partition: each hostile record, then a good order of the partition's user behind it.
  const expected = new Map<string, string>();
  const watermarks = new Map(before.map((c, p) => [p, c.maxEventTime]));
  for (let p = 0; p < PARTITIONS; p++) {
    const user = owners[p]!;
    for (const [i, h] of hostile.entries()) {
      const [bad] = await producer.send({ topic, acks: -1, messages: [{ partition: p, ...h.make(user) }] });
      expected.set(`${p}/${bad!.baseOffset}`, h.code);
      await producer.send({
        topic,
        acks: -1,
        messages: [{ partition: p, key: user, value: encode(order(user, 100 + i)) }],
      });
    }
  }
  await producer.disconnect();
  const records = sum(before, decided) + PARTITIONS * hostile.length * 2;
  const cps = await waitDecided(records);
  for (const [p, user] of owners.entries()) {
    const good = hostile.length + (p === 0 ? 1 : 0); // partition 0's user had the ingest event too
    assert.equal(await countOf(user), good, `${user}: every good event behind a hostile one is served`);
    // No hostile event moved the watermark: it is the newest good event's time.
    const cp = (await features.checkpoints(topic))[String(p)]!;
    assert.equal(cp.maxEventTime, now - 60_000 + 100 + hostile.length - 1, `partition ${p} watermark`);
    assert.ok(cp.maxEventTime >= (watermarks.get(p) ?? -Infinity));
  }
  for (const h of hostile) {
    const n = hostile.filter((x) => x.code === h.code).length * PARTITIONS;
    assert.equal(
      sum(cps, (c) => c.deadLetters[h.code] ?? 0),
      n,
      `${h.code} counted per partition`,
    );
  }
  const letters = await deadLetters(expected.size);
  assert.equal(letters.size, expected.size, 'one dead letter per hostile record, none for good ones');
  for (const [at, code] of expected) {
    const letter = letters.get(at);
    assert.ok(letter, `dead letter for ${at}`);
    assert.equal(letter.code, code, at);
    const h = hostile.find((x) => x.code === code && x.message.test(letter.message));
    assert.ok(h, `${at}: ${code} with a clear reason (${letter.message})`);
    if (/900005/.test(letter.message))
      assert.equal(letter.truncated, 'value:900005', 'a prefix of the value');
  }
});

test('a CRC32 (librdkafka default) producer beside the SDK: every event of a user counted once', async () => {
  const users = Array.from({ length: 20 }, (_, i) => `crc-user-${i}`);
  const misplaced = users.filter((u) => crc32(Buffer.from(u)) % PARTITIONS !== ownerPartition(u, PARTITIONS));
  assert.ok(misplaced.length >= 10, `most users land elsewhere under CRC32 (${misplaced.length})`);
  const before = await checkpoints();
  const foreignClient = new Kafka({
    clientId: 'librdkafka-like',
    brokers: config.kafka.brokers,
    logLevel: logLevel.NOTHING,
  });
  const crcProducer = foreignClient.producer({
    createPartitioner: crc32Partitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await crcProducer.connect();
  const encode = await codec.encoderFor(orderSchemaId);
  const sdk = createFlywheelProducer({
    brokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    sources: createSourceCatalogue([{ name: 'shop', topic, keyField: 'user_id', timestampField: 'ts' }], () =>
      shopOrderSchema(),
    ),
  });
  // Interleaved: 15 orders per user from each producer, all within one minute (none late).
  for (let round = 0; round < 15; round++) {
    await crcProducer.send({
      topic,
      acks: -1,
      messages: users.map((u) => ({ key: u, value: encode(order(u, 1_000 + round)) })),
    });
    await sdk.send(
      'shop',
      users.map((u) => order(u, 2_000 + round)),
    );
  }
  await crcProducer.disconnect();
  await sdk.close();
  const rerouted = 15 * misplaced.length;
  const records = sum(before, decided) + 30 * users.length + rerouted; // each copy is a record too
  const cps = await waitDecided(records);
  for (const u of users) assert.equal(await countOf(u), 30, `${u}: 15 + 15 orders, each once`);
  assert.equal(sum(cps, (c) => c.rerouted) - sum(before, (c) => c.rerouted), rerouted);
  assert.equal(
    sum(cps, (c) => c.late),
    sum(before, (c) => c.late),
    'no rerouted copy was late',
  );
});

test("a rerouted copy seen twice (the sender's retry) is folded once; another group's copy is skipped", async () => {
  const user = owners[1]!;
  const before = await checkpoints();
  const encode = await codec.encoderFor(orderSchemaId);
  const copy = (origin: string, i: number) => ({
    partition: 1,
    key: user,
    value: encode(order(user, 3_000 + i)),
    headers: { [REROUTED_FROM_HEADER]: origin },
  });
  const producer = createProducer(kafka);
  await producer.connect();
  const countBefore = (await countOf(user)) as number;
  await producer.send({
    topic,
    acks: -1,
    messages: [
      copy(`3/900000/${group}`, 0),
      copy(`3/900000/${group}`, 0),
      copy(`3/900001/${group}`, 1),
      copy('3/900002/another-group', 2),
    ],
  });
  await producer.disconnect();
  const cps = await waitDecided(sum(before, decided) + 4);
  assert.equal(
    await countOf(user),
    countBefore + 2,
    'two distinct origins folded, the repeat and the foreign copy not',
  );
  assert.equal(sum(cps, (c) => c.duplicates) - sum(before, (c) => c.duplicates), 2);
  assert.equal((await features.checkpoints(topic))['1']!.origins['3'], 900_001);
});

test('a flood of records with random schema ids is dead-lettered at once; the good event behind is folded', async () => {
  const user = owners[2]!;
  const before = await checkpoints();
  const encode = await codec.encoderFor(orderSchemaId);
  const countBefore = (await countOf(user)) as number;
  const producer = createProducer(kafka);
  await producer.connect();
  const flood = Array.from({ length: 5_000 }, (_, i) => ({
    partition: 2,
    key: user,
    value: withId(1_000_000 + i * 7919, Buffer.from('junk')),
  }));
  await producer.send({
    topic,
    acks: -1,
    messages: [...flood, { partition: 2, key: user, value: encode(order(user, 4_000)) }],
  });
  await producer.disconnect();
  const started = Date.now();
  const cps = await waitDecided(sum(before, decided) + flood.length + 1);
  const seconds = (Date.now() - started) / 1_000;
  assert.ok(seconds < 15, `5,000 unknown ids decided in ${seconds} s (one registry refresh, not one per id)`);
  assert.equal(await countOf(user), countBefore + 1);
  const refused =
    sum(cps, (c) => c.deadLetters.FW_DECODE_FAILED ?? 0) +
    sum(cps, (c) => c.deadLetters.FW_SCHEMA_SUBJECT_MISMATCH ?? 0) -
    sum(
      before,
      (c) => (c.deadLetters.FW_DECODE_FAILED ?? 0) + (c.deadLetters.FW_SCHEMA_SUBJECT_MISMATCH ?? 0),
    );
  assert.equal(refused, flood.length);
});

test('subject versions: a refused id is refused again without waiting; a version registered since is admitted', async () => {
  const versions = createSubjectVersions(config.registry.url);
  const subject = `${topic}-value`;
  const first = await versions.refusals(subject, new Set([987_654, orderSchemaId]));
  assert.deepEqual([...first.keys()], [987_654]);
  const t0 = performance.now();
  const again = await versions.refusals(subject, new Set([987_654]));
  assert.ok(performance.now() - t0 < 200, 'no refresh wait for an id refused a moment ago');
  assert.equal(again.get(987_654)?.code, 'FW_DECODE_FAILED');
  // A new (backward-compatible) version, registered after the refusals above, is found by a refresh.
  const v2 = structuredClone(shopOrderSchema()) as { fields: object[] };
  v2.fields.push({ name: 'coupon', type: ['null', 'string'], default: null });
  const { id } = await codec.register(topic, v2);
  assert.deepEqual([...(await versions.refusals(subject, new Set([id]))).keys()], []);
});

/** A Confluent wire-format value: magic byte 0, a 4-byte schema id, then the body. */
function withId(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

test('the SDK refuses out-of-bounds times and bad keys before sending, with the same reasons', async () => {
  const sdk = createFlywheelProducer({
    brokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    sources: createSourceCatalogue([{ name: 'shop', topic, keyField: 'user_id', timestampField: 'ts' }], () =>
      shopOrderSchema(),
    ),
  });
  const refusal = async (o: ShopOrder) => {
    const err = await sdk.send('shop', o).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    assert.ok(err, `refused: ${JSON.stringify(o).slice(0, 80)}`);
    return err;
  };
  const future = await refusal(order('u', 0, { ts: 99_999_999_999_999 }));
  assert.equal(future.code, 'FW_EVENT_TIME_OUT_OF_BOUNDS');
  assert.match(future.message, /events\[0\]\.ts: 99999999999999 \(5138-/);
  assert.equal((await refusal(order('', 0))).code, 'FW_ENTITY_KEY_INVALID');
  assert.match((await refusal(order('u\u0085', 0))).message, /control character U\+0085/);
  await sdk.close();
});
