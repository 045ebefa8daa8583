import { defineProject } from 'flywheel';
import { shopTraffic } from './traffic.ts';
import { SHOP_VIEWS } from './views.ts';

/**
 * The bundled example: an online shop's orders, keyed by user, and late fraud labels. `flywheel start`
 * runs it when no --project is given.
 */
export default defineProject({
  name: 'shop',
  description: 'Orders of an online shop and late fraud labels; a fraud model over user features.',
  sources: [
    {
      name: 'shop',
      description: 'One order as placed.',
      topic: 'events.shop',
      schema: 'schemas/shop-order.avsc',
      keyField: 'user_id',
      timestampField: 'ts',
      allowedLateness: '5m',
    },
    {
      name: 'shop-outcomes',
      description: 'A late fraud label for an order (chargebacks arrive hours or days after).',
      topic: 'outcomes.shop',
      schema: 'schemas/shop-outcome.avsc',
      keyField: 'user_id',
      timestampField: 'ts',
    },
  ],
  entities: [{ name: 'user', key: 'user_id', description: 'A buyer.' }],
  views: SHOP_VIEWS.map((view) => ({ ...view, source: 'shop', entity: 'user', tile: '1m', ttl: '7d' })),
  featureServices: { fraud: ['user_spend', 'user_risk'] },
  models: [
    {
      name: 'fraud',
      description: "Is this order fraudulent? Scored at checkout from the buyer's recent behaviour.",
      task: 'binary_classification',
      features: [
        'user_spend.amount_sum_1h',
        'user_spend.amount_mean_1d',
        'user_spend.amount_max_1d',
        'user_activity.orders_10m',
        'user_activity.merchants_1d',
        'user_risk.countries_1d',
        'user_risk.devices_1d',
      ],
      label: {
        source: 'shop-outcomes',
        field: 'is_fraud',
        join: { by: 'request_id', field: 'event_id' },
        maxDelay: '2h',
      },
      training: { window: '7d', holdout: '1d' },
      gate: { metric: 'auc', tolerance: 0.01 },
      monitoring: { window: '1h' },
    },
  ],
  traffic: shopTraffic,
});
