import { defineFeatureView, type FeatureViewDef } from 'flywheel';

/**
 * The shop example's feature views over its orders source, keyed by user. Three views × five
 * aggregations × three windows: the shape the features benchmark runs. `flywheel.config.ts` declares
 * them; tests and benchmarks compile them over a topic of their own with `shopViews`.
 */
const windows = ['10m', '1h', '24h'];

type Aggregations = FeatureViewDef['aggregations'];

export const SHOP_VIEWS: ReadonlyArray<{ name: string; description: string; aggregations: Aggregations }> = [
  {
    name: 'user_spend',
    description: 'How much a user spends and how the amounts spread.',
    aggregations: [
      { name: 'amount_sum', kind: 'sum', field: 'amount', windows },
      { name: 'amount_mean', kind: 'mean', field: 'amount', windows },
      { name: 'amount_max', kind: 'max', field: 'amount', windows },
      { name: 'amount_stddev', kind: 'stddev', field: 'amount', windows },
      { name: 'amount_p', kind: 'approx_quantile', field: 'amount', quantiles: [0.5, 0.9], windows },
    ],
  },
  {
    name: 'user_activity',
    description: 'How often a user orders, and where.',
    aggregations: [
      { name: 'orders', kind: 'count', windows },
      { name: 'merchants', kind: 'approx_distinct', field: 'merchant_id', windows },
      { name: 'categories', kind: 'approx_distinct', field: 'category', windows },
      { name: 'last_category', kind: 'last', field: 'category', windows },
      { name: 'amount_min', kind: 'min', field: 'amount', windows },
    ],
  },
  {
    name: 'user_risk',
    description: 'Signals a fraud model uses: bursts, spread, devices and countries.',
    aggregations: [
      { name: 'amount_variance', kind: 'variance', field: 'amount', windows },
      { name: 'countries', kind: 'approx_distinct', field: 'country', windows },
      { name: 'devices', kind: 'approx_distinct', field: 'device', windows },
      { name: 'last_country', kind: 'last', field: 'country', windows },
      { name: 'order_count', kind: 'count', windows },
    ],
  },
];

/** The shop views compiled over a shop-orders topic (tests and benchmarks pass their own topic and version). */
export function shopViews(topic = 'events.shop', allowedLateness = '5m', version = 1) {
  const source = { topic, keyField: 'user_id', timestampField: 'ts', allowedLateness };
  return SHOP_VIEWS.map((v) =>
    defineFeatureView({ ...v, version, source, entity: 'user_id', tile: '1m', ttl: '7d' }),
  );
}
