import { computeMetric, HIGHER_IS_BETTER, type Metric } from '../../monitor/index.ts';

/**
 * The deployment gate, pure: what the deployer measured about a challenger (and the champion on the
 * same holdout) in, a decision with every check and its reason out. A challenger is promoted only when
 * every check passes:
 *   - loads: onnxruntime opened it with one float input as wide as its registered features;
 *   - finite: every output on the smoke rows (the holdout and edge rows) is a finite number;
 *   - range: a classifier's outputs are probabilities in [0, 1];
 *   - latency: the p99 of single-row runs is within the budget;
 *   - metric: its holdout metric is no worse than the champion's on the same rows by more than the
 *     tolerance (no champion: the first version passes on the other checks alone).
 */
export interface GateSettings {
  readonly task: 'binary_classification' | 'regression';
  readonly metric: Metric;
  readonly tolerance: number;
  readonly latencyBudgetMs: number;
}

export interface ModelMeasurement {
  /** Why onnxruntime could not use it; null when it loaded with the right signature. */
  readonly loadError: string | null;
  /** Outputs on the smoke rows (empty when it did not load). */
  readonly smokeOutputs: ArrayLike<number>;
  /** Outputs on the holdout rows, in the holdout's order. */
  readonly holdoutOutputs: ArrayLike<number>;
  /** p99 of single-row runs, ms. */
  readonly latencyP99Ms: number;
}

export interface ChampionMeasurement {
  readonly version: number;
  /** The champion's metric on the same holdout rows, or its registered metric when it could not be scored on them. */
  readonly metric: number;
  readonly sameHoldout: boolean;
}

export interface GateCheck {
  readonly name: 'loads' | 'finite' | 'range' | 'latency' | 'metric';
  readonly passed: boolean;
  readonly detail: string;
}

export interface GateDecision {
  readonly promote: boolean;
  readonly checks: readonly GateCheck[];
  /** The failed checks' details: why it was rejected. */
  readonly reasons: readonly string[];
  readonly challengerMetric: number | null;
}

export function decide(
  s: GateSettings,
  challenger: ModelMeasurement,
  holdoutLabels: ArrayLike<number>,
  champion: ChampionMeasurement | null,
): GateDecision {
  const checks: GateCheck[] = [];
  const add = (name: GateCheck['name'], passed: boolean, detail: string) =>
    checks.push({ name, passed, detail });
  if (challenger.loadError !== null) {
    add('loads', false, challenger.loadError);
    return finish(checks, null);
  }
  add('loads', true, 'onnxruntime loaded it with the registered signature');
  const outputs = [...Array.from(challenger.smokeOutputs), ...Array.from(challenger.holdoutOutputs)];
  const bad = outputs.findIndex((v) => !Number.isFinite(v));
  add(
    'finite',
    bad < 0,
    bad < 0
      ? `${outputs.length} outputs, all finite`
      : `output ${bad} of ${outputs.length} is ${outputs[bad]}`,
  );
  if (s.task === 'binary_classification') {
    const out = outputs.findIndex((v) => !(v >= 0 && v <= 1));
    add(
      'range',
      out < 0,
      out < 0 ? 'every output is a probability' : `output ${out} is ${outputs[out]}, not in [0, 1]`,
    );
  }
  add(
    'latency',
    challenger.latencyP99Ms <= s.latencyBudgetMs,
    `p99 ${challenger.latencyP99Ms.toFixed(3)} ms for one row (budget ${s.latencyBudgetMs} ms)`,
  );
  if (checks.some((c) => !c.passed)) return finish(checks, null);
  const value = computeMetric(s.metric, holdoutLabels, challenger.holdoutOutputs) ?? Number.NaN;
  add('metric', ...metricCheck(s, value, champion));
  return finish(checks, value);
}

function metricCheck(
  s: GateSettings,
  value: number,
  champion: ChampionMeasurement | null,
): [boolean, string] {
  if (!Number.isFinite(value)) return [false, `${s.metric} on the holdout is undefined (one class only?)`];
  const mine = `${s.metric} ${value.toFixed(4)} on the holdout`;
  if (!champion) return [true, `${mine}; no champion to beat`];
  const higher = HIGHER_IS_BETTER[s.metric];
  const line = higher ? champion.metric - s.tolerance : champion.metric + s.tolerance;
  const passed = higher ? value >= line : value <= line;
  const against = `champion v${champion.version} ${champion.metric.toFixed(4)}${champion.sameHoldout ? ' on the same rows' : ' (its registered figure: its inputs differ)'}`;
  return [passed, `${mine} against ${against}; the line is ${line.toFixed(4)} (tolerance ${s.tolerance})`];
}

function finish(checks: GateCheck[], challengerMetric: number | null): GateDecision {
  const failed = checks.filter((c) => !c.passed);
  return {
    promote: failed.length === 0,
    checks,
    reasons: failed.map((c) => `${c.name}: ${c.detail}`),
    challengerMetric,
  };
}

/** The p-th percentile (0–100) of durations, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface ShadowResult {
  readonly promote: boolean;
  readonly rows: number;
  readonly champion: number | null;
  readonly challenger: number | null;
  readonly reason: string;
}

/**
 * The shadow phase's verdict: both models' metric on the same labelled live predictions, the challenger
 * promoted when it is no worse than the champion by more than the tolerance. Too few labelled rows is a
 * rejection (the phase gave no evidence), not a pass.
 */
export function shadowDecision(
  s: GateSettings,
  rows: { labels: ArrayLike<number>; champion: ArrayLike<number>; challenger: ArrayLike<number> },
  minRows: number,
): ShadowResult {
  const n = rows.labels.length;
  if (n < minRows)
    return {
      promote: false,
      rows: n,
      champion: null,
      challenger: null,
      reason: `${n} labelled shadow predictions, fewer than ${minRows}`,
    };
  const champion = computeMetric(s.metric, rows.labels, rows.champion);
  const challenger = computeMetric(s.metric, rows.labels, rows.challenger);
  if (champion === null || challenger === null || !Number.isFinite(champion) || !Number.isFinite(challenger))
    return {
      promote: false,
      rows: n,
      champion,
      challenger,
      reason: `${s.metric} is undefined on the shadow rows (one class only?)`,
    };
  const higher = HIGHER_IS_BETTER[s.metric];
  const line = higher ? champion - s.tolerance : champion + s.tolerance;
  const promote = higher ? challenger >= line : challenger <= line;
  return {
    promote,
    rows: n,
    champion,
    challenger,
    reason: `${s.metric} ${challenger.toFixed(4)} against the champion's ${champion.toFixed(4)} on ${n} labelled live predictions; the line is ${line.toFixed(4)}`,
  };
}
