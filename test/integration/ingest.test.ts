import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSchemaFile } from '../../schemas/catalog.ts';
import { registerIngestRoutes } from '../../services/ingest/routes.ts';
import { createIngestService, type IngestService } from '../../services/ingest/service.ts';
import { createSourceCatalogue, type SourceCatalogue } from '../../services/ingest/sources.ts';
import type { ResolvedConfig } from '../../services/platform/config.ts';
import { createHttpServer, type HttpServer } from '../../services/platform/http.ts';
import { createConsumer, createKafka } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { createFlywheelProducer } from '../../services/sdk/producer.ts';
import { eventually, quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { freePort } from '../support/ports.ts';

const MAX_BODY = 32 * 1024;
const config = testConfig({ http: { maxBodyBytes: MAX_BODY }, kafka: { defaultPartitions: 2 } });
const logger = quietLogger();
// Unique topics per run; the contracts are the real demo .avsc files.
const topics = { shop: uniqueName('it.ingest.shop'), outcomes: uniqueName('it.ingest.outcomes') };
const sources = createSourceCatalogue(
  [
    {
      name: 'shop',
      topic: topics.shop,
      keyField: 'user_id',
      timestampField: 'ts',
      limits: { maxEvents: 200 },
    },
    { name: 'shop-outcomes', topic: topics.outcomes, keyField: 'user_id', timestampField: 'ts' },
  ],
  (topic) =>
    loadSchemaFile(
      fileURLToPath(
        new URL(
          `../../examples/shop/schemas/${topic === topics.shop ? 'shop-order' : 'shop-outcome'}.avsc`,
          import.meta.url,
        ),
      ),
    ),
);

interface Running {
  service: IngestService;
  http: HttpServer;
  url: string;
  started: Promise<void>;
}

async function runInstance(cfg: Readonly<ResolvedConfig>, srcs: SourceCatalogue): Promise<Running> {
  const metrics = new MetricsRegistry();
  const service = createIngestService({
    config: cfg,
    logger,
    metrics,
    kafka: createKafka(cfg, logger, 'it-ingest'),
    codec: createRegistryCodec(cfg.registry.url),
    sources: srcs,
    sendTimeoutMs: 5_000,
    reconnectDelayMs: { initial: 100, max: 500 },
  });
  const http = createHttpServer({
    name: 'ingest',
    logger,
    metrics,
    maxBodyBytes: cfg.http.maxBodyBytes,
    ready: service.ready,
  });
  registerIngestRoutes(http, service);
  const port = await http.listen(0, '127.0.0.1');
  return { service, http, url: `http://127.0.0.1:${port}`, started: service.start() };
}

const order = (i: number) => ({
  event_id: `e${i}`,
  user_id: `u${i % 7}`,
  merchant_id: `m${i % 3}`,
  amount: Math.round(i * 13.7) / 10,
  currency: 'EUR',
  category: ['books', 'games', 'food'][i % 3]!,
  device: i % 2 ? 'ios' : null,
  country: 'DE',
  ts: 1_700_000_000_000 + i * 1_000,
});

const post = (base: string, source: string, body: string | object) =>
  fetch(`${base}/v1/events/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });

async function consumeAll(topic: string, n: number) {
  const kafka = createKafka(config, logger, 'it-ingest-reader');
  const codec = createRegistryCodec(config.registry.url);
  const consumer = createConsumer(kafka, uniqueName('it-ingest-group'));
  const seen: Array<{ key: string; value: Record<string, unknown> }> = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      // avsc decodes to record-class instances; compare as plain data.
      seen.push({ key: message.key!.toString(), value: { ...(await codec.decode(message.value!)) } });
    },
  });
  await eventually(async () => (seen.length >= n ? true : undefined), 30_000, `${n} records on ${topic}`);
  await consumer.disconnect();
  return seen.sort((a, b) =>
    String(a.value.event_id).localeCompare(String(b.value.event_id), 'en', { numeric: true }),
  );
}

let healthy: Running;
before(async () => {
  await useStack(config);
  healthy = await runInstance(config, sources);
  await healthy.started;
});
after(async () => {
  await healthy.http.close();
  await healthy.service.stop();
});

test('a batch of 50 orders → 202 after the ack, and the same orders come back from Kafka keyed by user_id', async () => {
  assert.equal((await fetch(`${healthy.url}/readyz`)).status, 200);
  const orders = Array.from({ length: 50 }, (_, i) => order(i));
  const t0 = performance.now();
  const res = await post(healthy.url, 'shop', { events: orders });
  const ms = performance.now() - t0;
  assert.equal(res.status, 202);
  const body = (await res.json()) as { accepted: number; topic: string; offsets: unknown[] };
  assert.equal(body.accepted, 50);
  assert.equal(body.topic, topics.shop);
  assert.ok(body.offsets.length >= 1);
  const back = await consumeAll(topics.shop, 50);
  assert.deepEqual(
    back.map((r) => r.value),
    orders,
  );
  for (const r of back) assert.equal(r.key, r.value.user_id);
  logger.info('ingest figures', { batch: 50, postMs: Math.round(ms) });
});

test('bad requests get coded answers: 400 malformed/invalid/hostile, 404 unknown source, 413 too big', async () => {
  const malformed = await post(healthy.url, 'shop', '{"event_id": ');
  assert.equal(malformed.status, 400);
  assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'FW_BAD_REQUEST');

  const wrong = await post(healthy.url, 'shop', {
    events: [order(1), { ...order(2), amount: '12', ts: 'soon' }],
  });
  assert.equal(wrong.status, 400);
  const invalid = (await wrong.json()) as {
    error: { code: string; message: string; details: { errors: Array<{ index: number; path: string }> } };
  };
  assert.equal(invalid.error.code, 'FW_EVENT_INVALID');
  assert.deepEqual(
    invalid.error.details.errors.map((e) => `${e.index}:${e.path}`),
    ['1:amount', '1:ts'],
  );
  assert.match(invalid.error.message, /events\[1\]\.amount: expected number, got string/);

  const unknown = await post(healthy.url, 'nope', order(1));
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'FW_NOT_FOUND');

  const oversize = await post(healthy.url, 'shop', { ...order(1), category: 'x'.repeat(MAX_BODY) });
  assert.equal(oversize.status, 413);

  const many = await post(
    healthy.url,
    'shop',
    Array.from({ length: 201 }, (_, i) => ({ e: i })),
  );
  assert.equal(many.status, 413);
  assert.equal(((await many.json()) as { error: { code: string } }).error.code, 'FW_BATCH_TOO_LARGE');

  const hostile = await post(healthy.url, 'shop', `{"events":[{"__proto__":{"admin":true},"event_id":"e"}]}`);
  assert.equal(hostile.status, 400);
  assert.match(JSON.stringify(await hostile.json()), /forbidden field name \\"__proto__\\"/);

  const listing = (await (await fetch(`${healthy.url}/v1/sources`)).json()) as {
    sources: Array<{ name: string; keyField: string; schema: { required: string[] } }>;
  };
  assert.deepEqual(
    listing.sources.map((s) => [s.name, s.keyField]),
    [
      ['shop', 'user_id'],
      ['shop-outcomes', 'user_id'],
    ],
  );
  assert.ok(listing.sources[0]!.schema.required.includes('amount'));
  assert.ok(!listing.sources[0]!.schema.required.includes('device'));

  const metrics = await (await fetch(`${healthy.url}/metrics`)).text();
  assert.match(metrics, /flywheel_ingest_events_accepted_total\{source="shop"\} 50/);
  assert.match(metrics, /flywheel_ingest_events_rejected_total\{reason="invalid",source="shop"\} 3/);
});

test('Kafka unreachable: 503 with Retry-After at once, /readyz false; recovers when the broker appears', async () => {
  const port = await freePort();
  const dead = testConfig({ kafka: { brokers: [`127.0.0.1:${port}`], defaultPartitions: 2 } });
  const instance = await runInstance(dead, sources);
  let proxy: Server | undefined;
  try {
    assert.equal((await fetch(`${instance.url}/readyz`)).status, 503);
    const t0 = performance.now();
    const res = await post(instance.url, 'shop', order(1));
    const ms = performance.now() - t0;
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FW_KAFKA_UNAVAILABLE');
    assert.ok(ms < 2_000, `answered in ${ms} ms`);

    // The "broker comes back": a TCP proxy to the real broker on the dead address. Bootstrap goes
    // through it; the start-up loop, still retrying, connects without a restart.
    proxy = createServer((socket) => {
      const upstream = connect(config.stack.kafkaPort, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((r) => proxy!.listen(port, '127.0.0.1', r));
    await instance.started;
    assert.equal((await fetch(`${instance.url}/readyz`)).status, 200);
    const ok = await post(instance.url, 'shop-outcomes', {
      event_id: 'e1',
      user_id: 'u1',
      is_fraud: true,
      ts: '2024-05-01T00:00:00Z',
      reported_at: 1_714_600_000_000,
    });
    assert.equal(ok.status, 202);
  } finally {
    await instance.http.close();
    await instance.service.stop();
    proxy?.close();
  }
});

test('the SDK sends 10 typed orders straight to Kafka, keyed by user_id', async () => {
  const sdk = createFlywheelProducer({
    brokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    sources,
  });
  try {
    const orders = Array.from({ length: 10 }, (_, i) => ({
      ...order(100 + i),
      ts: new Date(1_700_000_000_000 + i).toISOString(),
    }));
    assert.deepEqual(await sdk.send('shop', orders), { sent: 10, topic: topics.shop });
    await assert.rejects(sdk.send('shop', { ...order(1), amount: 'x' } as never), /amount: expected number/);
    const back = (await consumeAll(topics.shop, 60)).filter(
      (r) => Number(String(r.value.event_id).slice(1)) >= 100,
    );
    assert.equal(back.length, 10);
    assert.deepEqual(
      back.map((r) => r.value.ts),
      orders.map((_, i) => 1_700_000_000_000 + i),
    );
    for (const r of back) assert.equal(r.key, r.value.user_id);
  } finally {
    await sdk.close();
  }
});
