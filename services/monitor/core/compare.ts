/**
 * Drift tests on profiles: a live window's profile against the reference's, per feature, with the
 * statistics core's selection, thresholds, floors and Benjamini–Hochberg (services/core/statistics).
 *
 * On a numerical profile the empirical CDFs are exact at every bin edge, so:
 * - KS D is the largest CDF gap over the edges — exact when the values are the edges (a reference with at
 *   most `bins` distinct values), else low by at most the mass of one bin. The p-value is scipy's
 *   asymptotic one (kstwo.sf(D, round(n₁n₂/(n₁+n₂)))): the exact lattice method needs the raw values.
 * - Wasserstein places each side's mass in a bin at that side's mean in the bin (profiles keep each
 *   bin's sum), then integrates |F_ref − F_cur| exactly: exact when the values are the edges, else off
 *   only by how the two samples spread differently inside one bin (a second-order error).
 * - The binned tests (chi-square, Z, Jensen–Shannon, PSI) use the bins themselves when at most
 *   COARSE_BINS are non-empty, else COARSE_BINS groups of equal reference mass (Evidently uses Sturges'
 *   equal-width bins on the raw values, which a profile no longer has; quantile bins are the usual
 *   choice for PSI and do not put most of a skewed feature into one bin).
 */
import {
  alignCounts,
  type Binned,
  DEFAULT_SELECTION_RULES,
  type DriftDecision,
  type DriftOptions,
  decideDrift,
  type FeatureDecision,
  type FeatureOutcome,
  type FeatureTestConfig,
  ksAsymptoticPValue,
  type Measured,
  measureBinned,
  type SelectionRules,
  selectTest,
  type TestChoice,
  WASSERSTEIN_STD_FLOOR,
} from '../../core/statistics/index.ts';
import {
  type CategoricalProfile,
  categoryCounts,
  type NumericProfile,
  type Profile,
  profileCount,
  profileStd,
} from './profile.ts';

export const COARSE_BINS = 20;

export interface ProfileOutcome extends FeatureOutcome {
  /** Why this test was chosen (the selection rule, or "configured"). */
  readonly selection: string;
  readonly referenceSize: number;
  readonly currentSize: number;
}

// ------------------------------------------------------------------------------------------------
// Numerical

function nonEmptyBins(ref: NumericProfile, cur: NumericProfile): number {
  let n = 0;
  for (let i = 0; i < ref.counts.length; i++) if (ref.counts[i]! + cur.counts[i]! > 0) n++;
  return n;
}

export function ksFromProfiles(ref: NumericProfile, cur: NumericProfile): Measured {
  const n1 = ref.count;
  const n2 = cur.count;
  let a = 0;
  let b = 0;
  let d = 0;
  for (let i = 0; i < ref.edges.length; i++) {
    a += ref.counts[i]!;
    b += cur.counts[i]!;
    const gap = Math.abs(a / n1 - b / n2);
    if (gap > d) d = gap;
  }
  return { statistic: d, pValue: ksAsymptoticPValue(n1, n2, d), effectSize: d };
}

/**
 * ∫ |F_ref − F_cur| with each side's mass in a bin placed at that side's mean in the bin. Bins are
 * disjoint and ordered, so the atoms come out sorted with one comparison per bin.
 */
export function wassersteinFromProfiles(ref: NumericProfile, cur: NumericProfile): number {
  let fr = 0;
  let fc = 0;
  let w = 0;
  let at = Number.NaN;
  const step = (x: number, dr: number, dc: number) => {
    if (!Number.isNaN(at)) w += Math.abs(fr - fc) * (x - at);
    fr += dr;
    fc += dc;
    at = x;
  };
  for (let i = 0; i < ref.counts.length; i++) {
    const r = ref.counts[i]!;
    const c = cur.counts[i]!;
    if (r + c === 0) continue;
    const mr = r > 0 ? ref.sums[i]! / r : Number.POSITIVE_INFINITY;
    const mc = c > 0 ? cur.sums[i]! / c : Number.POSITIVE_INFINITY;
    if (mr <= mc) {
      if (r > 0) step(mr, r / ref.count, 0);
      if (c > 0) step(mc, 0, c / cur.count);
    } else {
      step(mc, 0, c / cur.count);
      if (r > 0) step(mr, r / ref.count, 0);
    }
  }
  return w;
}

/** Contiguous groups of about equal reference mass, or the non-empty bins when there are few. */
function coarseBins(ref: NumericProfile, cur: NumericProfile, groups = COARSE_BINS): Binned {
  const labels: string[] = [];
  const reference: number[] = [];
  const current: number[] = [];
  if (nonEmptyBins(ref, cur) <= groups) {
    for (let i = 0; i < ref.counts.length; i++) {
      if (ref.counts[i]! + cur.counts[i]! === 0) continue;
      labels.push(i < ref.edges.length ? `≤${ref.edges[i]}` : `>${ref.edges[ref.edges.length - 1]}`);
      reference.push(ref.counts[i]!);
      current.push(cur.counts[i]!);
    }
    return { labels, reference, current };
  }
  const step = ref.count / groups;
  let r = 0;
  let c = 0;
  let seen = 0;
  for (let i = 0; i < ref.counts.length; i++) {
    r += ref.counts[i]!;
    c += cur.counts[i]!;
    seen += ref.counts[i]!;
    const last = i === ref.counts.length - 1;
    if (last || seen >= step * (reference.length + 1)) {
      labels.push(`group ${reference.length}`);
      reference.push(r);
      current.push(c);
      r = 0;
      c = 0;
    }
  }
  return { labels, reference, current };
}

function measureNumerical(choice: TestChoice, ref: NumericProfile, cur: NumericProfile): Measured {
  if (choice.test === 'ks') return ksFromProfiles(ref, cur);
  if (choice.test === 'wasserstein') {
    const w = wassersteinFromProfiles(ref, cur) / Math.max(profileStd(ref), WASSERSTEIN_STD_FLOOR);
    return { statistic: w, pValue: null, effectSize: w };
  }
  return measureBinned(choice.test, coarseBins(ref, cur));
}

// ------------------------------------------------------------------------------------------------
// Both kinds

function aligned(ref: CategoricalProfile, cur: CategoricalProfile): Binned {
  return alignCounts(categoryCounts(ref), categoryCounts(cur));
}

/**
 * One feature's test on two profiles: null when either side has no values (nothing to compare; the
 * window report says so). The reference comes first: it sets the bins and the normalising sd.
 */
export function compareProfiles(
  feature: string,
  reference: Profile,
  current: Profile,
  config: FeatureTestConfig = {},
  rules: SelectionRules = DEFAULT_SELECTION_RULES,
): ProfileOutcome | null {
  const referenceSize = profileCount(reference);
  const currentSize = profileCount(current);
  if (referenceSize === 0 || currentSize === 0) return null;
  let choice: TestChoice;
  let measured: Measured;
  if (reference.kind === 'numerical' && current.kind === 'numerical') {
    const distinct = nonEmptyBins(reference, current);
    choice = selectTest({ type: 'numerical', distinct, referenceSize, currentSize }, config, rules);
    measured = measureNumerical(choice, reference, current);
  } else if (reference.kind === 'categorical' && current.kind === 'categorical') {
    const bins = aligned(reference, current);
    choice = selectTest(
      { type: 'categorical', distinct: bins.labels.length, referenceSize, currentSize },
      config,
      rules,
    );
    if (choice.test === 'ks' || choice.test === 'wasserstein') {
      throw new RangeError(`${feature}: ${choice.test} needs a numerical feature`);
    }
    measured = measureBinned(choice.test, bins);
  } else {
    throw new RangeError(`${feature}: a ${current.kind} window against a ${reference.kind} reference`);
  }
  return {
    feature,
    test: choice.test,
    kind: choice.kind,
    ...measured,
    threshold: choice.threshold,
    effectFloor: choice.effectFloor,
    selection: choice.reason,
    referenceSize,
    currentSize,
  };
}

export interface ProfileSet {
  /** One profile per model input, `<view>.<feature>`. */
  readonly features: Readonly<Record<string, Profile>>;
  /** The model's output (the positive class's probability, or the regression value). */
  readonly prediction: Profile;
}

export interface WindowDrift {
  /** Inputs: per-feature decisions after BH and the floors, and dataset drift. */
  readonly inputs: DriftDecision & { readonly features: readonly (FeatureDecision & ProfileOutcome)[] };
  /** Inputs that could not be tested: no values on one side, or why the test refused (by feature). */
  readonly untested: readonly string[];
  readonly refusals: Readonly<Record<string, string>>;
  /** Output-distribution drift, decided on its own (it is not one of the inputs' m). */
  readonly prediction: (FeatureDecision & ProfileOutcome) | null;
}

/** Every test of a window: the inputs', then the output's. */
export function testedFeatures(drift: WindowDrift): readonly (FeatureDecision & ProfileOutcome)[] {
  return drift.prediction ? [...drift.inputs.features, drift.prediction] : drift.inputs.features;
}

/** Every input and the output of a live window against the reference. */
export function compareProfileSets(
  reference: ProfileSet,
  current: ProfileSet,
  configs: Readonly<Record<string, FeatureTestConfig>> = {},
  options: DriftOptions & { rules?: SelectionRules } = {},
): WindowDrift {
  const outcomes: ProfileOutcome[] = [];
  const untested: string[] = [];
  const refusals: Record<string, string> = {};
  // One input's refusal (a configured test that does not fit this window, a statistic that overflowed)
  // leaves it untested with its reason; it never stops the others.
  const tryCompare = (feature: string, ref: Profile, cur: Profile | undefined): ProfileOutcome | null => {
    if (!cur) return null;
    try {
      const o = compareProfiles(feature, ref, cur, configs[feature], options.rules);
      if (o && !(Number.isFinite(o.statistic) && Number.isFinite(o.effectSize))) {
        refusals[feature] = `${o.test} gave a non-finite statistic (values beyond the double range?)`;
        return null;
      }
      return o;
    } catch (err) {
      refusals[feature] = (err as Error).message;
      return null;
    }
  };
  for (const [feature, ref] of Object.entries(reference.features)) {
    const outcome = tryCompare(feature, ref, current.features[feature]);
    if (outcome) outcomes.push(outcome);
    else untested.push(feature);
  }
  const prediction = tryCompare('prediction', reference.prediction, current.prediction);
  // decideDrift keeps each outcome's own fields (selection, sizes) beside its decision.
  const predictionDecision = prediction
    ? (decideDrift([prediction], { correction: 'none' }).features[0] as FeatureDecision & ProfileOutcome)
    : null;
  return {
    inputs: decideDrift(outcomes, options) as WindowDrift['inputs'],
    untested,
    refusals,
    prediction: predictionDecision,
  };
}
