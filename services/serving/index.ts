import type { CompiledView } from '../features/definition.ts';
import { shopViews } from '../features/views/shop.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import type { ResolvedConfig } from '../platform/config.ts';
import { createHttpServer } from '../platform/http.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { MetricsRegistry } from '../platform/metrics.ts';
import { createRedis } from '../platform/redis.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import { createModelRegistry, defaultArtifactsDir } from '../registry/index.ts';
import { registerServingRoutes } from './routes.ts';
import { createServingService, type ServingServiceDeps } from './service.ts';

export { buildInputs, planInputs } from './model-inputs.ts';
export { openApiDocument } from './openapi.ts';
export { parseFeaturesRequest, parsePredictRequest } from './requests.ts';
export { registerServingRoutes } from './routes.ts';
export { createServingService, type ServingService } from './service.ts';

/**
 * Builds and runs serving as one module: Redis (fail-fast), ClickHouse, Kafka, registry, service, HTTP.
 * It listens at once, then connects Kafka in the background; `started` settles when ready.
 */
export async function runServing(
  config: Readonly<ResolvedConfig>,
  opts: {
    logger?: Logger;
    metrics?: MetricsRegistry;
    views?: readonly CompiledView[];
    artifactsDir?: string;
  } & Partial<
    Pick<ServingServiceDeps, 'featureServices' | 'limits' | 'predictionLog' | 'modelRefreshMs'>
  > = {},
) {
  const logger = opts.logger ?? createLogger({ service: 'serving' });
  const metrics = opts.metrics ?? new MetricsRegistry();
  const redis = createRedis(config.redis.url, { failFast: true, name: 'flywheel-serving' });
  const clickhouse = await createClickHouse(config);
  const service = createServingService({
    config,
    logger,
    metrics,
    redis,
    clickhouse,
    kafka: createKafka(config, logger, 'serving'),
    codec: createRegistryCodec(config.registry.url),
    views: opts.views ?? shopViews(),
    registry: createModelRegistry({
      clickhouse,
      db: config.clickhouse.database,
      artifactsDir: opts.artifactsDir ?? defaultArtifactsDir(config),
    }),
    ...(opts.featureServices ? { featureServices: opts.featureServices } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.predictionLog ? { predictionLog: opts.predictionLog } : {}),
    ...(opts.modelRefreshMs ? { modelRefreshMs: opts.modelRefreshMs } : {}),
  });
  const http = createHttpServer({
    name: 'serving',
    logger,
    metrics,
    maxBodyBytes: config.http.maxBodyBytes,
    ready: service.ready,
  });
  registerServingRoutes(http, service);
  const port = await http.listen(config.http.port ?? config.http.servingPort, config.http.host);
  const started = service.start();
  started.catch((err) => logger.error('serving failed to start', { err }));
  logger.info('serving listening', { port });
  return {
    port,
    service,
    started,
    async close(): Promise<void> {
      await http.close();
      await service.stop();
      redis.disconnect();
    },
  };
}
