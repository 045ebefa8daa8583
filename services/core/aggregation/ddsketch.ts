/**
 * approx_quantile: a DDSketch-style log-bucketed histogram (Masson, Rim & Lee, VLDB 2019) with
 * relative accuracy α = 0.01: every reported quantile q̂ satisfies |q̂ − q| ≤ α·|q|, where q is the
 * nearest-rank quantile of the folded values (see `nearestRankIndex`).
 *
 * A positive value x lands in bucket i = ceil(log_γ x), γ = (1 + α)/(1 − α), i.e. (γ^(i−1), γ^i];
 * the bucket's representative 2γ^i/(γ + 1) is within α of everything in it. Negative values use a
 * mirrored store, exact zeros a counter. Exact min and max are kept too: they make q = 0 and q = 1
 * exact and clamp the other estimates (which can only move them closer to the truth).
 *
 * merge adds bucket counts and takes min/max, all exact integer/comparison operations, so merge order
 * never changes the result. Buckets are a sparse Map; encode is
 * [zeroCount, min, max, [[index, count], ...positive], [[index, count], ...negative]] with indices
 * sorted, or [] when empty, so equal sketches encode identically.
 */
import type { Aggregator } from './aggregator.ts';
import { numeric } from './basic.ts';
import { decodeError, expectArray, expectCount, expectFinite, expectInteger } from './decode-checks.ts';

export const DDSKETCH_RELATIVE_ACCURACY = 0.01;
export const DEFAULT_QUANTILES: readonly number[] = [0.5, 0.9, 0.99];

const GAMMA = (1 + DDSKETCH_RELATIVE_ACCURACY) / (1 - DDSKETCH_RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** Indices stay far inside this for every finite double (|log_γ x| < 40 000). */
const MAX_INDEX = 1_000_000;

export interface QuantileSketch {
  positive: Map<number, number>;
  negative: Map<number, number>;
  zero: number;
  count: number;
  min: number;
  max: number;
}

/**
 * The 0-based index of the nearest-rank q-quantile among n sorted values: rank ceil(q·n), at least 1.
 * q·n is snapped to the nearest integer when within 1e-9 so that e.g. 0.29 × 100 (= 28.999999999999996
 * in floating point) means rank 29, as written.
 */
export function nearestRankIndex(q: number, n: number): number {
  const exact = q * n;
  const nearest = Math.round(exact);
  const rank = Math.abs(exact - nearest) <= 1e-9 * Math.max(1, n) ? nearest : Math.ceil(exact);
  return Math.min(n - 1, Math.max(0, rank - 1));
}

export function bucketIndex(magnitude: number): number {
  return Math.ceil(Math.log(magnitude) / LN_GAMMA);
}

export function bucketValue(index: number): number {
  return (2 * Math.exp(index * LN_GAMMA)) / (1 + GAMMA);
}

function increment(store: Map<number, number>, index: number, by: number): void {
  store.set(index, (store.get(index) ?? 0) + by);
}

/** Walks buckets in ascending value order and reads off each requested quantile. */
function quantilesOf(sketch: QuantileSketch, quantiles: readonly number[]): number[] {
  const buckets: [value: number, count: number][] = [];
  for (const i of [...sketch.negative.keys()].sort((a, b) => b - a)) {
    buckets.push([-bucketValue(i), sketch.negative.get(i)!]);
  }
  if (sketch.zero > 0) buckets.push([0, sketch.zero]);
  for (const i of [...sketch.positive.keys()].sort((a, b) => a - b)) {
    buckets.push([bucketValue(i), sketch.positive.get(i)!]);
  }
  return quantiles.map((q) => {
    const rank = nearestRankIndex(q, sketch.count);
    let seen = 0;
    let estimate = sketch.max;
    for (const [value, count] of buckets) {
      seen += count;
      if (seen > rank) {
        estimate = value;
        break;
      }
    }
    return Math.min(sketch.max, Math.max(sketch.min, estimate));
  });
}

function decodePairs(data: unknown, what: string): Map<number, number> {
  if (!Array.isArray(data)) throw decodeError('approx_quantile', `${what} buckets must be an array`, data);
  const store = new Map<number, number>();
  for (const pair of data) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw decodeError('approx_quantile', `${what} buckets must be [index, count] pairs`, data);
    }
    const index = expectInteger('approx_quantile', pair[0], 'bucket index', -MAX_INDEX, MAX_INDEX);
    const count = expectInteger('approx_quantile', pair[1], 'bucket count', 1, Number.MAX_SAFE_INTEGER);
    if (store.has(index)) throw decodeError('approx_quantile', `duplicate ${what} bucket ${index}`, data);
    store.set(index, count);
  }
  return store;
}

function encodePairs(store: Map<number, number>): [number, number][] {
  return [...store.entries()].sort((a, b) => a[0] - b[0]);
}

/** Sorted keys of the store being encoded; reused (pairsText is synchronous), grown when needed. */
let keyScratch = new Float64Array(1_024);

/**
 * encodePairs as JSON text: [[index,count],...] by ascending index. It runs for every tile write, mostly
 * on small stores, so it allocates nothing but the text: keys are copied into a reused typed array and
 * sorted in place (insertion sort while small). Measured 2–3× faster than sorting a fresh array.
 */
export function pairsText(store: ReadonlyMap<number, number>): string {
  const n = store.size;
  if (n === 0) return '[]';
  if (n > keyScratch.length) keyScratch = new Float64Array(Math.max(n, keyScratch.length * 2));
  const keys = keyScratch;
  let i = 0;
  for (const k of store.keys()) keys[i++] = k;
  if (n <= 32) {
    for (let a = 1; a < n; a++) {
      const v = keys[a]!;
      let b = a - 1;
      while (b >= 0 && keys[b]! > v) {
        keys[b + 1] = keys[b]!;
        b--;
      }
      keys[b + 1] = v;
    }
  } else keys.subarray(0, n).sort();
  let out = '';
  for (let j = 0; j < n; j++) {
    const k = keys[j]!;
    out += `${j === 0 ? '[[' : ',['}${k},${store.get(k)}]`;
  }
  return `${out}]`;
}

function emptySketch(): QuantileSketch {
  return {
    positive: new Map(),
    negative: new Map(),
    zero: 0,
    count: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
  };
}

export function createQuantileAggregator(quantiles: readonly number[]): Aggregator<QuantileSketch, number[]> {
  const requested = Object.freeze([...quantiles]);
  return {
    kind: 'approx_quantile',
    exact: false,
    relativeError: DDSKETCH_RELATIVE_ACCURACY,
    init: emptySketch,
    update: (sketch, value) => {
      const x = numeric(value);
      if (x === null) return sketch;
      if (x > 0) increment(sketch.positive, bucketIndex(x), 1);
      else if (x < 0) increment(sketch.negative, bucketIndex(-x), 1);
      else sketch.zero += 1;
      sketch.count += 1;
      if (x < sketch.min) sketch.min = x;
      if (x > sketch.max) sketch.max = x;
      return sketch;
    },
    merge: (a, b) => {
      for (const [i, c] of b.positive) increment(a.positive, i, c);
      for (const [i, c] of b.negative) increment(a.negative, i, c);
      a.zero += b.zero;
      a.count += b.count;
      a.min = Math.min(a.min, b.min);
      a.max = Math.max(a.max, b.max);
      return a;
    },
    finalize: (sketch) => (sketch.count === 0 ? null : quantilesOf(sketch, requested)),
    encode: (s) =>
      s.count === 0 ? [] : [s.zero, s.min, s.max, encodePairs(s.positive), encodePairs(s.negative)],
    encodeText: (s) =>
      s.count === 0
        ? '[]'
        : `[${s.zero},${s.min},${s.max},${pairsText(s.positive)},${pairsText(s.negative)}]`,
    decode: (data) => {
      const arr = expectArray('approx_quantile', data, [0, 5]);
      if (arr.length === 0) return emptySketch();
      const zero = expectCount('approx_quantile', arr[0], 'zero count');
      const min = expectFinite('approx_quantile', arr[1], 'min');
      const max = expectFinite('approx_quantile', arr[2], 'max');
      const positive = decodePairs(arr[3], 'positive');
      const negative = decodePairs(arr[4], 'negative');
      let count = zero;
      for (const c of positive.values()) count += c;
      for (const c of negative.values()) count += c;
      if (count === 0 || min > max)
        throw decodeError('approx_quantile', 'a non-empty sketch needs min ≤ max', data);
      return { positive, negative, zero, count, min, max };
    },
  };
}
