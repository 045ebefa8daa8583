import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse } from '../platform/clickhouse.ts';
import type { ResolvedConfig } from '../platform/config.ts';
import { createHttpServer } from '../platform/http.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { MetricsRegistry } from '../platform/metrics.ts';
import { createRedis } from '../platform/redis.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import type { CompiledView } from './definition.ts';
import { createFeaturesService } from './service.ts';
import { shopViews } from './views/shop.ts';

export { createOnlineReader, type EntityVector, type OnlineReader } from './online-reader.ts';
export { createFeaturesService, type FeaturesService } from './service.ts';
export { shopViews } from './views/shop.ts';

export const FEATURES_DEFAULT_PORT = 8703;

/** Builds and runs the features service as one module: processor plus health and metrics over HTTP. */
export async function runFeatures(
  config: Readonly<ResolvedConfig>,
  opts: {
    logger?: Logger;
    metrics?: MetricsRegistry;
    clickhouse?: ClickHouseClient;
    views?: readonly CompiledView[];
    port?: number;
  } = {},
) {
  const logger = opts.logger ?? createLogger({ service: 'features' });
  const metrics = opts.metrics ?? new MetricsRegistry();
  const redis = createRedis(config.redis.url, { name: 'flywheel-features' });
  const views = opts.views ?? shopViews();
  const service = createFeaturesService({
    config,
    logger,
    metrics,
    kafka: createKafka(config, logger, 'features'),
    redis,
    clickhouse: opts.clickhouse ?? (await createClickHouse(config)),
    codec: createRegistryCodec(config.registry.url),
    views,
  });
  let ready = false;
  const http = createHttpServer({
    name: 'features',
    logger,
    metrics,
    maxBodyBytes: 1_024,
    ready: () => ready,
  });
  const port = await http.listen(opts.port ?? config.http.port ?? FEATURES_DEFAULT_PORT, config.http.host);
  await service.start();
  ready = true;
  logger.info('features processing', { views: views.map((v) => v.id), port });
  return {
    port,
    service,
    views,
    redis,
    async close(): Promise<void> {
      ready = false;
      await http.close();
      await service.stop();
      await redis.quit();
    },
  };
}
