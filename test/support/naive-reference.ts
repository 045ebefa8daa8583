/**
 * The brute-force reference: each aggregation computed straight from raw events in [start, end), with
 * the semantics documented in services/core/aggregation (nulls ignored except by count; numeric kinds
 * ignore non-finite and non-numbers; population variance; `last` ties broken by larger String(value),
 * then number over string). Approximate kinds return the truth: the exact number of distinct String(v),
 * and nearest-rank quantiles (the value at 0-based index nearestRankIndex(q, n) of the sorted values).
 * Deliberately naive (sorts, two passes) — it is the oracle for the tiled code and integration tests.
 */
import {
  type AggregationKind,
  type AggregationOutput,
  DEFAULT_QUANTILES,
  nearestRankIndex,
} from '../../services/core/aggregation/index.ts';

export interface RawEvent {
  ts: number;
  value: number | string | null;
}

export interface ReferenceOptions {
  quantiles?: readonly number[];
}

function numbersOf(events: RawEvent[]): number[] {
  return events.flatMap((e) => (typeof e.value === 'number' && Number.isFinite(e.value) ? [e.value] : []));
}

function lastOf(events: RawEvent[]): number | string | null {
  const present = events.filter(
    (e): e is { ts: number; value: number | string } =>
      e.value !== null && !(typeof e.value === 'number' && !Number.isFinite(e.value)),
  );
  present.sort((a, b) => {
    if (a.ts !== b.ts) return a.ts - b.ts;
    const sa = String(a.value);
    const sb = String(b.value);
    if (sa !== sb) return sa < sb ? -1 : 1;
    return (typeof a.value === 'number' ? 1 : 0) - (typeof b.value === 'number' ? 1 : 0);
  });
  return present.length === 0 ? null : present[present.length - 1]!.value;
}

function varPop(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
}

export function referenceValue(
  kind: AggregationKind,
  events: RawEvent[],
  windowStartMs: number,
  windowEndMs: number,
  opts: ReferenceOptions = {},
): AggregationOutput | null {
  const inWindow = events.filter((e) => e.ts >= windowStartMs && e.ts < windowEndMs);
  const xs = numbersOf(inWindow);
  switch (kind) {
    case 'count':
      return inWindow.filter((e) => e.value !== null).length;
    case 'sum':
      return xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0);
    case 'mean':
      return xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length;
    case 'min':
      return xs.length === 0 ? null : Math.min(...xs);
    case 'max':
      return xs.length === 0 ? null : Math.max(...xs);
    case 'last':
      return lastOf(inWindow);
    case 'variance':
      return varPop(xs);
    case 'stddev': {
      const v = varPop(xs);
      return v === null ? null : Math.sqrt(v);
    }
    case 'approx_distinct': {
      const present = inWindow.filter(
        (e) => e.value !== null && !(typeof e.value === 'number' && !Number.isFinite(e.value)),
      );
      return new Set(present.map((e) => String(e.value))).size;
    }
    case 'approx_quantile': {
      if (xs.length === 0) return null;
      const sorted = [...xs].sort((a, b) => a - b);
      return (opts.quantiles ?? DEFAULT_QUANTILES).map((q) => sorted[nearestRankIndex(q, sorted.length)]!);
    }
  }
}
