import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { shopViews } from '../../examples/shop/views.ts';
import type { AggregationOutput } from '../../services/core/aggregation/index.ts';
import { buildLinearModel, evaluateLinear } from '../../services/core/onnx/index.ts';
import type { CompiledView } from '../../services/features/definition.ts';
import { createFeaturesService, type FeaturesService } from '../../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import type { ResolvedConfig } from '../../services/platform/config.ts';
import { createHttpServer, type HttpServer } from '../../services/platform/http.ts';
import { createConsumer, createKafka, subscribeWithRetry } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { createModelRegistry, type ModelRegistry } from '../../services/registry/registry.ts';
import { registerServingRoutes } from '../../services/serving/routes.ts';
import { createServingService, type ServingService } from '../../services/serving/service.ts';
import { waitUntilCovered } from '../support/checkpoints.ts';
import { eventually, quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { freePort } from '../support/ports.ts';
import { acceptedByWatermark, assertViewMatchesReference } from '../support/reference-features.ts';
import { scratchDir } from '../support/scratch.ts';
import { createShopTopic, generateOrders, produceOrders, type ShopOrder } from '../support/shop-events.ts';

const prefix = `${uniqueName('fwt-serving')}:`;
const config = testConfig({ redis: { keyPrefix: prefix }, http: { maxBodyBytes: 64 * 1024 } });
const logger = quietLogger();
const topic = uniqueName('it.serving.shop');
const views = shopViews(topic);
const model = uniqueName('fraud');
const INPUTS = [
  'user_spend.amount_sum_1h',
  'user_activity.orders_1h',
  'user_risk.order_count_1d',
  'user_spend.amount_max_1d',
];
const SPEC = { weights: [2e-4, 0.3, -0.05, 1e-4], bias: -1.5, featureNames: INPUTS };
const PARTITIONS = 2;
const LATENESS_MS = 5 * 60_000; // shopViews' default allowed lateness

/** The events the test produced that the watermark rule accepts, by user: the reference's input. */
const accepted = new Map<string, ShopOrder[]>();

interface Instance {
  service: ServingService;
  http: HttpServer;
  url: string;
  close(): Promise<void>;
}

let features: FeaturesService;
let registry: ModelRegistry;
let main: Instance;
const redis = createRedis(config.redis.url);

async function runInstance(cfg: Readonly<ResolvedConfig>, opts: { start?: boolean } = {}): Promise<Instance> {
  const metrics = new MetricsRegistry();
  const instanceRedis = createRedis(cfg.redis.url, { failFast: true });
  const service = createServingService({
    config: cfg,
    logger,
    metrics,
    redis: instanceRedis,
    clickhouse: await createClickHouse(cfg),
    kafka: createKafka(cfg, logger, 'it-serving'),
    codec: createRegistryCodec(cfg.registry.url),
    views,
    registry,
    featureServices: { fraud: ['user_spend', 'user_risk'] },
    limits: { maxEntities: 10 },
    predictionLog: { flushMs: 50 },
    modelRefreshMs: 200,
  });
  const http = createHttpServer({
    name: 'serving',
    logger,
    metrics,
    maxBodyBytes: cfg.http.maxBodyBytes,
    ready: service.ready,
  });
  registerServingRoutes(http, service);
  const port = await http.listen(0, '127.0.0.1');
  if (opts.start !== false) await service.start();
  return {
    service,
    http,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await http.close();
      await service.stop();
      instanceRedis.disconnect();
    },
  };
}

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });

before(async () => {
  await useStack(config);
  const kafka = createKafka(config, logger, 'it-serving-setup');
  const codec = createRegistryCodec(config.registry.url);
  const clickhouse = await createClickHouse(config);
  registry = createModelRegistry({
    clickhouse,
    db: config.clickhouse.database,
    artifactsDir: scratchDir('flywheel-artifacts'),
  });
  const orders = generateOrders({
    count: 1_000,
    users: 40,
    start: Date.now() - 50 * 60_000,
    spanMs: 45 * 60_000,
    jitterMs: 0,
    lateFraction: 0,
    lateByMs: 0,
    seed: 21,
  });
  await createShopTopic(kafka, topic, PARTITIONS);
  await produceOrders(kafka, codec, topic, orders, PARTITIONS);
  const reference = acceptedByWatermark(orders, PARTITIONS, LATENESS_MS).accepted;
  for (const o of reference) (accepted.get(o.user_id) ?? accepted.set(o.user_id, []).get(o.user_id)!).push(o);
  features = createFeaturesService({
    config,
    logger,
    metrics: new MetricsRegistry(),
    kafka,
    redis,
    clickhouse,
    codec,
    views,
  });
  await features.start();
  await waitUntilCovered({
    offsets: kafka,
    topic,
    checkpoints: () => features.checkpoints(topic),
    timeoutMs: 120_000,
    what: 'orders folded into tiles',
  });
  const folded = Object.values(await features.checkpoints(topic)).reduce((s, c) => s + c.accepted, 0);
  assert.equal(folded, reference.length, 'the processor accepted what the watermark rule accepts');
  main = await runInstance(config);
});

after(async () => {
  await main?.close();
  await features?.stop();
  redis.disconnect();
  await closeEmbeddedClickHouse();
});

/**
 * Serving reads as of its own clock (Date.now() per request). Freshness is asOf − the entity's newest
 * event time, and the test knows that time (it produced the events), so a served freshness gives the
 * asOf serving used; it must lie within the request, and every value is then checked at exactly it.
 */
function servedAsOf(entity: string, freshnessMs: number | null, t0: number, t1: number): number {
  const events = accepted.get(entity);
  assert.ok(events?.length, `${entity} ordered something`);
  assert.equal(typeof freshnessMs, 'number', `${entity}: a freshness`);
  const asOf = freshnessMs! + Math.max(...events.map((e) => e.ts));
  assert.ok(asOf >= t0 && asOf <= t1, `${entity}: asOf ${asOf} within the request [${t0}, ${t1}]`);
  return asOf;
}

/** The reference's view of one entity as of `asOf`: status, freshness and every feature (reference-features.ts). */
function assertServedView(
  where: string,
  view: CompiledView,
  served: {
    view: string;
    status: string;
    freshness_ms: number | null;
    features: Record<string, AggregationOutput | null>;
  },
  events: readonly ShopOrder[],
  asOf: number,
): void {
  assert.equal(served.view, view.id, where);
  assert.deepEqual(
    Object.keys(served.features).sort(),
    view.features.map((f) => f.name).sort(),
    `${where}: every feature of the view`,
  );
  const seen = events.filter((e) => e.ts < asOf + view.tileMs);
  if (seen.length === 0) {
    assert.equal(served.status, 'missing', where);
    assert.equal(served.freshness_ms, null, where);
    assert.deepEqual(served.features, Object.fromEntries(view.features.map((f) => [f.name, null])), where);
    return;
  }
  assert.equal(served.status, 'ok', where);
  const newest = Math.max(...seen.map((e) => e.ts));
  assert.equal(served.freshness_ms, asOf - newest, `${where}: freshness = asOf − newest event time`);
  const compared = assertViewMatchesReference(where, view, served.features, events, asOf);
  assert.equal(compared, view.features.length, where);
}

test('POST /v1/features answers the reference fold over the produced events, per entity and view', async () => {
  const entities = ['u1', 'u7', 'nobody'];
  assert.ok(accepted.get('u7')?.length, 'u7 ordered something');
  assert.equal(accepted.get('nobody'), undefined);
  const wanted = [views.find((v) => v.name === 'user_spend')!, views.find((v) => v.name === 'user_risk')!];
  const t0 = Date.now();
  const res = await post(main.url, '/v1/features', { entities, views: ['user_spend', 'user_risk:v1'] });
  const t1 = Date.now();
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    request_id: string;
    entities: Array<{
      entity: string;
      views: Array<{
        view: string;
        status: string;
        freshness_ms: number | null;
        features: Record<string, AggregationOutput | null>;
      }>;
    }>;
  };
  assert.ok(body.request_id);
  assert.deepEqual(
    body.entities.map((e) => e.entity),
    entities,
    'one answer per entity, in request order',
  );
  const asOf = servedAsOf('u1', body.entities[0]?.views[0]?.freshness_ms ?? null, t0, t1);
  for (const e of body.entities) {
    assert.equal(e.views.length, wanted.length, e.entity);
    for (const [i, view] of wanted.entries())
      assertServedView(`${e.entity} ${view.id}`, view, e.views[i]!, accepted.get(e.entity) ?? [], asOf);
  }
  const all = (await (await post(main.url, '/v1/features', { entities: ['u1'] })).json()) as {
    entities: Array<{ views: unknown[] }>;
  };
  assert.equal(all.entities[0]!.views.length, 3, 'all views by default');
  const fs = (await (
    await post(main.url, '/v1/features', { entities: ['u1'], featureService: 'fraud' })
  ).json()) as {
    entities: Array<{ views: Array<{ view: string }> }>;
  };
  assert.deepEqual(
    fs.entities[0]!.views.map((v) => v.view),
    ['user_spend:v1', 'user_risk:v1'],
  );
});

test('POST /v1/predict/:model: champion ONNX over online features = sigmoid(x·w+b); logged to ClickHouse and Kafka', async () => {
  const v1 = await registry.register(model, buildLinearModel(SPEC), {
    features: INPUTS,
    metrics: { auc: 0.8 },
  });
  await registry.setAlias(model, 'champion', v1.version, 'first model');
  const t0 = Date.now();
  const res = await fetch(`${main.url}/v1/predict/${model}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'it-req-1' },
    body: JSON.stringify({ entities: ['u1', 'u2', 'nobody'] }),
  });
  const t1 = Date.now();
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    model: string;
    version: number;
    request_id: string;
    predictions: Array<{
      entity: string;
      probability: number;
      features: Record<string, number | null>;
      missing: string[];
      freshness_ms: Record<string, number | null>;
    }>;
  };
  assert.equal(body.model, model);
  // The model's inputs are the reference's values as of the read (`view.feature` names).
  const asOf = servedAsOf('u1', body.predictions[0]?.freshness_ms['user_spend:v1'] ?? null, t0, t1);
  let compared = 0;
  for (const p of body.predictions.slice(0, 2)) {
    for (const view of views) {
      // The view reduced to the model's inputs from it, served under their `view.feature` names.
      const used = view.features.filter((f) => INPUTS.includes(`${view.name}.${f.name}`));
      const served = Object.fromEntries(
        used.map((f) => [f.name, p.features[`${view.name}.${f.name}`] ?? null]),
      );
      const where = `${p.entity} ${view.name}`;
      const events = accepted.get(p.entity)!;
      compared += assertViewMatchesReference(where, { ...view, features: used }, served, events, asOf);
    }
  }
  assert.equal(compared, 2 * INPUTS.length, 'u1 and u2 compared on every input');
  assert.equal(body.version, 1);
  assert.equal(body.request_id, 'it-req-1');
  for (const p of body.predictions) {
    const row = INPUTS.map((name) => p.features[name] ?? 0);
    const expected = evaluateLinear(SPEC, row);
    assert.ok(Math.abs(p.probability - expected) <= 1e-6, `${p.entity}: ${p.probability} vs ${expected}`);
  }
  assert.deepEqual(body.predictions[0]!.missing, []);
  assert.ok((body.predictions[0]!.features['user_spend.amount_sum_1h'] ?? 0) > 0);
  assert.deepEqual(body.predictions[2]!.missing, INPUTS, 'an unseen entity is imputed with zeros');
  assert.ok(Math.abs(body.predictions[2]!.probability - 1 / (1 + Math.exp(1.5))) <= 1e-6);

  const single = await post(main.url, `/v1/predict/${model}`, { entity: 'u1' });
  assert.equal(((await single.json()) as { predictions: unknown[] }).predictions.length, 1);

  const clickhouse = await createClickHouse(config);
  const rows = await eventually(
    async () => {
      const rs = await clickhouse.query({
        query: `SELECT entity_key, model_version, output, features, latency_micros FROM ${config.clickhouse.database}.predictions FINAL
              WHERE request_id = 'it-req-1' ORDER BY entity_key`,
        format: 'JSONEachRow',
      });
      const r = await rs.json<{
        entity_key: string;
        model_version: number;
        output: number[];
        features: Record<string, number | null>;
      }>();
      return r.length === 3 ? r : undefined;
    },
    10_000,
    'predictions in ClickHouse',
  );
  const u1 = rows.find((r) => r.entity_key === 'u1')!;
  assert.equal(u1.model_version, 1);
  assert.ok(Math.abs(u1.output[0]! - body.predictions[0]!.probability) < 1e-6);
  assert.equal(rows.find((r) => r.entity_key === 'nobody')!.features['user_spend.amount_sum_1h'], null);

  const kafka = createKafka(config, logger, 'it-serving-reader');
  const codec = createRegistryCodec(config.registry.url);
  const consumer = createConsumer(kafka, uniqueName('it-serving-group'));
  const seen: Array<Record<string, unknown>> = [];
  await consumer.connect();
  await subscribeWithRetry(consumer, { topics: [`predictions.${model}`], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => void seen.push({ ...(await codec.decode(message.value!)) }),
  });
  await eventually(
    async () => (seen.filter((s) => s.request_id === 'it-req-1').length === 3 ? true : undefined),
    20_000,
    'predictions on Kafka',
  );
  await consumer.disconnect();
  const record = seen.find((s) => s.request_id === 'it-req-1' && s.entity_key === 'u1')!;
  assert.equal(record.model, model);
  assert.equal(record.model_version, 1);
  assert.deepEqual({ ...(record.features as object) }, body.predictions[0]!.features);
  assert.ok(Math.abs((record.output as number[])[0]! - body.predictions[0]!.probability) < 1e-6);
  assert.ok(Number(record.latency_micros) > 0);
});

test('a new champion is hot-swapped without a restart', async () => {
  const spec2 = { ...SPEC, bias: 0.5 };
  const v2 = await registry.register(model, buildLinearModel(spec2), { features: INPUTS });
  assert.equal(v2.version, 2);
  assert.equal(
    (await registry.register(model, buildLinearModel(spec2), { features: INPUTS })).version,
    2,
    'same bytes, same version',
  );
  await registry.setAlias(model, 'champion', 2, 'better');
  const body = await eventually(
    async () => {
      const b = (await (await post(main.url, `/v1/predict/${model}`, { entity: 'nobody' })).json()) as {
        version: number;
        predictions: Array<{ probability: number }>;
      };
      return b.version === 2 ? b : undefined;
    },
    5_000,
    'version 2 served',
  );
  assert.ok(Math.abs(body.predictions[0]!.probability - 1 / (1 + Math.exp(-0.5))) <= 1e-6);
  assert.deepEqual(
    (await registry.list(model)).map((v) => [v.version, v.aliases]),
    [
      [1, []],
      [2, ['champion']],
    ],
  );
});

test('bad requests get the right codes', async () => {
  const cases: Array<[string, unknown, number, string]> = [
    ['/v1/features', '{"entities": [', 400, 'FW_BAD_REQUEST'],
    ['/v1/features', { entities: 'u1' }, 400, 'FW_BAD_REQUEST'],
    ['/v1/features', { entities: [1, 2] }, 400, 'FW_BAD_REQUEST'],
    ['/v1/features', { entities: ['u1'], views: ['no_such_view'] }, 404, 'FW_NOT_FOUND'],
    ['/v1/features', { entities: ['u1'], featureService: 'nope' }, 404, 'FW_NOT_FOUND'],
    ['/v1/features', { entities: Array.from({ length: 11 }, (_, i) => `u${i}`) }, 413, 'FW_BATCH_TOO_LARGE'],
    ['/v1/features', { entities: ['x'.repeat(70_000)] }, 413, 'FW_PAYLOAD_TOO_LARGE'],
    [`/v1/predict/${model}`, { entities: [] }, 400, 'FW_BAD_REQUEST'],
    [`/v1/predict/${model}`, 'null', 400, 'FW_BAD_REQUEST'],
    ['/v1/predict/no-such-model', { entity: 'u1' }, 404, 'FW_NOT_FOUND'],
    ['/v1/predict/bad%20name', { entity: 'u1' }, 404, 'FW_NOT_FOUND'],
    [
      `/v1/predict/${model}`,
      { entities: Array.from({ length: 11 }, (_, i) => `u${i}`) },
      413,
      'FW_BATCH_TOO_LARGE',
    ],
  ];
  for (const [path, body, status, code] of cases) {
    const res = await post(main.url, path, body);
    const json = (await res.json()) as { error: { code: string; details?: { reasons?: string[] } } };
    assert.equal(res.status, status, `${path} ${JSON.stringify(body).slice(0, 60)}`);
    assert.equal(json.error.code, code);
  }
  const res = await post(main.url, '/v1/features', { entities: [''], extra: true });
  const json = (await res.json()) as { error: { details: { reasons: string[] } } };
  assert.equal(json.error.details.reasons.length, 2, 'every reason is listed');
  const doc = (await (await fetch(`${main.url}/openapi.json`)).json()) as { openapi: string; paths: object };
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.paths), ['/v1/features', '/v1/predict/{model}']);
});

test('Redis down: 503 with Retry-After at once, and answers again once Redis is back', async () => {
  const dead = await runInstance(testConfigFor(await freePort()), { start: false });
  try {
    const t0 = performance.now();
    const res = await post(dead.url, '/v1/features', { entities: ['u1'] });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FW_REDIS_UNAVAILABLE');
    assert.ok(performance.now() - t0 < 1_000, 'no hang');
  } finally {
    await dead.close();
  }

  const port = await freePort();
  const startRedis = () =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
  let server: ChildProcess = startRedis();
  const own = await runInstance(testConfigFor(port), { start: false });
  try {
    await eventually(
      async () =>
        (await post(own.url, '/v1/features', { entities: ['u1'] })).status === 200 ? true : undefined,
      10_000,
      'own redis up',
    );
    server.kill('SIGKILL');
    await eventually(
      async () =>
        (await post(own.url, '/v1/features', { entities: ['u1'] })).status === 503 ? true : undefined,
      5_000,
      '503 after redis died',
    );
    server = startRedis();
    await eventually(
      async () =>
        (await post(own.url, '/v1/features', { entities: ['u1'] })).status === 200 ? true : undefined,
      10_000,
      'recovery',
    );
  } finally {
    await own.close();
    server.kill('SIGKILL');
  }
});

function testConfigFor(redisPort: number): Readonly<ResolvedConfig> {
  return { ...config, redis: { ...config.redis, url: `redis://127.0.0.1:${redisPort}` } };
}
