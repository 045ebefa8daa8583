import { createKafka } from '../platform/kafka.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import { FEATURES_CONFIG, type FeaturesSettings } from './config.ts';
import type { CompiledView } from './definition.ts';
import { createFeaturesService, type FeaturesService } from './service.ts';

/** What the processor takes from the project: the feature views it folds. */
export interface FeaturesProject {
  readonly views: readonly CompiledView[];
}

/** The stream processor: source topics → tiles in Redis (effectively once) and ClickHouse. */
export const featuresModule: FlywheelModule<FeaturesProject, FeaturesService, FeaturesSettings> = {
  name: 'features',
  config: FEATURES_CONFIG,
  description: 'the streaming feature engine: events into online (Redis) and offline (ClickHouse) tiles',
  dependencies: ['ingest'],
  port: (config) => config.http.featuresPort,
  maxBodyBytes: () => 1_024,
  async init(ctx) {
    const service = createFeaturesService({
      config: ctx.config,
      logger: ctx.logger,
      metrics: ctx.metrics,
      kafka: createKafka(ctx.config, ctx.logger, 'features'),
      redis: ctx.shared.redis('features'),
      clickhouse: await ctx.shared.clickhouse(),
      codec: createRegistryCodec(ctx.config.registry.url),
      views: ctx.project.views,
      settings: ctx.settings,
    });
    return { api: service, start: () => service.start(), stop: () => service.stop() };
  },
};
