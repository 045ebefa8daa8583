/**
 * Turning samples into aligned bins for the binned statistics (Jensen–Shannon, PSI, chi-square):
 * equal-width edges over the pooled range by Sturges' rule for numbers — what Evidently's
 * get_binned_data does for a numerical column — and one bin per distinct value otherwise.
 */
export interface Binned {
  /** One label per bin: the bin's lower edge for histograms, the value for categories. */
  readonly labels: readonly (string | number)[];
  readonly reference: readonly number[];
  readonly current: readonly number[];
}

/**
 * np.histogram_bin_edges(concat(reference, current), bins='sturges'): width = range / (log₂ n + 1),
 * ⌈range / width⌉ bins, edges from np.linspace (start + i · step, last edge exactly the max). A constant
 * sample gets one bin [v − ½, v + ½], as numpy widens an empty range.
 */
export function sturgesEdges(reference: ArrayLike<number>, current: ArrayLike<number>): number[] {
  const n = reference.length + current.length;
  if (n === 0) throw new RangeError('sturgesEdges: no values');
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const side of [reference, current]) {
    for (let i = 0; i < side.length; i++) {
      const v = side[i]!;
      if (!Number.isFinite(v)) throw new RangeError(`sturgesEdges: ${v} is not finite`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const range = hi - lo;
  const width = range / (Math.log2(n) + 1);
  const bins = width ? Math.ceil(range / width) : 1;
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  return linspace(lo, hi, bins + 1);
}

/** np.linspace(start, stop, num), endpoint included. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

/**
 * np.histogram(values, edges)[0]: bin i holds edges[i] ≤ x < edges[i + 1], the last bin also its right
 * edge; values outside [edges[0], edges[last]] are not counted.
 */
export function histogramCounts(values: ArrayLike<number>, edges: readonly number[]): number[] {
  if (edges.length < 2) throw new RangeError('histogramCounts: need at least two edges');
  const counts = new Array<number>(edges.length - 1).fill(0);
  const last = edges.length - 1;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!(x >= edges[0]! && x <= edges[last]!)) continue;
    // The number of edges ≤ x, minus one, is x's bin; x equal to the last edge falls in the last bin.
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    const bin = Math.min(lo - 1, last - 1);
    counts[bin]! += 1;
  }
  return counts;
}

/** Both samples histogrammed on their pooled Sturges edges. */
export function histogramBins(reference: ArrayLike<number>, current: ArrayLike<number>): Binned {
  const edges = sturgesEdges(reference, current);
  return {
    labels: edges.slice(0, -1),
    reference: histogramCounts(reference, edges),
    current: histogramCounts(current, edges),
  };
}

/** Counts per distinct value over the union of both samples' values (a value seen on one side gets 0 on the other). */
export function categoryBins<T extends string | number | boolean>(
  reference: Iterable<T>,
  current: Iterable<T>,
): Binned {
  const ref = tally(reference);
  const cur = tally(current);
  const keys = [...new Set([...ref.keys(), ...cur.keys()])].sort(compareKeys);
  return {
    labels: keys.map((k) => (typeof k === 'boolean' ? String(k) : (k as string | number))),
    reference: keys.map((k) => ref.get(k) ?? 0),
    current: keys.map((k) => cur.get(k) ?? 0),
  };
}

/** Aligns two count maps (category → count) over the union of their keys, zero-count keys dropped. */
export function alignCounts(
  reference: Readonly<Record<string, number>>,
  current: Readonly<Record<string, number>>,
): Binned {
  const keys = [...new Set([...Object.keys(reference), ...Object.keys(current)])]
    .filter((k) => (reference[k] ?? 0) + (current[k] ?? 0) > 0)
    .sort(compareKeys);
  return {
    labels: keys,
    reference: keys.map((k) => reference[k] ?? 0),
    current: keys.map((k) => current[k] ?? 0),
  };
}

function tally<T>(values: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) {
    if (typeof v === 'number' && Number.isNaN(v)) throw new RangeError('categoryBins: NaN is not a category');
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

/** A stable order for bins: numbers ascending, then strings; the statistics do not depend on it. */
function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Distinct values across both numerical samples (Evidently's nunique of the concatenation). */
export function distinctCount(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const pooled = new Float64Array(reference.length + current.length);
  pooled.set(reference);
  pooled.set(current, reference.length);
  pooled.sort();
  if (Number.isNaN(pooled[pooled.length - 1])) throw new RangeError('distinctCount: NaN in a sample');
  let count = 0;
  for (let i = 0; i < pooled.length; i++) if (i === 0 || pooled[i] !== pooled[i - 1]) count++;
  return count;
}
