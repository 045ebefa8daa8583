import type { Kafka } from 'kafkajs';
import { loadSchemaForTopic } from '../schemas/catalog.ts';
import { MonitorSettingsSchema } from '../services/monitor/config.ts';
import { compareProfileSets } from '../services/monitor/core/compare.ts';
import { addRow, flushWindow, foldColumn, openWindow } from '../services/monitor/core/windows.ts';
import { createMonitorService, createMonitorStore } from '../services/monitor/index.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../services/platform/clickhouse.ts';
import { loadConfig } from '../services/platform/config.ts';
import { createConsumer, createKafka, createProducer, ensureTopics } from '../services/platform/kafka.ts';
import { createLogger } from '../services/platform/logger.ts';
import { MetricsRegistry } from '../services/platform/metrics.ts';
import { createRedis } from '../services/platform/redis.ts';
import { createRegistryCodec } from '../services/platform/registry-codec.ts';
import { createStack } from '../services/platform/stack/stack.ts';
import {
  buildReference,
  CATEGORICAL,
  FEATURES,
  makeRow,
  worldModelDefinition,
} from '../test/support/monitor-world.ts';
import { createRng } from '../test/support/prng.ts';
import { scratchDir } from '../test/support/scratch.ts';
import { shopSources } from '../test/support/shop-sources.ts';
import { intFlag } from './support/args.ts';
import { median, progress, round } from './support/stats.ts';

/**
 * `npm run bench -- drift [--rows 1000000] [--e2e-rows 1000000] [--window-rows 100000] [--runs 3]`
 *
 * The monitor over the 50-input world of test/support/monitor-world.ts (40 numerical inputs of three
 * shapes, 10 categorical), against a reference of 200 000 training rows (1000-bin profiles):
 * - profile_rows_per_s: the pure profile update — blocks of column values folded into every input's
 *   histogram or item counts. window_rows_per_s: the live path in front of it, from decoded prediction
 *   maps (50 key lookups a row into column buffers, then the same folds). Medians of `runs`; row
 *   generation is outside the clock.
 * - drift_eval_ms: every test on every input and the output for one window of `window-rows` rows
 *   (selection, KS/Wasserstein/chi-square on profiles, BH, floors). Median over the windows.
 * - monitor_predictions_per_s: end to end on the real stack. `e2e-rows` Avro predictions are produced
 *   to `predictions.<model>` first; then a monitor starts, re-reads them, decodes, profiles, closes
 *   every window and evaluates it, writing its reports to ClickHouse and ml.drift. Clocked from start to
 *   the last window's report. decode_predictions_per_s is a bare consume-and-decode of the same topic
 *   in the same run (the ceiling the monitor can reach); monitor_vs_decode is the ratio.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const rows = intFlag(args, 'rows', 1_000_000);
  const e2eRows = intFlag(args, 'e2e-rows', 1_000_000);
  const windowRows = intFlag(args, 'window-rows', 100_000);
  const runs = intFlag(args, 'runs', 3);
  progress('building the reference (200 000 rows)');
  const reference = buildReference(1, 200_000, 'bench_drift');

  const profile = profileThroughput(reference, rows, runs);
  const evalMs = evaluationTimes(reference, windowRows, Math.max(3, runs));
  const e2e = await endToEnd(reference, e2eRows, windowRows);
  return {
    rows,
    features: FEATURES.length,
    categorical: CATEGORICAL.length,
    reference_rows: reference.rows,
    profile_rows_per_s: Math.round(median(profile.columnar)),
    profile_runs: profile.columnar.map(Math.round),
    window_rows_per_s: Math.round(median(profile.fromMaps)),
    window_runs: profile.fromMaps.map(Math.round),
    drift_eval_ms: round(median(evalMs)),
    drift_eval_runs_ms: evalMs.map((x) => round(x)),
    window_rows: windowRows,
    ...e2e,
  };
}

function generate(n: number, seed: number): Record<string, number>[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => makeRow(rng, undefined).features);
}

/**
 * Two figures per run, each over `rows` fresh rows in chunks of 100 000 (generation off the clock):
 * columnar, the profile update itself — column blocks of 2048 folded into every input's profile, what a
 * window does when its buffers fill; and rows, the live path from decoded prediction maps (the per-row
 * lookup of 50 keys in each map, then the same folds).
 */
function profileThroughput(reference: ReturnType<typeof buildReference>, rows: number, runs: number) {
  const chunk = 100_000;
  const columnar: number[] = [];
  const fromMaps: number[] = [];
  for (let r = 0; r < runs; r++) {
    const w = openWindow(0, 1, reference.profiles, FEATURES);
    const profiles = FEATURES.map((f) => w.profiles.features[f]!);
    let foldMs = 0;
    let rowMs = 0;
    for (let done = 0; done < rows; done += chunk) {
      const batch = generate(Math.min(chunk, rows - done), 100 + r * 1000 + done);
      const columns = FEATURES.map((f) => Float64Array.from(batch, (row) => row[f] ?? Number.NaN));
      let t = performance.now();
      for (let from = 0; from < batch.length; from += 2048) {
        const to = Math.min(batch.length, from + 2048);
        for (let i = 0; i < profiles.length; i++) foldColumn(profiles[i]!, columns[i]!, from, to);
      }
      foldMs += performance.now() - t;
      const live = openWindow(0, 1, reference.profiles, FEATURES);
      t = performance.now();
      for (const row of batch) addRow(live, FEATURES, row, 0.5, 1);
      flushWindow(live, FEATURES);
      rowMs += performance.now() - t;
    }
    columnar.push(rows / (foldMs / 1000));
    fromMaps.push(rows / (rowMs / 1000));
    progress(
      `profile run ${r + 1}: ${Math.round(columnar.at(-1)!)} rows/s columnar, ${Math.round(fromMaps.at(-1)!)} rows/s from maps`,
    );
  }
  return { columnar, fromMaps };
}

function evaluationTimes(
  reference: ReturnType<typeof buildReference>,
  windowRows: number,
  windows: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < windows; i++) {
    const w = openWindow(0, 1, reference.profiles, FEATURES);
    for (const row of generate(windowRows, 7_000 + i)) addRow(w, FEATURES, row, 0.5, 1);
    flushWindow(w, FEATURES);
    const t = performance.now();
    const drift = compareProfileSets(reference.profiles, w.profiles, {});
    out.push(performance.now() - t);
    if (drift.inputs.features.length !== FEATURES.length) throw new Error('not every input was tested');
  }
  progress(`drift evaluation: ${out.map((x) => round(x)).join(', ')} ms`);
  return out;
}

async function endToEnd(reference: ReturnType<typeof buildReference>, e2eRows: number, windowRows: number) {
  const config = loadConfig(process.env, { clickhouse: { dataDir: scratchDir('flywheel-bench-drift') } });
  const logger = createLogger({ component: 'bench' }, 'warn');
  await createStack(config, logger).up();
  const model = `bench_drift_${Date.now().toString(36)}`;
  const topic = `predictions.${model}`;
  const kafka = createKafka(config, logger, 'bench-drift');
  const codec = createRegistryCodec(config.registry.url);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 2 }]);
  await admin.disconnect();
  const clickhouse = await createClickHouse(config);
  const store = createMonitorStore(clickhouse, config.clickhouse.database);
  await store.migrate();
  await store.saveReference({ ...reference, model });

  progress(`producing ${e2eRows} predictions to ${topic}`);
  const encode = await codec.encoderFor(
    (await codec.register(topic, loadSchemaForTopic('predictions.model'))).id,
  );
  const producer = createProducer(kafka);
  await producer.connect();
  const windowMs = 3_600_000;
  const t0 = Math.floor((Date.now() - 48 * windowMs) / windowMs) * windowMs;
  const rng = createRng(42);
  for (let done = 0; done < e2eRows; done += 1_000) {
    const messages = [];
    for (let i = done; i < Math.min(e2eRows, done + 1_000); i++) {
      const row = makeRow(rng, undefined);
      messages.push({
        key: `u${i % 1000}`,
        value: encode({
          request_id: `r${i}`,
          model,
          model_version: 1,
          entity_key: `u${i % 1000}`,
          features: row.features,
          feature_freshness_ms: {},
          output: [row.p],
          label: null,
          predicted_at: t0 + Math.floor((i / windowRows) * windowMs),
          latency_micros: 100,
        }),
      });
    }
    await producer.send({ topic, messages, acks: -1 });
  }
  // One prediction per partition past the last window's end (and its label delay) closes and finalises
  // the rest: the watermark is the oldest partition's.
  const last = t0 + Math.ceil(e2eRows / windowRows) * windowMs + 2 * windowMs;
  const closer = makeRow(rng, undefined);
  const partitions = [0, 1];
  await producer.send({
    topic,
    acks: -1,
    messages: partitions.map((partition) => ({
      partition,
      key: `closer-${partition}`,
      value: encode({
        request_id: `closer-${partition}`,
        model,
        model_version: 1,
        entity_key: `closer-${partition}`,
        features: closer.features,
        feature_freshness_ms: {},
        output: [closer.p],
        label: null,
        predicted_at: last,
        latency_micros: 100,
      }),
    })),
  });
  await producer.disconnect();
  const total = e2eRows + partitions.length;

  const decodePerS = await decodeBaseline(kafka, codec, topic, total);
  progress(`bare consume + decode: ${Math.round(decodePerS)} predictions/s`);

  const definition = worldModelDefinition(model, { window: '1h' });
  const redis = createRedis(config.redis.url);
  await redis.del(`${config.redis.keyPrefix}monitor:{${model}}:controller`);
  const service = createMonitorService({
    config,
    logger,
    metrics: new MetricsRegistry(),
    kafka,
    codec,
    clickhouse,
    redis,
    models: [definition],
    sources: shopSources({ shop: `bench.drift.orders`, outcomes: `bench.drift.outcomes` }),
    settings: MonitorSettingsSchema.parse({ wallClock: false }),
  });
  const windows = Math.ceil(e2eRows / windowRows);
  const started = performance.now();
  await service.start();
  for (;;) {
    const s = service.status()[model] as {
      counters?: { predictions: number };
      controller?: { lastWindowEnd: number | null };
    };
    const closedAll =
      s.controller?.lastWindowEnd !== undefined &&
      s.controller.lastWindowEnd !== null &&
      s.controller.lastWindowEnd >= t0 + windows * windowMs;
    if ((s.counters?.predictions ?? 0) >= total && closedAll) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  await service.stop();
  const report = await store.report(model, windows + 5);
  redis.disconnect();
  await closeEmbeddedClickHouse();
  const perS = total / seconds;
  progress(
    `monitor end to end: ${Math.round(perS)} predictions/s (${round(seconds)} s, ${report.windows.length} windows reported)`,
  );
  return {
    e2e_rows: total,
    e2e_windows_reported: report.windows.length,
    monitor_predictions_per_s: Math.round(perS),
    decode_predictions_per_s: Math.round(decodePerS),
    monitor_vs_decode: round(perS / decodePerS),
  };
}

/** A bare consumer that decodes every prediction and does nothing else: the monitor's ceiling. */
async function decodeBaseline(
  kafka: Kafka,
  codec: ReturnType<typeof createRegistryCodec>,
  topic: string,
  total: number,
) {
  const consumer = createConsumer(kafka, `bench-drift-decode-${Date.now()}`);
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let sink = 0;
  const started = performance.now();
  let finished = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const decoded = await codec.decodeMany(
        batch.messages.map((m) => m.value),
        { topic },
      );
      for (const d of decoded) if (d.ok) sink += (d.value.features as Record<string, number>)['v.f00'] ?? 0;
      seen += batch.messages.length;
      if (seen >= total && !finished) finished = performance.now();
    },
  });
  while (!finished) await new Promise((r) => setTimeout(r, 20));
  await consumer.disconnect();
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return total / ((finished - started) / 1000);
}
