import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  KS_MAX_EXACT_N,
  ks2samp,
  ks2sampSorted,
  ksStatisticSorted,
  kstwoSf,
} from '../../../services/core/statistics/index.ts';
import { roundHalfEven } from '../../../services/core/statistics/numeric.ts';
import { createRng } from '../../support/prng.ts';
import { assertPValue, assertStatistic, reference, sample } from './reference.ts';

/** Tolerances: see reference.ts (statistic 1e-12 relative, p-value 1e-9 relative). */
describe('ks2samp matches scipy.stats.ks_2samp(a, b), method="auto"', () => {
  for (const c of reference().ks2samp) {
    it(c.name, () => {
      const a = sample(c.a, c.aCounts);
      const b = sample(c.b, c.bCounts);
      assert.equal(a.length, c.n1);
      assert.equal(b.length, c.n2);
      const r = ks2samp(a, b);
      assertStatistic(r.statistic, c.statistic, 'D');
      assertPValue(r.pValue, c.pvalue, 'p-value');
      // The fixture records which of scipy's modes 'auto' used; we must have taken the same road.
      assert.equal(r.method, c.method === 'exact' ? 'exact' : 'asymptotic');
    });
  }

  it('covers both modes, p-values near 0 and near 1, and a large tied sample', () => {
    const cases = reference().ks2samp;
    assert.ok(cases.some((c) => c.method === 'exact') && cases.some((c) => c.method === 'asymp'));
    assert.ok(cases.some((c) => c.pvalue < 1e-20) && cases.some((c) => c.pvalue > 0.95));
    assert.ok(cases.some((c) => c.n1 + c.n2 > 300_000));
  });

  it('is symmetric in its two samples', () => {
    const c = reference().ks2samp.find((x) => x.name.startsWith('small unequal'))!;
    const ab = ks2samp(c.a!, c.b!);
    const ba = ks2samp(c.b!, c.a!);
    assert.equal(ba.statistic, ab.statistic);
    assert.equal(ba.pValue, ab.pValue);
  });
});

describe('kstwoSf matches scipy.stats.kstwo.sf(x, n) on a grid over every branch', () => {
  it(`agrees on all ${reference().kstwoSf.length} points`, () => {
    for (const c of reference().kstwoSf) assertPValue(kstwoSf(c.n, c.x), c.sf, `kstwo.sf(${c.x}, ${c.n})`);
  });

  it('takes the edges: sf(0) = 1, sf(1) = 0, and refuses a non-integer n', () => {
    assert.equal(kstwoSf(10, 0), 1);
    assert.equal(kstwoSf(10, 1), 0);
    assert.throws(() => kstwoSf(10.5, 0.1), RangeError);
  });
});

describe('ks2samp on its own terms', () => {
  it('switches to the asymptotic method above 10 000 values, as scipy', () => {
    const rng = createRng(11);
    const draw = (n: number) => Float64Array.from({ length: n }, () => rng.next());
    assert.equal(ks2samp(draw(KS_MAX_EXACT_N), draw(50)).method, 'exact');
    assert.equal(ks2samp(draw(KS_MAX_EXACT_N + 1), draw(50)).method, 'asymptotic');
  });

  it('handles hundreds of thousands of values (sort once, linear merge)', () => {
    const rng = createRng(5);
    const a = Float64Array.from({ length: 300_000 }, () => rng.next());
    const b = Float64Array.from({ length: 200_000 }, () => rng.next() * 1.01);
    const started = performance.now();
    const r = ks2samp(a, b);
    // Generous: a quadratic merge would take minutes; the linear one takes well under a second.
    assert.ok(performance.now() - started < 5000);
    assert.ok(r.statistic > 0 && r.statistic < 0.02, `D = ${r.statistic}`);
    assert.ok(r.pValue < 1e-6, `uniform vs 1.01 × uniform at this size is detected (p = ${r.pValue})`);
  });

  it('computes D over ties with right-continuous CDFs', () => {
    // F_a jumps to 3/4 at 1, F_b to 1/4: D = 1/2 there, not at a point inside a run of ties.
    assert.equal(ksStatisticSorted([1, 1, 1, 2], [1, 2, 2, 2]), 0.5);
  });

  it('refuses NaN, empty and (for the sorted entry point) unsorted input', () => {
    assert.throws(() => ks2samp([1, Number.NaN], [1, 2]), /NaN/);
    assert.throws(() => ks2samp([], [1, 2]), /empty/);
    assert.throws(() => ks2sampSorted([2, 1], [1, 2]), /sorted/);
  });

  it('rounds n1 n2 / (n1 + n2) half to even, as numpy', () => {
    assert.equal(roundHalfEven(5000.5), 5000);
    assert.equal(roundHalfEven(5001.5), 5002);
    assert.equal(roundHalfEven(2.4), 2);
    assert.equal(roundHalfEven(2.6), 3);
  });
});
