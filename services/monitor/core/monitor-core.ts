/**
 * The monitor of one model, without I/O: predictions and late labels in, window reports and the retrain
 * controller's decisions out. The Kafka adapter (service.ts) and the tests drive the same code.
 *
 * - Predictions fall into tumbling windows of `windowMs` by the time they were made. A window closes
 *   when the watermark passes its end by `latenessMs`; a prediction for a closed window is counted
 *   late, never folded into a closed profile. The watermark is the predictions' own: the oldest of the
 *   newest times of the partitions (a partition read ahead of another must not close the other's
 *   windows), or a clock the caller passes (`advance(now, upTo)`). Labels never move it.
 * - At close: every input and the output are tested against the reference profile (compare.ts), the
 *   performance is estimated from the model's own probabilities (CBPE), and the controller observes the
 *   window.
 * - Labels join predictions by request id (or by entity: the entity's newest prediction at or before the
 *   label's time, within `withinMs`). A window's realised performance is final once the watermark passes
 *   its end by the label delay; then the controller observes it, and the window is forgotten.
 * - Replays are silent: a window the controller has already seen (a restarted monitor re-reading its
 *   topics) produces no report and no decision, only the labels it still waits for.
 * - Bad records are refused, not folded: a score that is not finite (or, for a classifier, outside
 *   [0, 1]), a label that is not 0/1 for a classifier, a prediction beyond MAX_OPEN_WINDOWS windows
 *   ahead. The adapter dead-letters them; the core counts them.
 */
import type { FeatureTestConfig } from '../../core/statistics/index.ts';
import { compareProfileSets, type ProfileSet, type WindowDrift } from './compare.ts';
import {
  type ControllerSettings,
  type ControllerState,
  type Decision,
  type DriftEvidence,
  defaultSettings,
  observeRealised,
  observeWindow,
  type PerformanceReading,
  type RunOutcome,
  runFinished,
} from './controller.ts';
import {
  computeMetric,
  estimateMetric,
  estimateStandardError,
  HIGHER_IS_BETTER,
  type Metric,
  metricStandardError,
} from './performance.ts';
import { addRow, flushWindow, type LiveWindow, mainVersion, openWindow } from './windows.ts';

export type LabelJoinSpec =
  | { readonly by: 'request_id' }
  | { readonly by: 'entity'; readonly withinMs: number };

export interface MonitorSpec {
  readonly model: string;
  readonly task: 'binary_classification' | 'regression';
  /** The model's inputs, `<view>.<feature>`, as in its predictions. */
  readonly features: readonly string[];
  readonly windowMs: number;
  readonly latenessMs: number;
  /** How late a label may arrive after its prediction (the project's label.maxDelay). */
  readonly labelDelayMs: number;
  readonly join: LabelJoinSpec;
  readonly metric: Metric;
  readonly tests: Readonly<Record<string, FeatureTestConfig>>;
  readonly driftShare: number;
  readonly controller: Omit<ControllerSettings, 'referenceValue' | 'higherIsBetter'>;
  /** A window with fewer predictions is reported but not tested (too little to tell). */
  readonly minWindowRows: number;
  /** Predictions held for late labels across open windows; beyond it new ones cannot be labelled. */
  readonly maxPendingLabels: number;
}

/** What a model version's training set looked like: the profiles drift is measured against. */
export interface ReferenceProfile {
  readonly model: string;
  readonly version: number;
  /** Names the data it came from (a training set id or window), quoted in every drift report. */
  readonly id: string;
  readonly rows: number;
  readonly profiles: ProfileSet;
  /** The version's holdout metrics (auc, accuracy, log_loss or mae, rmse). */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface PredictionInput {
  readonly requestId: string;
  readonly entity: string;
  readonly features: Readonly<Record<string, number | null>>;
  /** The positive class's probability, or the regression value. */
  readonly score: number;
  readonly predictedAt: number;
  readonly version: number;
  /** Kafka position: '<topic>:<partition>' and the offset after this record. */
  readonly position?: { readonly key: string; readonly next: number };
}

export interface OutcomeInput {
  /** The prediction's request id, for joins by request id. */
  readonly requestId?: string;
  readonly entity: string;
  /** 0/1 for classification (true/false accepted by the adapter), the value for regression. */
  readonly label: number;
  readonly at: number;
}

export interface WindowReport {
  readonly model: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly version: number | null;
  readonly referenceId: string;
  readonly referenceVersion: number;
  readonly rows: number;
  /** Null when the window had fewer than minWindowRows predictions. */
  readonly drift: WindowDrift | null;
  readonly estimated: PerformanceReading | null;
  /** Realised so far, from the labels that have landed: partial until the label delay has passed. */
  readonly realisedPartial: PerformanceReading | null;
  readonly labelled: number;
  readonly missing: Readonly<Record<string, number>>;
  readonly offsets: Readonly<Record<string, number>>;
}

export interface RealisedReport {
  readonly model: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly reading: PerformanceReading | null;
  readonly labelled: number;
  readonly rows: number;
}

export type MonitorOutput =
  | { readonly kind: 'window'; readonly report: WindowReport; readonly decision: Decision | null }
  | { readonly kind: 'realised'; readonly report: RealisedReport; readonly decision: Decision | null };

export interface MonitorCounters {
  predictions: number;
  latePredictions: number;
  /** Predictions and labels refused (bad score or label, too far ahead). */
  invalid: number;
  labelsJoined: number;
  labelsUnmatched: number;
  labelsLate: number;
  /** Predictions not held for labels because maxPendingLabels was reached. */
  labelsNotHeld: number;
}

interface EntityPrediction {
  readonly at: number;
  /** Start of the window the prediction fell in. */
  readonly window: number;
  readonly index: number;
}

/** What a window keeps once closed: its outputs and labels; the profiles and buffers are released. */
interface LabelledWindow {
  readonly start: number;
  readonly end: number;
  readonly rows: number;
  readonly scores: Float64Array;
  readonly times: Float64Array;
  readonly labels: number[];
  readonly labelledScores: number[];
}

/** A closed window still waiting for its labels. */
interface ClosedWindow {
  readonly window: LabelledWindow;
  readonly replayed: boolean;
}

const ENTITY_HISTORY = 8;
/**
 * Most windows open at once. Windows close in time order, so more than a few are open only when
 * predictions arrive far ahead of the rest (a wrong clock); beyond this they are refused.
 */
export const MAX_OPEN_WINDOWS = 48;

/** A label joined to its prediction: the monitor stores these as the trainer's spine. */
export interface JoinedLabel {
  readonly entity: string;
  /** The outcome's request id (joins by request id), else ''. */
  readonly requestId: string;
  readonly predictedAt: number;
  readonly label: number;
  readonly labelledAt: number;
}

export interface MonitorCoreHooks {
  /** Every label joined to a prediction, as it joins. */
  readonly onLabel?: (joined: JoinedLabel) => void;
}

export function createMonitorCore(
  spec: MonitorSpec,
  initialReference: ReferenceProfile,
  initialState: ControllerState,
  hooks: MonitorCoreHooks = {},
) {
  let reference = initialReference;
  let state = initialState;
  const open = new Map<number, LiveWindow>();
  /** The reference each window was opened against: its bins are that reference's. */
  const referenceOf = new Map<number, ReferenceProfile>();
  const closed = new Map<number, ClosedWindow>();
  /** Request-id joins: window start → key → index of the prediction in that window. */
  const byRequest = new Map<number, Map<string, number>>();
  const byEntity = new Map<string, EntityPrediction[]>();
  let pending = 0;
  /** Newest prediction time per partition ('<topic>:<partition>', '' without a position). */
  const partitionTimes = new Map<string, number>();
  let clock = Number.NEGATIVE_INFINITY;
  /** Windows ending at or before this are closed (or never opened): later predictions for them are late. */
  let closedUntil = Number.NEGATIVE_INFINITY;
  const counters: MonitorCounters = {
    predictions: 0,
    latePredictions: 0,
    invalid: 0,
    labelsJoined: 0,
    labelsUnmatched: 0,
    labelsLate: 0,
    labelsNotHeld: 0,
  };

  function settings(): ControllerSettings {
    const referenceValue = reference.metrics[spec.metric];
    if (referenceValue === undefined || !Number.isFinite(referenceValue)) {
      throw new RangeError(`the reference of ${spec.model} v${reference.version} has no ${spec.metric}`);
    }
    return defaultSettings({
      ...spec.controller,
      referenceValue,
      higherIsBetter: HIGHER_IS_BETTER[spec.metric],
    });
  }
  checkReference(initialReference);

  /** A reference must have the metric and a profile for every input, else no window can be tested. */
  function checkReference(r: ReferenceProfile): void {
    const missing = spec.features.filter((f) => !r.profiles.features[f]);
    if (missing.length > 0)
      throw new RangeError(
        `the reference of ${spec.model} v${r.version} has no profile for ${missing.join(', ')}`,
      );
    const value = r.metrics[spec.metric];
    if (value === undefined || !Number.isFinite(value))
      throw new RangeError(`the reference of ${spec.model} v${r.version} has no ${spec.metric}`);
  }

  /** The oldest of the partitions' newest times, or the caller's clock when that is later. */
  function watermarkNow(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const t of partitionTimes.values()) if (t < min) min = t;
    const data = partitionTimes.size > 0 ? min : Number.NEGATIVE_INFINITY;
    return Math.max(data, clock);
  }

  function windowFor(t: number): LiveWindow | null {
    const start = Math.floor(t / spec.windowMs) * spec.windowMs;
    if (start + spec.windowMs <= closedUntil) return null;
    let w = open.get(start);
    if (!w) {
      if (open.size >= MAX_OPEN_WINDOWS) return null;
      w = openWindow(start, start + spec.windowMs, reference.profiles, spec.features);
      open.set(start, w);
      referenceOf.set(start, reference);
      byRequest.set(start, new Map());
    }
    return w;
  }

  function hold(w: LiveWindow, p: PredictionInput, index: number): void {
    if (pending >= spec.maxPendingLabels) {
      counters.labelsNotHeld++;
      return;
    }
    if (spec.join.by === 'request_id') {
      const keys = byRequest.get(w.start)!;
      const key = `${p.requestId}\u0000${p.entity}`;
      // A repeated prediction (a re-sent log batch) is held once: the later one is the one labelled.
      if (!keys.has(key)) pending++;
      keys.set(key, index);
      return;
    }
    let history = byEntity.get(p.entity);
    if (!history) {
      history = [];
      byEntity.set(p.entity, history);
    }
    pending++;
    history.push({ at: p.predictedAt, window: w.start, index });
    if (history.length > ENTITY_HISTORY) {
      history.shift();
      pending--;
    }
  }

  function validScore(score: number): boolean {
    return Number.isFinite(score) && (spec.task !== 'binary_classification' || (score >= 0 && score <= 1));
  }

  function addPrediction(p: PredictionInput): 'ok' | 'late' | 'invalid' {
    counters.predictions++;
    if (!validScore(p.score) || !Number.isFinite(p.predictedAt)) {
      counters.invalid++;
      return 'invalid';
    }
    const partition = p.position?.key ?? '';
    if (p.predictedAt > (partitionTimes.get(partition) ?? Number.NEGATIVE_INFINITY)) {
      partitionTimes.set(partition, p.predictedAt);
    }
    const ahead = open.size >= MAX_OPEN_WINDOWS;
    const w = windowFor(p.predictedAt);
    if (!w) {
      if (ahead) counters.invalid++;
      else counters.latePredictions++;
      return ahead ? 'invalid' : 'late';
    }
    const index = w.rows;
    addRow(w, spec.features, p.features, p.score, p.version, p.predictedAt);
    if (p.position) w.offsets[p.position.key] = Math.max(w.offsets[p.position.key] ?? 0, p.position.next);
    hold(w, p, index);
    return 'ok';
  }

  function findWindow(start: number): LabelledWindow | undefined {
    return open.get(start) ?? closed.get(start)?.window;
  }

  function lookup(o: OutcomeInput): { window: LabelledWindow; index: number } | null {
    if (spec.join.by === 'request_id') {
      if (o.requestId === undefined) return null;
      const key = `${o.requestId}\u0000${o.entity}`;
      for (const [start, keys] of byRequest) {
        const index = keys.get(key);
        if (index !== undefined) {
          keys.delete(key);
          const window = findWindow(start);
          return window ? { window, index } : null;
        }
      }
      return null;
    }
    const history = byEntity.get(o.entity);
    if (!history) return null;
    for (let i = history.length - 1; i >= 0; i--) {
      const h = history[i]!;
      if (h.at <= o.at && o.at - h.at <= spec.join.withinMs) {
        history.splice(i, 1);
        const window = findWindow(h.window);
        return window ? { window, index: h.index } : null;
      }
    }
    return null;
  }

  function validLabel(label: number): boolean {
    return spec.task === 'binary_classification' ? label === 0 || label === 1 : Number.isFinite(label);
  }

  function addOutcome(o: OutcomeInput): 'joined' | 'unmatched' | 'invalid' {
    if (!validLabel(o.label)) {
      counters.invalid++;
      return 'invalid';
    }
    const found = lookup(o);
    if (!found) {
      counters.labelsUnmatched++;
      return 'unmatched';
    }
    pending--;
    found.window.labels.push(o.label);
    found.window.labelledScores.push(found.window.scores[found.index]!);
    counters.labelsJoined++;
    hooks.onLabel?.({
      entity: o.entity,
      requestId: o.requestId ?? '',
      predictedAt: found.window.times[found.index]!,
      label: o.label,
      labelledAt: o.at,
    });
    return 'joined';
  }

  function realised(w: LabelledWindow): PerformanceReading | null {
    if (w.labels.length === 0) return null;
    const value = computeMetric(spec.metric, w.labels, w.labelledScores);
    if (value === null) return null;
    const standardError = metricStandardError(spec.metric, w.labels, w.labelledScores);
    return {
      metric: spec.metric,
      value,
      count: w.labels.length,
      ...(Number.isFinite(standardError) ? { standardError } : {}),
    };
  }

  function estimated(w: LiveWindow): PerformanceReading | null {
    if (spec.task !== 'binary_classification' || w.rows === 0) return null;
    const scores = w.scores.subarray(0, w.rows);
    const value = estimateMetric(spec.metric, scores);
    if (value === null) return null;
    const standardError = estimateStandardError(spec.metric, scores);
    return {
      metric: spec.metric,
      value,
      count: w.rows,
      ...(standardError !== null && Number.isFinite(standardError) ? { standardError } : {}),
    };
  }

  /** The drifted inputs as the controller takes them: finite figures only (a test that could not give one is not evidence). */
  function drifted(drift: WindowDrift | null): DriftEvidence[] {
    return (drift?.inputs.features ?? [])
      .filter((f) => f.drifted && Number.isFinite(f.statistic) && Number.isFinite(f.effectSize))
      .map((f) => ({
        feature: f.feature,
        test: f.test,
        statistic: f.statistic,
        pValue: f.adjustedPValue,
        effectSize: f.effectSize,
      }));
  }

  function missingCounts(w: LiveWindow): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of spec.features) {
      const m = w.profiles.features[f]!.missing;
      if (m > 0) out[f] = m;
    }
    return out;
  }

  function close(w: LiveWindow, now: number): MonitorOutput | null {
    flushWindow(w, spec.features);
    open.delete(w.start);
    const against = referenceOf.get(w.start)!;
    referenceOf.delete(w.start);
    // A window that starts before the last one the controller saw was seen (or overlaps it, after the
    // window length changed): it replays silently.
    const replayed = state.lastWindowEnd !== null && w.start < state.lastWindowEnd;
    const kept: LabelledWindow = {
      start: w.start,
      end: w.end,
      rows: w.rows,
      scores: w.scores.subarray(0, w.rows),
      times: w.times.subarray(0, w.rows),
      labels: w.labels,
      labelledScores: w.labelledScores,
    };
    closed.set(w.start, { window: kept, replayed });
    if (replayed) return null;
    const drift =
      w.rows >= spec.minWindowRows
        ? compareProfileSets(against.profiles, w.profiles, spec.tests, { driftShare: spec.driftShare })
        : null;
    const report: WindowReport = {
      model: spec.model,
      windowStart: w.start,
      windowEnd: w.end,
      version: mainVersion(w),
      referenceId: against.id,
      referenceVersion: against.version,
      rows: w.rows,
      drift,
      estimated: estimated(w),
      realisedPartial: realised(w),
      labelled: w.labels.length,
      missing: missingCounts(w),
      offsets: { ...w.offsets },
    };
    // Too few rows to test: reported, but a gap for the controller (it neither extends nor breaks a streak).
    if (!drift) return { kind: 'window', report, decision: null };
    const step = observeWindow(
      state,
      {
        windowStart: w.start,
        windowEnd: w.end,
        drifted: drifted(drift),
        datasetDrift: drift?.inputs.datasetDrift ?? false,
        realised: null,
        estimated: report.estimated,
        labelled: w.labels.length,
        offsets: report.offsets,
      },
      settings(),
      now,
    );
    state = step.state;
    return { kind: 'window', report, decision: step.decision };
  }

  function finalise(c: ClosedWindow, now: number): MonitorOutput | null {
    const w = c.window;
    closed.delete(w.start);
    const keys = byRequest.get(w.start);
    if (keys) pending -= keys.size;
    byRequest.delete(w.start);
    if (spec.join.by === 'entity') {
      for (const [entity, history] of byEntity) {
        const kept = history.filter((h) => h.window !== w.start);
        pending -= history.length - kept.length;
        if (kept.length === 0) byEntity.delete(entity);
        else byEntity.set(entity, kept);
      }
    }
    const reading = realised(w);
    const report: RealisedReport = {
      model: spec.model,
      windowStart: w.start,
      windowEnd: w.end,
      reading,
      labelled: w.labels.length,
      rows: w.rows,
    };
    if (!reading) return c.replayed ? null : { kind: 'realised', report, decision: null };
    // The controller knows only the windows it observed (an untested window is a gap).
    if (!state.awaitingLabels.some((a) => a.windowEnd === w.end)) {
      return c.replayed ? null : { kind: 'realised', report, decision: null };
    }
    const step = observeRealised(state, w.end, reading, settings(), now);
    if (step.decision.action === 'hold' && step.decision.reason === 'replayed') return null;
    state = step.state;
    return { kind: 'realised', report, decision: step.decision };
  }

  /**
   * Closes the windows the watermark has passed (by the lateness) and finalises those whose label delay
   * has passed, oldest first. `upTo` moves the watermark forward (a clock tick when traffic is quiet).
   */
  function advance(now: number, upTo?: number): MonitorOutput[] {
    if (upTo !== undefined && upTo > clock) clock = upTo;
    const watermark = watermarkNow();
    const out: MonitorOutput[] = [];
    for (const start of [...open.keys()].sort((a, b) => a - b)) {
      const w = open.get(start)!;
      if (w.end + spec.latenessMs > watermark) break;
      closedUntil = Math.max(closedUntil, w.end);
      const o = close(w, now);
      if (o) out.push(o);
    }
    for (const start of [...closed.keys()].sort((a, b) => a - b)) {
      const c = closed.get(start)!;
      if (c.window.end + spec.labelDelayMs > watermark) break;
      const o = finalise(c, now);
      if (o) out.push(o);
    }
    return out;
  }

  return {
    addPrediction,
    addOutcome,
    advance,
    /** The controller's state, to persist after every decision. */
    state: (): ControllerState => state,
    reference: (): ReferenceProfile => reference,
    /** A new champion's reference (its windows are compared with it from the next window on). */
    setReference(next: ReferenceProfile): void {
      checkReference(next);
      reference = next;
    },
    /** Closes the open run of that id; false when none was open (a replayed or foreign event). */
    runFinished(runId: string, outcome: RunOutcome, at: number): boolean {
      const before = state;
      state = runFinished(state, runId, outcome, at);
      return state !== before;
    },
    /**
     * Closes the open run as failed when it has been open `timeoutMs` (a trainer that never answered):
     * without it one lost run would hold every later retrain. Returns the run id it closed.
     */
    expireOpenRun(now: number, timeoutMs: number): string | null {
      const run = state.openRun;
      if (!run || now - run.requestedAt < timeoutMs) return null;
      state = runFinished(state, run.runId, 'failed', now);
      return run.runId;
    },
    watermark: (): number => watermarkNow(),
    counters: (): Readonly<MonitorCounters> => counters,
    openWindows: (): number => open.size,
    awaitingLabels: (): number => closed.size,
    pendingLabels: (): number => pending,
  };
}

export type MonitorCore = ReturnType<typeof createMonitorCore>;

/** A label as the outcomes carry it: booleans and 0/1 (also as strings), or a number; null otherwise. */
export function labelValue(v: unknown): number | null {
  if (v === true || v === 'true') return 1;
  if (v === false || v === 'false') return 0;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && /^-?[0-9]+(\.[0-9]+)?$/.test(v.trim())) return Number(v);
  return null;
}

/** The score of a logged output: the positive class's probability (last of two), or the value. */
export function scoreOf(output: readonly number[]): number {
  if (output.length === 0) return Number.NaN;
  return output.length === 2 ? output[1]! : output[0]!;
}
