import type { SourceCatalogue } from '../ingest/index.ts';
import { createKafka } from '../platform/kafka.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import type { ModelDefinitionSpec } from '../project/index.ts';
import { MONITOR_CONFIG, type MonitorSettings } from './config.ts';
import { registerMonitorRoutes } from './routes.ts';
import { createMonitorService, type MonitorService } from './service.ts';

/** What the monitor takes from the project: its models and the sources their labels arrive on. */
export interface MonitorProject {
  readonly models: readonly ModelDefinitionSpec[];
  readonly sources: SourceCatalogue;
}

/** Drift and performance of every model's live predictions; retrain requests on `ml.retrain`. */
export const monitorModule: FlywheelModule<MonitorProject, MonitorService, MonitorSettings> = {
  name: 'monitor',
  config: MONITOR_CONFIG,
  description: 'drift and performance of live predictions against each model’s reference; retrain requests',
  dependencies: ['serving'],
  port: (config) => config.http.monitorPort,
  async init(ctx) {
    const clickhouse = await ctx.shared.clickhouse();
    const service = createMonitorService({
      config: ctx.config,
      logger: ctx.logger,
      metrics: ctx.metrics,
      kafka: createKafka(ctx.config, ctx.logger, 'monitor'),
      codec: createRegistryCodec(ctx.config.registry.url),
      clickhouse,
      redis: ctx.shared.redis('monitor'),
      models: ctx.project.models,
      sources: ctx.project.sources,
      settings: ctx.settings,
    });
    return {
      api: service,
      routes: (http) => registerMonitorRoutes(http, service),
      start: () => service.start(),
      stop: () => service.stop(),
    };
  },
};
