import { type AvroContract, avroToZod } from './avro-to-zod.ts';
import { DEFAULT_EVENT_BOUNDS, DEFAULT_KEY_LIMITS } from './event-bounds.ts';

/**
 * The source catalogue machinery: which topic a named source writes to, its Avro contract and its
 * entity key. A factory loads schemas and compiles contracts once; it knows no domain, so the caller
 * passes the definitions and the schema loader (services/project/runtime.ts builds a project's).
 */
export interface SourceLimits {
  /** Most events one request may carry (413 FW_BATCH_TOO_LARGE above). */
  readonly maxEvents: number;
  /** Largest single event, as JSON bytes (413 FW_PAYLOAD_TOO_LARGE above). */
  readonly maxEventBytes: number;
  /** Deepest nesting of objects/arrays inside one event (400 above; stops stack-exhaustion payloads). */
  readonly maxDepth: number;
  /** Longest entity key in UTF-8 bytes (400 FW_ENTITY_KEY_INVALID above). */
  readonly maxKeyBytes: number;
  /** Furthest an event time may be ahead of the server's clock, ms (400 FW_EVENT_TIME_OUT_OF_BOUNDS). */
  readonly maxFutureSkewMs: number;
  /** Earliest plausible event time, epoch ms (400 FW_EVENT_TIME_OUT_OF_BOUNDS before it). */
  readonly minEventTimeMs: number;
}

export interface SourceDefinition {
  readonly name: string;
  readonly topic: string;
  /** Field whose value is the Kafka message key (the entity key features are grouped by). */
  readonly keyField: string;
  /** Event-time field (epoch ms, Avro timestamp-millis): checked against the source's time bounds. */
  readonly timestampField: string;
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
  maxKeyBytes: DEFAULT_KEY_LIMITS.maxKeyBytes,
  maxFutureSkewMs: DEFAULT_EVENT_BOUNDS.maxFutureSkewMs,
  minEventTimeMs: DEFAULT_EVENT_BOUNDS.minEventTimeMs,
});

export type SourceCatalogue = ReadonlyMap<string, Source>;

export function createSourceCatalogue(
  definitions: readonly SourceDefinition[],
  loadSchema: (topic: string) => object,
): SourceCatalogue {
  const catalogue = new Map<string, Source>();
  for (const def of definitions) {
    const schema = loadSchema(def.topic);
    const fields = (schema as { fields?: Array<{ name: string; type: unknown }> }).fields ?? [];
    const key = fields.find((f) => f.name === def.keyField);
    // The key must always be present and stringifiable, or events of one entity could scatter.
    if (!key || !['string', 'int', 'long'].includes(String(key.type)))
      throw new Error(`source "${def.name}": key field "${def.keyField}" must be a required string/int/long`);
    const time = fields.find((f) => f.name === def.timestampField);
    if (!time || !isTimestampMillis(time.type))
      throw new Error(
        `source "${def.name}": timestamp field "${def.timestampField}" must be a required long with logicalType timestamp-millis`,
      );
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

function isTimestampMillis(type: unknown): boolean {
  const spec = type as { type?: unknown; logicalType?: unknown } | null;
  return spec?.type === 'long' && spec.logicalType === 'timestamp-millis';
}
