import {
  type CompiledView,
  defineFeatureView,
  type FeatureViewDef,
} from '../../../services/features/definition.ts';
import type { SourceEvent } from '../../../services/features/engine/partition-state.ts';
import type { Rng } from '../../support/prng.ts';

/** Small views and seeded event streams shared by the feature engine's unit tests. */
export const LATENESS_MS = 5 * 60_000;

export function baseDef(overrides: Partial<FeatureViewDef> = {}): FeatureViewDef {
  return {
    name: 'orders',
    version: 1,
    source: { topic: 'events.unit', keyField: 'user', timestampField: 'ts', allowedLateness: '5m' },
    entity: 'user',
    tile: '1m',
    ttl: '7d',
    aggregations: [{ name: 'n', kind: 'count', windows: ['10m'] }],
    ...overrides,
  };
}

/** One aggregation of every kind over windows that need base, hour and day tiles. */
export function everyKindView(version = 1): CompiledView {
  const windows = ['5m', '2h', '2d'];
  return defineFeatureView(
    baseDef({
      version,
      aggregations: [
        { name: 'n', kind: 'count', windows },
        { name: 'amount_sum', kind: 'sum', field: 'amount', windows },
        { name: 'amount_mean', kind: 'mean', field: 'amount', windows },
        { name: 'amount_min', kind: 'min', field: 'amount', windows },
        { name: 'amount_max', kind: 'max', field: 'amount', windows },
        { name: 'last_cat', kind: 'last', field: 'cat', windows },
        { name: 'amount_var', kind: 'variance', field: 'amount', windows },
        { name: 'amount_sd', kind: 'stddev', field: 'amount', windows },
        { name: 'cats', kind: 'approx_distinct', field: 'cat', windows },
        { name: 'amount_p', kind: 'approx_quantile', field: 'amount', quantiles: [0.5, 0.9], windows },
      ],
    }),
  );
}

/**
 * A partition's stream in offset order: event times advance by `stepMs` on average with ± `jitterMs`
 * disorder; `lateFraction` of them are pushed 20 minutes back (late under a 5 minute lateness).
 * Amounts are multiples of 0.25 so that sums are exact.
 */
export function randomStream(
  rng: Rng,
  opts: {
    count: number;
    users: number;
    start: number;
    stepMs: number;
    jitterMs: number;
    lateFraction: number;
  },
): SourceEvent[] {
  return Array.from({ length: opts.count }, (_, i) => {
    let ts = Math.round(opts.start + i * opts.stepMs + (rng.next() * 2 - 1) * opts.jitterMs);
    if (rng.bool(opts.lateFraction)) ts -= 20 * 60_000;
    const user = `u${rng.int(0, opts.users - 1)}`;
    const record: Record<string, unknown> = {
      user,
      ts,
      amount: rng.bool(0.05) ? null : rng.int(-400, 4_000) / 4,
      cat: rng.bool(0.05) ? null : rng.pick(['a', 'b', 'c', 'd', 'e', '10', '9']),
    };
    return { offset: i, entity: user, eventTime: ts, record };
  });
}
