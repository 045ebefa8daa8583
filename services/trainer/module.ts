import type { CompiledView } from '../features/index.ts';
import { createKafka } from '../platform/kafka.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import type { ModelDefinitionSpec } from '../project/index.ts';
import { createModelRegistry, defaultArtifactsDir } from '../registry/index.ts';
import { TRAINER_CONFIG, type TrainerSettings } from './config.ts';
import { createTrainerService, type TrainerService } from './service.ts';

/** What the trainer takes from the project: the models it trains and the views their inputs come from. */
export interface TrainerProject {
  readonly models: readonly ModelDefinitionSpec[];
  readonly views: readonly CompiledView[];
}

/** Retrain requests in, trained and registered ONNX versions out (`ml.models` TRAINED). */
export const trainerModule: FlywheelModule<TrainerProject, TrainerService, TrainerSettings> = {
  name: 'trainer',
  config: TRAINER_CONFIG,
  description: 'trains, checks and registers a new model version for every retrain request',
  dependencies: ['features'],
  port: (config) => config.http.trainerPort,
  async init(ctx) {
    const clickhouse = await ctx.shared.clickhouse();
    const service = createTrainerService({
      config: ctx.config,
      logger: ctx.logger,
      metrics: ctx.metrics,
      kafka: createKafka(ctx.config, ctx.logger, 'trainer'),
      codec: createRegistryCodec(ctx.config.registry.url),
      clickhouse,
      registry: createModelRegistry({
        clickhouse,
        db: ctx.config.clickhouse.database,
        artifactsDir: defaultArtifactsDir(ctx.config),
      }),
      views: ctx.project.views,
      models: ctx.project.models,
      settings: ctx.settings,
    });
    return {
      api: service,
      start: () => service.start(),
      ready: () => service.ready(),
      stop: () => service.stop(),
    };
  },
};
