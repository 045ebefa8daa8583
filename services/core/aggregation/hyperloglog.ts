/**
 * approx_distinct: a HyperLogLog sketch with 2^12 = 4096 one-byte registers.
 *
 * Error: standard error 1.04 / sqrt(4096) ≈ 1.6% (relative, 1σ); ~99.7% of estimates fall within
 * 3σ ≈ 4.9%. Exposed as `relativeError` on the aggregator.
 *
 * - A value is hashed by its string form (String(v), UTF-8), so 1 and "1" count as one value; fields
 *   are type-checked upstream so this only matters for mixed-type fields.
 * - The hash is 64 bits wide (two MurmurHash3 x86_32 with different seeds): 12 bits pick the register,
 *   the other 52 give the rank, so there is no large-range saturation to correct for.
 * - The estimate is Ertl's improved raw estimator ("New cardinality estimation algorithms for
 *   HyperLogLog sketches", 2017, algorithm 6), which is unbiased from 0 up without the empirical
 *   bias tables of HLL++ and behaves like linear counting when most registers are empty.
 * - merge is register-wise max: exactly associative, commutative and idempotent.
 * - encode is [[index, rank], ...] (sorted) while few registers are set, else base64 of the registers.
 */
import type { Aggregator } from './aggregator.ts';
import { pairsText } from './ddsketch.ts';
import { decodeError, expectInteger } from './decode-checks.ts';
import { murmur3x86_32 } from './murmur3.ts';

export const HLL_PRECISION = 12;
export const HLL_REGISTERS = 1 << HLL_PRECISION;
export const HLL_STANDARD_ERROR = 1.04 / Math.sqrt(HLL_REGISTERS);
/** Bits of the 64-bit hash left for the rank; ranks run 1..RANK_BITS + 1. */
const RANK_BITS = 64 - HLL_PRECISION;
const MAX_RANK = RANK_BITS + 1;
const SEED_HIGH = 0;
const SEED_LOW = 0x5bd1e995;
/** Sparse pairs cost ~8 characters each; base64 of 4096 bytes is 5464. */
const SPARSE_LIMIT = 512;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const utf8 = new TextEncoder();

const scratch = new Uint8Array(4_096);
/** Hashes of recent values: categorical fields repeat, so most updates skip the hashing entirely. */
const hashMemo = new Map<string, { index: number; rank: number }>();
const HASH_MEMO_LIMIT = 65_536;

export function hashValue(value: number | string): { index: number; rank: number } {
  const text = typeof value === 'string' ? value : String(value);
  const memo = hashMemo.get(text);
  if (memo) return memo;
  let bytes: Uint8Array;
  let length: number;
  if (text.length * 3 <= scratch.length) {
    bytes = scratch;
    length = utf8.encodeInto(text, scratch).written;
  } else {
    bytes = utf8.encode(text);
    length = bytes.length;
  }
  const high = murmur3x86_32(bytes, SEED_HIGH, length);
  const low = murmur3x86_32(bytes, SEED_LOW, length);
  const index = high >>> (32 - HLL_PRECISION);
  const rest = high & ((1 << (32 - HLL_PRECISION)) - 1); // 20 bits, then 32 more from `low`
  let rank: number;
  if (rest !== 0) rank = Math.clz32(rest) - HLL_PRECISION + 1;
  else if (low !== 0) rank = 32 - HLL_PRECISION + Math.clz32(low) + 1;
  else rank = MAX_RANK;
  const hashed = { index, rank };
  if (hashMemo.size >= HASH_MEMO_LIMIT) hashMemo.clear();
  hashMemo.set(text, hashed);
  return hashed;
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const previous = z;
    z += x * y;
    y += y;
    if (z === previous) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === previous) return z / 3;
  }
}

export function estimateCardinality(registers: Uint8Array): number {
  const histogram = new Array<number>(MAX_RANK + 1).fill(0);
  for (const r of registers) histogram[r] = (histogram[r] ?? 0) + 1;
  return estimateFromHistogram(histogram, registers.length);
}

/** Ertl's estimator from the rank histogram (histogram[0] = empty registers). */
function estimateFromHistogram(histogram: number[], m: number): number {
  let z = m * tau(1 - histogram[MAX_RANK]! / m);
  for (let k = RANK_BITS; k >= 1; k--) z = 0.5 * (z + histogram[k]!);
  z += m * sigma(histogram[0]! / m);
  const alphaInfinity = 1 / (2 * Math.LN2);
  return (alphaInfinity * m * m) / z;
}

/**
 * The in-memory sketch is sparse (index → rank) while few registers are set and dense beyond: a tile
 * usually sees a handful of values, and allocating, scanning and merging 4096 bytes per tile would
 * dominate the stream processor. The stored form depends only on the register values, not on which
 * representation held them, so encodings are identical whatever path built the sketch.
 */
export interface HllSketch {
  sparse: Map<number, number> | null;
  dense: Uint8Array | null;
  /**
   * encodeText's result while no register changes: a categorical field mostly repeats values, so a
   * tile rewritten flush after flush can reuse its sketch's text.
   */
  text?: string | undefined;
}

function densify(s: HllSketch): Uint8Array {
  if (s.dense) return s.dense;
  const dense = new Uint8Array(HLL_REGISTERS);
  for (const [i, r] of s.sparse!) dense[i] = r;
  s.dense = dense;
  s.sparse = null;
  return dense;
}

function setRank(s: HllSketch, index: number, rank: number): void {
  if (s.dense) {
    if (rank > s.dense[index]!) {
      s.dense[index] = rank;
      s.text = undefined;
    }
    return;
  }
  const sparse = s.sparse!;
  const current = sparse.get(index) ?? 0;
  if (rank <= current) return;
  sparse.set(index, rank);
  s.text = undefined;
  if (sparse.size > SPARSE_LIMIT) densify(s);
}

function decodeRegisters(data: unknown): Uint8Array {
  const registers = new Uint8Array(HLL_REGISTERS);
  if (typeof data === 'string') {
    if (!BASE64.test(data)) throw decodeError('approx_distinct', 'dense form must be base64', data);
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length !== HLL_REGISTERS) {
      throw decodeError('approx_distinct', `dense form must hold ${HLL_REGISTERS} registers`, data);
    }
    for (let i = 0; i < HLL_REGISTERS; i++) {
      registers[i] = expectInteger('approx_distinct', bytes[i], 'rank', 0, MAX_RANK);
    }
    return registers;
  }
  if (!Array.isArray(data))
    throw decodeError('approx_distinct', 'expected a base64 string or [index, rank] pairs', data);
  for (const pair of data) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw decodeError('approx_distinct', 'sparse entries must be [index, rank]', data);
    }
    const index = expectInteger('approx_distinct', pair[0], 'register index', 0, HLL_REGISTERS - 1);
    const rank = expectInteger('approx_distinct', pair[1], 'rank', 1, MAX_RANK);
    registers[index] = Math.max(registers[index]!, rank);
  }
  return registers;
}

export const distinctAggregator: Aggregator<HllSketch, number> = {
  kind: 'approx_distinct',
  exact: false,
  relativeError: HLL_STANDARD_ERROR,
  init: () => ({ sparse: new Map(), dense: null, text: undefined }),
  update: (sketch, value) => {
    if (value === null || (typeof value === 'number' && !Number.isFinite(value))) return sketch;
    const { index, rank } = hashValue(value);
    setRank(sketch, index, rank);
    return sketch;
  },
  merge: (a, b) => {
    if (b.dense) {
      const target = densify(a);
      const src = b.dense;
      for (let i = 0; i < HLL_REGISTERS; i++) if (src[i]! > target[i]!) target[i] = src[i]!;
      a.text = undefined;
    } else for (const [i, r] of b.sparse!) setRank(a, i, r);
    return a;
  },
  finalize: (sketch) => {
    if (sketch.dense) return Math.round(estimateCardinality(sketch.dense));
    const histogram = new Array<number>(MAX_RANK + 1).fill(0);
    histogram[0] = HLL_REGISTERS - sketch.sparse!.size;
    for (const r of sketch.sparse!.values()) histogram[r]!++;
    return Math.round(estimateFromHistogram(histogram, HLL_REGISTERS));
  },
  encode: (sketch) => {
    if (sketch.sparse) return [...sketch.sparse].sort((x, y) => x[0] - y[0]);
    const registers = sketch.dense!;
    const pairs: [number, number][] = [];
    for (let i = 0; i < registers.length && pairs.length <= SPARSE_LIMIT; i++) {
      if (registers[i] !== 0) pairs.push([i, registers[i]!]);
    }
    if (pairs.length <= SPARSE_LIMIT) return pairs;
    return Buffer.from(registers.buffer, registers.byteOffset, registers.byteLength).toString('base64');
  },
  encodeText: (sketch) => {
    // Sparse text is cheap to rebuild; kept on a live tile it would outlive young-generation collections
    // and be promoted, only to be replaced at the tile's next change. Dense text (base64 of 4,096
    // registers) is costly, and a dense sketch changes rarely: that one is cached.
    if (sketch.sparse) return pairsText(sketch.sparse);
    sketch.text ??= JSON.stringify(distinctAggregator.encode(sketch));
    return sketch.text;
  },
  decode: (data) => {
    if (Array.isArray(data) && data.length <= SPARSE_LIMIT) {
      const sketch: HllSketch = { sparse: new Map(), dense: null, text: undefined };
      for (const pair of data) {
        if (!Array.isArray(pair) || pair.length !== 2)
          throw decodeError('approx_distinct', 'sparse entries must be [index, rank]', data);
        const index = expectInteger('approx_distinct', pair[0], 'register index', 0, HLL_REGISTERS - 1);
        setRank(sketch, index, expectInteger('approx_distinct', pair[1], 'rank', 1, MAX_RANK));
      }
      return sketch;
    }
    return { sparse: null, dense: decodeRegisters(data), text: undefined };
  },
};
