import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import { type AvroContract, avroToZod } from '../core/contracts/index.ts';

/**
 * The source catalogue: which topic a named source writes to, its Avro contract and its entity key.
 * Plain data (SOURCE_DEFINITIONS) plus a factory that loads schemas and compiles contracts once, so the
 * ingest service, the SDK, the feature views and the CLI all read the same table.
 */
export interface SourceLimits {
  /** Most events one request may carry (413 FW_BATCH_TOO_LARGE above). */
  readonly maxEvents: number;
  /** Largest single event, as JSON bytes (413 FW_PAYLOAD_TOO_LARGE above). */
  readonly maxEventBytes: number;
  /** Deepest nesting of objects/arrays inside one event (400 above; stops stack-exhaustion payloads). */
  readonly maxDepth: number;
}

export interface SourceDefinition {
  readonly name: string;
  readonly topic: string;
  /** Field whose value is the Kafka message key (the entity key features are grouped by). */
  readonly keyField: string;
  readonly limits?: Partial<SourceLimits>;
}

export interface Source extends SourceDefinition {
  readonly limits: SourceLimits;
  /** The Avro schema registered under `<topic>-value`. */
  readonly schema: object;
  readonly contract: AvroContract<unknown>;
}

export const DEFAULT_LIMITS: SourceLimits = Object.freeze({
  maxEvents: 1_000,
  maxEventBytes: 64 * 1024,
  maxDepth: 32,
});

export const SOURCE_DEFINITIONS: readonly SourceDefinition[] = Object.freeze([
  { name: 'shop', topic: 'events.shop', keyField: 'user_id' },
  { name: 'shop-outcomes', topic: 'outcomes.shop', keyField: 'user_id' },
]);

export type SourceCatalogue = ReadonlyMap<string, Source>;

export function createSourceCatalogue(
  definitions: readonly SourceDefinition[] = SOURCE_DEFINITIONS,
  loadSchema: (topic: string) => object = loadSchemaForTopic,
): SourceCatalogue {
  const catalogue = new Map<string, Source>();
  for (const def of definitions) {
    const schema = loadSchema(def.topic);
    const fields = (schema as { fields?: Array<{ name: string; type: unknown }> }).fields ?? [];
    const key = fields.find((f) => f.name === def.keyField);
    // The key must always be present and stringifiable, or events of one entity could scatter.
    if (!key || !['string', 'int', 'long'].includes(String(key.type)))
      throw new Error(`source "${def.name}": key field "${def.keyField}" must be a required string/int/long`);
    if (catalogue.has(def.name)) throw new Error(`source "${def.name}" is defined twice`);
    catalogue.set(
      def.name,
      Object.freeze({
        ...def,
        limits: Object.freeze({ ...DEFAULT_LIMITS, ...def.limits }),
        schema,
        contract: avroToZod(schema),
      }),
    );
  }
  return catalogue;
}
