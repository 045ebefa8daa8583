import type { Logger } from '../platform/logger.ts';
import { createFlywheelProducer } from '../sdk/index.ts';

const CATEGORIES = ['grocery', 'fashion', 'electronics', 'travel', 'games', 'home'];
const COUNTRIES = ['DE', 'FR', 'NL', 'PL', 'ES', 'IT'];
const DEVICES = ['ios', 'android', 'web'];

/**
 * Orders due at each tick for `ratePerSecond`: what a tick cannot send is owed to the next, so 5/s at
 * 10 ticks/s is one order every other tick (not a floor of one a tick), and 0 is none. Counted from the
 * total due since the start, so float fractions never drift.
 */
export function createOrderBudget(ratePerSecond: number, tickMs: number): () => number {
  let ticks = 0;
  let sent = 0;
  return () => {
    ticks++;
    const due = Math.floor((ticks * ratePerSecond * tickMs) / 1000) - sent;
    sent += due;
    return due;
  };
}

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
  // No traffic asked for: not even a Kafka connection.
  if (opts.ratePerSecond <= 0) return { recentUser: () => undefined, stop: async () => {} };
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
  const due = createOrderBudget(opts.ratePerSecond, tickMs);

  async function sendOrders(n: number, now: number): Promise<void> {
    const orders = Array.from({ length: n }, () => {
      const user = `u${Math.floor(Math.random() ** 2 * opts.users)}`;
      return {
        event_id: `demo-${now}-${seq++}`,
        user_id: user,
        merchant_id: `m${Math.floor(Math.random() * 300)}`,
        amount: Math.round(Math.random() ** 3 * 80_000) / 100,
        currency: 'EUR',
        category: pick(CATEGORIES),
        device: pick(DEVICES),
        country: pick(COUNTRIES),
        ts: now,
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
  }

  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      const n = due();
      if (n > 0) await sendOrders(n, started);
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
