import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  populationStd,
  WASSERSTEIN_STD_FLOOR,
  wasserstein,
  wassersteinDistance,
} from '../../../services/core/statistics/index.ts';
import { assertStatistic, reference, sample } from './reference.ts';

/** Tolerance: 1e-12 relative (reference.ts). */
describe('wasserstein matches scipy.stats.wasserstein_distance(u, v) and Evidently’s normalisation', () => {
  for (const c of reference().wasserstein) {
    it(c.name, () => {
      const u = sample(c.u, c.uCounts);
      const v = sample(c.v, c.vCounts);
      const r = wasserstein(u, v);
      assertStatistic(r.distance, c.distance, 'distance');
      // np.std(u): ddof = 0.
      assertStatistic(r.referenceStd, c.referenceStd, 'reference std');
      assertStatistic(r.normalised, c.normalised, 'distance / max(std, 0.001)');
    });
  }

  it('is symmetric, and 0 for identical samples', () => {
    const c = reference().wasserstein.find((x) => x.name === 'small samples')!;
    assert.equal(wassersteinDistance(c.u!, c.v!), wassersteinDistance(c.v!, c.u!));
    assert.equal(wassersteinDistance(c.u!, c.u!), 0);
  });

  it('is the mean shift for a translated sample', () => {
    const u = [0, 1, 2, 3, 4];
    assertStatistic(
      wassersteinDistance(
        u,
        u.map((x) => x + 0.5),
      ),
      0.5,
      'shift',
    );
  });

  it('uses the population sd (ddof = 0) of the reference, floored at 0.001', () => {
    assert.equal(populationStd([1, 3]), 1);
    const r = wasserstein([2, 2, 2], [2.001, 2.001]);
    assert.equal(r.referenceStd, 0);
    assert.equal(r.normalised, r.distance / WASSERSTEIN_STD_FLOOR);
  });
});
