/**
 * The aggregator contract (DESIGN decision 3). The stream processor, the ClickHouse backfill and the
 * point-in-time join all fold events through these definitions, so online and offline values agree.
 *
 * An aggregator folds events into an intermediate result (IR) that merges across event-time tiles.
 * `init`/`update`/`merge`/`finalize` are the whole algebra; `encode`/`decode` give the IR a JSON-safe
 * shape (numbers, strings, arrays) for the tile stores.
 *
 * Conventions shared by every kind:
 * - `null` values are ignored by every kind except `count` (which counts non-null values: "the field is
 *   present"; when a feature has no field the processor passes a non-null marker such as 1).
 * - Numeric kinds (sum, mean, min, max, variance, stddev, approx_quantile) ignore anything that is not a
 *   finite number — strings, NaN, ±Infinity. The processor validates types before folding, so this only
 *   keeps a bad value from poisoning a tile (and keeps the IR JSON-safe).
 * - `finalize` returns null when nothing was folded, except the counting kinds `count` and
 *   `approx_distinct`, which return 0.
 * - `merge(a, b)` may mutate and return `a`; it never mutates `b` and never returns an object aliased to
 *   `b`. `update` may mutate and return its IR. Always use the returned value.
 */
import { FlywheelError } from '../errors.ts';
import { countAggregator, maxAggregator, minAggregator, sumAggregator } from './basic.ts';
import { createQuantileAggregator, DEFAULT_QUANTILES } from './ddsketch.ts';
import { distinctAggregator } from './hyperloglog.ts';
import { lastAggregator } from './last.ts';
import { meanAggregator, stddevAggregator, varianceAggregator } from './moments.ts';

export const AGGREGATION_KINDS = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'last',
  'variance',
  'stddev',
  'approx_distinct',
  'approx_quantile',
] as const;

export type AggregationKind = (typeof AGGREGATION_KINDS)[number];

/** A raw field value as the processor hands it over (already validated against the source schema). */
export type FieldValue = number | string | null;

export interface Aggregator<IR, Out> {
  readonly kind: AggregationKind;
  /** False for the sketches (approx_distinct, approx_quantile). */
  readonly exact: boolean;
  /**
   * Only on approximate kinds. approx_distinct: the HyperLogLog standard error (1σ, relative);
   * approx_quantile: the guaranteed relative-accuracy bound α of every quantile estimate.
   */
  readonly relativeError?: number;
  init(): IR;
  update(ir: IR, value: FieldValue, eventTimeMs: number): IR;
  merge(a: IR, b: IR): IR;
  finalize(ir: IR): Out | null;
  encode(ir: IR): unknown;
  /**
   * Optional fast path: exactly JSON.stringify(encode(ir)), rendered without the intermediate arrays.
   * The sketches have one because encoding tiles is on the stream processor's hot path.
   */
  encodeText?(ir: IR): string;
  /** Inverse of encode; throws FlywheelError FW_DECODE_FAILED on malformed data. */
  decode(data: unknown): IR;
}

export interface AggregationSpec {
  kind: AggregationKind;
  /** approx_quantile only: the quantiles to report, each in [0, 1]. Default [0.5, 0.9, 0.99]. */
  quantiles?: number[];
}

/** What any aggregator may finalize to: a number, the `last` value, or one number per quantile. */
export type AggregationOutput = number | string | number[];

/** An aggregator whose kind is only known at run time; its IR is opaque to the caller. */
export type AnyAggregator = Aggregator<unknown, AggregationOutput>;

type Factory = (spec: AggregationSpec) => AnyAggregator;

// Kinds are data, not a switch: adding a kind is one entry here and one small file.
const FACTORIES: Readonly<Record<AggregationKind, Factory>> = {
  count: () => countAggregator,
  sum: () => sumAggregator,
  mean: () => meanAggregator,
  min: () => minAggregator,
  max: () => maxAggregator,
  last: () => lastAggregator,
  variance: () => varianceAggregator,
  stddev: () => stddevAggregator,
  approx_distinct: () => distinctAggregator,
  approx_quantile: (spec) => createQuantileAggregator(spec.quantiles ?? DEFAULT_QUANTILES),
};

function invalidSpec(message: string, spec: unknown): FlywheelError {
  return new FlywheelError('FW_FEATURE_VIEW_INVALID', `invalid aggregation: ${message}`, {
    details: { spec },
  });
}

/** Validates the spec (throws FW_FEATURE_VIEW_INVALID) and returns the aggregator for its kind. */
export function createAggregator(spec: AggregationSpec): AnyAggregator {
  const factory = Object.hasOwn(FACTORIES, spec.kind) ? FACTORIES[spec.kind] : undefined;
  if (factory === undefined) {
    throw invalidSpec(
      `unknown kind ${JSON.stringify(spec.kind)}; expected one of ${AGGREGATION_KINDS.join(', ')}`,
      spec,
    );
  }
  if (spec.quantiles !== undefined) {
    if (spec.kind !== 'approx_quantile') throw invalidSpec(`quantiles only apply to approx_quantile`, spec);
    const ok =
      Array.isArray(spec.quantiles) &&
      spec.quantiles.length > 0 &&
      spec.quantiles.every((q) => typeof q === 'number' && q >= 0 && q <= 1);
    if (!ok) throw invalidSpec('quantiles must be a non-empty list of numbers in [0, 1]', spec);
  }
  return factory(spec);
}
