/**
 * A features processor in its own process, for crash and fault tests: `run` consumes until SIGTERM (or
 * dies on SIGKILL, which is the point); `dump` writes the ClickHouse feature tables of its chDB folder to
 * a JSON file; `digest` writes them as compact TSV lines, one hash per row, for runs too large to hold
 * as JSON (libchdb binds one folder per process, so the test process cannot read them itself).
 * Configured by env: WORKER_MODE, WORKER_TOPIC, WORKER_GROUP, WORKER_DUMP_FILE, WORKER_LOG_LEVEL (warn),
 * plus FLYWHEEL_*.
 *
 * In `run` mode it also takes IPC commands from the harness (test/support/soak.ts):
 * `{ cmd: 'clickhouse-fault', on: boolean }` adds (or drops) a CHECK 0 constraint on feature_tiles, so
 * every tile INSERT of the processor fails with a real ClickHouse constraint violation until it is
 * dropped; answered with `{ ack: 'clickhouse-fault', on, ok, error? }`. The constraint lives in the chDB
 * folder, so it outlives a SIGKILL of the worker until a worker drops it.
 */
import { writeFileSync } from 'node:fs';
import { shopViews } from '../../examples/shop/views.ts';
import { createFeaturesService } from '../../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { loadConfig } from '../../services/platform/config.ts';
import { createKafka } from '../../services/platform/kafka.ts';
import { createLogger, type LogLevel } from '../../services/platform/logger.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';

const config = loadConfig();
const logger = createLogger(
  { component: 'worker', pid: process.pid },
  (process.env.WORKER_LOG_LEVEL as LogLevel | undefined) ?? 'warn',
);
const topic = process.env.WORKER_TOPIC!;
const clickhouse = await createClickHouse(config);
const db = config.clickhouse.database;
const mode = process.env.WORKER_MODE;

if (mode === 'dump') {
  const rows = async (query: string) => (await clickhouse.query({ query, format: 'JSONEachRow' })).json();
  const dump = {
    events: await rows(
      `SELECT partition, offset, entity, toUnixTimestamp64Milli(event_time) AS t, payload FROM ${db}.events FINAL ORDER BY partition, offset`,
    ),
    tiles: await rows(
      `SELECT view, view_version, entity, resolution_ms, toUnixTimestamp64Milli(tile_start) AS start, state, last_offset FROM ${db}.feature_tiles FINAL ORDER BY view, view_version, entity, resolution_ms, start`,
    ),
  };
  writeFileSync(process.env.WORKER_DUMP_FILE!, JSON.stringify(dump));
  await closeEmbeddedClickHouse();
  process.exit(0);
}

if (mode === 'digest') {
  // `<file>.events`: partition, offset, hash of (entity, event time, payload); `<file>.tiles`: view,
  // version, entity, resolution, start, last_offset, hash of the state. Deduplicated like FINAL.
  const text = async (query: string) => (await clickhouse.query({ query, format: 'TabSeparated' })).text();
  const file = process.env.WORKER_DUMP_FILE!;
  writeFileSync(
    `${file}.events`,
    await text(
      `SELECT partition, offset, cityHash64(entity, toUnixTimestamp64Milli(event_time), payload) FROM ${db}.events FINAL ORDER BY partition, offset`,
    ),
  );
  writeFileSync(
    `${file}.tiles`,
    await text(
      `SELECT view, view_version, entity, resolution_ms, toUnixTimestamp64Milli(tile_start), last_offset, cityHash64(state) FROM ${db}.feature_tiles FINAL ORDER BY view, view_version, entity, resolution_ms, tile_start`,
    ),
  );
  await closeEmbeddedClickHouse();
  process.exit(0);
}

// The harness's IPC: a ClickHouse fault on demand, answered as soon as ClickHouse is open (before the
// service starts, so a worker restarted while Redis or Kafka is down still takes it).
process.on('message', (message: { cmd?: string; on?: boolean }) => {
  if (message?.cmd !== 'clickhouse-fault') return;
  const on = message.on === true;
  const query = on
    ? `ALTER TABLE ${db}.feature_tiles ADD CONSTRAINT IF NOT EXISTS soak_fault CHECK 0`
    : `ALTER TABLE ${db}.feature_tiles DROP CONSTRAINT IF EXISTS soak_fault`;
  clickhouse.command({ query }).then(
    () => process.send?.({ ack: 'clickhouse-fault', on, ok: true }),
    (err: unknown) =>
      process.send?.({ ack: 'clickhouse-fault', on, ok: false, error: (err as Error).message }),
  );
});
// A harness that is gone cannot stop us: do not outlive it.
process.once('disconnect', () => process.exit(70));

const redis = createRedis(config.redis.url);
const service = createFeaturesService(
  {
    config,
    logger,
    metrics: new MetricsRegistry(),
    kafka: createKafka(config, logger),
    redis,
    clickhouse,
    codec: createRegistryCodec(config.registry.url),
    views: shopViews(topic),
  },
  {
    groupId: process.env.WORKER_GROUP!,
    // With WORKER_LOG_COMMITS=1: each partition's first commit in this process, then one every 10 s
    // (how long a restarted processor takes to make progress on each partition).
    ...(process.env.WORKER_LOG_COMMITS === '1' ? { onCommit: logCommit() } : {}),
  },
);

function logCommit() {
  const last = new Map<number, number>();
  return ({ partition, events }: { partition: number; events: readonly { offset: number }[] }) => {
    const now = Date.now();
    const previous = last.get(partition);
    if (previous !== undefined && now - previous < 10_000) return;
    last.set(partition, now);
    logger.info(previous === undefined ? 'first commit' : 'commit', {
      partition,
      events: events.length,
      through: events.at(-1)?.offset,
      uptime_ms: Math.round(process.uptime() * 1000),
    });
  };
}
process.once('SIGTERM', async () => {
  await service.stop();
  await redis.quit();
  await closeEmbeddedClickHouse();
  process.exit(0);
});
process.send?.('ready');
await service.start();
process.send?.('started');
