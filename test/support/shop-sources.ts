import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createSourceCatalogue,
  type SourceCatalogue,
  type SourceLimits,
} from '../../services/core/contracts/sources.ts';

/**
 * The shop example's two sources (examples/shop) as a catalogue over topics of a test's own, with the
 * example's real .avsc files: what ingest and the SDK get from the loaded project, without loading it.
 */
export const SHOP_SCHEMA_FILES = {
  order: fileURLToPath(new URL('../../examples/shop/schemas/shop-order.avsc', import.meta.url)),
  outcome: fileURLToPath(new URL('../../examples/shop/schemas/shop-outcome.avsc', import.meta.url)),
};

export function shopSources(
  topics: { shop: string; outcomes: string } = { shop: 'events.shop', outcomes: 'outcomes.shop' },
  shopLimits: Partial<SourceLimits> = {},
): SourceCatalogue {
  return createSourceCatalogue(
    [
      { name: 'shop', topic: topics.shop, keyField: 'user_id', timestampField: 'ts', limits: shopLimits },
      { name: 'shop-outcomes', topic: topics.outcomes, keyField: 'user_id', timestampField: 'ts' },
    ],
    (topic) =>
      JSON.parse(
        readFileSync(topic === topics.shop ? SHOP_SCHEMA_FILES.order : SHOP_SCHEMA_FILES.outcome, 'utf8'),
      ),
  );
}
