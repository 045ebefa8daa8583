import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideDrift,
  defaultTest,
  EVIDENTLY_SELECTION_RULES,
  evaluateFeature,
  type FeatureOutcome,
  type FeatureProfile,
  JS_DEFAULT_THRESHOLD,
  profileFeature,
  selectTest,
  TEST_DEFAULTS,
  type TestName,
} from '../../../services/core/statistics/index.ts';
import { normals } from '../../support/prng.ts';

const profile = (p: Partial<FeatureProfile>): FeatureProfile => ({
  type: 'numerical',
  distinct: 100,
  referenceSize: 500,
  currentSize: 500,
  ...p,
});

describe('defaultTest follows Evidently’s default selection', () => {
  const cases: Array<[string, Partial<FeatureProfile>, TestName]> = [
    ['numerical, 6 distinct, 1000 rows → KS', { distinct: 6, referenceSize: 1000 }, 'ks'],
    ['numerical, 6 distinct, 1001 rows → Wasserstein', { distinct: 6, referenceSize: 1001 }, 'wasserstein'],
    ['numerical, 5 distinct, 1000 rows → chi-square', { distinct: 5, referenceSize: 1000 }, 'chisquare'],
    ['numerical, 2 distinct, 1000 rows → Z-test', { distinct: 2, referenceSize: 1000 }, 'ztest'],
    [
      'numerical, 5 distinct, 1001 rows → Jensen–Shannon',
      { distinct: 5, referenceSize: 1001 },
      'jensenshannon',
    ],
    ['categorical, 40 categories, 500 rows → chi-square', { type: 'categorical', distinct: 40 }, 'chisquare'],
    ['categorical, binary, 500 rows → Z-test', { type: 'categorical', distinct: 2 }, 'ztest'],
    [
      'categorical, binary, 5000 rows → Jensen–Shannon',
      { type: 'categorical', distinct: 2, referenceSize: 5000 },
      'jensenshannon',
    ],
  ];
  for (const [name, p, expected] of cases)
    it(name, () => assert.equal(defaultTest(profile(p), EVIDENTLY_SELECTION_RULES).test, expected));

  it('Flywheel departs at equal sizes for large categoricals only: chi-square where Evidently takes JS', () => {
    for (const [, p, evidently] of cases) {
      const equal = profile({ ...p, currentSize: p.referenceSize ?? 500 });
      const ours = defaultTest(equal).test;
      assert.equal(ours, evidently === 'jensenshannon' ? 'chisquare' : evidently, JSON.stringify(p));
    }
    assert.match(
      defaultTest(profile({ type: 'categorical', distinct: 4, referenceSize: 5000, currentSize: 5000 }))
        .reason,
      /w floor/,
    );
  });

  it('and the smaller sample decides small or large: a 200-row window against a large reference gets KS', () => {
    const window = profile({ referenceSize: 200_000, currentSize: 200 });
    assert.equal(defaultTest(window, EVIDENTLY_SELECTION_RULES).test, 'wasserstein');
    assert.equal(defaultTest(window).test, 'ks');
    assert.match(defaultTest(window).reason, /smaller sample ≤ 1000 rows/);
    assert.equal(defaultTest(profile({ referenceSize: 200_000, currentSize: 1001 })).test, 'wasserstein');
    assert.equal(
      defaultTest(profile({ type: 'categorical', distinct: 3, referenceSize: 200_000, currentSize: 200 }))
        .test,
      'chisquare',
    );
  });

  it('takes other thresholds when given other rules', () => {
    const rules = { ...EVIDENTLY_SELECTION_RULES, smallReferenceMax: 100, lowCardinalityMax: 10 };
    assert.equal(defaultTest(profile({ referenceSize: 101 }), rules).test, 'wasserstein');
    assert.equal(defaultTest(profile({ distinct: 8 }), rules).test, 'jensenshannon');
  });

  it('says why', () => {
    assert.match(
      defaultTest(profile({})).reason,
      /numerical, > 5 distinct values, smaller sample ≤ 1000 rows/,
    );
    assert.match(defaultTest(profile({}), EVIDENTLY_SELECTION_RULES).reason, /reference ≤ 1000 rows/);
  });
});

describe('selectTest: defaults and per-feature overrides', () => {
  it('gives each test its default threshold and floor', () => {
    assert.deepEqual(selectTest(profile({})), {
      test: 'ks',
      kind: 'p-value',
      threshold: 0.05,
      effectFloor: TEST_DEFAULTS.ks.effectFloor,
      reason: defaultTest(profile({})).reason,
    });
    const js = selectTest(
      profile({ type: 'categorical', distinct: 3, referenceSize: 5000 }),
      {},
      EVIDENTLY_SELECTION_RULES,
    );
    assert.equal(js.threshold, JS_DEFAULT_THRESHOLD);
    assert.ok(Math.abs(js.threshold - 0.1201122408) < 1e-9, 'Evidently’s 0.1 nats in bits');
  });

  it('lets a feature choose its test, threshold and floor', () => {
    const psi = selectTest(profile({}), { test: 'psi', threshold: 0.25 });
    assert.deepEqual(
      [psi.test, psi.kind, psi.threshold, psi.effectFloor, psi.reason],
      ['psi', 'distance', 0.25, 0.25, 'configured'],
    );
    const ks = selectTest(profile({ referenceSize: 10_000 }), {
      test: 'ks',
      threshold: 0.01,
      effectFloor: 0.1,
    });
    assert.deepEqual([ks.test, ks.threshold, ks.effectFloor], ['ks', 0.01, 0.1]);
  });

  it('refuses a test that does not fit the feature, and thresholds out of range', () => {
    assert.throws(
      () => selectTest(profile({ type: 'categorical', distinct: 3 }), { test: 'ks' }),
      /numerical/,
    );
    assert.throws(() => selectTest(profile({ distinct: 3 }), { test: 'ztest' }), /at most 2/);
    assert.throws(() => selectTest(profile({}), { threshold: 1.5 }), /out of range/);
    assert.throws(() => selectTest(profile({}), { test: 'wasserstein', threshold: 0 }), /out of range/);
    assert.throws(() => selectTest(profile({}), { effectFloor: -1 }), /floor/);
  });
});

const outcome = (o: Partial<FeatureOutcome> & Pick<FeatureOutcome, 'feature'>): FeatureOutcome => ({
  test: 'ks',
  kind: 'p-value',
  statistic: 0.3,
  pValue: 0.5,
  effectSize: 0.3,
  threshold: 0.05,
  effectFloor: 0.04,
  ...o,
});

describe('decideDrift', () => {
  const fivePValues = [0.005, 0.04, 0.3, 0.5, 0.8].map((p, i) => outcome({ feature: `f${i}`, pValue: p }));

  it('Benjamini–Hochberg changes a decision that raw p-values would make', () => {
    const raw = decideDrift(fivePValues, { correction: 'none' });
    const bh = decideDrift(fivePValues);
    assert.deepEqual(
      raw.features.map((f) => f.drifted),
      [true, true, false, false, false],
    );
    // 0.04 · 5 / 2 = 0.1 ≥ 0.05: no longer drift once five features share the α.
    assert.deepEqual(
      bh.features.map((f) => f.drifted),
      [true, false, false, false, false],
    );
    assert.equal(bh.features[1]!.adjustedPValue, 0.1);
    assert.equal(bh.features[1]!.reason, 'not-significant');
    assert.equal(bh.correction, 'bh');
  });

  it('adjusts only over the p-value tests; distances neither join nor change', () => {
    const d = decideDrift([
      outcome({ feature: 'p', pValue: 0.03 }),
      outcome({
        feature: 'w',
        test: 'wasserstein',
        kind: 'distance',
        pValue: null,
        statistic: 0.05,
        effectSize: 0.05,
        threshold: 0.1,
        effectFloor: 0.1,
      }),
    ]);
    // Were the distance counted, m = 2 and 0.03 would become 0.06.
    assert.equal(d.features[0]!.adjustedPValue, 0.03);
    assert.equal(d.features[0]!.drifted, true);
    assert.equal(d.features[1]!.adjustedPValue, null);
    assert.equal(d.features[1]!.reason, 'under-threshold');
  });

  it('the effect floor turns a significant but tiny shift on a huge sample into no drift', () => {
    // 0.02 sd apart, 200 000 rows each, KS forced by configuration: p is tiny, D ≈ 0.008 < 0.04.
    const tiny = evaluateFeature(
      'tiny',
      { type: 'numerical', reference: normals(200_000, 0, 1), current: normals(200_000, 0.02, 2) },
      { test: 'ks' },
    );
    assert.ok(tiny.pValue! < 0.001, `significant: p = ${tiny.pValue}`);
    assert.ok(tiny.effectSize < TEST_DEFAULTS.ks.effectFloor, `D = ${tiny.effectSize}`);
    // The same for a proportion: 10% → 10.15% on a million rows each (scipy fixture: p ≈ 4e-4).
    const share = evaluateFeature(
      'share',
      {
        type: 'categorical',
        reference: { yes: 100_000, no: 900_000 },
        current: { yes: 101_500, no: 898_500 },
      },
      { test: 'ztest' },
    );
    assert.ok(share.pValue! < 0.001 && share.effectSize < 0.01);
    const d = decideDrift([tiny, share]);
    assert.deepEqual(
      d.features.map((f) => [f.drifted, f.reason]),
      [
        [false, 'below-effect-floor'],
        [false, 'below-effect-floor'],
      ],
    );
    // Without the floor both would count.
    const floorless = decideDrift([
      { ...tiny, effectFloor: 0 },
      { ...share, effectFloor: 0 },
    ]);
    assert.deepEqual(
      floorless.features.map((f) => f.drifted),
      [true, true],
    );
  });

  it('a floor above a distance’s threshold holds it back', () => {
    const d = decideDrift([
      outcome({
        feature: 'js',
        test: 'jensenshannon',
        kind: 'distance',
        pValue: null,
        statistic: 0.15,
        effectSize: 0.15,
        threshold: 0.1,
        effectFloor: 0.2,
      }),
      outcome({
        feature: 'psi',
        test: 'psi',
        kind: 'distance',
        pValue: null,
        statistic: 0.3,
        effectSize: 0.3,
        threshold: 0.1,
        effectFloor: 0.1,
      }),
    ]);
    assert.deepEqual(
      d.features.map((f) => f.reason),
      ['below-effect-floor', 'over-threshold'],
    );
  });

  it('calls dataset drift when the drifted share reaches driftShare (default 0.5)', () => {
    const drifted = (feature: string) => outcome({ feature, pValue: 1e-6 });
    const steady = (feature: string) => outcome({ feature, pValue: 0.9 });
    const half = decideDrift([drifted('a'), drifted('b'), steady('c'), steady('d')]);
    assert.deepEqual([half.driftedCount, half.driftedShare, half.datasetDrift], [2, 0.5, true]);
    assert.equal(
      decideDrift([drifted('a'), drifted('b'), steady('c'), steady('d')], { driftShare: 0.6 }).datasetDrift,
      false,
    );
    assert.equal(decideDrift([drifted('a'), steady('b'), steady('c'), steady('d')]).datasetDrift, false);
    const none = decideDrift([]);
    assert.deepEqual([none.driftedShare, none.datasetDrift], [0, false]);
    assert.throws(() => decideDrift([], { driftShare: 0 }), RangeError);
  });
});

describe('evaluateFeature end to end', () => {
  it('a binary category moving 10% → 16% on 1000 rows: Z-test, significant, h ≈ 0.18 — drift', () => {
    const r = evaluateFeature('flag', {
      type: 'categorical',
      reference: { on: 100, off: 900 },
      current: { on: 160, off: 840 },
    });
    assert.equal(r.test, 'ztest');
    assert.ok(r.pValue! < 1e-4);
    assert.ok(Math.abs(r.effectSize - 0.1795) < 1e-3, `h = ${r.effectSize}`);
    assert.equal(decideDrift([r]).features[0]!.drifted, true);
  });

  it('a 0.25 sd shift on 5000 rows: normalised Wasserstein ≈ 0.25 — drift; no shift — none', () => {
    const ref = normals(5000, 0, 3);
    const shifted = evaluateFeature('x', {
      type: 'numerical',
      reference: ref,
      current: normals(5000, 0.25, 4),
    });
    const same = evaluateFeature('y', { type: 'numerical', reference: ref, current: normals(5000, 0, 5) });
    assert.equal(shifted.test, 'wasserstein');
    assert.ok(shifted.statistic > 0.18 && shifted.statistic < 0.32, `W/sd = ${shifted.statistic}`);
    assert.ok(same.statistic < 0.1, `W/sd = ${same.statistic}`);
    assert.deepEqual(
      decideDrift([shifted, same]).features.map((f) => f.drifted),
      [true, false],
    );
  });

  it('a numerical feature with few values is binned per value (JS on 3 values, 2000 rows)', () => {
    const reference = Float64Array.from({ length: 2000 }, (_, i) => i % 3);
    const current = Float64Array.from({ length: 2000 }, (_, i) => (i % 4 === 0 ? 2 : i % 3));
    assert.deepEqual(profileFeature({ type: 'numerical', reference, current }).distinct, 3);
    const r = evaluateFeature(
      'levels',
      { type: 'numerical', reference, current },
      {},
      EVIDENTLY_SELECTION_RULES,
    );
    assert.equal(r.test, 'jensenshannon');
    assert.ok(r.statistic > 0 && r.statistic < 1);
  });
});
