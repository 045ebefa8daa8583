/**
 * The one-number aggregators: count, sum, min, max. Their IRs are plain numbers (null = "no data yet"
 * for sum/min/max), so merges of integers are exact and merge order never changes the result.
 * Sums of non-integers are exact only up to floating-point rounding.
 */
import type { Aggregator } from './aggregator.ts';
import { decodeError, expectArray, expectCount, expectFinite } from './decode-checks.ts';

/** The numeric kinds fold only finite numbers (see aggregator.ts for why). */
export function numeric(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Counts non-null values ("the field is present"). */
export const countAggregator: Aggregator<number, number> = {
  kind: 'count',
  exact: true,
  init: () => 0,
  update: (n, value) => (value === null ? n : n + 1),
  merge: (a, b) => a + b,
  finalize: (n) => n,
  encode: (n) => n,
  decode: (data) => expectCount('count', data, 'count'),
};

/** Sum, min and max share one shape: an optional number combined with a binary operator. */
function optionalNumberAggregator(
  kind: 'sum' | 'min' | 'max',
  combine: (a: number, b: number) => number,
): Aggregator<number | null, number> {
  return {
    kind,
    exact: true,
    init: () => null,
    update: (ir, value) => {
      const x = numeric(value);
      if (x === null) return ir;
      return ir === null ? x : combine(ir, x);
    },
    merge: (a, b) => (a === null ? b : b === null ? a : combine(a, b)),
    finalize: (ir) => ir,
    // [] when empty, [x] otherwise: JSON has no place for "null" in our encoding contract.
    encode: (ir) => (ir === null ? [] : [ir]),
    decode: (data) => {
      const arr = expectArray(kind, data, [0, 1]);
      if (arr.length === 0) return null;
      if (arr.length !== 1) throw decodeError(kind, 'expected [] or [value]', data);
      return expectFinite(kind, arr[0], 'value');
    },
  };
}

export const sumAggregator = optionalNumberAggregator('sum', (a, b) => a + b);
export const minAggregator = optionalNumberAggregator('min', Math.min);
export const maxAggregator = optionalNumberAggregator('max', Math.max);
