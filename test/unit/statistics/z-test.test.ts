import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chiSquareHomogeneity,
  normalSf,
  twoProportionZTest,
} from '../../../services/core/statistics/index.ts';
import { assertPValue, assertStatistic, reference } from './reference.ts';

/**
 * Tolerances (reference.ts): z and h 1e-12 relative, p-values 1e-9 relative. The script takes the
 * p-value from scipy.stats.norm.sf and checks it there against erfc and chi2_contingency.
 */
describe('twoProportionZTest matches the pooled z and 2 · scipy.stats.norm.sf(|z|)', () => {
  for (const c of reference().zTest) {
    it(c.name, () => {
      const r = twoProportionZTest(c.x1, c.n1, c.x2, c.n2);
      assertStatistic(r.statistic, c.statistic, 'z');
      assertPValue(r.pValue, c.pvalue, 'p-value');
      assertStatistic(r.cohensH, c.cohensH, "Cohen's h");
    });
  }

  it('is the 2 × 2 chi-square: z² = χ² and the same p-value', () => {
    for (const c of reference().zTest.filter((x) => !x.convention)) {
      const z = twoProportionZTest(c.x1, c.n1, c.x2, c.n2);
      const chi = chiSquareHomogeneity([c.x1, c.n1 - c.x1], [c.x2, c.n2 - c.x2]);
      assertStatistic(z.statistic ** 2, chi.statistic, `${c.name}: z²`, 1e-9);
      assertPValue(z.pValue, chi.pValue, `${c.name}: p`);
    }
  });

  it('refuses counts that are not counts', () => {
    assert.throws(() => twoProportionZTest(5, 4, 1, 10), RangeError);
    assert.throws(() => twoProportionZTest(1.5, 4, 1, 10), RangeError);
    assert.throws(() => twoProportionZTest(0, 0, 1, 10), RangeError);
  });
});

describe('normalSf matches scipy.stats.norm.sf', () => {
  it(`agrees on all ${reference().normSf.length} points, out to z = 37.5`, () => {
    for (const c of reference().normSf) assertPValue(normalSf(c.z), c.sf, `norm.sf(${c.z})`);
  });

  it('is ½ at 0 and symmetric', () => {
    assert.equal(normalSf(0), 0.5);
    assertStatistic(normalSf(-1.3) + normalSf(1.3), 1, 'sf(-z) + sf(z)');
  });
});
