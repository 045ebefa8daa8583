import type { AggregationKind, AggregationOutput } from '../core/aggregation/index.ts';
import type { CompiledView, ViewStatus } from '../features/index.ts';

/**
 * The consistency rule, pure (docs/consistency.md): one served model input — as the prediction log
 * stored it, a float or null (null = imputed 0: the view was missing/expired for the entity, the window
 * held no value, or the value was not a number) — against the point-in-time value of the same feature
 * for the same (entity, predicted_at) and the PIT status of its view.
 *
 * - PIT status not `ok` (`missing`/`expired`): served null agrees and is not counted as compared (there
 *   is no value to compare); a served number is a STATUS mismatch (compared, mismatched).
 * - PIT status `ok`: always compared.
 *   - the PIT value is not a finite number (null on an empty window, a string from `last`): serving must
 *     have imputed it → served null agrees; a served number is a VALUE mismatch.
 *   - the PIT value is a finite number: served null is an IMPUTED mismatch (serving had nothing where
 *     the offline store has a value — typically the view was missing/expired online); a served number
 *     must be identical (exact kinds: `===`, floats bit for bit) or within the kind's documented bound
 *     (approx kinds: `approx_distinct` max(1, 5% of the PIT value) ≈ 3σ of HyperLogLog's 1.6%;
 *     `approx_quantile` 2.01% relative, two 1% DDSketch estimates).
 */
export type MismatchReason = 'status' | 'imputed' | 'value' | 'bound';

export type Outcome =
  | { compared: false; mismatch: false }
  | { compared: true; mismatch: false }
  | { compared: true; mismatch: true; reason: MismatchReason };

export interface FeatureKind {
  kind: AggregationKind;
  exact: boolean;
}

export interface OfflineValue {
  status: ViewStatus;
  value: AggregationOutput | null;
}

const SKIP: Outcome = { compared: false, mismatch: false };
const AGREE: Outcome = { compared: true, mismatch: false };
const miss = (reason: MismatchReason): Outcome => ({ compared: true, mismatch: true, reason });

/** Largest allowed |served − offline| for an approximate kind at this offline value. */
export function approxBound(kind: AggregationKind, offline: number): number {
  if (kind === 'approx_distinct') return Math.max(1, 0.05 * Math.abs(offline));
  if (kind === 'approx_quantile') return 0.0201 * Math.abs(offline);
  return 0;
}

export function compareFeature(served: number | null, offline: OfflineValue, feature: FeatureKind): Outcome {
  if (offline.status !== 'ok') return served === null ? SKIP : miss('status');
  const v = offline.value;
  if (typeof v !== 'number' || !Number.isFinite(v)) return served === null ? AGREE : miss('value');
  if (served === null) return miss('imputed');
  if (feature.exact) return served === v ? AGREE : miss('value');
  return Math.abs(served - v) <= approxBound(feature.kind, v) ? AGREE : miss('bound');
}

export interface ResolvedInput {
  /** The name as logged, `<view>.<feature>` (`account_stats.amount_sum_1h`, or `account_stats:v1.…`). */
  name: string;
  /** The view part as logged: the training-set column prefix. */
  view: string;
  feature: string;
  kind: AggregationKind;
  exact: boolean;
}

/**
 * Splits a logged input name and finds its feature in `resolve(viewPart)`; undefined when the view or
 * feature is unknown to the monitor (such inputs are reported as skipped, never guessed).
 */
export function resolveInput(
  name: string,
  resolve: (viewPart: string) => CompiledView | undefined,
): ResolvedInput | undefined {
  const dot = name.indexOf('.');
  if (dot <= 0) return undefined;
  const view = name.slice(0, dot);
  const feature = name.slice(dot + 1);
  const compiled = resolve(view);
  const f = compiled?.features.find((x) => x.name === feature);
  if (!compiled || !f) return undefined;
  return { name, view, feature, kind: compiled.slots[f.slot]!.kind, exact: f.exact };
}

export interface Mismatch {
  request_id: string;
  entity: string;
  /** Epoch ms. */
  predicted_at: number;
  feature: string;
  view: string;
  reason: MismatchReason;
  served: number | null;
  offline: AggregationOutput | null;
  offline_status: ViewStatus;
}

export interface LoggedPrediction {
  request_id: string;
  entity: string;
  predicted_at: number;
  features: Record<string, number | null>;
}

export interface Tally {
  compared: number;
  mismatches: number;
  /** Inputs not compared: PIT status not ok with served null, or an input the monitor's views lack. */
  skipped: number;
  byView: Map<string, { compared: number; mismatches: number }>;
  /** The same split by exact and approximate kinds. */
  byExactness: {
    exact: { compared: number; mismatches: number };
    approx: { compared: number; mismatches: number };
  };
  /** First `maxExamples` mismatches in comparison order. */
  examples: Mismatch[];
}

export function emptyTally(): Tally {
  return {
    compared: 0,
    mismatches: 0,
    skipped: 0,
    byView: new Map(),
    byExactness: { exact: { compared: 0, mismatches: 0 }, approx: { compared: 0, mismatches: 0 } },
    examples: [],
  };
}

/**
 * Compares one logged prediction with its point-in-time row (`values`: the training set's values_json —
 * `<view>.<feature>` values and `<view>.__status`) and adds the outcome to `tally`.
 */
export function tallyPrediction(
  tally: Tally,
  p: LoggedPrediction,
  values: Readonly<Record<string, unknown>>,
  inputs: ReadonlyMap<string, ResolvedInput>,
  maxExamples = 10,
): void {
  for (const [name, served] of Object.entries(p.features)) {
    const input = inputs.get(name);
    if (!input) {
      tally.skipped++;
      continue;
    }
    const status = (values[`${input.view}.__status`] as ViewStatus | undefined) ?? 'missing';
    const offline = (values[name] ?? null) as AggregationOutput | null;
    const outcome = compareFeature(served, { status, value: offline }, input);
    if (!outcome.compared) {
      tally.skipped++;
      continue;
    }
    let v = tally.byView.get(input.view);
    if (!v) {
      v = { compared: 0, mismatches: 0 };
      tally.byView.set(input.view, v);
    }
    const e = input.exact ? tally.byExactness.exact : tally.byExactness.approx;
    tally.compared++;
    v.compared++;
    e.compared++;
    if (!outcome.mismatch) continue;
    tally.mismatches++;
    v.mismatches++;
    e.mismatches++;
    if (tally.examples.length < maxExamples)
      tally.examples.push({
        request_id: p.request_id,
        entity: p.entity,
        predicted_at: p.predicted_at,
        feature: name,
        view: input.view,
        reason: outcome.reason,
        served,
        offline,
        offline_status: status,
      });
  }
}
