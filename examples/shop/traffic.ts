import { paced, type TrafficGenerator } from 'flywheel';

const CATEGORIES = ['grocery', 'fashion', 'electronics', 'travel', 'games', 'home'];
const COUNTRIES = ['DE', 'FR', 'NL', 'PL', 'ES', 'IT'];
const DEVICES = ['ios', 'android', 'web'];

/**
 * The shop's live traffic for the all-in-one job: orders at the asked rate (event time = now), a few
 * users far more active than most, and a late label for about one order in ten.
 */
export const shopTraffic: TrafficGenerator = (ctx) => {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  let seq = 0;
  return paced(ctx, async (n, now) => {
    const orders = Array.from({ length: n }, () => ({
      event_id: `demo-${now}-${seq++}`,
      user_id: `u${Math.floor(Math.random() ** 2 * ctx.entities)}`,
      merchant_id: `m${Math.floor(Math.random() * 300)}`,
      amount: Math.round(Math.random() ** 3 * 80_000) / 100,
      currency: 'EUR',
      category: pick(CATEGORIES),
      device: pick(DEVICES),
      country: pick(COUNTRIES),
      ts: now,
    }));
    await ctx.send('shop', orders);
    ctx.noteEntity(orders.at(-1)!.user_id);
    const labels = orders
      .filter(() => Math.random() < 0.1)
      .map((o) => ({
        event_id: o.event_id,
        user_id: o.user_id,
        is_fraud: o.amount > 500 && Math.random() < 0.3,
        ts: o.ts,
        reported_at: Date.now(),
      }));
    if (labels.length) await ctx.send('shop-outcomes', labels);
  });
};
