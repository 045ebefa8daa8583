import type { ResolvedConfig } from '../platform/config.ts';
import { createHttpServer } from '../platform/http.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { MetricsRegistry } from '../platform/metrics.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import { registerIngestRoutes } from './routes.ts';
import { createIngestService, type IngestServiceDeps } from './service.ts';

export { validateBatch } from './core.ts';
export { registerIngestRoutes } from './routes.ts';
export { createIngestService, type IngestResult, type IngestService } from './service.ts';
export { createSourceCatalogue, SOURCE_DEFINITIONS, type Source, type SourceDefinition } from './sources.ts';

/**
 * Builds and runs ingest as one module: Kafka, registry codec, service, HTTP. It listens at once (so
 * /healthz answers and /readyz says "not ready"), then connects in the background; `started` settles
 * when the service is ready, or rejects on a fault no retry will fix.
 */
export async function runIngest(
  config: Readonly<ResolvedConfig>,
  opts: { logger?: Logger; metrics?: MetricsRegistry } & Partial<
    Pick<IngestServiceDeps, 'sendTimeoutMs'>
  > = {},
) {
  const logger = opts.logger ?? createLogger({ service: 'ingest' });
  const metrics = opts.metrics ?? new MetricsRegistry();
  const service = createIngestService({
    config,
    logger,
    metrics,
    kafka: createKafka(config, logger, 'ingest'),
    codec: createRegistryCodec(config.registry.url),
    ...(opts.sendTimeoutMs ? { sendTimeoutMs: opts.sendTimeoutMs } : {}),
  });
  const http = createHttpServer({
    name: 'ingest',
    logger,
    metrics,
    maxBodyBytes: config.http.maxBodyBytes,
    ready: service.ready,
  });
  registerIngestRoutes(http, service);
  const port = await http.listen(config.http.port ?? config.http.ingestPort, config.http.host);
  const started = service.start();
  started.catch((err) => logger.error('ingest failed to start', { err }));
  logger.info('ingest listening', { port });
  return {
    port,
    service,
    started,
    async close(): Promise<void> {
      await http.close();
      await service.stop();
    },
  };
}
