import { shopViews } from '../examples/shop/views.ts';
import { createOfflineStore } from '../services/features/offline-store.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../services/platform/clickhouse.ts';
import { loadConfig } from '../services/platform/config.ts';
import { createTrainingSetBuilder } from '../services/training/builder.ts';
import { scratchDir } from '../test/support/scratch.ts';
import { intFlag } from './support/args.ts';
import { progress, round } from './support/stats.ts';

/**
 * `npm run bench -- pit [--spine 1000000] [--events 10000000] [--users N] [--hours 48]`
 * Point-in-time training-set build over one view (user_spend: 5 aggregations × 3 windows, 1 m tiles).
 * Raw events are generated inside ClickHouse (`INSERT … SELECT … FROM numbers(N)`, JSON payloads built
 * with string functions; no Kafka), spread evenly over `hours` and `users` entities; the spine is a
 * query of M random (entity, ts, label) rows in the same range. Reports spine_rows_per_s for the build
 * (spine load, event load, fold, write — the split is in `timings`).
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const spineRows = intFlag(args, 'spine', 1_000_000);
  const events = intFlag(args, 'events', 10_000_000);
  const users = intFlag(args, 'users', Math.max(1, Math.round(events / 100)));
  const hours = intFlag(args, 'hours', 48);
  const config = loadConfig(process.env, {
    clickhouse: { dataDir: scratchDir('flywheel-bench-pit') },
  });
  const db = config.clickhouse.database;
  const clickhouse = await createClickHouse(config);
  const topic = 'bench.pit';
  const views = shopViews(topic).filter((v) => v.name === 'user_spend');
  await createOfflineStore(clickhouse, db).migrate();
  const spanMs = hours * 3_600_000;
  const start = Math.floor((Date.now() - spanMs) / 60_000) * 60_000;

  progress(`generating ${events} events for ${users} users over ${hours} h in ClickHouse`);
  let t0 = performance.now();
  const entity = `concat('u', toString(cityHash64(number, 1) % ${users}))`;
  const ts = `toInt64(${start} + intDiv(number * ${spanMs}, ${events}))`;
  await clickhouse.command({
    query: `INSERT INTO ${db}.events (topic, partition, offset, entity, event_time, payload)
      SELECT '${topic}', cityHash64(e) % 4, number, e, fromUnixTimestamp64Milli(t, 'UTC'),
        concat('{"event_id":"b', toString(number), '","user_id":"', e, '","merchant_id":"m', toString(number % 200),
               '","amount":', toString((cityHash64(number, 2) % 40000 + 1) / 4),
               ',"currency":"EUR","category":"grocery","device":null,"country":"DE","ts":', toString(t), '}')
      FROM (SELECT number, ${entity} AS e, ${ts} AS t FROM numbers(${events}))`,
  });
  const generateSeconds = (performance.now() - t0) / 1000;
  progress(`events generated in ${round(generateSeconds)} s`);

  // Spine instants after the first day, so that the 24 h windows are full.
  const from = start + Math.min(24 * 3_600_000, Math.floor(spanMs / 2));
  const spineQuery = `SELECT concat('u', toString(cityHash64(number, 7) % ${users})) AS entity,
      toInt64(${from} + cityHash64(number, 8) % ${start + spanMs - from}) AS ts, toString(number % 2) AS label
    FROM numbers(${spineRows})`;
  const builder = createTrainingSetBuilder({ clickhouse, db, views });
  t0 = performance.now();
  const result = await builder.build({
    setId: 'bench',
    spine: { query: spineQuery },
    views: ['user_spend'],
    onProgress: (p) => progress(`page ${p.page + 1}/${p.pages}: ${p.rows}/${p.totalRows} rows`),
  });
  const seconds = (performance.now() - t0) / 1000;
  const memory = process.memoryUsage();
  await closeEmbeddedClickHouse();
  return {
    view: 'user_spend',
    features: views[0]!.features.length,
    users,
    hours,
    pages: result.pages,
    events_folded: result.events,
    generate_seconds: round(generateSeconds),
    timings: Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, round(v)])),
    rss_mb: Math.round(memory.rss / 1e6),
    spine_rows: result.rows,
    events,
    seconds: round(seconds),
    spine_rows_per_s: Math.round(result.rows / seconds),
  };
}
