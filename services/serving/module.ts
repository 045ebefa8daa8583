import type { CompiledView } from '../features/index.ts';
import { createKafka } from '../platform/kafka.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import { createModelRegistry, defaultArtifactsDir } from '../registry/index.ts';
import { SERVING_CONFIG, type ServingSettings } from './config.ts';
import { registerServingRoutes } from './routes.ts';
import { createServingService } from './service.ts';

/** What serving takes from the project: the views it reads and named groups of them. */
export interface ServingProject {
  readonly views: readonly CompiledView[];
  readonly featureServices?: Readonly<Record<string, readonly string[]>>;
}

/** Online features and ONNX predictions over HTTP; every prediction is logged to Kafka. */
export const servingModule: FlywheelModule<ServingProject, unknown, ServingSettings> = {
  name: 'serving',
  config: SERVING_CONFIG,
  description: 'online feature vectors and ONNX predictions over HTTP, with the prediction log',
  dependencies: ['features'],
  port: (config) => config.http.servingPort,
  async init(ctx) {
    const clickhouse = await ctx.shared.clickhouse();
    const redis = ctx.shared.redis('serving', { failFast: true });
    const service = createServingService({
      config: ctx.config,
      logger: ctx.logger,
      metrics: ctx.metrics,
      redis,
      clickhouse,
      kafka: createKafka(ctx.config, ctx.logger, 'serving'),
      codec: createRegistryCodec(ctx.config.registry.url),
      views: ctx.project.views,
      limits: { maxEntities: ctx.settings.maxEntities, maxEntityLength: ctx.settings.maxEntityLength },
      modelRefreshMs: ctx.settings.modelRefreshMs,
      registry: createModelRegistry({
        clickhouse,
        db: ctx.config.clickhouse.database,
        artifactsDir: defaultArtifactsDir(ctx.config),
      }),
      ...(ctx.project.featureServices ? { featureServices: ctx.project.featureServices } : {}),
    });
    return {
      api: service,
      routes: (http) => registerServingRoutes(http, service),
      start: () => service.start(),
      ready: () => service.ready(),
      stop: () => service.stop(),
    };
  },
};
