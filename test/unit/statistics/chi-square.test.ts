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
    });
  }

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
