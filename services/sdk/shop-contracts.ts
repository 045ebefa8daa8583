import type { z } from 'zod';
import { avroToZod } from '../core/contracts/index.ts';

/**
 * Static types for the demo sources. TypeScript cannot type a JSON file's string literals, so the
 * shapes of schemas/domains/shop/*.avsc are restated here as `const` literals (docs left out);
 * test/unit/contracts/sdk-types.test.ts fails the build if they drift from the .avsc files. At run time
 * the SDK validates with the contract derived from the .avsc itself.
 */
export const SHOP_ORDER_AVRO = {
  type: 'record',
  name: 'ShopOrder',
  namespace: 'dev.flywheel',
  fields: [
    { name: 'event_id', type: 'string' },
    { name: 'user_id', type: 'string' },
    { name: 'merchant_id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'currency', type: 'string' },
    { name: 'category', type: 'string' },
    { name: 'device', type: ['null', 'string'], default: null },
    { name: 'country', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
} as const;

export const SHOP_OUTCOME_AVRO = {
  type: 'record',
  name: 'ShopOutcome',
  namespace: 'dev.flywheel',
  fields: [
    { name: 'event_id', type: 'string' },
    { name: 'user_id', type: 'string' },
    { name: 'is_fraud', type: 'boolean' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'reported_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
} as const;

export const shopOrderContract = avroToZod(SHOP_ORDER_AVRO);
export const shopOutcomeContract = avroToZod(SHOP_OUTCOME_AVRO);

/** What a producer sends (defaults optional, timestamps as epoch ms or ISO-8601). */
export type ShopOrderInput = z.input<typeof shopOrderContract>;
/** What lands in Kafka (and what consumers decode). */
export type ShopOrder = z.infer<typeof shopOrderContract>;
export type ShopOutcomeInput = z.input<typeof shopOutcomeContract>;
export type ShopOutcome = z.infer<typeof shopOutcomeContract>;

/** Source name → the event type its `send` accepts. */
export interface SourceEvents {
  shop: ShopOrderInput;
  'shop-outcomes': ShopOutcomeInput;
}
