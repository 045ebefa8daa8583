import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  AGGREGATION_KINDS,
  type AggregationKind,
  type AnyAggregator,
  createAggregator,
} from '../core/aggregation/index.ts';
import {
  DEFAULT_EVENT_BOUNDS,
  DEFAULT_KEY_LIMITS,
  type EventBounds,
  type KeyLimits,
} from '../core/contracts/event-bounds.ts';
import { formatDuration, LIFETIME, parseDuration } from '../core/windows/duration.ts';
import { resolutionsFor, validateWindow } from '../core/windows/tiles.ts';
import { FlywheelError } from '../platform/errors.ts';

/**
 * Feature views are declared in TypeScript and validated with zod. A view names its source topic,
 * entity key, event-time field, allowed lateness, tile size and TTL, and its aggregations, each over one
 * or more windows. `compileView` turns the declaration into what the engine runs: aggregator slots
 * (one partial state per (field, kind), shared by all of its windows), tile resolutions, limits, and a
 * fingerprint of the definition so that a changed definition cannot silently reuse a version.
 */
const duration = z.string().min(1);

export const SourceSchema = z.object({
  /** Kafka topic carrying the source's Avro events. */
  topic: z.string().regex(/^[A-Za-z0-9._-]+$/),
  /** The field the topic is keyed (and so partitioned) by. */
  keyField: z.string().min(1),
  /** Event-time field: epoch milliseconds (Avro timestamp-millis). */
  timestampField: z.string().min(1),
  /** Events older than the partition's max event time minus this are late: counted and dead-lettered. */
  allowedLateness: duration.default('5m'),
  // Bounds on what the processor folds (docs/features.md#event-time-bounds). Optional without a zod
  // default, so the fingerprints of views that do not set them stay what they were.
  /** Furthest an event time may be ahead of the record's receive time (default 5m). */
  maxFutureSkew: duration.optional(),
  /** Earliest plausible event time, ISO-8601 with offset (default 2000-01-01T00:00:00Z). */
  minEventTime: z.iso.datetime({ offset: true }).optional(),
  /** Longest entity key in UTF-8 bytes (default 256). */
  maxKeyBytes: z.number().int().positive().max(1_048_576).optional(),
  /** Largest record value in bytes (default 64 KiB, the ingest limit for one event). */
  maxRecordBytes: z
    .number()
    .int()
    .positive()
    .max(16 * 1_048_576)
    .optional(),
});

/** What a record of a source must satisfy before it is folded (resolved from the source's definition). */
export interface SourceRules {
  readonly bounds: EventBounds;
  readonly keyLimits: KeyLimits;
  readonly maxRecordBytes: number;
}

/** 64 KiB: the same as ingest's limit for one event as JSON (Avro is smaller than its JSON). */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;

export function sourceRules(source: z.output<typeof SourceSchema>): SourceRules {
  return {
    bounds: {
      maxFutureSkewMs:
        source.maxFutureSkew === undefined
          ? DEFAULT_EVENT_BOUNDS.maxFutureSkewMs
          : parseDuration(source.maxFutureSkew),
      minEventTimeMs:
        source.minEventTime === undefined
          ? DEFAULT_EVENT_BOUNDS.minEventTimeMs
          : Date.parse(source.minEventTime),
    },
    keyLimits: { maxKeyBytes: source.maxKeyBytes ?? DEFAULT_KEY_LIMITS.maxKeyBytes },
    maxRecordBytes: source.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
  };
}

export const AggregationDefSchema = z.object({
  /** Output name prefix; features are named `<name>_<window>` (e.g. amount_sum_1h). */
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  kind: z.enum(AGGREGATION_KINDS),
  /** Input field; omitted only for `count`, which then counts events. */
  field: z.string().min(1).optional(),
  quantiles: z.array(z.number().min(0).max(1)).min(1).optional(),
  windows: z.array(duration).min(1),
});

export const FeatureViewSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  version: z.number().int().positive(),
  description: z.string().default(''),
  source: SourceSchema,
  /** The entity key field; must equal the source's key field (one partition owns an entity's tiles). */
  entity: z.string().min(1),
  tile: duration.default('1m'),
  /** A view whose newest event is older than this reads as missing (status 'expired'). */
  ttl: duration.default('7d'),
  aggregations: z.array(AggregationDefSchema).min(1),
});

export type FeatureViewDef = z.input<typeof FeatureViewSchema>;

export interface AggregatorSlot {
  readonly index: number;
  readonly field: string | undefined;
  readonly kind: AggregationKind;
  readonly quantiles: readonly number[] | undefined;
  readonly aggregator: AnyAggregator;
}

export interface CompiledFeature {
  /** `<aggregation name>_<window>`, e.g. amount_sum_1h. */
  readonly name: string;
  readonly slot: number;
  readonly windowMs: number;
  readonly exact: boolean;
}

export interface CompiledView {
  readonly name: string;
  readonly version: number;
  /** `<name>:v<version>`: the key every store uses, so versions live side by side. */
  readonly id: string;
  readonly fingerprint: string;
  readonly definition: z.output<typeof FeatureViewSchema>;
  readonly source: z.output<typeof SourceSchema> & { allowedLatenessMs: number; rules: SourceRules };
  readonly entity: string;
  readonly tileMs: number;
  readonly ttlMs: number;
  readonly resolutions: number[];
  /** Longest finite window: tiles older than this behind the newest are pruned from Redis. */
  readonly retentionMs: number;
  readonly slots: readonly AggregatorSlot[];
  readonly features: readonly CompiledFeature[];
}

export function defineFeatureView(def: FeatureViewDef): CompiledView {
  return compileView(def);
}

export function compileView(input: FeatureViewDef): CompiledView {
  const parsed = FeatureViewSchema.safeParse(input);
  if (!parsed.success) {
    const name = (input as { name?: unknown })?.name;
    const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(view)'}: ${i.message}`);
    throw new FlywheelError(
      'FW_FEATURE_VIEW_INVALID',
      `feature view ${String(name ?? '?')} is invalid:\n${lines.join('\n')}`,
    );
  }
  const def = parsed.data;
  const fail = (msg: string) =>
    new FlywheelError('FW_FEATURE_VIEW_INVALID', `feature view ${def.name} v${def.version}: ${msg}`);
  if (def.entity !== def.source.keyField) {
    throw fail(
      `entity "${def.entity}" must be the source's key field "${def.source.keyField}" (re-key the topic for another entity)`,
    );
  }
  const tileMs = parseDuration(def.tile);
  const slots: AggregatorSlot[] = [];
  const features: CompiledFeature[] = [];
  const windows: number[] = [];
  const names = new Set<string>();
  for (const agg of def.aggregations) {
    if (agg.kind !== 'count' && !agg.field) throw fail(`aggregation ${agg.name} (${agg.kind}) needs a field`);
    const slotKey = `${agg.kind}|${agg.field ?? ''}|${(agg.quantiles ?? []).join(',')}`;
    let slot = slots.find((s) => `${s.kind}|${s.field ?? ''}|${(s.quantiles ?? []).join(',')}` === slotKey);
    if (!slot) {
      const spec = agg.quantiles ? { kind: agg.kind, quantiles: agg.quantiles } : { kind: agg.kind };
      const aggregator = createAggregator(spec);
      slot = { index: slots.length, field: agg.field, kind: agg.kind, quantiles: agg.quantiles, aggregator };
      slots.push(slot);
    }
    for (const w of agg.windows) {
      const windowMs = parseDuration(w);
      validateWindow(tileMs, windowMs);
      const name = `${agg.name}_${windowMs === LIFETIME ? 'lifetime' : formatDuration(windowMs)}`;
      if (names.has(name)) throw fail(`feature ${name} is declared twice`);
      names.add(name);
      features.push({ name, slot: slot.index, windowMs, exact: slot.aggregator.exact });
      windows.push(windowMs);
    }
  }
  const finite = windows.filter((w) => w !== LIFETIME);
  return {
    name: def.name,
    version: def.version,
    id: `${def.name}:v${def.version}`,
    fingerprint: createHash('sha256')
      .update(JSON.stringify(sortKeys(def)))
      .digest('hex')
      .slice(0, 16),
    definition: def,
    source: {
      ...def.source,
      allowedLatenessMs: parseDuration(def.source.allowedLateness),
      rules: sourceRules(def.source),
    },
    entity: def.entity,
    tileMs,
    ttlMs: parseDuration(def.ttl),
    resolutions: resolutionsFor(tileMs, windows),
    retentionMs: finite.length ? Math.max(...finite) : tileMs,
    slots,
    features,
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * Views by id (`name:v<version>`) and by bare name, which means the newest registered version: the one
 * lookup rule of every reader of views (online reads, training sets, the consistency monitor).
 */
export function viewsByNameOrId(views: readonly CompiledView[]): Map<string, CompiledView> {
  const byId = new Map<string, CompiledView>();
  for (const v of views) {
    byId.set(v.id, v);
    const current = byId.get(v.name);
    if (!current || current.version < v.version) byId.set(v.name, v);
  }
  return byId;
}
