import type { TrafficContext } from './schema.ts';

/**
 * Pacing for a project's traffic generator: `paced(ctx, produce)` calls `produce(n, now)` every tick
 * with the number of events due, keeping to `ctx.ratePerSecond`, and stops when asked. A failed send is
 * logged and the loop goes on (the stack may be restarting); nothing else is retried.
 */
export function createRateBudget(ratePerSecond: number, tickMs: number): () => number {
  // What a tick cannot send is owed to the next, so 5/s at 10 ticks/s is one event every other tick
  // (not a floor of one a tick), and 0 is none. Counted from the total due since the start, so float
  // fractions never drift.
  let ticks = 0;
  let sent = 0;
  return () => {
    ticks++;
    const due = Math.floor((ticks * ratePerSecond * tickMs) / 1000) - sent;
    sent += due;
    return due;
  };
}

export function paced(
  ctx: TrafficContext,
  produce: (n: number, now: number) => Promise<void>,
  tickMs = 100,
): { stop(): Promise<void> } {
  const due = createRateBudget(ctx.ratePerSecond, tickMs);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      const n = due();
      if (n > 0)
        await produce(n, started).catch((err: unknown) =>
          ctx.log('traffic could not send; going on', { err: (err as Error).message }),
        );
      await new Promise((r) => setTimeout(r, Math.max(0, tickMs - (Date.now() - started))));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
