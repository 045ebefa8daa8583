/**
 * Chi-square test of homogeneity for a categorical feature: reference counts and current counts as the
 * two rows of a 2 × k contingency table, equal to scipy.stats.chi2_contingency(table, correction=False)
 * — statistic Σ (O − E)² / E with E from the margins, k − 1 degrees of freedom, p = chi2.sf.
 *
 * Homogeneity, not goodness of fit: the reference is a sample too, with its own noise. Evidently's
 * chisquare stattest instead treats the scaled reference counts as exact expectations
 * (scipy.stats.chisquare(f_obs=current, f_exp=reference · n_cur / n_ref)), which overstates significance
 * when the reference is small. Yates' correction (scipy's default for 2 × 2) is off: it is conservative
 * and Evidently does not apply it either.
 *
 * Two effect sizes. Cramér's V = √(χ² / (N · (min(2, k) − 1))), i.e. √(χ² / N) for k ≥ 2, equal to
 * scipy.stats.contingency.association(table, method='cramer', correction=False) — but V shrinks with the
 * ratio of the two sample sizes (a 10 000-row window against a 1 000 000-row reference reads a tenth of
 * the same shift at equal sizes), so the drift rules use Cohen's w between the two samples instead:
 * w = √(χ² · (1/n_ref + 1/n_cur)) = √(Σ (q − p)² / m) over categories (p, q the two shares, m the pooled
 * share), which does not depend on the sizes' ratio and equals 2V when they are equal.
 */
import { assertCounts, CompensatedSum } from './numeric.ts';
import { chiSquareSf } from './special.ts';

export interface ChiSquareResult {
  readonly statistic: number;
  readonly dof: number;
  readonly pValue: number;
  readonly cramersV: number;
  /** Cohen's w between the two samples: the size-free effect the drift rules use. */
  readonly cohensW: number;
  /** Categories kept: those with a non-zero count in at least one row. */
  readonly categories: number;
}

export function chiSquareHomogeneity(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): ChiSquareResult {
  if (reference.length !== current.length) {
    throw new RangeError(`chi-square: ${reference.length} categories vs ${current.length}`);
  }
  assertCounts(reference, 'chi-square reference');
  assertCounts(current, 'chi-square current');
  // scipy refuses a column of zeros (its expected count is 0); such a category carries no information,
  // so we drop it instead, which leaves the statistic unchanged and the dof counting only seen categories.
  const ref: number[] = [];
  const cur: number[] = [];
  for (let i = 0; i < reference.length; i++) {
    if (reference[i]! + current[i]! > 0) {
      ref.push(reference[i]!);
      cur.push(current[i]!);
    }
  }
  const k = ref.length;
  const nRef = sum(ref);
  const nCur = sum(cur);
  const total = nRef + nCur;
  if (k < 2) return { statistic: 0, dof: 0, pValue: 1, cramersV: 0, cohensW: 0, categories: k };
  const chi2 = new CompensatedSum();
  for (let i = 0; i < k; i++) {
    const column = ref[i]! + cur[i]!;
    // Expected counts as scipy's expected_freq forms them: row total × column total / N.
    const eRef = (nRef * column) / total;
    const eCur = (nCur * column) / total;
    chi2.add((ref[i]! - eRef) ** 2 / eRef);
    chi2.add((cur[i]! - eCur) ** 2 / eCur);
  }
  const statistic = chi2.value;
  const dof = k - 1;
  return {
    statistic,
    dof,
    pValue: chiSquareSf(statistic, dof),
    cramersV: Math.sqrt(statistic / total),
    cohensW: Math.sqrt(statistic * (1 / nRef + 1 / nCur)),
    categories: k,
  };
}

function sum(values: readonly number[]): number {
  const s = new CompensatedSum();
  for (const v of values) s.add(v);
  return s.value;
}
