/**
 * Running the chosen test on one feature's reference and current data.
 *
 * Numerical features come as raw values (missing values already dropped); categorical ones as counts
 * per category, which is what the platform's aggregations keep. Numbers are binned for the binned tests
 * as Evidently does: a histogram on pooled Sturges edges when the reference has more than 20 distinct
 * values, else one bin per value.
 */
import { alignCounts, type Binned, categoryBins, distinctCount, histogramBins } from './binning.ts';
import { chiSquareHomogeneity } from './chi-square.ts';
import { jensenShannon, psi } from './divergence.ts';
import { ks2sampSorted } from './ks.ts';
import { sortedSample } from './numeric.ts';
import {
  DEFAULT_SELECTION_RULES,
  type FeatureOutcome,
  type FeatureProfile,
  type FeatureTestConfig,
  type SelectionRules,
  selectTest,
  type TestChoice,
} from './select.ts';
import { wassersteinFromSorted } from './wasserstein.ts';
import { twoProportionZTest } from './z-test.ts';

export type FeatureSample =
  | { readonly type: 'numerical'; readonly reference: ArrayLike<number>; readonly current: ArrayLike<number> }
  | {
      readonly type: 'categorical';
      /** Rows per category in the reference window. */
      readonly reference: Readonly<Record<string, number>>;
      readonly current: Readonly<Record<string, number>>;
    };

/** Evidently histograms a numerical column for JS / PSI only above this many distinct reference values. */
export const HISTOGRAM_MIN_DISTINCT = 20;

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((s, c) => s + c, 0);
}

export function profileFeature(sample: FeatureSample): FeatureProfile {
  if (sample.type === 'numerical') {
    return {
      type: 'numerical',
      distinct: distinctCount(sample.reference, sample.current),
      referenceSize: sample.reference.length,
      currentSize: sample.current.length,
    };
  }
  return {
    type: 'categorical',
    distinct: alignCounts(sample.reference, sample.current).labels.length,
    referenceSize: total(sample.reference),
    currentSize: total(sample.current),
  };
}

function bins(sample: FeatureSample): Binned {
  if (sample.type === 'categorical') return alignCounts(sample.reference, sample.current);
  if (distinctCount(sample.reference, []) > HISTOGRAM_MIN_DISTINCT) {
    return histogramBins(sample.reference, sample.current);
  }
  return categoryBins(Array.from(sample.reference), Array.from(sample.current));
}

export type Measured = Pick<FeatureOutcome, 'statistic' | 'pValue' | 'effectSize'>;

function measureNumerical(
  test: 'ks' | 'wasserstein',
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): Measured {
  const ref = sortedSample(reference, 'reference');
  const cur = sortedSample(current, 'current');
  if (test === 'ks') {
    const r = ks2sampSorted(ref, cur);
    return { statistic: r.statistic, pValue: r.pValue, effectSize: r.statistic };
  }
  const w = wassersteinFromSorted(ref, cur);
  return { statistic: w.normalised, pValue: null, effectSize: w.normalised };
}

/** Runs a binned test on aligned counts (also used on the monitor's profiles). */
export function measureBinned(test: 'jensenshannon' | 'psi' | 'chisquare' | 'ztest', b: Binned): Measured {
  switch (test) {
    case 'jensenshannon': {
      const d = jensenShannon(b.reference, b.current, 2);
      return { statistic: d, pValue: null, effectSize: d };
    }
    case 'psi': {
      const d = psi(b.reference, b.current);
      return { statistic: d, pValue: null, effectSize: d };
    }
    case 'chisquare': {
      const r = chiSquareHomogeneity(b.reference, b.current);
      return { statistic: r.statistic, pValue: r.pValue, effectSize: r.cohensW };
    }
    case 'ztest': {
      // The first category (in bin order) is the proportion tested; the two-sided test is symmetric.
      const n1 = b.reference.reduce((s, c) => s + c, 0);
      const n2 = b.current.reduce((s, c) => s + c, 0);
      const r = twoProportionZTest(b.reference[0] ?? 0, n1, b.current[0] ?? 0, n2);
      return { statistic: r.statistic, pValue: r.pValue, effectSize: Math.abs(r.cohensH) };
    }
  }
}

function measure(choice: TestChoice, sample: FeatureSample): Measured {
  if (choice.test === 'ks' || choice.test === 'wasserstein') {
    if (sample.type !== 'numerical') throw new RangeError(`${choice.test} needs a numerical feature`);
    return measureNumerical(choice.test, sample.reference, sample.current);
  }
  return measureBinned(choice.test, bins(sample));
}

/** Runs an already chosen test. */
export function runTest(feature: string, choice: TestChoice, sample: FeatureSample): FeatureOutcome {
  return {
    feature,
    test: choice.test,
    kind: choice.kind,
    ...measure(choice, sample),
    threshold: choice.threshold,
    effectFloor: choice.effectFloor,
  };
}

/** Profile, select (configuration over Evidently's defaults) and run, for one feature. */
export function evaluateFeature(
  feature: string,
  sample: FeatureSample,
  config: FeatureTestConfig = {},
  rules: SelectionRules = DEFAULT_SELECTION_RULES,
): FeatureOutcome & { readonly reason: string } {
  const choice = selectTest(profileFeature(sample), config, rules);
  return { ...runTest(feature, choice, sample), reason: choice.reason };
}
