import { createKafka } from '../platform/kafka.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import type { ModelDefinitionSpec } from '../project/index.ts';
import { createModelRegistry, defaultArtifactsDir } from '../registry/index.ts';
import { createDeployerService, type DeployerService } from './service.ts';

/** What the deployer takes from the project: each model's gate. */
export interface DeployerProject {
  readonly models: readonly ModelDefinitionSpec[];
}

/** Trained versions in, through the gate, promoted (or rejected with reasons) out. */
export const deployerModule: FlywheelModule<DeployerProject, DeployerService> = {
  name: 'deployer',
  description: 'gates every trained version against the champion and promotes the ones that pass',
  dependencies: ['serving'],
  port: (config) => config.http.deployerPort,
  async init(ctx) {
    const clickhouse = await ctx.shared.clickhouse();
    const service = createDeployerService({
      config: ctx.config,
      logger: ctx.logger,
      metrics: ctx.metrics,
      kafka: createKafka(ctx.config, ctx.logger, 'deployer'),
      codec: createRegistryCodec(ctx.config.registry.url),
      clickhouse,
      registry: createModelRegistry({
        clickhouse,
        db: ctx.config.clickhouse.database,
        artifactsDir: defaultArtifactsDir(ctx.config),
      }),
      models: ctx.project.models,
    });
    return {
      api: service,
      start: () => service.start(),
      ready: () => service.ready(),
      stop: () => service.stop(),
    };
  },
};
