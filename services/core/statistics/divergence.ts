/**
 * Divergences between two binned distributions (histogram bins or categories, aligned index by index).
 * Inputs are counts or shares; each side is normalised to sum to 1 first, as scipy does.
 */
import { assertCounts, CompensatedSum } from './numeric.ts';

/**
 * Jensen–Shannon distance, equal to scipy.spatial.distance.jensenshannon(p, q, base):
 *   sqrt( (KL(p ‖ m) + KL(q ‖ m)) / (2 ln base) ),  m = (p + q) / 2,
 * with 0 · ln(0 / m) = 0 (scipy's rel_entr), so empty bins need no epsilon.
 *
 * Our default base is 2, which bounds the distance to [0, 1] (1 = disjoint supports). Evidently calls
 * jensenshannon with base=None, i.e. natural log, bounded by √ln 2 ≈ 0.833; the same pair of
 * distributions scores 1/√ln 2 ≈ 1.20 times higher in base 2. Pass Math.E for Evidently's number.
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>, base = 2): number {
  if (p.length !== q.length) throw new RangeError(`jensenShannon: ${p.length} bins vs ${q.length}`);
  assertCounts(p, 'jensenShannon p');
  assertCounts(q, 'jensenShannon q');
  if (!(base > 0) || base === 1) throw new RangeError(`jensenShannon: base must be > 0 and ≠ 1, got ${base}`);
  const sp = total(p);
  const sq = total(q);
  const left = new CompensatedSum();
  const right = new CompensatedSum();
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    const qi = q[i]! / sq;
    const m = (pi + qi) / 2;
    left.add(relEntr(pi, m));
    right.add(relEntr(qi, m));
  }
  const js = (left.value + right.value) / Math.log(base);
  // Rounding can leave a hair below 0 for identical inputs; sqrt of that would be NaN.
  return Math.sqrt(Math.max(js / 2, 0));
}

/** scipy.special.rel_entr for x ≥ 0, y > 0 (m > 0 wherever x > 0). */
function relEntr(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log(x / y);
}

function total(x: ArrayLike<number>): number {
  const s = new CompensatedSum();
  for (let i = 0; i < x.length; i++) s.add(x[i]!);
  return s.value;
}

export interface PsiOptions {
  /**
   * The share an empty bin is given, so ln(a / e) stays finite. Default: Evidently's rule — 1e-4, or
   * (smallest non-zero share) / 10⁶ when that share is itself ≤ 1e-4, so the fill stays below every
   * real bin. The shares are not renormalised after the fill (Evidently does not either).
   */
  readonly emptyBinShare?: number;
}

/** Evidently's PSI fill for empty bins (get_binned_data with feel_zeroes=True). */
export const PSI_EMPTY_SHARE = 1e-4;

function filledShares(counts: ArrayLike<number>, fixed: number | undefined): Float64Array {
  const s = total(counts);
  const shares = Float64Array.from(counts as ArrayLike<number>, (c) => c / s);
  let smallest = Number.POSITIVE_INFINITY;
  for (const v of shares) if (v !== 0 && v < smallest) smallest = v;
  const fill = fixed ?? (smallest <= PSI_EMPTY_SHARE ? smallest / 1e6 : PSI_EMPTY_SHARE);
  for (let i = 0; i < shares.length; i++) if (shares[i] === 0) shares[i] = fill;
  return shares;
}

/**
 * Population Stability Index, Σ (a − e) · ln(a / e) over bins, e the reference share and a the current
 * one. Symmetric in the two sides; 0.1 is the conventional "moderate shift" line and Evidently's default
 * threshold, 0.25 "major". No scipy function exists: the fixtures compute it with numpy by this formula.
 */
export function psi(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: PsiOptions = {},
): number {
  if (reference.length !== current.length)
    throw new RangeError(`psi: ${reference.length} bins vs ${current.length}`);
  assertCounts(reference, 'psi reference');
  assertCounts(current, 'psi current');
  const fixed = options.emptyBinShare;
  if (fixed !== undefined && !(fixed > 0 && fixed < 1)) throw new RangeError(`psi: emptyBinShare ${fixed}`);
  const e = filledShares(reference, fixed);
  const a = filledShares(current, fixed);
  const sum = new CompensatedSum();
  for (let i = 0; i < e.length; i++) sum.add((a[i]! - e[i]!) * Math.log(a[i]! / e[i]!));
  return sum.value;
}
