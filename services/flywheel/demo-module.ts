import type { FlywheelModule } from '../platform/modules.ts';
import type { ProjectRuntime } from '../project/index.ts';
import { createFlywheelProducer } from '../sdk/index.ts';

/**
 * Live traffic for the all-in-one job: the project's own generator (`traffic` in its
 * flywheel.config.ts) at `demo.rate` events per second, sent through the producer SDK with the
 * project's contracts. Rate 0, or a project without a generator, sends nothing and opens no Kafka
 * connection.
 */
export const demoModule: FlywheelModule<Pick<ProjectRuntime, 'sources' | 'traffic'>> = {
  name: 'demo',
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
        if (!traffic || ctx.config.demo.rate <= 0) {
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
          ratePerSecond: ctx.config.demo.rate,
          entities: ctx.config.demo.users,
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
