import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { shopViews } from '../../examples/shop/views.ts';
import { createConsistencyMonitor } from '../../services/consistency/monitor.ts';
import { buildLinearModel } from '../../services/core/onnx/index.ts';
import { createFeaturesService } from '../../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { createHttpServer } from '../../services/platform/http.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { createModelRegistry } from '../../services/registry/registry.ts';
import { registerServingRoutes } from '../../services/serving/routes.ts';
import { createServingService } from '../../services/serving/service.ts';
import { waitUntilCovered } from '../support/checkpoints.ts';
import { quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { createRng } from '../support/prng.ts';
import { scratchDir } from '../support/scratch.ts';
import { createShopTopic, generateOrders, partitionOf, shopOrderSchema } from '../support/shop-events.ts';

/**
 * Served = point-in-time, end to end. Serving reads the online store "as of now" (wall clock), so the
 * simulated clock IS the wall clock: each order gets ts = Date.now() when it is produced, orders go out
 * in small batches, and after each batch the test waits until the features checkpoint covers every
 * produced offset; only then it predicts (no order is produced while predicting). At that moment the
 * online store has folded exactly the events with event time ≤ now — the precondition under which the
 * served values equal the PIT values at predicted_at (docs/training-sets.md).
 */
const ROUNDS = 55;
const PER_REQUEST = 20;
const USERS = 40;
const PARTITIONS = 3;
const prefix = `${uniqueName('fwc')}:`;
const config = testConfig({ redis: { keyPrefix: prefix } });
const db = config.clickhouse.database;
const logger = quietLogger();
const INPUTS = [
  'user_spend.amount_sum_1h',
  'user_spend.amount_mean_10m',
  'user_activity.orders_1h',
  'user_risk.amount_variance_1d',
  'user_activity.amount_min_1d',
  'user_activity.merchants_1h', // approx_distinct: compared within its bound
];
const EXACT_INPUTS = 5;
const SPEC = { weights: [1e-4, 2e-4, 0.1, 1e-8, -1e-4, 0.05], bias: -1, featureNames: INPUTS };

before(async () => useStack(config));
after(async () => closeEmbeddedClickHouse());

test(`served feature values equal the point-in-time values for ${ROUNDS * PER_REQUEST} logged predictions`, async () => {
  const topic = uniqueName('it.consistency');
  const views = shopViews(topic);
  const model = uniqueName('cons');
  const kafka = createKafka(config, logger, 'it-consistency');
  const codec = createRegistryCodec(config.registry.url);
  const redis = createRedis(config.redis.url);
  const servingRedis = createRedis(config.redis.url, { failFast: true });
  const clickhouse = await createClickHouse(config);
  await createShopTopic(kafka, topic, PARTITIONS);
  const encode = await codec.encoderFor((await codec.register(topic, shopOrderSchema())).id);

  const features = createFeaturesService({
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
  const registry = createModelRegistry({
    clickhouse,
    db,
    artifactsDir: scratchDir('flywheel-artifacts'),
  });
  await registry.migrate();
  const v1 = await registry.register(model, buildLinearModel(SPEC), { features: INPUTS });
  await registry.setAlias(model, 'champion', v1.version, 'consistency test');
  const servingMetrics = new MetricsRegistry();
  const serving = createServingService({
    config,
    logger,
    metrics: servingMetrics,
    redis: servingRedis,
    clickhouse,
    kafka: createKafka(config, logger, 'it-consistency-serving'),
    codec,
    views,
    registry,
    limits: { maxEntities: PER_REQUEST },
    predictionLog: { flushMs: 100 },
  });
  const http = createHttpServer({
    name: 'serving',
    logger,
    metrics: servingMetrics,
    maxBodyBytes: 1 << 20,
    ready: serving.ready,
  });
  registerServingRoutes(http, serving);
  const url = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
  await serving.start();

  const producer = createProducer(kafka);
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();
  const rng = createRng(11);
  // Amounts etc. from the seeded generator (multiples of 0.25); users and times assigned here.
  const pool = generateOrders({
    count: ROUNDS * 30,
    users: USERS,
    start: 0,
    spanMs: 1,
    jitterMs: 0,
    lateFraction: 0,
    lateByMs: 0,
    seed: 41,
  });
  let produced = 0;
  let predicted = 0;
  const since = Date.now();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const n = rng.int(5, 30);
      const batch = pool.slice(produced, produced + n);
      produced += batch.length;
      let last = 0;
      const messages = batch.map((o) => {
        last = Math.max(last, Date.now());
        const order = { ...o, event_id: `${o.event_id}-${round}`, ts: last };
        return {
          key: order.user_id,
          value: encode(order),
          partition: partitionOf(order.user_id, PARTITIONS),
        };
      });
      await producer.send({ topic, acks: -1, messages });
      await waitUntilCovered({
        offsets: admin,
        topic,
        checkpoints: () => features.checkpoints(topic),
        what: 'the checkpoint to cover the batch',
      });
      // Some never-seen entities (u40..u44) so that 'missing' views are exercised too.
      // Distinct per request: the log's key (model, entity, predicted_at, request_id) would collapse repeats.
      const ids = Array.from({ length: USERS + 5 }, (_, i) => `u${i}`);
      for (let i = ids.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      }
      const entities = ids.slice(0, PER_REQUEST);
      const res = await fetch(`${url}/v1/predict/${model}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `cons-${round}` },
        body: JSON.stringify({ entities }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      predicted += ((await res.json()) as { predictions: unknown[] }).predictions.length;
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
    await http.close();
    await serving.stop(); // drains the prediction log
    await features.stop(); // drains the ClickHouse event writes
  }
  assert.equal(predicted, ROUNDS * PER_REQUEST);
  const [logged] = await (
    await clickhouse.query({
      query: `SELECT count() AS n FROM ${db}.predictions FINAL WHERE model = {m:String}`,
      query_params: { m: model },
      format: 'JSONEachRow',
    })
  ).json<{ n: string }>();
  assert.equal(Number(logged!.n), predicted, 'every prediction is logged');

  const metrics = new MetricsRegistry();
  const monitor = createConsistencyMonitor({ clickhouse, db, views, metrics, logger });
  const report = await monitor.runOnce({ sample: 1_000, model, sinceMs: since });
  process.stderr.write(
    `consistency: sampled ${report.sampled}, compared ${report.compared} (exact ${report.exact.compared}, approx ${report.approx.compared}), skipped ${report.skipped}, mismatches ${report.mismatches}\n`,
  );
  assert.equal(report.sampled, 1_000);
  assert.deepEqual(report.examples, [], 'no mismatch examples');
  assert.equal(report.exact.mismatches, 0, 'zero mismatches for exact aggregations');
  assert.equal(report.mismatches, 0, 'the approximate input agrees too (within its bound)');
  assert.ok(report.skipped > 0, 'some sampled entities were never seen (missing views, imputed)');
  const missingInputs = report.skipped; // served null where the view is missing: not compared
  assert.ok(
    report.exact.compared + missingInputs >= 1_000 * EXACT_INPUTS,
    `${report.exact.compared} exact values compared`,
  );
  assert.equal(report.exact.compared + report.approx.compared, report.compared);
  const text = metrics.render();
  assert.match(text, /flywheel_consistency_mismatch_rate 0\n/);
  assert.match(text, /flywheel_consistency_compared_total\{view="user_spend"\} \d+/);

  // Negative check: a tampered copy of one logged prediction (new request id, one exact input +0.25).
  const [victim] = await (
    await clickhouse.query({
      query: `SELECT * FROM ${db}.predictions FINAL WHERE model = {m:String}
              AND features['user_spend.amount_sum_1h'] IS NOT NULL ORDER BY predicted_at LIMIT 1`,
      query_params: { m: model },
      format: 'JSONEachRow',
    })
  ).json<Record<string, unknown> & { features: Record<string, number | null>; entity_key: string }>();
  assert.ok(victim, 'a prediction with a served value');
  const served = victim.features['user_spend.amount_sum_1h']! + 0.25;
  await clickhouse.insert({
    table: `${db}.predictions`,
    format: 'JSONEachRow',
    values: [
      {
        ...victim,
        request_id: 'tampered',
        features: { ...victim.features, 'user_spend.amount_sum_1h': served },
      },
    ],
  });
  const all = await monitor.runOnce({ sample: 100_000, model });
  assert.equal(all.sampled, predicted + 1, 'every logged prediction, the tampered one included');
  assert.equal(all.mismatches, 1);
  assert.equal(all.examples.length, 1);
  assert.deepEqual(
    { ...all.examples[0]!, predicted_at: undefined },
    {
      request_id: 'tampered',
      entity: victim.entity_key,
      predicted_at: undefined,
      feature: 'user_spend.amount_sum_1h',
      view: 'user_spend',
      reason: 'value',
      served,
      offline: served - 0.25,
      offline_status: 'ok',
    },
  );
  const reports = await (
    await clickhouse.query({
      query: `SELECT sampled, compared, mismatches, mismatches_by_view FROM ${db}.consistency_reports FINAL
              WHERE run_id IN ({a:String}, {b:String}) ORDER BY started_at`,
      query_params: { a: report.runId, b: all.runId },
      format: 'JSONEachRow',
    })
  ).json<{
    sampled: number;
    compared: string;
    mismatches: string;
    mismatches_by_view: Record<string, string>;
  }>();
  assert.equal(reports.length, 2);
  assert.equal(Number(reports[0]!.mismatches), 0);
  assert.equal(Number(reports[1]!.mismatches), 1);
  assert.equal(Number(reports[1]!.mismatches_by_view.user_spend), 1);
  redis.disconnect();
  servingRedis.disconnect();
});
