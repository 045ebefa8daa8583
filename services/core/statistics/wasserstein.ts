/**
 * 1-D Wasserstein-1 (earth mover's) distance between two samples, equal to
 * scipy.stats.wasserstein_distance(u, v): ∫ |U(t) − V(t)| dt over the empirical CDFs, which scipy
 * computes as Σ |U − V| · Δ over the gaps of the pooled sorted sample. We walk the same gaps in one merge.
 *
 * The normalised form divides by the reference's POPULATION standard deviation (ddof = 0, numpy's
 * np.std default), floored at 0.001 so a constant reference does not divide by zero — exactly
 * Evidently's wasserstein_distance_norm, so its threshold of 0.1 means "a tenth of a reference sd".
 */
import { assertSorted, CompensatedSum, compensatedSum, sortedSample } from './numeric.ts';

/** Evidently's floor on the reference standard deviation. */
export const WASSERSTEIN_STD_FLOOR = 0.001;

export interface WassersteinResult {
  readonly distance: number;
  /** np.std(reference), ddof = 0. */
  readonly referenceStd: number;
  /** distance / max(referenceStd, 0.001). */
  readonly normalised: number;
}

export function wassersteinDistance(u: ArrayLike<number>, v: ArrayLike<number>): number {
  return wassersteinDistanceSorted(
    sortedSample(u, 'Wasserstein sample u'),
    sortedSample(v, 'Wasserstein sample v'),
  );
}

/** The distance for samples already sorted ascending. */
export function wassersteinDistanceSorted(u: ArrayLike<number>, v: ArrayLike<number>): number {
  assertSorted(u, 'Wasserstein sample u');
  assertSorted(v, 'Wasserstein sample v');
  const nu = u.length;
  const nv = v.length;
  let i = 0;
  let j = 0;
  const total = new CompensatedSum();
  // Both CDFs are flat between consecutive distinct pooled values; ties add gaps of 0 in scipy's sum.
  let current = Math.min(u[0]!, v[0]!);
  while (i < nu || j < nv) {
    while (i < nu && u[i]! <= current) i++;
    while (j < nv && v[j]! <= current) j++;
    if (i === nu && j === nv) break;
    const next = j >= nv || (i < nu && u[i]! <= v[j]!) ? u[i]! : v[j]!;
    total.add(Math.abs(i / nu - j / nv) * (next - current));
    current = next;
  }
  return total.value;
}

/** np.std(x) with ddof = 0: two passes, compensated, as numpy's mean-then-deviations does. */
export function populationStd(x: ArrayLike<number>): number {
  const n = x.length;
  if (n === 0) throw new RangeError('standard deviation of an empty sample');
  const mean = compensatedSum(x) / n;
  const squares = new CompensatedSum();
  for (let i = 0; i < n; i++) {
    const dev = x[i]! - mean;
    squares.add(dev * dev);
  }
  return Math.sqrt(squares.value / n);
}

/** The distance and its normalised form, reference first: the normalisation uses the reference's sd. */
export function wasserstein(reference: ArrayLike<number>, current: ArrayLike<number>): WassersteinResult {
  const ref = sortedSample(reference, 'Wasserstein reference');
  const cur = sortedSample(current, 'Wasserstein current');
  return wassersteinFromSorted(ref, cur);
}

export function wassersteinFromSorted(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): WassersteinResult {
  const distance = wassersteinDistanceSorted(reference, current);
  const referenceStd = populationStd(reference);
  return { distance, referenceStd, normalised: distance / Math.max(referenceStd, WASSERSTEIN_STD_FLOOR) };
}
