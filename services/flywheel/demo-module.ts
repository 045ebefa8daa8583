import type { FlywheelModule } from '../platform/modules.ts';
import { startDemoProducer } from './demo-producer.ts';

const DEMO_PORT = 8704;

/**
 * The bundled example's live traffic: shop orders at `demo.rate` per second through the producer SDK,
 * and a late label for about one in ten. Rate 0 sends nothing and opens no Kafka connection.
 */
export const demoModule: FlywheelModule = {
  name: 'demo',
  description: 'demo traffic for the bundled shop example (demo.rate orders/s; 0 = off)',
  dependencies: ['ingest'],
  port: () => DEMO_PORT,
  maxBodyBytes: () => 1_024,
  init(ctx) {
    let producer: ReturnType<typeof startDemoProducer> | undefined;
    return {
      api: { recentEntity: () => producer?.recentUser() },
      async start() {
        producer = startDemoProducer({
          brokers: ctx.config.kafka.brokers,
          registryUrl: ctx.config.registry.url,
          ratePerSecond: ctx.config.demo.rate,
          users: ctx.config.demo.users,
          logger: ctx.logger,
        });
      },
      stop: async () => producer?.stop(),
    };
  },
};
