/**
 * A features processor in its own process, for crash tests: `run` consumes until SIGTERM (or dies on
 * SIGKILL, which is the point); `dump` writes the ClickHouse feature tables of its chDB folder to a
 * JSON file (libchdb binds one folder per process, so the test process cannot read them itself).
 * Configured by env: WORKER_MODE, WORKER_TOPIC, WORKER_GROUP, WORKER_DUMP_FILE, plus FLYWHEEL_*.
 */
import { writeFileSync } from 'node:fs';
import { createFeaturesService } from '../../services/features/service.ts';
import { shopViews } from '../../services/features/views/shop.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { loadConfig } from '../../services/platform/config.ts';
import { createKafka } from '../../services/platform/kafka.ts';
import { createLogger } from '../../services/platform/logger.ts';
import { MetricsRegistry } from '../../services/platform/metrics.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';

const config = loadConfig();
const logger = createLogger({ component: 'worker', pid: process.pid }, 'warn');
const topic = process.env.WORKER_TOPIC!;
const clickhouse = await createClickHouse(config);
const db = config.clickhouse.database;

if (process.env.WORKER_MODE === 'dump') {
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
  { groupId: process.env.WORKER_GROUP! },
);
process.once('SIGTERM', async () => {
  await service.stop();
  await redis.quit();
  await closeEmbeddedClickHouse();
  process.exit(0);
});
await service.start();
process.send?.('started');
