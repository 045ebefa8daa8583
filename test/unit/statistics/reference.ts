import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/**
 * scipy's reference values (test/fixtures/statistics/reference.json, written by make_fixtures.py in the
 * same folder) and the tolerances every statistics test holds our values to:
 *
 *   statistics (D, W, χ², z, V, h, PSI, …)  within 1e-12 relative (1e-15 absolute where scipy gives 0)
 *   Jensen–Shannon distance                 within 1e-10 relative: scipy's own formula cancels when the
 *                                           two histograms are close (Σ p ln(p/m) of near-1 ratios), so
 *                                           its last ~3 digits are rounding noise we cannot match
 *   p-values and survival functions         within 1e-9 relative — hence also 1e-9 absolute — down to
 *                                           1e-300; below that both sides have underflowed
 */
export const STAT_REL = 1e-12;
export const STAT_ABS = 1e-15;
export const JS_REL = 1e-10;
export const P_REL = 1e-9;
export const P_FLOOR = 1e-300;

export const REFERENCE_PATH = new URL('../../fixtures/statistics/reference.json', import.meta.url);

export interface Counts {
  readonly values: number[];
  readonly counts: number[];
}

export interface Reference {
  readonly meta: { readonly scipy: string; readonly numpy: string; readonly seed: number };
  readonly ks2samp: ReadonlyArray<{
    name: string;
    n1: number;
    n2: number;
    a?: number[];
    b?: number[];
    aCounts?: Counts;
    bCounts?: Counts;
    statistic: number;
    pvalue: number;
    method: 'exact' | 'asymp';
  }>;
  readonly kstwoSf: ReadonlyArray<{ n: number; x: number; sf: number }>;
  readonly wasserstein: ReadonlyArray<{
    name: string;
    nu: number;
    nv: number;
    u?: number[];
    v?: number[];
    uCounts?: Counts;
    vCounts?: Counts;
    distance: number;
    referenceStd: number;
    normalised: number;
  }>;
  readonly divergence: ReadonlyArray<{
    name: string;
    reference: number[];
    current: number[];
    jsBase2: number;
    jsBaseE: number;
    psi: number;
  }>;
  readonly histogram: ReadonlyArray<{
    name: string;
    reference: number[];
    current: number[];
    edges: number[];
    referenceCounts: number[];
    currentCounts: number[];
  }>;
  readonly chiSquare: ReadonlyArray<{
    name: string;
    reference: number[];
    current: number[];
    statistic: number;
    dof: number;
    pvalue: number;
    cramersV: number;
  }>;
  readonly chi2Sf: ReadonlyArray<{ k: number; x: number; sf: number }>;
  readonly zTest: ReadonlyArray<{
    name: string;
    x1: number;
    n1: number;
    x2: number;
    n2: number;
    statistic: number;
    pvalue: number;
    cohensH: number;
    convention?: boolean;
  }>;
  readonly normSf: ReadonlyArray<{ z: number; sf: number }>;
  readonly bh: ReadonlyArray<{ name: string; ps: number[]; adjusted: number[] }>;
}

let cached: Reference | undefined;

export function reference(): Reference {
  cached ??= JSON.parse(readFileSync(REFERENCE_PATH, 'utf8')) as Reference;
  return cached;
}

/** A sample stored as (values, counts), expanded the way the script's np.repeat built it. */
export function expand(c: Counts): Float64Array {
  const total = c.counts.reduce((s, n) => s + n, 0);
  const out = new Float64Array(total);
  let at = 0;
  c.values.forEach((v, i) => {
    out.fill(v, at, at + c.counts[i]!);
    at += c.counts[i]!;
  });
  return out;
}

export function sample(values: number[] | undefined, counts: Counts | undefined): ArrayLike<number> {
  if (values) return values;
  if (counts) return expand(counts);
  throw new Error('fixture case has neither values nor counts');
}

function relativeError(actual: number, expected: number, floor: number): number {
  if (actual === expected) return 0;
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), floor);
}

/** A statistic: 1e-12 relative, or 1e-15 absolute when scipy's value is 0. */
export function assertStatistic(actual: number, expected: number, what: string, rel = STAT_REL): void {
  const ok = expected === 0 ? Math.abs(actual) <= STAT_ABS : relativeError(actual, expected, 0) <= rel;
  assert.ok(
    ok,
    `${what}: ${actual} vs scipy ${expected} (relative error ${relativeError(actual, expected, 0)})`,
  );
}

/** A p-value or survival probability: 1e-9 relative above 1e-300. */
export function assertPValue(actual: number, expected: number, what: string): void {
  const err = relativeError(actual, expected, P_FLOOR);
  assert.ok(actual >= 0 && actual <= 1, `${what}: ${actual} is not a probability`);
  assert.ok(err <= P_REL, `${what}: ${actual} vs scipy ${expected} (relative error ${err})`);
}
