import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chiSquareHomogeneity,
  chiSquareSf,
  lnGamma,
  regularizedGammaP,
  regularizedGammaQ,
} from '../../../services/core/statistics/index.ts';
import { assertPValue, assertStatistic, reference } from './reference.ts';

/** Tolerances (reference.ts): statistic and V 1e-12 relative, p-values 1e-9 relative, dof exact. */
describe('chiSquareHomogeneity matches scipy.stats.chi2_contingency([ref, cur], correction=False)', () => {
  for (const c of reference().chiSquare) {
    it(c.name, () => {
      const r = chiSquareHomogeneity(c.reference, c.current);
      assertStatistic(r.statistic, c.statistic, 'chi-square');
      assert.equal(r.dof, c.dof);
      assertPValue(r.pValue, c.pvalue, 'p-value');
      assertStatistic(r.cramersV, c.cramersV, "Cramér's V (contingency.association)");
      // w from scipy's own χ² and the row totals: √(χ² (1/n_ref + 1/n_cur)).
      const nRef = c.reference.reduce((a, b) => a + b, 0);
      const nCur = c.current.reduce((a, b) => a + b, 0);
      assertStatistic(r.cohensW, Math.sqrt(c.statistic * (1 / nRef + 1 / nCur)), "Cohen's w");
    });
  }

  it("w does not shrink with the sizes' ratio as V does; w = 2V at equal sizes", () => {
    // The same shares, 10% → 16% of one category, at equal sizes and at 100 : 1.
    const shares = (p: number, n: number) => [p * n, ((1 - p) / 3) * n, ((1 - p) / 3) * n, ((1 - p) / 3) * n];
    const equal = chiSquareHomogeneity(shares(0.1, 100_000), shares(0.16, 100_000));
    const skewed = chiSquareHomogeneity(shares(0.1, 1_000_000), shares(0.16, 10_000));
    assertStatistic(equal.cohensW, 2 * equal.cramersV, 'w = 2V');
    // Brute force: √(Σ (q − p)² / p) against the reference shares is the 100 : 1 limit.
    const p = [0.1, 0.3, 0.3, 0.3];
    const q = [0.16, 0.28, 0.28, 0.28];
    const limit = Math.sqrt(p.reduce((s, pi, i) => s + (q[i]! - pi) ** 2 / pi, 0));
    assert.ok(Math.abs(skewed.cohensW - limit) < 0.003, `w ${skewed.cohensW} vs ${limit}`);
    assert.ok(skewed.cramersV < equal.cramersV / 3, 'V shrinks with the ratio');
  });

  it('drops a category absent from both rows instead of failing as scipy does', () => {
    const withEmpty = chiSquareHomogeneity([10, 0, 20], [15, 0, 12]);
    const without = chiSquareHomogeneity([10, 20], [15, 12]);
    assert.deepEqual(withEmpty, without);
  });

  it('is 0 with p = 1 for a single category', () => {
    assert.deepEqual(chiSquareHomogeneity([5], [9]), {
      statistic: 0,
      dof: 0,
      pValue: 1,
      cramersV: 0,
      cohensW: 0,
      categories: 1,
    });
  });
});

describe('chiSquareSf matches scipy.stats.chi2.sf(x, k) from k = 1 to 5000', () => {
  it(`agrees on all ${reference().chi2Sf.length} points`, () => {
    for (const c of reference().chi2Sf) assertPValue(chiSquareSf(c.x, c.k), c.sf, `chi2.sf(${c.x}, ${c.k})`);
  });

  it('has P + Q = 1 and the closed forms for k = 2 and Γ', () => {
    for (const [a, x] of [
      [0.5, 0.2],
      [3, 7],
      [40, 35],
    ] as const) {
      assertStatistic(regularizedGammaP(a, x) + regularizedGammaQ(a, x), 1, `P + Q at (${a}, ${x})`);
    }
    assertStatistic(chiSquareSf(3, 2), Math.exp(-1.5), 'chi2.sf(3, 2) = e^-1.5');
    assertStatistic(lnGamma(0.5), 0.5 * Math.log(Math.PI), 'ln Γ(1/2)');
    assertStatistic(lnGamma(11), Math.log(3628800), 'ln 10!');
    assertStatistic(lnGamma(171), 706.5730622457874, 'ln 170!');
  });
});
