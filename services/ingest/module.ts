import { createKafka } from '../platform/kafka.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import { registerIngestRoutes } from './routes.ts';
import { createIngestService } from './service.ts';
import type { SourceCatalogue } from './sources.ts';

/** What ingest takes from the project: the sources producers publish to. */
export interface IngestProject {
  readonly sources: SourceCatalogue;
}

/** HTTP events → validated → Avro → Kafka. Ready once topics exist and every source's schema is registered. */
export const ingestModule: FlywheelModule<IngestProject> = {
  name: 'ingest',
  description: 'HTTP and SDK events, validated against the source contracts, into Kafka',
  dependencies: [],
  port: (config) => config.http.ingestPort,
  init(ctx) {
    const service = createIngestService({
      config: ctx.config,
      logger: ctx.logger,
      metrics: ctx.metrics,
      kafka: createKafka(ctx.config, ctx.logger, 'ingest'),
      codec: createRegistryCodec(ctx.config.registry.url),
      sources: ctx.project.sources,
      reconnectDelayMs: { initial: ctx.config.startup.initialDelayMs, max: ctx.config.startup.maxDelayMs },
    });
    return {
      api: service,
      routes: (http) => registerIngestRoutes(http, service),
      start: () => service.start(),
      ready: () => service.ready(),
      stop: () => service.stop(),
    };
  },
};
