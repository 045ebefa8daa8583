import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { avroToZod } from '../core/contracts/index.ts';
import type { SourceDefinition } from '../core/contracts/sources.ts';

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

/**
 * The built-in sources the producer sends to by default: the same table as SOURCE_DEFINITIONS in
 * services/ingest/sources.ts (the SDK imports no service, so it carries its own copy;
 * test/unit/deps/sdk-shop-sources.test.ts fails if the two drift).
 */
export const SHOP_SOURCE_DEFINITIONS: readonly SourceDefinition[] = Object.freeze([
  { name: 'shop', topic: 'events.shop', keyField: 'user_id', timestampField: 'ts' },
  { name: 'shop-outcomes', topic: 'outcomes.shop', keyField: 'user_id', timestampField: 'ts' },
]);

/** The .avsc each built-in topic carries, read by path (these files ship with the SDK). */
const SHOP_SCHEMA_FILES: Readonly<Record<string, URL>> = Object.freeze({
  'events.shop': new URL('../../schemas/domains/shop/shop-order.avsc', import.meta.url),
  'outcomes.shop': new URL('../../schemas/domains/shop/shop-outcome.avsc', import.meta.url),
});

/** The Avro schema (plain JSON, documentation included) of a built-in topic's values. */
export function loadShopSchema(topic: string): object {
  const file = SHOP_SCHEMA_FILES[topic];
  if (!file) throw new Error(`no built-in Avro contract for topic "${topic}"`);
  return JSON.parse(readFileSync(file, 'utf8')) as object;
}
