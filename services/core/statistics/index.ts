/**
 * The drift monitor's statistics: pure functions, no I/O. Each statistic matches a scipy function to a
 * tested tolerance (docs/drift-statistics.md); select.ts picks a test per feature and decides drift.
 */
export {
  alignCounts,
  type Binned,
  categoryBins,
  distinctCount,
  histogramBins,
  histogramCounts,
  sturgesEdges,
} from './binning.ts';
export { type ChiSquareResult, chiSquareHomogeneity } from './chi-square.ts';
export { jensenShannon, PSI_EMPTY_SHARE, type PsiOptions, psi } from './divergence.ts';
export {
  evaluateFeature,
  type FeatureSample,
  HISTOGRAM_MIN_DISTINCT,
  type Measured,
  measureBinned,
  profileFeature,
  runTest,
} from './evaluate.ts';
export { benjaminiHochberg } from './fdr.ts';
export {
  KS_MAX_EXACT_N,
  type KsResult,
  ks2samp,
  ks2sampSorted,
  ksAsymptoticPValue,
  ksStatisticSorted,
} from './ks.ts';
export { kstwoSf, smirnovSf } from './kstwo.ts';
export {
  DEFAULT_DRIFT_SHARE,
  DEFAULT_SELECTION_RULES,
  type DriftDecision,
  type DriftOptions,
  type DriftReason,
  decideDrift,
  defaultTest,
  EVIDENTLY_SELECTION_RULES,
  type FeatureDecision,
  type FeatureOutcome,
  type FeatureProfile,
  type FeatureTestConfig,
  type FeatureType,
  JS_DEFAULT_THRESHOLD,
  type SelectionRules,
  selectTest,
  TEST_DEFAULTS,
  TEST_KIND,
  type TestChoice,
  type TestDefaults,
  type TestKind,
  type TestName,
} from './select.ts';
export { chiSquareSf, lnGamma, normalSf, regularizedGammaP, regularizedGammaQ } from './special.ts';
export {
  populationStd,
  WASSERSTEIN_STD_FLOOR,
  type WassersteinResult,
  wasserstein,
  wassersteinDistance,
  wassersteinDistanceSorted,
  wassersteinFromSorted,
} from './wasserstein.ts';
export { twoProportionZTest, type ZTestResult } from './z-test.ts';
