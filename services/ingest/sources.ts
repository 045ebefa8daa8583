import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import {
  createSourceCatalogue as buildSourceCatalogue,
  type SourceCatalogue,
  type SourceDefinition,
} from '../core/contracts/sources.ts';

export {
  DEFAULT_LIMITS,
  type Source,
  type SourceCatalogue,
  type SourceDefinition,
  type SourceLimits,
} from '../core/contracts/sources.ts';

/**
 * The source catalogue: which topic a named source writes to, its Avro contract and its entity key.
 * Plain data (SOURCE_DEFINITIONS) here; the factory that loads schemas and compiles contracts once is
 * services/core/contracts/sources.ts, shared with the producer SDK, so the ingest service, the SDK, the
 * feature views and the CLI all read the same table.
 */
export const SOURCE_DEFINITIONS: readonly SourceDefinition[] = Object.freeze([
  { name: 'shop', topic: 'events.shop', keyField: 'user_id', timestampField: 'ts' },
  { name: 'shop-outcomes', topic: 'outcomes.shop', keyField: 'user_id', timestampField: 'ts' },
]);

/** The catalogue of `definitions` (the shop sources by default), schemas from schemas/catalog.ts. */
export function createSourceCatalogue(
  definitions: readonly SourceDefinition[] = SOURCE_DEFINITIONS,
  loadSchema: (topic: string) => object = loadSchemaForTopic,
): SourceCatalogue {
  return buildSourceCatalogue(definitions, loadSchema);
}
