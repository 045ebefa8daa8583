import { z } from 'zod';
import type { ConfigSection } from '../platform/config.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import type { ProjectRuntime } from '../project/index.ts';
import { createFlywheelProducer } from '../sdk/index.ts';

/** The traffic generator's settings: config section `demo`. */
const DemoSettingsSchema = z.strictObject({
  /** Events per second the project's generator is asked for; 0 sends nothing. */
  rate: z.coerce.number().min(0).max(100_000).default(200),
  /** Distinct entities the generator spreads its events over. */
  users: z.coerce.number().int().min(1).max(10_000_000).default(2_000),
});

export type DemoSettings = z.output<typeof DemoSettingsSchema>;

export const DEMO_CONFIG: ConfigSection<DemoSettings> = {
  name: 'demo',
  schema: DemoSettingsSchema,
  env: [
    {
      env: 'FLYWHEEL_DEMO_RATE',
      path: 'demo.rate',
      description:
        "Events per second the project's traffic generator sends in `flywheel start`; 0 sends nothing.",
    },
    { env: 'FLYWHEEL_DEMO_USERS', path: 'demo.users', description: 'Distinct entities of the demo traffic.' },
  ],
};

/**
 * Live traffic for the all-in-one job: the project's own generator (`traffic` in its
 * flywheel.config.ts) at `demo.rate` events per second, sent through the producer SDK with the
 * project's contracts. Rate 0, or a project without a generator, sends nothing and opens no Kafka
 * connection.
 */
export const demoModule: FlywheelModule<
  Pick<ProjectRuntime, 'sources' | 'traffic'>,
  unknown,
  DemoSettings
> = {
  name: 'demo',
  config: DEMO_CONFIG,
  description: "the project's traffic generator (demo.rate events/s; 0 = off)",
  dependencies: ['ingest'],
  port: (config) => config.http.demoPort,
  maxBodyBytes: () => 1_024,
  init(ctx) {
    let recentEntity: string | undefined;
    let running: { stop(): Promise<void> | void } | undefined;
    let producer: ReturnType<typeof createFlywheelProducer> | undefined;
    return {
      api: { recentEntity: () => recentEntity },
      async start() {
        const traffic = ctx.project.traffic;
        if (!traffic || ctx.settings.rate <= 0) {
          ctx.logger.info('no demo traffic', {
            reason: traffic ? 'demo.rate is 0' : 'the project has no traffic generator',
          });
          return;
        }
        producer = createFlywheelProducer({
          brokers: ctx.config.kafka.brokers,
          registryUrl: ctx.config.registry.url,
          clientId: 'flywheel-demo',
          sources: ctx.project.sources,
        });
        const send = producer.send;
        running = traffic({
          send: (source, events) => send(source, events),
          ratePerSecond: ctx.settings.rate,
          entities: ctx.settings.users,
          log: (message, fields) => ctx.logger.warn(message, fields),
          noteEntity: (key) => {
            recentEntity = key;
          },
        });
      },
      async stop() {
        await running?.stop();
        await producer?.close();
      },
    };
  },
};
