import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chiSquareHomogeneity,
  ks2samp,
  populationStd,
  wasserstein,
} from '../../../services/core/statistics/index.ts';
import {
  compareProfiles,
  ksFromProfiles,
  wassersteinFromProfiles,
} from '../../../services/monitor/core/compare.ts';
import {
  addCategories,
  addNumbers,
  binLocator,
  binOf,
  categoryCounts,
  emptyCategoricalProfile,
  emptyNumericProfile,
  mergeInto,
  type NumericProfile,
  OTHER_CATEGORY,
  profileFromJson,
  profileStd,
  profileToJson,
  referenceEdges,
} from '../../../services/monitor/core/profile.ts';
import { createRng, normals } from '../../support/prng.ts';

function profileOf(edges: Float64Array, values: ArrayLike<number | null>): NumericProfile {
  const p = emptyNumericProfile(edges);
  addNumbers(p, values);
  return p;
}

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

describe('numerical profiles', () => {
  it('bins as a linear search over right-closed bins does, at, between and beyond the edges', () => {
    const rng = createRng(7);
    const edges = referenceEdges(
      Float64Array.from({ length: 5000 }, () => Math.exp(3 * rng.next()) - 1),
      300,
    );
    const loc = binLocator(edges);
    const probes = [...edges, edges[0]! - 1, edges[edges.length - 1]! + 1];
    for (let i = 0; i < 20_000; i++) probes.push(-2 + 25 * rng.next());
    for (const x of probes) {
      let expected = edges.length;
      for (let b = 0; b < edges.length; b++) {
        if (x <= edges[b]!) {
          expected = b;
          break;
        }
      }
      assert.equal(binOf(loc, x), expected, `x = ${x}`);
    }
  });

  it('takes the distinct values as edges when there are few, quantiles (with min and max) when many', () => {
    assert.deepEqual(Array.from(referenceEdges([3, 1, 2, 2, null, Number.NaN, 3])), [1, 2, 3]);
    const many = normals(100_000, 0, 1);
    const edges = referenceEdges(many, 1000);
    assert.ok(edges.length > 990 && edges.length <= 1001, `${edges.length} edges`);
    assert.equal(edges[0], Math.min(...many));
    assert.equal(edges[edges.length - 1], Math.max(...many));
    const p = profileOf(edges, many);
    // Equal mass: no bin holds much more than 1/1000 of the rows.
    for (const c of p.counts) assert.ok(c <= 110, `a bin of ${c}`);
  });

  it('keeps count, mean, population sd, min, max and missing exactly', () => {
    const values = [...normals(10_000, 5, 2), null, Number.NaN, Number.POSITIVE_INFINITY];
    const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const p = profileOf(referenceEdges(finite), values);
    assert.equal(p.count, 10_000);
    assert.equal(p.missing, 3);
    close(p.mean, finite.reduce((a, b) => a + b, 0) / finite.length, 1e-12, 'mean');
    close(profileStd(p), populationStd(finite), 1e-12, 'sd');
    assert.equal(p.min, Math.min(...finite));
    assert.equal(p.max, Math.max(...finite));
  });

  it('merges exactly: profile(a) ⊕ profile(b) = profile(a ∪ b)', () => {
    const a = normals(30_000, 0, 3);
    const b = normals(12_345, 0.7, 4);
    const edges = referenceEdges(a, 500);
    const merged = profileOf(edges, a);
    // Added in batches of uneven sizes, as windows fill.
    const pb = emptyNumericProfile(edges);
    addNumbers(pb, b, 0, 1000);
    addNumbers(pb, b, 1000, 1001);
    addNumbers(pb, b, 1001, b.length);
    mergeInto(merged, pb);
    const whole = profileOf(edges, [...a, ...b]);
    assert.deepEqual(Array.from(merged.counts), Array.from(whole.counts));
    assert.equal(merged.count, whole.count);
    close(merged.mean, whole.mean, 1e-12, 'mean');
    close(merged.m2, whole.m2, 1e-10, 'm2');
    for (let i = 0; i < whole.sums.length; i++)
      close(merged.sums[i]!, whole.sums[i]!, 1e-12, `sum of bin ${i}`);
    assert.throws(() => mergeInto(merged, profileOf(referenceEdges(b), b)), /same edges/);
  });

  it('round-trips through JSON', () => {
    const values = normals(5000, 1, 5);
    const p = profileOf(referenceEdges(values, 100), values);
    const back = profileFromJson(JSON.parse(JSON.stringify(profileToJson(p))));
    assert.deepEqual(profileToJson(back), profileToJson(p));
  });
});

describe('tests on profiles against the same tests on the raw values (scipy-checked)', () => {
  it('few distinct values (edges = values): KS D and Wasserstein are exact, tails included', () => {
    const rng = createRng(11);
    const reference = Float64Array.from({ length: 20_000 }, () => Math.floor(rng.next() * 40));
    // The current window reaches below and above the reference's range.
    const current = Float64Array.from({ length: 7_000 }, () => Math.floor(rng.next() * 50) - 5);
    const edges = referenceEdges(reference);
    assert.equal(edges.length, 40);
    const ref = profileOf(edges, reference);
    const cur = profileOf(edges, current);
    const raw = ks2samp(reference, current);
    close(ksFromProfiles(ref, cur).statistic, raw.statistic, 1e-12, 'D');
    close(ksFromProfiles(ref, cur).pValue!, raw.pValue, 1e-9, 'asymptotic p (n > 10 000: scipy uses it too)');
    close(wassersteinFromProfiles(ref, cur), wasserstein(reference, current).distance, 1e-12, 'W');
  });

  it('continuous values, 1000 quantile bins: D within 0.002, normalised W within 0.001', () => {
    const reference = normals(200_000, 0, 21);
    const edges = referenceEdges(reference, 1000);
    const ref = profileOf(edges, reference);
    for (const shift of [0, 0.1, 0.25, 1]) {
      const current = normals(20_000, shift, 22 + shift);
      const cur = profileOf(edges, current);
      const raw = wasserstein(reference, current);
      close(
        ksFromProfiles(ref, cur).statistic,
        ks2samp(reference, current).statistic,
        0.002,
        `D at ${shift} sd`,
      );
      const w = wassersteinFromProfiles(ref, cur) / profileStd(ref);
      assert.ok(Math.abs(w - raw.normalised) < 0.001, `W/sd at ${shift} sd: ${w} vs ${raw.normalised}`);
    }
  });

  it('a 0.25 sd shift is drift by the default test; the same distribution is not', () => {
    const reference = normals(200_000, 0, 31);
    const edges = referenceEdges(reference, 1000);
    const ref = profileOf(edges, reference);
    const shifted = compareProfiles('x', ref, profileOf(edges, normals(10_000, 0.25, 32)))!;
    const calm = compareProfiles('x', ref, profileOf(edges, normals(10_000, 0, 33)))!;
    assert.equal(shifted.test, 'wasserstein');
    assert.ok(shifted.statistic > 0.2 && shifted.statistic < 0.3, `${shifted.statistic}`);
    assert.ok(calm.statistic < 0.05, `${calm.statistic}`);
  });
});

describe('categorical profiles', () => {
  it('counts items, keeps seeded categories and puts overflow in other', () => {
    const p = emptyCategoricalProfile(3, ['a', 'b']);
    addCategories(p, ['a', 'c', 'd', 'e', null, 'a', 1, 1.0]);
    assert.deepEqual(categoryCounts(p), { a: 2, c: 1, [OTHER_CATEGORY]: 4 });
    assert.equal(p.missing, 1);
  });

  it('chi-square on profiles equals chi-square on the counts; a 10% → 16% move is drift', () => {
    const shares = (p: number) => [p, (1 - p) / 3, (1 - p) / 3, (1 - p) / 3];
    const draw = (n: number, s: number[], seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: n }, () => {
        let u = rng.next();
        for (let i = 0; i < s.length; i++) {
          u -= s[i]!;
          if (u < 0) return `c${i}`;
        }
        return `c${s.length - 1}`;
      });
    };
    const ref = emptyCategoricalProfile();
    addCategories(ref, draw(200_000, shares(0.1), 41));
    const moved = emptyCategoricalProfile(256, ref.counts.keys());
    addCategories(moved, draw(10_000, shares(0.16), 42));
    const calm = emptyCategoricalProfile(256, ref.counts.keys());
    addCategories(calm, draw(10_000, shares(0.1), 43));
    const r = compareProfiles('segment', ref, moved)!;
    const keys = ['c0', 'c1', 'c2', 'c3'];
    const direct = chiSquareHomogeneity(
      keys.map((k) => ref.counts.get(k)!),
      keys.map((k) => moved.counts.get(k)!),
    );
    assert.equal(r.test, 'chisquare');
    close(r.statistic, direct.statistic, 1e-12, 'χ²');
    close(r.effectSize, direct.cohensW, 1e-12, 'w');
    assert.ok(r.effectSize > r.effectFloor && r.pValue! < 1e-10, `w ${r.effectSize}, p ${r.pValue}`);
    const c = compareProfiles('segment', ref, calm)!;
    assert.ok(c.effectSize < c.effectFloor / 2, `calm w ${c.effectSize}`);
  });
});
