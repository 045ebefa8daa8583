import { defineFeatureView } from '../definition.ts';

/**
 * The demo domain's feature views over `events.shop` (schemas/domains/shop/shop-order.avsc), keyed by
 * user. Three views × five aggregations × three windows: the shape the features benchmark runs.
 */
const windows = ['10m', '1h', '24h'];

/** The views over a shop-orders topic (tests and benchmarks pass their own topic). */
export function shopViews(topic = 'events.shop', allowedLateness = '5m', version = 1) {
  const shopOrders = { topic, keyField: 'user_id', timestampField: 'ts', allowedLateness, version };
  return [userSpend(shopOrders), userActivity(shopOrders), userRisk(shopOrders)];
}

type ShopSource = {
  topic: string;
  keyField: string;
  timestampField: string;
  allowedLateness: string;
  version: number;
};

const userSpend = (shopOrders: ShopSource) =>
  defineFeatureView({
    name: 'user_spend',
    version: shopOrders.version,
    description: 'How much a user spends and how the amounts spread.',
    source: {
      topic: shopOrders.topic,
      keyField: shopOrders.keyField,
      timestampField: shopOrders.timestampField,
      allowedLateness: shopOrders.allowedLateness,
    },
    entity: 'user_id',
    tile: '1m',
    ttl: '7d',
    aggregations: [
      { name: 'amount_sum', kind: 'sum', field: 'amount', windows },
      { name: 'amount_mean', kind: 'mean', field: 'amount', windows },
      { name: 'amount_max', kind: 'max', field: 'amount', windows },
      { name: 'amount_stddev', kind: 'stddev', field: 'amount', windows },
      { name: 'amount_p', kind: 'approx_quantile', field: 'amount', quantiles: [0.5, 0.9], windows },
    ],
  });

const userActivity = (shopOrders: ShopSource) =>
  defineFeatureView({
    name: 'user_activity',
    version: shopOrders.version,
    description: 'How often a user orders, and where.',
    source: {
      topic: shopOrders.topic,
      keyField: shopOrders.keyField,
      timestampField: shopOrders.timestampField,
      allowedLateness: shopOrders.allowedLateness,
    },
    entity: 'user_id',
    tile: '1m',
    ttl: '7d',
    aggregations: [
      { name: 'orders', kind: 'count', windows },
      { name: 'merchants', kind: 'approx_distinct', field: 'merchant_id', windows },
      { name: 'categories', kind: 'approx_distinct', field: 'category', windows },
      { name: 'last_category', kind: 'last', field: 'category', windows },
      { name: 'amount_min', kind: 'min', field: 'amount', windows },
    ],
  });

const userRisk = (shopOrders: ShopSource) =>
  defineFeatureView({
    name: 'user_risk',
    version: shopOrders.version,
    description: 'Signals a fraud model uses: bursts, spread, devices and countries.',
    source: {
      topic: shopOrders.topic,
      keyField: shopOrders.keyField,
      timestampField: shopOrders.timestampField,
      allowedLateness: shopOrders.allowedLateness,
    },
    entity: 'user_id',
    tile: '1m',
    ttl: '7d',
    aggregations: [
      { name: 'amount_variance', kind: 'variance', field: 'amount', windows },
      { name: 'countries', kind: 'approx_distinct', field: 'country', windows },
      { name: 'devices', kind: 'approx_distinct', field: 'device', windows },
      { name: 'last_country', kind: 'last', field: 'country', windows },
      { name: 'order_count', kind: 'count', windows },
    ],
  });
