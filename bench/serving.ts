import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { shopViews } from '../examples/shop/views.ts';
import { buildLinearModel } from '../services/core/onnx/index.ts';
import { defineFeatureView } from '../services/features/definition.ts';
import { createFeaturesService } from '../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../services/platform/clickhouse.ts';
import { loadConfig } from '../services/platform/config.ts';
import { createHttpServer } from '../services/platform/http.ts';
import { createKafka } from '../services/platform/kafka.ts';
import { createLogger } from '../services/platform/logger.ts';
import { MetricsRegistry } from '../services/platform/metrics.ts';
import { createRedis } from '../services/platform/redis.ts';
import { createRegistryCodec } from '../services/platform/registry-codec.ts';
import { createStack } from '../services/platform/stack/stack.ts';
import { createModelRegistry } from '../services/registry/registry.ts';
import { registerServingRoutes } from '../services/serving/routes.ts';
import { createServingService } from '../services/serving/service.ts';
import { scratchDir } from '../test/support/scratch.ts';
import { createShopTopic, generateOrders, produceOrders } from '../test/support/shop-events.ts';
import { intFlag } from './support/args.ts';
import { deletePrefix } from './support/redis-cleanup.ts';
import { medians, progress, round } from './support/stats.ts';

/**
 * Serving under load, driven by wrk (8 connections, 2 threads; wrk shares the machine's cores):
 * - features: POST /v1/features for 1 entity × 50 features (the three shop views' 45 + a 5-feature view
 *   added here), one Redis round trip of 4 HMGETs that merge the covering tiles;
 * - predict: POST /v1/predict/<model> for 1 entity (a 10-input logistic model), with prediction logging
 *   to Kafka and ClickHouse running in the same process;
 * - baseline: a bare node:http server answering one HMGET of 50 precomputed fields as JSON — the floor.
 * Flags: --runs N (default 3; medians reported, every run kept), --seconds N per scenario (default 10).
 */
const logger = createLogger({ component: 'bench' }, 'warn');
const INPUTS = [
  'user_spend.amount_sum_1h',
  'user_spend.amount_mean_1h',
  'user_spend.amount_max_1d',
  'user_spend.amount_stddev_1d',
  'user_activity.orders_1h',
  'user_activity.merchants_1d',
  'user_activity.amount_min_1d',
  'user_risk.countries_1d',
  'user_risk.order_count_10m',
  'user_bench.amount_last_1h',
];

interface Scenario {
  rps: number;
  p50_ms: number;
  p99_ms: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1_000 };

/** Parses wrk's `--latency` report: Requests/sec and the 50%/99% lines of the latency distribution. */
export function parseWrk(out: string): Scenario {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`wrk output has no ${p}% line:\n${out}`);
    return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  };
  if (!rps) throw new Error(`wrk output has no Requests/sec:\n${out}`);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  if (errors) throw new Error(`${errors[1]} requests failed:\n${out}`);
  return { rps: Math.round(Number(rps[1])), p50_ms: round(pct('50')), p99_ms: round(pct('99')) };
}

function wrk(url: string, body: string, seconds: number): Promise<Scenario> {
  const dir = scratchDir('flywheel-wrk');
  const script = join(dir, 'post.lua');
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  // Asynchronous on purpose: the servers under test run in this process's event loop.
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t2', '-c8', `-d${seconds}s`, '--latency', '-s', script, url]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`wrk exited ${code}: ${out}`));
      else {
        try {
          resolve(parseWrk(out));
        } catch (err) {
          reject(err);
        }
      }
    });
  });
}

const extraView = (topic: string) =>
  defineFeatureView({
    name: 'user_bench',
    version: 1,
    source: { topic, keyField: 'user_id', timestampField: 'ts' },
    entity: 'user_id',
    aggregations: [
      { name: 'amount_last', kind: 'last', field: 'amount', windows: ['10m', '1h', '1d'] },
      { name: 'amount_floor', kind: 'min', field: 'amount', windows: ['10m', '1h'] },
    ],
  });

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const runs = intFlag(args, 'runs', 3);
  const seconds = intFlag(args, 'seconds', 10);
  const tag = Date.now().toString(36);
  const prefix = `fwb-serving-${tag}:`;
  const config = loadConfig(process.env, {
    redis: { keyPrefix: prefix },
    clickhouse: { dataDir: scratchDir('flywheel-bench-chdb') },
  });
  await createStack(config, logger).up();
  const topic = `bench.serving-${tag}`;
  const views = [...shopViews(topic), extraView(topic)];
  const kafka = createKafka(config, logger, 'bench-serving');
  const codec = createRegistryCodec(config.registry.url);
  const clickhouse = await createClickHouse(config);
  const redis = createRedis(config.redis.url);
  const servingRedis = createRedis(config.redis.url, { failFast: true });

  progress('writing tiles: 2,000 orders for 20 users through the features service');
  const orders = generateOrders({
    count: 2_000,
    users: 20,
    start: Date.now() - 55 * 60_000,
    spanMs: 50 * 60_000,
    jitterMs: 0,
    lateFraction: 0,
    lateByMs: 0,
    seed: 5,
  });
  await createShopTopic(kafka, topic, 2);
  await produceOrders(kafka, codec, topic, orders, 2);
  const metrics = new MetricsRegistry();
  const features = createFeaturesService({ config, logger, metrics, kafka, redis, clickhouse, codec, views });
  await features.start();
  for (;;) {
    const done = Object.values(await features.checkpoints(topic)).reduce((s, c) => s + c.accepted, 0);
    if (done >= orders.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await features.stop();

  const registry = createModelRegistry({
    clickhouse,
    db: config.clickhouse.database,
    artifactsDir: scratchDir('flywheel-bench-artifacts'),
  });
  await registry.migrate();
  const model = `bench-${tag}`;
  const weights = INPUTS.map((_, i) => (i % 2 ? -1e-4 : 1e-4));
  const v = await registry.register(model, buildLinearModel({ weights, bias: 0 }), { features: INPUTS });
  await registry.setAlias(model, 'champion', v.version, 'bench');

  const service = createServingService({
    config,
    logger,
    metrics,
    redis: servingRedis,
    clickhouse,
    kafka,
    codec,
    views,
    registry,
  });
  await service.start();
  const http = createHttpServer({ name: 'serving', logger, metrics, maxBodyBytes: 1 << 20 });
  registerServingRoutes(http, service);
  const port = await http.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const check = await (
    await fetch(`${base}/v1/features`, { method: 'POST', body: JSON.stringify({ entities: ['u1'] }) })
  ).json();
  const count = (
    check as { entities: Array<{ views: Array<{ features: object }> }> }
  ).entities[0]!.views.reduce((n, view) => n + Object.keys(view.features).length, 0);
  progress(`serving on ${base}: ${count} features per entity`);

  // The floor: one HMGET of 50 precomputed fields, answered as a JSON object.
  const baselineKey = `${prefix}baseline:u1`;
  const fields = Array.from({ length: count }, (_, i) => `f${i}`);
  await redis.hset(baselineKey, Object.fromEntries(fields.map((f, i) => [f, String(i * 1.25)])));
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      servingRedis.hmget(baselineKey, ...fields).then((values) => {
        const body = JSON.stringify(Object.fromEntries(fields.map((f, i) => [f, Number(values[i])])));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/`;

  const scenarios = {
    features: () => wrk(`${base}/v1/features`, JSON.stringify({ entities: ['u1'] }), seconds),
    predict: () => wrk(`${base}/v1/predict/${model}`, JSON.stringify({ entity: 'u1' }), seconds),
    baseline: () => wrk(bareUrl, JSON.stringify({ entities: ['u1'] }), seconds),
  };
  for (const go of Object.values(scenarios)) await go(); // warm-up: JIT, connections, sessions
  const results: Array<Record<string, Scenario>> = [];
  try {
    for (let i = 0; i < runs; i++) {
      const r: Record<string, Scenario> = {};
      for (const [name, go] of Object.entries(scenarios)) {
        r[name] = await go();
        progress(`run ${i + 1}/${runs} ${name}: ${JSON.stringify(r[name])}`);
      }
      results.push(r);
    }
  } finally {
    await new Promise((r) => bare.close(r));
    await http.close();
    await service.stop();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    servingRedis.disconnect();
    await closeEmbeddedClickHouse();
  }
  const median = (name: string) =>
    medians(results.map((r) => r[name]!) as unknown as Record<string, number>[]);
  const features50 = median('features');
  const baseline = median('baseline');
  const dropped = metrics.counter('flywheel_serving_predictions_dropped_total', '');
  return {
    features_per_entity: count,
    seconds_per_scenario: seconds,
    features: features50,
    predict: median('predict'),
    baseline,
    features_vs_baseline: round(features50.rps! / baseline.rps!, 2),
    predictions_dropped: dropped.get({ reason: 'queue_full' }),
    runs: results,
  };
}
