/**
 * Mergeable profiles of one model input (or output): what the monitor keeps per live window and what a
 * model version keeps as its reference, so a drift test costs O(profile), not O(rows).
 *
 * Numerical: a histogram on the reference's own bin edges with each bin's count and sum (so a bin's mass
 * sits at its own mean, not at an edge), plus count, mean and M2 (Chan's merge), min, max and missing. The edges are the
 * reference's distinct values when it has at most `bins` of them (then every bin is one value and the
 * histogram is exact), else its quantiles at 1/bins steps, min and max included. Bins are right-closed —
 * bin 0 is (−∞, e₀], bin i is (eᵢ₋₁, eᵢ], bin k is (eₖ₋₁, ∞) — so the counts give both empirical CDFs
 * exactly at every edge (scipy's searchsorted(side='right')).
 *
 * Categorical: counts of the most frequent items (at most `maxItems`; the reference's items are always
 * kept) and an "other" bucket for the rest, plus missing.
 *
 * Two profiles on the same edges merge by adding; merging is exact (counts and moments by Chan's rule).
 */

export const DEFAULT_PROFILE_BINS = 1000;
export const DEFAULT_MAX_ITEMS = 256;
/** The label of the bucket holding categories beyond maxItems. */
export const OTHER_CATEGORY = '__other__';

export interface NumericProfile {
  readonly kind: 'numerical';
  /** Ascending, distinct, finite; shared by every profile compared with the same reference. */
  readonly edges: Float64Array;
  /** edges.length + 1 bins. */
  readonly counts: Float64Array;
  /** Sum of the values in each bin: the bin's mean locates its mass for Wasserstein. */
  readonly sums: Float64Array;
  count: number;
  missing: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
  min: number;
  max: number;
}

export interface CategoricalProfile {
  readonly kind: 'categorical';
  readonly counts: Map<string, number>;
  other: number;
  missing: number;
  readonly maxItems: number;
}

export type Profile = NumericProfile | CategoricalProfile;

// ------------------------------------------------------------------------------------------------
// Edges from reference values

/** Sorted finite values; NaN and ±Infinity are the caller's missing values and are dropped. */
function sortedFinite(values: ArrayLike<number | null>): Float64Array {
  const out = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number' && Number.isFinite(v)) out[n++] = v;
  }
  return out.subarray(0, n).sort();
}

/**
 * Bin edges for a reference sample: its distinct values when there are at most `bins`, else the values
 * at the i/bins quantiles (lower order statistic), deduplicated, with the minimum and maximum included.
 */
export function referenceEdges(values: ArrayLike<number | null>, bins = DEFAULT_PROFILE_BINS): Float64Array {
  if (!(Number.isInteger(bins) && bins >= 2)) throw new RangeError(`bins ${bins} is not an integer ≥ 2`);
  const sorted = sortedFinite(values);
  if (sorted.length === 0) throw new RangeError('a numerical reference needs at least one finite value');
  const distinct: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) {
      distinct.push(sorted[i]!);
      if (distinct.length > bins) break;
    }
  }
  if (distinct.length <= bins) return Float64Array.from(distinct);
  const n = sorted.length;
  const edges: number[] = [sorted[0]!];
  for (let i = 1; i < bins; i++) {
    const v = sorted[Math.min(n - 1, Math.ceil((i * n) / bins) - 1)]!;
    if (v > edges[edges.length - 1]!) edges.push(v);
  }
  if (sorted[n - 1]! > edges[edges.length - 1]!) edges.push(sorted[n - 1]!);
  return Float64Array.from(edges);
}

// ------------------------------------------------------------------------------------------------
// Numerical profiles

export function emptyNumericProfile(edges: Float64Array): NumericProfile {
  if (edges.length === 0) throw new RangeError('a numerical profile needs at least one edge');
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i]! > edges[i - 1]!)) throw new RangeError(`edges must be strictly ascending (at ${i})`);
  }
  return {
    kind: 'numerical',
    edges,
    counts: new Float64Array(edges.length + 1),
    sums: new Float64Array(edges.length + 1),
    count: 0,
    missing: 0,
    mean: 0,
    m2: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
  };
}

/**
 * A uniform grid over [e₀, eₖ₋₁] that maps a value to the few edges it can fall between, so binning is
 * a table lookup and a search over a handful of edges rather than over all of them. Built once per
 * edge set and reused by every window.
 */
export interface BinLocator {
  readonly edges: Float64Array;
  /** For grid cell c, the first bin whose upper edge is ≥ the cell's lower bound. */
  readonly cellStart: Int32Array;
  readonly lo: number;
  readonly scale: number;
  readonly cells: number;
}

const locators = new WeakMap<Float64Array, BinLocator>();

export function binLocator(edges: Float64Array): BinLocator {
  const cached = locators.get(edges);
  if (cached) return cached;
  const k = edges.length;
  const lo = edges[0]!;
  const span = edges[k - 1]! - lo;
  const cells = Math.max(1, Math.min(1 << 16, 4 * k));
  const scale = span > 0 ? cells / span : 0;
  const cellStart = new Int32Array(cells + 1);
  let bin = 0;
  for (let c = 0; c <= cells; c++) {
    const cellLow = lo + c / scale;
    while (bin < k && edges[bin]! < cellLow) bin++;
    cellStart[c] = bin;
  }
  const locator = { edges, cellStart, lo, scale, cells };
  locators.set(edges, locator);
  return locator;
}

/** The bin of a finite value: 0 for ≤ e₀, i for (eᵢ₋₁, eᵢ], k for > eₖ₋₁. */
export function binOf(loc: BinLocator, x: number): number {
  const edges = loc.edges;
  const k = edges.length;
  if (x <= loc.lo) return 0;
  if (x > edges[k - 1]!) return k;
  const cell = Math.min(loc.cells - 1, Math.floor((x - loc.lo) * loc.scale));
  // The answer lies in [cellStart[cell], cellStart[cell + 1]]: the first edge ≥ x.
  let a = loc.cellStart[cell]!;
  let b = loc.cellStart[cell + 1]!;
  if (a > 0 && edges[a - 1]! >= x) a = 0; // rounding at a cell border: fall back to the full range
  if (b > k - 1 || edges[b]! < x) b = k - 1; // the same at the upper border
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (edges[mid]! < x) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * Adds values[from, to) to a numerical profile. null, NaN and ±Infinity count as missing. The batch's
 * mean and M2 are computed apart and merged by Chan's rule: one division per batch, not per value.
 */
export function addNumbers(
  p: NumericProfile,
  values: ArrayLike<number | null>,
  from = 0,
  to = values.length,
): void {
  const loc = binLocator(p.edges);
  const counts = p.counts;
  const sums = p.sums;
  let n = 0;
  let sum = 0;
  let min = p.min;
  let max = p.max;
  for (let i = from; i < to; i++) {
    const x = values[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      p.missing++;
      continue;
    }
    const bin = binOf(loc, x);
    counts[bin]!++;
    sums[bin]! += x;
    n++;
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (n === 0) return;
  const batchMean = sum / n;
  let m2 = 0;
  for (let i = from; i < to; i++) {
    const x = values[i];
    if (typeof x === 'number' && Number.isFinite(x)) m2 += (x - batchMean) * (x - batchMean);
  }
  mergeMoments(p, n, batchMean, m2);
  p.min = min;
  p.max = max;
}

function mergeMoments(p: NumericProfile, n: number, mean: number, m2: number): void {
  const total = p.count + n;
  const delta = mean - p.mean;
  p.m2 += m2 + (delta * delta * p.count * n) / total;
  p.mean += (delta * n) / total;
  p.count = total;
}

/** Population standard deviation (ddof = 0), as the normalised Wasserstein uses. */
export function profileStd(p: NumericProfile): number {
  return p.count > 0 ? Math.sqrt(p.m2 / p.count) : 0;
}

// ------------------------------------------------------------------------------------------------
// Categorical profiles

export function emptyCategoricalProfile(
  maxItems = DEFAULT_MAX_ITEMS,
  seed: Iterable<string> = [],
): CategoricalProfile {
  if (!(Number.isInteger(maxItems) && maxItems >= 1)) throw new RangeError(`maxItems ${maxItems} is not ≥ 1`);
  const counts = new Map<string, number>();
  for (const item of seed) counts.set(item, 0);
  return { kind: 'categorical', counts, other: 0, missing: 0, maxItems };
}

/** The category of a value: numbers print as JavaScript does, so 1 and 1.0 are one category. */
export function categoryOf(x: unknown): string | null {
  if (x === null || x === undefined) return null;
  if (typeof x === 'number') return Number.isFinite(x) ? String(x) : null;
  return String(x);
}

/**
 * Adds values to a categorical profile. A new category is counted on its own while the profile holds
 * fewer than maxItems, else in OTHER_CATEGORY; the categories a profile was seeded with (the
 * reference's) always have their own count, so a live window can be compared item by item.
 */
export function addCategories(
  p: CategoricalProfile,
  values: ArrayLike<unknown>,
  from = 0,
  to = values.length,
): void {
  for (let i = from; i < to; i++) {
    const c = categoryOf(values[i]);
    if (c === null) {
      p.missing++;
      continue;
    }
    const seen = p.counts.get(c);
    if (seen !== undefined) p.counts.set(c, seen + 1);
    else if (p.counts.size < p.maxItems) p.counts.set(c, 1);
    else p.other++;
  }
}

export function categoricalTotal(p: CategoricalProfile): number {
  let t = p.other;
  for (const c of p.counts.values()) t += c;
  return t;
}

/** Counts per category with the other bucket as OTHER_CATEGORY (omitted when empty). */
export function categoryCounts(p: CategoricalProfile): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [c, n] of p.counts) if (n > 0) out[c] = n;
  if (p.other > 0) out[OTHER_CATEGORY] = (out[OTHER_CATEGORY] ?? 0) + p.other;
  return out;
}

// ------------------------------------------------------------------------------------------------
// Generic

export function emptyLike(p: Profile): Profile {
  return p.kind === 'numerical'
    ? emptyNumericProfile(p.edges)
    : emptyCategoricalProfile(p.maxItems, p.counts.keys());
}

export function profileCount(p: Profile): number {
  return p.kind === 'numerical' ? p.count : categoricalTotal(p);
}

/** Adds b into a (same edges for numbers). Exact: counts add, moments merge by Chan's rule. */
export function mergeInto(a: Profile, b: Profile): void {
  if (a.kind === 'numerical' && b.kind === 'numerical') {
    if (a.edges !== b.edges && !sameEdges(a.edges, b.edges)) {
      throw new RangeError('numerical profiles merge only on the same edges');
    }
    for (let i = 0; i < a.counts.length; i++) {
      a.counts[i]! += b.counts[i]!;
      a.sums[i]! += b.sums[i]!;
    }
    a.missing += b.missing;
    if (b.count > 0) mergeMoments(a, b.count, b.mean, b.m2);
    a.min = Math.min(a.min, b.min);
    a.max = Math.max(a.max, b.max);
    return;
  }
  if (a.kind === 'categorical' && b.kind === 'categorical') {
    for (const [c, n] of b.counts) {
      const seen = a.counts.get(c);
      if (seen !== undefined) a.counts.set(c, seen + n);
      else if (a.counts.size < a.maxItems) a.counts.set(c, n);
      else a.other += n;
    }
    a.other += b.other;
    a.missing += b.missing;
    return;
  }
  throw new RangeError(`cannot merge a ${b.kind} profile into a ${a.kind} one`);
}

function sameEdges(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ------------------------------------------------------------------------------------------------
// JSON form (stored with a model version and in the monitor's reports)

export type ProfileJson =
  | {
      kind: 'numerical';
      edges: number[];
      /** Sparse: [bin, count, sum] of the non-empty bins. */
      bins: [number, number, number][];
      count: number;
      missing: number;
      mean: number;
      m2: number;
      min: number | null;
      max: number | null;
    }
  | { kind: 'categorical'; counts: Record<string, number>; other: number; missing: number; maxItems: number };

export function profileToJson(p: Profile): ProfileJson {
  if (p.kind === 'categorical') {
    return {
      kind: 'categorical',
      counts: Object.fromEntries(p.counts),
      other: p.other,
      missing: p.missing,
      maxItems: p.maxItems,
    };
  }
  const bins: [number, number, number][] = [];
  p.counts.forEach((c, i) => {
    if (c > 0) bins.push([i, c, p.sums[i]!]);
  });
  return {
    kind: 'numerical',
    edges: Array.from(p.edges),
    bins,
    count: p.count,
    missing: p.missing,
    mean: p.mean,
    m2: p.m2,
    min: p.count > 0 ? p.min : null,
    max: p.count > 0 ? p.max : null,
  };
}

/** Reads a profile back; `edges` lets profiles of one reference share one edge array (and its locator). */
export function profileFromJson(j: ProfileJson, edges?: Float64Array): Profile {
  if (j.kind === 'categorical') {
    const p = emptyCategoricalProfile(j.maxItems);
    for (const [c, n] of Object.entries(j.counts)) p.counts.set(c, n);
    p.other = j.other;
    p.missing = j.missing;
    return p;
  }
  const shared = edges && sameEdges(edges, Float64Array.from(j.edges)) ? edges : Float64Array.from(j.edges);
  const p = emptyNumericProfile(shared);
  for (const [bin, c, sum] of j.bins) {
    if (!(Number.isInteger(bin) && bin >= 0 && bin < p.counts.length))
      throw new RangeError(`bin ${bin} is out of range`);
    p.counts[bin] = c;
    p.sums[bin] = sum;
  }
  Object.assign(p, {
    count: j.count,
    missing: j.missing,
    mean: j.mean,
    m2: j.m2,
    min: j.min ?? Number.POSITIVE_INFINITY,
    max: j.max ?? Number.NEGATIVE_INFINITY,
  });
  return p;
}
