import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  categoryBins,
  histogramCounts,
  jensenShannon,
  psi,
  sturgesEdges,
} from '../../../services/core/statistics/index.ts';
import { assertStatistic, JS_REL, reference } from './reference.ts';

/** Tolerances (reference.ts): JS distance 1e-10 relative, PSI 1e-12 relative, bins exact. */
describe('jensenShannon matches scipy.spatial.distance.jensenshannon', () => {
  for (const c of reference().divergence) {
    it(c.name, () => {
      assertStatistic(jensenShannon(c.reference, c.current), c.jsBase2, 'base 2', JS_REL);
      assertStatistic(jensenShannon(c.reference, c.current, Math.E), c.jsBaseE, 'base e (Evidently)', JS_REL);
    });
  }

  it('is 1 in bits for disjoint supports and √ln 2 in nats', () => {
    assert.equal(jensenShannon([1, 0], [0, 1]), 1);
    assertStatistic(jensenShannon([1, 0], [0, 1], Math.E), Math.sqrt(Math.LN2), 'nats');
  });

  it('refuses mismatched bins, negative counts and an all-zero side', () => {
    assert.throws(() => jensenShannon([1, 2], [1, 2, 3]), RangeError);
    assert.throws(() => jensenShannon([1, -1], [1, 1]), RangeError);
    assert.throws(() => jensenShannon([0, 0], [1, 1]), RangeError);
  });
});

describe('psi matches numpy Σ (a − e) ln(a / e) with Evidently’s empty-bin fill', () => {
  for (const c of reference().divergence) {
    it(c.name, () => assertStatistic(psi(c.reference, c.current), c.psi, 'PSI'));
  }

  it('fills empty bins with 1e-4, or min share / 1e6 when the minimum is ≤ 1e-4', () => {
    // Reference [0.5, 0.5, 0 → 1e-4]; current [0.5, 0.4, 0.1].
    const expected = 0 + (0.4 - 0.5) * Math.log(0.4 / 0.5) + (0.1 - 1e-4) * Math.log(0.1 / 1e-4);
    assertStatistic(psi([5, 5, 0], [5, 4, 1]), expected, 'PSI with the 1e-4 fill');
    const fixed = 0 + (0.4 - 0.5) * Math.log(0.4 / 0.5) + (0.1 - 1e-3) * Math.log(0.1 / 1e-3);
    assertStatistic(psi([5, 5, 0], [5, 4, 1], { emptyBinShare: 1e-3 }), fixed, 'PSI with a set fill');
  });

  it('is symmetric and 0 for identical shares', () => {
    assert.equal(psi([1, 2, 3], [3, 2, 1]), psi([3, 2, 1], [1, 2, 3]));
    assert.equal(psi([1, 2, 3], [2, 4, 6]), 0);
  });
});

describe('binning matches numpy (histogram_bin_edges "sturges", histogram)', () => {
  for (const c of reference().histogram) {
    it(c.name, () => {
      const edges = sturgesEdges(c.reference, c.current);
      assert.deepEqual(edges, c.edges);
      assert.deepEqual(histogramCounts(c.reference, edges), c.referenceCounts);
      assert.deepEqual(histogramCounts(c.current, edges), c.currentCounts);
    });
  }

  it('counts categories over the union of both sides', () => {
    const b = categoryBins(['a', 'b', 'a'], ['c', 'a']);
    assert.deepEqual(b.labels, ['a', 'b', 'c']);
    assert.deepEqual(b.reference, [2, 1, 0]);
    assert.deepEqual(b.current, [1, 0, 1]);
  });
});
