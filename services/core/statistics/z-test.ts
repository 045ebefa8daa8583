/**
 * Two-proportion Z-test with the pooled variance, for a binary feature:
 *   z = (p₁ − p₂) / √(P (1 − P) (1/n₁ + 1/n₂)),  P = (x₁ + x₂) / (n₁ + n₂),  p-value = 2 · Φ̄(|z|).
 * This is Evidently's "z" stattest (proportions_diff_z_stat_ind), with the tail from the survival
 * function rather than Evidently's 2 · (1 − Φ(|z|)), which rounds to 0 below ~1e-16. Its square is the
 * 2 × 2 chi-square statistic without Yates' correction, and the p-values coincide (the fixtures check).
 *
 * When both samples hold one value only (P = 0 or 1) there is no variance and z is undefined; we return
 * z = 0, p = 1 — no evidence of a difference — as Evidently does for identical single-valued samples.
 *
 * The effect size is Cohen's h = 2 asin √p₁ − 2 asin √p₂, the proportion difference on the scale where
 * its sampling variance does not depend on p (0.2 "small", 0.5 "medium" in Cohen's terms).
 */
import { normalSf } from './special.ts';

export interface ZTestResult {
  /** z, reference minus current: negative when the current proportion is higher. */
  readonly statistic: number;
  readonly pValue: number;
  /** Cohen's h, reference minus current. */
  readonly cohensH: number;
  readonly referenceProportion: number;
  readonly currentProportion: number;
}

function checkCounts(successes: number, n: number, label: string): void {
  if (!Number.isInteger(n) || n <= 0)
    throw new RangeError(`z-test: ${label} size ${n} is not a positive integer`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`z-test: ${label} count ${successes} is not in 0..${n}`);
  }
}

/** x₁ of n₁ reference rows and x₂ of n₂ current rows have the value under test. */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): ZTestResult {
  checkCounts(x1, n1, 'reference');
  checkCounts(x2, n2, 'current');
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const pooled = (x1 + x2) / (n1 + n2);
  const cohensH = 2 * Math.asin(Math.sqrt(p1)) - 2 * Math.asin(Math.sqrt(p2));
  if (pooled === 0 || pooled === 1) {
    return { statistic: 0, pValue: 1, cohensH: 0, referenceProportion: p1, currentProportion: p2 };
  }
  const z = (p1 - p2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  return {
    statistic: z,
    pValue: Math.min(1, 2 * normalSf(Math.abs(z))),
    cohensH,
    referenceProportion: p1,
    currentProportion: p2,
  };
}
