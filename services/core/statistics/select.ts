/**
 * Which test each feature gets, and how the per-feature results become drift decisions.
 *
 * Selection follows Evidently's default data-drift algorithm (registry.py _get_default_stattest;
 * https://docs-old.evidentlyai.com/reference/data-drift-algorithm): with at most 1000 reference rows, a
 * hypothesis test (KS for numbers with more than 5 distinct values, else chi-square, or the Z-test when
 * at most 2 distinct values); above 1000 rows a distance with a fixed threshold (normalised Wasserstein
 * for such numbers, Jensen–Shannon otherwise). Small samples cannot estimate a distance well; large ones
 * make every hypothesis test significant. Any feature can override the test, threshold and floor.
 *
 * Two departures, Flywheel's defaults (EVIDENTLY_SELECTION_RULES keeps Evidently's): categories over
 * 1000 rows get chi-square with an effect floor on Cohen's w, not Jensen–Shannon ≥ 0.1 — that line
 * misses a category moving from 10% to 16% of rows (JS ≈ 0.06 nats), a shift w reads as 0.18, nearly
 * twice its floor; large samples cannot make chi-square cry wolf here: the floor, not the p-value,
 * decides. And the smaller of the two samples, not the reference alone, decides small or large: a
 * monitor compares one large reference with live windows of any size.
 *
 * decideDrift adds what Evidently lacks: Benjamini–Hochberg across the features' p-values, and an
 * effect-size floor so a significant but negligible shift is not called drift.
 */
import { benjaminiHochberg } from './fdr.ts';

export type TestName = 'ks' | 'wasserstein' | 'jensenshannon' | 'psi' | 'chisquare' | 'ztest';
/** A p-value test drifts when (adjusted) p < threshold; a distance when the distance ≥ threshold. */
export type TestKind = 'p-value' | 'distance';
export type FeatureType = 'numerical' | 'categorical';

export const TEST_KIND: Readonly<Record<TestName, TestKind>> = {
  ks: 'p-value',
  chisquare: 'p-value',
  ztest: 'p-value',
  wasserstein: 'distance',
  jensenshannon: 'distance',
  psi: 'distance',
};

export interface FeatureProfile {
  readonly type: FeatureType;
  /** Distinct values over reference ∪ current (Evidently's nunique of the concatenation). */
  readonly distinct: number;
  readonly referenceSize: number;
  readonly currentSize: number;
}

export interface SelectionRules {
  /** Reference rows up to which a hypothesis test is chosen (Evidently: 1000). */
  readonly smallReferenceMax: number;
  /** A numerical feature with at most this many distinct values is treated as categorical (Evidently: 5). */
  readonly lowCardinalityMax: number;
  /** At most this many distinct values → the Z-test instead of chi-square (Evidently: 2). */
  readonly binaryMax: number;
  /** The test for categories over smallReferenceMax rows (Evidently: Jensen–Shannon; Flywheel: chi-square). */
  readonly largeCategorical: 'jensenshannon' | 'chisquare';
  /**
   * Which size decides small or large: the reference's (Evidently) or the smaller of the two (Flywheel:
   * a monitor compares a large reference with windows of any size, and a distance read off a 200-row
   * window is mostly noise — normalised Wasserstein crosses 0.1 on a quarter of calm 200-row windows).
   */
  readonly sizeFrom: 'reference' | 'smaller';
}

/** Flywheel's defaults: Evidently's rules, except chi-square (with its w floor) for large categoricals. */
export const DEFAULT_SELECTION_RULES: SelectionRules = {
  smallReferenceMax: 1000,
  lowCardinalityMax: 5,
  binaryMax: 2,
  largeCategorical: 'chisquare',
  sizeFrom: 'smaller',
};

/** Evidently's default selection, exactly. */
export const EVIDENTLY_SELECTION_RULES: SelectionRules = {
  ...DEFAULT_SELECTION_RULES,
  largeCategorical: 'jensenshannon',
  sizeFrom: 'reference',
};

/**
 * Evidently's 0.1 for Jensen–Shannon is a distance in nats; ours is in bits (base 2), which reads
 * 1/√ln 2 ≈ 1.2 times higher for the same pair of distributions. This is the same line, in bits.
 */
export const JS_DEFAULT_THRESHOLD = 0.1 / Math.sqrt(Math.LN2);

export interface TestDefaults {
  /** α for a p-value test, the distance line for a distance. */
  readonly threshold: number;
  /** The smallest effect size called drift. For distances the effect is the distance itself. */
  readonly effectFloor: number;
}

/**
 * Thresholds as Evidently's (α = 0.05; 0.1 for the distances and PSI). The floors for the p-value tests
 * are ours, each the effect of about a 0.1 sd shift — the same size Evidently's normalised-Wasserstein
 * line of 0.1 draws for large samples: KS D ≈ 0.04 for a 0.1 sd shift of a normal; Cohen's h = 0.1,
 * half his "small"; Cohen's w = 0.1 (his "small"; w = h for two categories near 50%, ≈ 2 · Cramér's V
 * at equal sizes).
 */
export const TEST_DEFAULTS: Readonly<Record<TestName, TestDefaults>> = {
  ks: { threshold: 0.05, effectFloor: 0.04 },
  chisquare: { threshold: 0.05, effectFloor: 0.1 },
  ztest: { threshold: 0.05, effectFloor: 0.1 },
  wasserstein: { threshold: 0.1, effectFloor: 0.1 },
  jensenshannon: { threshold: JS_DEFAULT_THRESHOLD, effectFloor: JS_DEFAULT_THRESHOLD },
  psi: { threshold: 0.1, effectFloor: 0.1 },
};

/** A feature's overrides; anything left out comes from the rules and TEST_DEFAULTS. */
export interface FeatureTestConfig {
  readonly test?: TestName;
  readonly threshold?: number;
  readonly effectFloor?: number;
}

export interface TestChoice {
  readonly test: TestName;
  readonly kind: TestKind;
  readonly threshold: number;
  readonly effectFloor: number;
  /** Why this test: the rule that fired, or "configured". */
  readonly reason: string;
}

/** Evidently's default test for a feature profile. */
export function defaultTest(
  profile: FeatureProfile,
  rules: SelectionRules = DEFAULT_SELECTION_RULES,
): {
  test: TestName;
  reason: string;
} {
  const lowCardinality = profile.type === 'categorical' || profile.distinct <= rules.lowCardinalityMax;
  const bySmaller = rules.sizeFrom === 'smaller';
  const decidingSize = bySmaller
    ? Math.min(profile.referenceSize, profile.currentSize)
    : profile.referenceSize;
  const small = decidingSize <= rules.smallReferenceMax;
  const size = `${bySmaller ? 'smaller sample' : 'reference'} ${small ? '≤' : '>'} ${rules.smallReferenceMax} rows`;
  if (!lowCardinality) {
    return small
      ? { test: 'ks', reason: `numerical, > ${rules.lowCardinalityMax} distinct values, ${size}` }
      : { test: 'wasserstein', reason: `numerical, > ${rules.lowCardinalityMax} distinct values, ${size}` };
  }
  const what =
    profile.type === 'categorical'
      ? 'categorical'
      : `numerical with ≤ ${rules.lowCardinalityMax} distinct values`;
  if (!small && rules.largeCategorical === 'jensenshannon') {
    return { test: 'jensenshannon', reason: `${what}, ${size}` };
  }
  if (!small) return { test: 'chisquare', reason: `${what}, ${size} (Flywheel: chi-square with a w floor)` };
  return profile.distinct <= rules.binaryMax
    ? { test: 'ztest', reason: `${what}, ≤ ${rules.binaryMax} distinct values, ${size}` }
    : { test: 'chisquare', reason: `${what}, ${size}` };
}

function checkApplicable(test: TestName, profile: FeatureProfile, rules: SelectionRules): void {
  if ((test === 'ks' || test === 'wasserstein') && profile.type !== 'numerical') {
    throw new RangeError(`${test} needs a numerical feature`);
  }
  if (test === 'ztest' && profile.distinct > rules.binaryMax) {
    throw new RangeError(
      `ztest needs at most ${rules.binaryMax} distinct values, the feature has ${profile.distinct}`,
    );
  }
}

function checkThreshold(kind: TestKind, threshold: number, effectFloor: number): void {
  const ok =
    kind === 'p-value' ? threshold > 0 && threshold < 1 : threshold > 0 && Number.isFinite(threshold);
  if (!ok) throw new RangeError(`threshold ${threshold} is out of range for a ${kind} test`);
  if (!(effectFloor >= 0 && Number.isFinite(effectFloor)))
    throw new RangeError(`effect floor ${effectFloor} is not ≥ 0`);
}

/** The test, threshold and effect floor for one feature: its configuration over the defaults. */
export function selectTest(
  profile: FeatureProfile,
  config: FeatureTestConfig = {},
  rules: SelectionRules = DEFAULT_SELECTION_RULES,
): TestChoice {
  const chosen = config.test ? { test: config.test, reason: 'configured' } : defaultTest(profile, rules);
  checkApplicable(chosen.test, profile, rules);
  const kind = TEST_KIND[chosen.test];
  const threshold = config.threshold ?? TEST_DEFAULTS[chosen.test].threshold;
  // A distance's floor follows its threshold unless set: raising the line should not leave a lower floor.
  const defaultFloor = kind === 'distance' ? threshold : TEST_DEFAULTS[chosen.test].effectFloor;
  const effectFloor = config.effectFloor ?? defaultFloor;
  checkThreshold(kind, threshold, effectFloor);
  return { test: chosen.test, kind, threshold, effectFloor, reason: chosen.reason };
}

// ------------------------------------------------------------------------------------------------
// Decisions

/** One feature's test result, as evaluateFeature returns it. */
export interface FeatureOutcome {
  readonly feature: string;
  readonly test: TestName;
  readonly kind: TestKind;
  /** D, z, χ², normalised Wasserstein, JS distance or PSI. */
  readonly statistic: number;
  /** Null for distance tests. */
  readonly pValue: number | null;
  /** ≥ 0: KS D, |Cohen's h|, Cohen's w (chi-square), or the distance itself. */
  readonly effectSize: number;
  readonly threshold: number;
  readonly effectFloor: number;
}

export type DriftReason =
  | 'significant' // p-value test: adjusted p < α and effect ≥ floor
  | 'not-significant' // p-value test: adjusted p ≥ α
  | 'below-effect-floor' // significant, or over the distance line, but the effect is under the floor
  | 'over-threshold' // distance ≥ threshold and ≥ floor
  | 'under-threshold'; // distance < threshold

export interface FeatureDecision extends FeatureOutcome {
  /** The BH-adjusted p-value (the raw one with correction 'none'); null for distance tests. */
  readonly adjustedPValue: number | null;
  readonly drifted: boolean;
  readonly reason: DriftReason;
}

export interface DriftOptions {
  /** Multiple-testing correction across the p-value tests (default 'bh'). */
  readonly correction?: 'bh' | 'none';
  /** Dataset drift when the share of drifted features is at least this (default 0.5, as Evidently). */
  readonly driftShare?: number;
}

export interface DriftDecision {
  readonly features: readonly FeatureDecision[];
  readonly driftedCount: number;
  /** driftedCount / features; 0 with no features. */
  readonly driftedShare: number;
  readonly driftShare: number;
  readonly datasetDrift: boolean;
  readonly correction: 'bh' | 'none';
}

export const DEFAULT_DRIFT_SHARE = 0.5;

function decideOne(f: FeatureOutcome, adjusted: number | null): FeatureDecision {
  const bigEnough = f.effectSize >= f.effectFloor;
  let reason: DriftReason;
  if (f.kind === 'p-value') {
    if (adjusted === null) throw new RangeError(`feature ${f.feature}: a p-value test without a p-value`);
    reason = adjusted >= f.threshold ? 'not-significant' : bigEnough ? 'significant' : 'below-effect-floor';
  } else {
    reason =
      f.statistic < f.threshold ? 'under-threshold' : bigEnough ? 'over-threshold' : 'below-effect-floor';
  }
  const drifted = reason === 'significant' || reason === 'over-threshold';
  return { ...f, adjustedPValue: adjusted, drifted, reason };
}

/**
 * Per-feature drift and dataset drift. BH runs over the p-values of the p-value tests only (distances
 * have none), each compared with its own feature's α; then the effect floor; then the share of drifted
 * features against driftShare.
 */
export function decideDrift(features: readonly FeatureOutcome[], options: DriftOptions = {}): DriftDecision {
  const correction = options.correction ?? 'bh';
  const driftShare = options.driftShare ?? DEFAULT_DRIFT_SHARE;
  if (!(driftShare > 0 && driftShare <= 1)) throw new RangeError(`driftShare ${driftShare} is not in (0, 1]`);
  const tested = features.flatMap((f, i) =>
    f.kind === 'p-value' && f.pValue !== null ? [{ i, p: f.pValue }] : [],
  );
  const raw = tested.map((t) => t.p);
  const adjusted = correction === 'bh' ? benjaminiHochberg(raw) : raw;
  const adjustedByIndex = new Map(tested.map((t, k) => [t.i, adjusted[k]!]));
  const decisions = features.map((f, i) => decideOne(f, adjustedByIndex.get(i) ?? null));
  const driftedCount = decisions.filter((d) => d.drifted).length;
  const driftedShare = decisions.length === 0 ? 0 : driftedCount / decisions.length;
  return {
    features: decisions,
    driftedCount,
    driftedShare,
    driftShare,
    datasetDrift: decisions.length > 0 && driftedShare >= driftShare,
    correction,
  };
}
