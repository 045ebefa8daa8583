import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benjaminiHochberg } from '../../../services/core/statistics/index.ts';
import { assertStatistic, reference } from './reference.ts';

/** Tolerance: 1e-12 relative (reference.ts); scipy and we do the same multiplications, so in practice 0. */
describe("benjaminiHochberg matches scipy.stats.false_discovery_control(ps, method='bh')", () => {
  for (const c of reference().bh) {
    it(c.name, () => {
      const adjusted = benjaminiHochberg(c.ps);
      assert.equal(adjusted.length, c.adjusted.length);
      for (const [i, p] of adjusted.entries()) assertStatistic(p, c.adjusted[i]!, `adjusted[${i}]`);
    });
  }

  it('steps up: a larger p-value under its bar carries a smaller one over its own', () => {
    // 0.04 · 3/2 = 0.06 misses α = 0.05 alone, but 0.045 · 3/3 = 0.045 clears it and carries 0.04 along.
    const adjusted = benjaminiHochberg([0.01, 0.04, 0.045]);
    assertStatistic(adjusted[0]!, 0.03, 'first');
    assertStatistic(adjusted[1]!, 0.045, 'second, carried');
    assertStatistic(adjusted[2]!, 0.045, 'third');
  });

  it('keeps the input order and refuses values outside [0, 1]', () => {
    assert.deepEqual(benjaminiHochberg([0.5, 0.6, 0.1, 0.001]), [0.6, 0.6, 0.2, 0.004]);
    assert.throws(() => benjaminiHochberg([0.1, 1.2]), RangeError);
    assert.throws(() => benjaminiHochberg([Number.NaN]), RangeError);
  });
});
