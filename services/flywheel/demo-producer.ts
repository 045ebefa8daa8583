import type { Logger } from '../platform/logger.ts';
import { createFlywheelProducer } from '../sdk/producer.ts';

const CATEGORIES = ['grocery', 'fashion', 'electronics', 'travel', 'games', 'home'];
const COUNTRIES = ['DE', 'FR', 'NL', 'PL', 'ES', 'IT'];
const DEVICES = ['ios', 'android', 'web'];

/**
 * The demo domain's live traffic for the all-in-one job: shop orders at a steady rate through the
 * producer SDK (event time = now), keyed by user, and a late label for about one order in ten.
 */
export function startDemoProducer(opts: {
  brokers: string[];
  registryUrl: string;
  ratePerSecond: number;
  users: number;
  logger: Logger;
}) {
  const producer = createFlywheelProducer({
    brokers: opts.brokers,
    registryUrl: opts.registryUrl,
    clientId: 'flywheel-demo',
  });
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  let recentUser: string | undefined;
  let seq = 0;
  let stopped = false;
  const tickMs = 100;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      const n = Math.max(1, Math.round((opts.ratePerSecond * tickMs) / 1000));
      const orders = Array.from({ length: n }, () => {
        const user = `u${Math.floor(Math.random() ** 2 * opts.users)}`;
        return {
          event_id: `demo-${started}-${seq++}`,
          user_id: user,
          merchant_id: `m${Math.floor(Math.random() * 300)}`,
          amount: Math.round(Math.random() ** 3 * 80_000) / 100,
          currency: 'EUR',
          category: pick(CATEGORIES),
          device: pick(DEVICES),
          country: pick(COUNTRIES),
          ts: started,
        };
      });
      try {
        await producer.send('shop', orders);
        recentUser = orders.at(-1)!.user_id;
        const labels = orders
          .filter(() => Math.random() < 0.1)
          .map((o) => ({
            event_id: o.event_id,
            user_id: o.user_id,
            is_fraud: o.amount > 500 && Math.random() < 0.3,
            ts: o.ts,
            reported_at: Date.now(),
          }));
        if (labels.length) await producer.send('shop-outcomes', labels);
      } catch (err) {
        opts.logger.warn('demo producer could not send; retrying', { err });
      }
      await new Promise((r) => setTimeout(r, Math.max(0, tickMs - (Date.now() - started))));
    }
  })();
  return {
    recentUser: () => recentUser,
    async stop(): Promise<void> {
      stopped = true;
      await loop;
      await producer.close();
    },
  };
}
