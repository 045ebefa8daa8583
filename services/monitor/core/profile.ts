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
  const last = edges.length - 1;
  if (x <= loc.lo) return 0;
  if (x > edges[last]!) return last + 1;
  let cell = ((x - loc.lo) * loc.scale) | 0;
  if (cell >= loc.cells) cell = loc.cells - 1;
  // The first edge ≥ x lies in [cellStart[cell], cellStart[cell + 1]], up to rounding at a cell's border.
  let a = loc.cellStart[cell]!;
  let b = loc.cellStart[cell + 1]!;
  if (b > last) b = last;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (edges[mid]! < x) a = mid + 1;
    else b = mid;
  }
  if (edges[a]! >= x && (a === 0 || edges[a - 1]! < x)) return a;
  return searchAll(edges, x);
}

function searchAll(edges: Float64Array, x: number): number {
  let a = 0;
  let b = edges.length - 1;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (edges[mid]! < x) a = mid + 1;
    else b = mid;
  }
  return a;
}

/**
 * Adds values[from, to) to a numerical profile. null, NaN and ±Infinity count as missing. Any array is
 * copied into a Float64Array block first, so the fold below sees one element kind only (a loop over
 * mixed array kinds is several times slower in V8).
 */
export function addNumbers(
  p: NumericProfile,
  values: ArrayLike<number | null>,
  from = 0,
  to = values.length,
): void {
  if (values instanceof Float64Array) {
    addNumberBlock(p, values, from, to);
    return;
  }
  const block = new Float64Array(Math.min(to - from, 65_536));
  for (let start = from; start < to; start += block.length) {
    const n = Math.min(block.length, to - start);
    for (let i = 0; i < n; i++) {
      const x = values[start + i];
      block[i] = typeof x === 'number' ? x : Number.NaN;
    }
    addNumberBlock(p, block, 0, n);
  }
}

/**
 * The fold itself, over a Float64Array (NaN and ±Infinity are missing). The block's mean and M2 come
 * from sums shifted by its first value (one pass, exact enough for a block) and merge into the
 * profile by Chan's rule: one division per block, not per value.
 */
export function addNumberBlock(p: NumericProfile, values: Float64Array, from: number, to: number): void {
  const loc = binLocator(p.edges);
  const counts = p.counts;
  const sums = p.sums;
  let n = 0;
  let shift = Number.NaN;
  let sum = 0;
  let squares = 0;
  let min = p.min;
  let max = p.max;
  let missing = 0;
  for (let i = from; i < to; i++) {
    const x = values[i]!;
    // x − x is 0 for a finite number only (NaN for NaN and ±Infinity).
    if (x - x !== 0) {
      missing++;
      continue;
    }
    const bin = binOf(loc, x);
    counts[bin]!++;
    sums[bin]! += x;
    if (n === 0) shift = x;
    const d = x - shift;
    sum += d;
    squares += d * d;
    n++;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  p.missing += missing;
  if (n === 0) return;
  const mean = shift + sum / n;
  const m2 = Math.max(0, squares - (sum * sum) / n);
  mergeMoments(p, n, mean, m2);
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

/** Labels of the small non-negative integer codes, made once: most categorical inputs are such codes. */
const CODE_LABELS = Array.from({ length: 1024 }, (_, i) => String(i));

/** The category of a value: numbers print as JavaScript does, so 1 and 1.0 are one category. */
export function categoryOf(x: unknown): string | null {
  if (x === null || x === undefined) return null;
  if (typeof x === 'number') {
    if (x >= 0 && x < 1024 && (x | 0) === x) return CODE_LABELS[x]!;
    return Number.isFinite(x) ? String(x) : null;
  }
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
  if (values instanceof Float64Array) {
    addCodeBlock(p, values, from, to);
    return;
  }
  for (let i = from; i < to; i++) countCategory(p, categoryOf(values[i]), 1);
}

function countCategory(p: CategoricalProfile, c: string | null, n: number): void {
  if (c === null) {
    p.missing += n;
    return;
  }
  const seen = p.counts.get(c);
  if (seen !== undefined) p.counts.set(c, seen + n);
  else if (p.counts.size < p.maxItems) p.counts.set(c, n);
  else p.other += n;
}

/** Tallies of the small codes of one block, reused by every call (JavaScript runs one call at a time). */
const codeTally = new Float64Array(CODE_LABELS.length);

/**
 * A block of numbers (a live window's column buffer): small non-negative integer codes are tallied in
 * an array and counted into the profile once per code, in first-seen order (so past maxItems the same
 * codes get their own counts as value by value, when the block holds codes only); other values go one
 * by one.
 */
function addCodeBlock(p: CategoricalProfile, values: Float64Array, from: number, to: number): void {
  const seenOrder: number[] = [];
  for (let i = from; i < to; i++) {
    const x = values[i]!;
    if (x >= 0 && x < CODE_LABELS.length && (x | 0) === x) {
      if (codeTally[x] === 0) seenOrder.push(x);
      codeTally[x]!++;
    } else {
      countCategory(p, categoryOf(x), 1);
    }
  }
  for (const code of seenOrder) {
    countCategory(p, CODE_LABELS[code]!, codeTally[code]!);
    codeTally[code] = 0;
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
