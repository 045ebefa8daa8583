/**
 * The monitor module on the real stack: Avro predictions on `predictions.<model>` and late labels on the
 * outcomes topic (real Kafka and schema registry), the reference in ClickHouse, the controller's state
 * in Redis. Drift that hurts → exactly one `ml.retrain` naming the two drifted inputs, every window and
 * decision in ClickHouse; a restarted monitor re-reads both topics and emits nothing twice.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import { MonitorSettingsSchema } from '../../services/monitor/config.ts';
import {
  createMonitorService,
  createMonitorStore,
  DRIFT_TOPIC,
  type MonitorService,
  RETRAIN_TOPIC,
  registerMonitorRoutes,
} from '../../services/monitor/index.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { createHttpServer } from '../../services/platform/http.ts';
import { createConsumer, createKafka, createProducer, ensureTopics } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { eventually, quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import {
  type Bend,
  buildReference,
  FEATURES,
  makeRow,
  worldModelDefinition,
} from '../support/monitor-world.ts';
import { createRng } from '../support/prng.ts';
import { SHOP_SCHEMA_FILES, shopSources } from '../support/shop-sources.ts';

const config = testConfig({ redis: { keyPrefix: `${uniqueName('fwt-monitor')}:` } });
const logger = quietLogger();
const model = uniqueName('world').replace(/-/g, '_');
const outcomesTopic = uniqueName('it.monitor.outcomes');
const sources = shopSources({ shop: uniqueName('it.monitor.orders'), outcomes: outcomesTopic });
const WINDOW_MS = 60_000;
const ROWS_PER_WINDOW = 2_000;
const WINDOWS = 12;
const DRIFT_FROM = 5;
const LABEL_AFTER_MS = 45_000;
const definition = worldModelDefinition(
  model,
  { window: '1m', lateness: '1s', hysteresis: 2, minLabels: 500, minMetricRows: 200, cooldown: '1h' },
  '2m',
);
const settings = MonitorSettingsSchema.parse({ wallClock: false, tickMs: 100, minWindowRows: 100 });

let kafka: Kafka;
let producer: Producer;
const redis = createRedis(config.redis.url);
const codec = createRegistryCodec(config.registry.url);

function monitor(): MonitorService {
  return createMonitorService({
    config,
    logger,
    metrics: new MetricsRegistry(),
    kafka,
    codec,
    clickhouse: clickhouse!,
    redis,
    models: [definition],
    sources,
    settings,
  });
}

let clickhouse: Awaited<ReturnType<typeof createClickHouse>> | undefined;

before(async () => {
  await useStack(config);
  kafka = createKafka(config, logger, 'it-monitor');
  producer = createProducer(kafka);
  await producer.connect();
  clickhouse = await createClickHouse(config);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [
    { topic: `predictions.${model}`, partitions: 2 },
    { topic: outcomesTopic, partitions: 1 },
    { topic: DRIFT_TOPIC, partitions: 1 },
    { topic: RETRAIN_TOPIC, partitions: 1 },
  ]);
  await admin.disconnect();
});

after(async () => {
  await producer?.disconnect();
  redis.disconnect();
  await closeEmbeddedClickHouse();
});

/** Every message on a topic keyed by this test's model, read from the beginning by a group of its own. */
async function messagesFor(
  topic: string,
  mine: (key: string | undefined) => boolean = (key) => key === model,
): Promise<Array<Record<string, unknown>>> {
  const admin = kafka.admin();
  await admin.connect();
  const high = (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
  await admin.disconnect();
  const consumer = createConsumer(kafka, uniqueName('it-monitor-read'));
  const out: Array<Record<string, unknown>> = [];
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen++;
      if (mine(message.key?.toString())) out.push(await codec.decode(message.value!));
    },
  });
  await eventually(async () => (seen >= high ? true : undefined), 30_000, `${topic} read to its end`);
  await consumer.disconnect();
  return out;
}

test('drift that hurts → one ml.retrain naming the two drifted inputs; a restart emits nothing twice', async () => {
  const reference = buildReference(1, 50_000, model);
  const store = createMonitorStore(clickhouse!, config.clickhouse.database);
  await store.migrate();
  await store.saveReference(reference);

  const predictionSchema = await codec.register(
    `predictions.${model}`,
    loadSchemaForTopic('predictions.model'),
  );
  const encodePrediction = await codec.encoderFor(predictionSchema.id);
  const outcomeSchema = await codec.register(
    outcomesTopic,
    JSON.parse(readFileSync(SHOP_SCHEMA_FILES.outcome, 'utf8')),
  );
  const encodeOutcome = await codec.encoderFor(outcomeSchema.id);

  /** One logged prediction as serving writes it; `fields` replace the defaults. */
  const predictionValue = (requestId: string, fields: Record<string, unknown>) =>
    encodePrediction({
      request_id: requestId,
      model,
      model_version: 1,
      entity_key: 'u1',
      features: {},
      feature_freshness_ms: {},
      output: [0.5],
      label: null,
      predicted_at: 0,
      latency_micros: 100,
      ...fields,
    });

  const service = monitor();
  await service.start();
  const rng = createRng(9);
  const t0 = Math.floor((Date.now() - 3_600_000) / WINDOW_MS) * WINDOW_MS;
  const bend: Bend = {
    from: DRIFT_FROM,
    shift: { 'v.f05': 0.25 },
    shares: { 'v.c1': [0.16, 0.28, 0.28, 0.28] },
    flip: { feature: 'v.c1', code: 0 },
  };
  const pending: Array<{ at: number; value: Buffer; key: string }> = [];
  let produced = 0;
  // Window by window: the window's predictions, then the labels whose time has come.
  for (let w = 0; w < WINDOWS; w++) {
    const messages = [];
    for (let r = 0; r < ROWS_PER_WINDOW; r++) {
      const at = t0 + w * WINDOW_MS + Math.floor((r * WINDOW_MS) / ROWS_PER_WINDOW);
      const row = makeRow(rng, w >= DRIFT_FROM ? bend : undefined);
      const requestId = `${w}-${r}`;
      const entity = `u${r % 500}`;
      messages.push({
        key: entity,
        value: predictionValue(requestId, {
          entity_key: entity,
          features: row.features,
          output: [row.p],
          predicted_at: at,
        }),
      });
      pending.push({
        at: at + LABEL_AFTER_MS,
        key: entity,
        value: encodeOutcome({
          event_id: requestId,
          user_id: entity,
          is_fraud: row.y === 1,
          ts: at + LABEL_AFTER_MS,
          reported_at: Date.now(),
        }),
      });
    }
    await producer.send({ topic: `predictions.${model}`, messages, acks: -1 });
    produced += messages.length;
    await eventually(
      async () =>
        ((service.status()[model] as { counters?: { predictions: number } }).counters?.predictions ?? 0) >=
          produced || undefined,
      30_000,
      'predictions read',
    );
    const due = t0 + (w + 1) * WINDOW_MS;
    const labels = pending.splice(
      0,
      pending.findIndex((p) => p.at > due) === -1 ? pending.length : pending.findIndex((p) => p.at > due),
    );
    if (labels.length)
      await producer.send({
        topic: outcomesTopic,
        messages: labels.map(({ key, value }) => ({ key, value })),
        acks: -1,
      });
  }
  await producer.send({
    topic: outcomesTopic,
    messages: pending.map(({ key, value }) => ({ key, value })),
    acks: -1,
  });

  const retrains = await eventually(
    async () => {
      const found = await messagesFor(RETRAIN_TOPIC);
      return found.length > 0 ? found : undefined;
    },
    60_000,
    'a retrain request',
  );
  assert.equal(retrains.length, 1);
  const request = retrains[0]!;
  assert.equal(request.reason, 'drift');
  assert.equal(request.requested_by, 'retrain-controller');
  assert.deepEqual((request.evidence as Array<{ feature: string }>).map((e) => e.feature).sort(), [
    'v.c1',
    'v.f05',
  ]);
  const details = JSON.parse(request.details as string) as { windows: Array<{ harmed: boolean }> };
  assert.ok(
    details.windows.some((w) => w.harmed),
    'the evidence shows the harm',
  );

  // Analysts' tables: every closed window, its tests, the decisions.
  const report = await store.report(model, 50);
  assert.ok(report.windows.length >= WINDOWS - 2, `${report.windows.length} windows`);
  const drifted = report.windows.filter((w) => (w.drifted_features as string[]).length > 0);
  for (const w of drifted) assert.deepEqual([...(w.drifted_features as string[])].sort(), ['v.c1', 'v.f05']);
  assert.ok(drifted.length >= WINDOWS - DRIFT_FROM - 2, `${drifted.length} drifted windows`);
  assert.equal(report.features.length, FEATURES.length + 1, 'every input and the prediction tested');
  assert.ok(report.decisions.some((d) => d.action === 'retrain' && d.reason === 'drift'));
  const driftReports = await messagesFor(DRIFT_TOPIC);
  assert.equal(
    driftReports.length,
    report.windows.filter((w) => w.tested === 1).length * (FEATURES.length + 1),
  );

  // Restart: the new monitor re-reads both topics from the start of what it may still need.
  await service.stop();
  const again = monitor();
  await again.start();
  await eventually(
    async () =>
      ((again.status()[model] as { counters?: { predictions: number } }).counters?.predictions ?? 0) >=
        produced || undefined,
    60_000,
    'the replay read every prediction',
  );
  await new Promise((r) => setTimeout(r, 1_000));

  // Hostile records on the prediction log: each goes to the dead-letter topic with its reason, and
  // none moves the watermark or stops the monitor.
  const hostile = (requestId: string, patch: Record<string, unknown>) =>
    predictionValue(requestId, { predicted_at: t0 + WINDOWS * WINDOW_MS, ...patch });
  await producer.send({
    topic: `predictions.${model}`,
    acks: -1,
    messages: [
      { key: 'u1', value: hostile('not-a-probability', { output: [1.7] }) },
      { key: 'u1', value: hostile('far-future', { predicted_at: Date.now() + 86_400_000 }) },
      { key: 'u1', value: Buffer.from('not avro at all') },
    ],
  });
  const letters = await eventually(
    async () => {
      const found = await messagesFor(`predictions.${model}.dlq`, () => true);
      return found.length >= 3 ? found : undefined;
    },
    30_000,
    'three dead letters',
  );
  assert.deepEqual(letters.map((l) => l.error_code).sort(), [
    'FW_DECODE_FAILED',
    'FW_EVENT_INVALID',
    'FW_EVENT_TIME_OUT_OF_BOUNDS',
  ]);
  assert.match(
    letters.find((l) => l.error_code === 'FW_EVENT_INVALID')!.error_message as string,
    /probability in \[0, 1\]/,
  );
  const status = again.status()[model] as { watermark: number; openWindows: number };
  assert.ok(status.watermark < Date.now(), 'the far-future prediction did not move the watermark');

  // A record on the outcomes topic that is not Avro is dead-lettered too.
  await producer.send({
    topic: outcomesTopic,
    acks: -1,
    messages: [{ key: 'u1', value: Buffer.from('{"is_fraud":true}') }],
  });
  const outcomeLetters = await eventually(
    async () => {
      const found = await messagesFor(`${outcomesTopic}.dlq`, () => true);
      return found.length >= 1 ? found : undefined;
    },
    30_000,
    'a dead letter for the outcome',
  );
  assert.equal(outcomeLetters[0]!.error_code, 'FW_DECODE_FAILED');

  // The report over real HTTP: the model's, and 404 for any other name, however it is spelt.
  const http = createHttpServer({
    name: 'monitor',
    logger,
    metrics: new MetricsRegistry(),
    maxBodyBytes: 1024,
    ready: () => true,
  });
  registerMonitorRoutes(http, again);
  const port = await http.listen(0, '127.0.0.1');
  try {
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const ok = await get(`/v1/monitor/${model}/report`);
    assert.equal(ok.status, 200);
    assert.ok((ok.body.windows as unknown[]).length >= WINDOWS - 2);
    assert.equal((await get('/v1/monitor/status')).status, 200);
    for (const name of [
      'nosuch',
      encodeURIComponent("x' OR 1=1 --"),
      '%00',
      'a'.repeat(8_000),
      encodeURIComponent('../../etc/passwd'),
    ]) {
      const res = await get(`/v1/monitor/${name}/report`);
      assert.equal(res.status, 404, `${name.slice(0, 40)} → ${res.status}`);
      assert.equal((res.body.error as { code: string }).code, 'FW_NOT_FOUND');
    }
  } finally {
    await http.close();
  }
  await again.stop();
  assert.equal((await messagesFor(RETRAIN_TOPIC)).length, 1, 'no second retrain request after the replay');
  assert.equal((await messagesFor(DRIFT_TOPIC)).length, driftReports.length, 'no drift report twice');
});
