/**
 * The retrain controller of the drift monitor: a pure state machine from closed windows and late
 * realised performance to retrain requests. No I/O, no clock, no randomness — the caller passes every
 * time — so a decision can be replayed, tested and explained.
 *
 * Drift proposes, performance confirms. On real seasonal, autocorrelated data almost every window
 * differs significantly from the training window, so a controller that acts on test significance alone
 * retrains on every cooldown. Drift therefore only proposes: a retrain on drift needs `hysteresis`
 * consecutive drifted windows AND harm in one of them — the metric worse than the model's reference by
 * `performanceDrop`, read from realised labels when they are final, else from the confidence-based
 * estimate. Concept drift that leaves the inputs calm shows only in late labels, so `performanceWindows`
 * consecutive harmed realised readings request a retrain on their own.
 *
 * Every proposal then passes the same guards, in this order: no open run for the model, the cooldown
 * since the last request has passed, and `minLabels` labelled rows have landed since it. A request
 * resets both streaks and covers every window closed so far, so the next one rests on a later window:
 * two requests never share a data end, nor a run id.
 *
 * The two inputs:
 * - `observeWindow` once per window when it CLOSES (its drift and estimate are known), in order of
 *   windowEnd; gaps are fine and neither extend nor break a streak. Windows may not overlap.
 * - `observeRealised` when that window's labels are final, also in order of windowEnd. Labels lag, so a
 *   realised reading can confirm a drift streak after it closed and request the retrain itself.
 *
 * Every call returns a decision — `retrain` or `hold` — with a reason from a closed set and the streak,
 * label and cooldown counts behind it; the caller records each one (the state keeps no log, it stays
 * bounded). The state is plain JSON: it is persisted and reloaded across restarts, and a restarted
 * monitor re-reading its topics gets `replayed` for everything already applied, so nothing is emitted
 * twice. Run ids are `<model>-<dataWindowEnd>`: should the monitor crash after emitting a request and
 * before persisting the state, the replay from the older state emits the same id again, for the
 * consumer to drop.
 *
 * Readings carry no model version, so time stands in for it: after a request, realised readings of the
 * windows in its data are `covered` (the run already answers for them); after a promotion, windows that
 * started before it are `previous-model` (they measure the old champion, and would otherwise retrain the
 * new one on its predecessor's late labels).
 */

// ------------------------------------------------------------------------------------------------
// Inputs

export interface DriftEvidence {
  feature: string;
  test: string;
  statistic: number;
  pValue: number | null;
  effectSize: number;
}

/** A metric value and the number of rows it is computed on. */
export interface PerformanceReading {
  metric: string;
  value: number;
  count: number;
  /**
   * The value's standard error from its rows, when known. A shortfall must also be `harmZ` of these:
   * a 200-row window's AUC wanders by ±0.03, and two such windows 0.05 under the reference would
   * otherwise retrain a healthy model on noise.
   */
  standardError?: number;
}

export interface WindowSummary {
  /** ms, the window is [windowStart, windowEnd). */
  windowStart: number;
  windowEnd: number;
  /** Input/prediction features judged drifted in this window; empty = calm. */
  drifted: readonly DriftEvidence[];
  /** The share of drifted features is over the dataset threshold (recorded, not used to decide). */
  datasetDrift: boolean;
  /**
   * The realised metric of this window if its labels are already final, else null. Usually null at
   * close; the reading comes later through observeRealised. Given here (on enough rows), it is applied
   * as that call would apply it, and settles the windows before it.
   */
  realised: PerformanceReading | null;
  /** The confidence-based estimate (CBPE) for this window; null when it cannot be estimated. */
  estimated: PerformanceReading | null;
  /** Labelled rows that landed in this window. */
  labelled: number;
  /** '<topic>:<partition>' → the next offset after the window. */
  offsets: Readonly<Record<string, number>>;
}

export interface ControllerSettings {
  /** Consecutive drifted windows before drift proposes a retrain. */
  hysteresis: number;
  /** Absolute drop of the metric against the reference that counts as harm. */
  performanceDrop: number;
  /** auc/accuracy true; log_loss/mae/rmse false. */
  higherIsBetter: boolean;
  /** The model's metric on its training holdout (from its reference profile). */
  referenceValue: number;
  /** Labelled rows needed since the last request before another. */
  minLabels: number;
  /** A realised or estimated reading on fewer rows is ignored as noise. */
  minMetricRows: number;
  /** Least time between two requests. */
  cooldownMs: number;
  /** Consecutive harmed realised readings that request a retrain without drift (concept drift). */
  performanceWindows: number;
  /** A shortfall counts as harm only when it is also at least this many standard errors of its reading. */
  harmZ: number;
}

/** The settings that are model-specific have no default: a wrong reference would decide everything. */
export type ModelSettings = Pick<ControllerSettings, 'referenceValue' | 'higherIsBetter'>;

/**
 * The defaults. A day of cooldown outlasts a training run and its promotion, and leaves the new
 * champion time to show its own windows before it is judged.
 */
export const DEFAULT_CONTROLLER_SETTINGS: Readonly<Omit<ControllerSettings, keyof ModelSettings>> = {
  hysteresis: 3,
  performanceDrop: 0.05,
  minLabels: 1000,
  minMetricRows: 200,
  cooldownMs: 24 * 60 * 60 * 1000,
  performanceWindows: 2,
  harmZ: 3,
};

/**
 * At most this many closed windows wait for their labels (hourly windows: six weeks of label delay).
 * Beyond it the oldest drops out, and its reading arrives as `unknown-window`; the bound keeps the state
 * small for a model whose labels never come.
 */
export const MAX_WINDOWS_AWAITING_LABELS = 1000;

/**
 * Windows of a drift streak kept with their evidence. A realised reading confirms drift when it harms
 * any kept window of the streak, so this must outlast the label delay in windows (hourly windows: two
 * days); an older window's reading no longer confirms the streak, but can still start a harm streak.
 */
export const DRIFT_STREAK_KEPT = 48;

// ------------------------------------------------------------------------------------------------
// State (plain JSON)

export type Phase = 'watching' | 'open-run';
export type RetrainReason = 'drift' | 'performance';
export type RunOutcome = 'promoted' | 'rejected' | 'failed';

export interface WindowSpan {
  readonly windowStart: number;
  readonly windowEnd: number;
}

/** A drifted window of the current drift streak, with what is known of its performance. */
export interface StreakWindow extends WindowSpan {
  readonly drifted: readonly DriftEvidence[];
  readonly datasetDrift: boolean;
  readonly estimated: PerformanceReading | null;
  readonly realised: PerformanceReading | null;
}

/** A closed window whose labels are not final yet. */
export interface AwaitingWindow extends WindowSpan {
  readonly estimated: PerformanceReading | null;
  /** Labelled rows counted when it closed; the rest are counted when its reading is final. */
  readonly labelled?: number;
}

/** A window of the realised harm streak. */
export interface HarmWindow extends WindowSpan {
  readonly realised: PerformanceReading;
  readonly estimated: PerformanceReading | null;
}

/** `length` counts the whole streak; `windows` keeps only its last few (hysteresis / performanceWindows). */
export interface Streak<W> {
  readonly length: number;
  readonly windows: readonly W[];
}

export interface OpenRun {
  readonly runId: string;
  readonly reason: RetrainReason;
  readonly requestedAt: number;
  readonly dataWindowEnd: number;
}

export interface FinishedRun {
  readonly runId: string;
  readonly outcome: RunOutcome;
  readonly finishedAt: number;
}

export interface ControllerState {
  /** The layout of this object; a persisted state of another version is refused. */
  readonly version: 1;
  readonly model: string;
  /** 'open-run' exactly when openRun is not null. */
  readonly phase: Phase;
  readonly openRun: OpenRun | null;
  readonly lastFinishedRun: FinishedRun | null;
  /** No request before this time; null before the first request. */
  readonly cooldownUntil: number | null;
  /** The end of the last window applied; a window ending at or before it is a replay. */
  readonly lastWindowEnd: number | null;
  readonly lastOffsets: Readonly<Record<string, number>>;
  /** The end of the last window whose realised reading was applied. */
  readonly lastRealisedEnd: number | null;
  readonly awaitingLabels: readonly AwaitingWindow[];
  readonly driftStreak: Streak<StreakWindow>;
  /** Consecutive harmed realised readings. */
  readonly harmStreak: Streak<HarmWindow>;
  readonly labelsSinceLastRequest: number;
  /** The data end of the last request: readings of windows up to it are covered by that run. */
  readonly coveredUntil: number | null;
  /** When the current champion was promoted by a run of this controller; null if never. */
  readonly championSince: number | null;
}

export const STATE_VERSION = 1;

export function initialState(model: string): ControllerState {
  if (typeof model !== 'string' || model.length === 0)
    throw new RangeError('model must be a non-empty string');
  return {
    version: STATE_VERSION,
    model,
    phase: 'watching',
    openRun: null,
    lastFinishedRun: null,
    cooldownUntil: null,
    lastWindowEnd: null,
    lastOffsets: {},
    lastRealisedEnd: null,
    awaitingLabels: [],
    driftStreak: emptyStreak(),
    harmStreak: emptyStreak(),
    labelsSinceLastRequest: 0,
    coveredUntil: null,
    championSince: null,
  };
}

// ------------------------------------------------------------------------------------------------
// Decisions

export type HoldReason =
  | 'calm' // no drifted window, no harmed realised reading
  | 'drift-streak-short' // k of hysteresis drifted windows
  | 'drift-without-harm' // the drift streak is long enough, but no window in it is harmed
  | 'harm-streak-short' // k of performanceWindows harmed realised readings, inputs not proposing
  | 'run-open' // proposed, but the model's previous run has not finished
  | 'cooldown' // proposed, but the last request is too recent
  | 'too-few-labels' // proposed, but fewer than minLabels labelled rows since the last request
  | 'replayed' // a window or reading at or before one already applied: ignored, state unchanged
  | 'unknown-window' // a realised reading for no closed window awaiting labels: ignored, state unchanged
  | 'covered' // a realised reading of a window in the last request's data
  | 'previous-model' // a window that started before the current champion was promoted
  | 'too-few-rows'; // a realised reading on fewer than minMetricRows rows: noise

export interface Trigger {
  readonly kind: 'window' | 'realised';
  readonly windowEnd: number;
}

/** The counts behind a decision, as they stood when it was made. */
export interface DecisionProgress {
  readonly driftStreak: number;
  readonly hysteresis: number;
  readonly harmStreak: number;
  readonly performanceWindows: number;
  readonly labelsSinceLastRequest: number;
  readonly minLabels: number;
  readonly cooldownUntil: number | null;
  readonly openRunId: string | null;
}

/** A feature's drift over the streak: the figures of the latest window where it drifted. */
export interface FeatureEvidence extends DriftEvidence {
  readonly windowEnd: number;
  readonly windowsDrifted: number;
}

export interface WindowEvidence extends WindowSpan {
  readonly realised: PerformanceReading | null;
  readonly estimated: PerformanceReading | null;
  /** Which reading judged the window: realised when final and large enough, else the estimate. */
  readonly basis: 'realised' | 'estimated' | null;
  readonly harmed: boolean;
}

export interface RetrainEvidence {
  /** The drifted features of the drift streak's windows (empty when the inputs are calm), by name. */
  readonly features: readonly FeatureEvidence[];
  readonly reference: {
    readonly value: number;
    readonly performanceDrop: number;
    readonly higherIsBetter: boolean;
  };
  /** The windows behind the reason: the drift streak's for drift, the harm streak's for performance. */
  readonly windows: readonly WindowEvidence[];
}

export interface RetrainRequest {
  readonly runId: string;
  readonly model: string;
  readonly reason: RetrainReason;
  readonly requestedAt: number;
  /** The end of the last closed window: the run trains on data up to it. */
  readonly dataWindowEnd: number;
  /** That window's offsets. */
  readonly offsets: Readonly<Record<string, number>>;
  readonly evidence: RetrainEvidence;
}

interface DecisionBase {
  readonly model: string;
  readonly at: number;
  readonly trigger: Trigger;
  readonly progress: DecisionProgress;
  /** One line for a person. */
  readonly detail: string;
}

export interface RetrainDecision extends DecisionBase {
  readonly action: 'retrain';
  readonly reason: RetrainReason;
  readonly request: RetrainRequest;
}

export interface HoldDecision extends DecisionBase {
  readonly action: 'hold';
  readonly reason: HoldReason;
  /** The rule that proposed a retrain a guard then held back; null when nothing proposed. */
  readonly proposed: RetrainReason | null;
}

export type Decision = RetrainDecision | HoldDecision;

export interface Step {
  readonly state: ControllerState;
  readonly decision: Decision;
}

// ------------------------------------------------------------------------------------------------
// Settings

/** The defaults under the given settings; a field given as undefined takes its default. */
export function defaultSettings(given: Partial<ControllerSettings> & ModelSettings): ControllerSettings {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return validateSettings({ ...DEFAULT_CONTROLLER_SETTINGS, ...defined } as ControllerSettings);
}

function checkCount(name: string, value: number, least: number): void {
  if (!(Number.isSafeInteger(value) && value >= least))
    throw new RangeError(`${name} ${value} is not an integer ≥ ${least}`);
}

/**
 * Throws a RangeError for settings the machine cannot act on, else returns them. The drop must be
 * positive: at 0 a window exactly at the reference would count as harmed.
 */
export function validateSettings(settings: ControllerSettings): ControllerSettings {
  checkCount('hysteresis', settings.hysteresis, 1);
  checkCount('performanceWindows', settings.performanceWindows, 1);
  checkCount('minLabels', settings.minLabels, 0);
  checkCount('minMetricRows', settings.minMetricRows, 1);
  if (!(settings.performanceDrop > 0 && Number.isFinite(settings.performanceDrop)))
    throw new RangeError(`performanceDrop ${settings.performanceDrop} is not a finite number > 0`);
  if (!Number.isFinite(settings.referenceValue))
    throw new RangeError(`referenceValue ${settings.referenceValue} is not a finite number`);
  if (!(settings.cooldownMs >= 0 && Number.isFinite(settings.cooldownMs)))
    throw new RangeError(`cooldownMs ${settings.cooldownMs} is not a finite number ≥ 0`);
  if (typeof settings.higherIsBetter !== 'boolean')
    throw new RangeError(`higherIsBetter ${String(settings.higherIsBetter)} is not a boolean`);
  if (!(settings.harmZ >= 0 && Number.isFinite(settings.harmZ)))
    throw new RangeError(`harmZ ${settings.harmZ} is not a finite number ≥ 0`);
  return settings;
}

// ------------------------------------------------------------------------------------------------
// Input checks: the state must stay JSON, where NaN and Infinity would come back as null.

function checkTime(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} ${value} is not a finite time`);
}

function checkReading(name: string, r: PerformanceReading | null): void {
  if (r === null) return;
  if (typeof r.metric !== 'string') throw new RangeError(`${name}: metric is not a string`);
  if (!Number.isFinite(r.value)) throw new RangeError(`${name}: value ${r.value} is not finite`);
  checkCount(`${name}: count`, r.count, 0);
  if (r.standardError !== undefined && !(r.standardError >= 0 && Number.isFinite(r.standardError)))
    throw new RangeError(`${name}: standard error ${r.standardError} is not a finite number ≥ 0`);
}

function checkEvidence(end: number, evidence: readonly DriftEvidence[]): void {
  const seen = new Set<string>();
  for (const e of evidence) {
    const where = `window ending ${end}, feature ${e.feature}`;
    if (seen.has(e.feature)) throw new RangeError(`${where}: drifted twice in one window`);
    seen.add(e.feature);
    if (!(Number.isFinite(e.statistic) && Number.isFinite(e.effectSize)))
      throw new RangeError(`${where}: statistic and effect size must be finite`);
    if (e.pValue !== null && !(e.pValue >= 0 && e.pValue <= 1))
      throw new RangeError(`${where}: p-value ${e.pValue} is not in [0, 1]`);
  }
}

function checkWindow(w: WindowSummary): void {
  checkTime('windowStart', w.windowStart);
  checkTime('windowEnd', w.windowEnd);
  if (!(w.windowStart < w.windowEnd))
    throw new RangeError(`window [${w.windowStart}, ${w.windowEnd}) is empty or reversed`);
  checkCount(`window ending ${w.windowEnd}: labelled`, w.labelled, 0);
  checkReading(`window ending ${w.windowEnd}: realised`, w.realised);
  checkReading(`window ending ${w.windowEnd}: estimated`, w.estimated);
  checkEvidence(w.windowEnd, w.drifted);
  for (const [key, offset] of Object.entries(w.offsets)) checkCount(`offset of ${key}`, offset, 0);
}

function checkState(state: ControllerState): void {
  if (state.version !== STATE_VERSION)
    throw new RangeError(`controller state version ${String(state.version)} is not ${STATE_VERSION}`);
}

// ------------------------------------------------------------------------------------------------
// Harm

/** Readings are copied field by field so the state holds no caller object and no stray field. */
function copyReading(r: PerformanceReading | null): PerformanceReading | null {
  if (r === null) return null;
  const copy: PerformanceReading = { metric: r.metric, value: r.value, count: r.count };
  if (r.standardError !== undefined) copy.standardError = r.standardError;
  return copy;
}

function copyEvidence(e: DriftEvidence): DriftEvidence {
  return {
    feature: e.feature,
    test: e.test,
    statistic: e.statistic,
    pValue: e.pValue,
    effectSize: e.effectSize,
  };
}

function usable(r: PerformanceReading | null, s: ControllerSettings): r is PerformanceReading {
  return r !== null && r.count >= s.minMetricRows;
}

/**
 * Worse than the reference by at least the drop. The tolerance lets 0.85 − 0.80 (0.0499999… in
 * floating point) count as the drop of 0.05 it is.
 */
function isHarmed(r: PerformanceReading, s: ControllerSettings): boolean {
  const shortfall = s.higherIsBetter ? s.referenceValue - r.value : r.value - s.referenceValue;
  const bigEnough = shortfall >= s.performanceDrop - 1e-9 * Math.max(1, Math.abs(s.referenceValue));
  return bigEnough && shortfall >= s.harmZ * (r.standardError ?? 0);
}

/** Realised when final and on enough rows, else the estimate on enough rows, else nothing to judge. */
function judgeWindow(
  w: WindowSpan & { realised: PerformanceReading | null; estimated: PerformanceReading | null },
  s: ControllerSettings,
): WindowEvidence {
  const base = {
    windowStart: w.windowStart,
    windowEnd: w.windowEnd,
    realised: copyReading(w.realised),
    estimated: copyReading(w.estimated),
  };
  if (usable(w.realised, s)) return { ...base, basis: 'realised', harmed: isHarmed(w.realised, s) };
  if (usable(w.estimated, s)) return { ...base, basis: 'estimated', harmed: isHarmed(w.estimated, s) };
  return { ...base, basis: null, harmed: false };
}

// ------------------------------------------------------------------------------------------------
// Streaks

function emptyStreak<W>(): Streak<W> {
  return { length: 0, windows: [] };
}

function extend<W>(streak: Streak<W>, window: W, keep: number): Streak<W> {
  return { length: streak.length + 1, windows: [...streak.windows, window].slice(-keep) };
}

function closeWindow(state: ControllerState, w: WindowSummary): ControllerState {
  const awaiting: AwaitingWindow = {
    windowStart: w.windowStart,
    windowEnd: w.windowEnd,
    estimated: copyReading(w.estimated),
    labelled: w.labelled,
  };
  return {
    ...state,
    lastWindowEnd: w.windowEnd,
    lastOffsets: { ...w.offsets },
    labelsSinceLastRequest: state.labelsSinceLastRequest + w.labelled,
    awaitingLabels: [...state.awaitingLabels, awaiting].slice(-MAX_WINDOWS_AWAITING_LABELS),
  };
}

/** A drifted window extends the drift streak, a calm one ends it. */
function applyDrift(state: ControllerState, w: WindowSummary, s: ControllerSettings): ControllerState {
  if (w.drifted.length === 0) return { ...state, driftStreak: emptyStreak() };
  const entry: StreakWindow = {
    windowStart: w.windowStart,
    windowEnd: w.windowEnd,
    drifted: w.drifted.map(copyEvidence),
    datasetDrift: w.datasetDrift,
    estimated: copyReading(w.estimated),
    realised: copyReading(w.realised),
  };
  // More than the hysteresis is kept: labels slower than the hysteresis confirm the streak's first windows.
  return {
    ...state,
    driftStreak: extend(state.driftStreak, entry, Math.max(s.hysteresis, DRIFT_STREAK_KEPT)),
  };
}

/** A window that closes with final labels feeds the harm streak at once, as a later reading would. */
function applyRealisedAtClose(
  state: ControllerState,
  w: WindowSummary,
  s: ControllerSettings,
): ControllerState {
  if (!usable(w.realised, s)) return state;
  const settled = settleLabels(state, w.windowEnd);
  return applyHarm(
    settled,
    { windowStart: w.windowStart, windowEnd: w.windowEnd, estimated: w.estimated },
    w.realised,
    s,
  );
}

/** Readings come in order, so one for `windowEnd` settles every window up to it. */
function settleLabels(state: ControllerState, windowEnd: number): ControllerState {
  return {
    ...state,
    lastRealisedEnd: windowEnd,
    awaitingLabels: state.awaitingLabels.filter((w) => w.windowEnd > windowEnd),
  };
}

function applyHarm(
  state: ControllerState,
  window: AwaitingWindow,
  reading: PerformanceReading,
  s: ControllerSettings,
): ControllerState {
  const realised = copyReading(reading)!;
  const driftStreak: Streak<StreakWindow> = {
    length: state.driftStreak.length,
    windows: state.driftStreak.windows.map((w) =>
      w.windowEnd === window.windowEnd ? { ...w, realised } : w,
    ),
  };
  const entry: HarmWindow = { ...window, estimated: copyReading(window.estimated), realised };
  const harmStreak = isHarmed(realised, s)
    ? extend(state.harmStreak, entry, s.performanceWindows)
    : emptyStreak<HarmWindow>();
  return { ...state, driftStreak, harmStreak };
}

// ------------------------------------------------------------------------------------------------
// Evaluation

/** A hold reason and its line for a person. */
type Why = { reason: HoldReason; detail: string };

function progressOf(state: ControllerState, s: ControllerSettings): DecisionProgress {
  return {
    driftStreak: state.driftStreak.length,
    hysteresis: s.hysteresis,
    harmStreak: state.harmStreak.length,
    performanceWindows: s.performanceWindows,
    labelsSinceLastRequest: state.labelsSinceLastRequest,
    minLabels: s.minLabels,
    cooldownUntil: state.cooldownUntil,
    openRunId: state.openRun?.runId ?? null,
  };
}

function driftHarm(state: ControllerState, s: ControllerSettings): WindowEvidence[] {
  return state.driftStreak.windows.map((w) => judgeWindow(w, s)).filter((w) => w.harmed);
}

/** Drift first: it carries the features. Performance when the realised harm streak is long enough. */
function proposal(state: ControllerState, s: ControllerSettings): RetrainReason | null {
  if (state.driftStreak.length >= s.hysteresis && driftHarm(state, s).length > 0) return 'drift';
  if (state.harmStreak.length >= s.performanceWindows) return 'performance';
  return null;
}

function nothingProposed(state: ControllerState, s: ControllerSettings): Why {
  const drift = `drift streak ${state.driftStreak.length} of ${s.hysteresis} windows`;
  if (state.driftStreak.length >= s.hysteresis)
    return {
      reason: 'drift-without-harm',
      detail: `${drift}, but none of its last ${s.hysteresis} is ${s.performanceDrop} worse than ${s.referenceValue}`,
    };
  if (state.driftStreak.length > 0) return { reason: 'drift-streak-short', detail: drift };
  if (state.harmStreak.length > 0)
    return {
      reason: 'harm-streak-short',
      detail: `realised harm streak ${state.harmStreak.length} of ${s.performanceWindows} windows`,
    };
  return { reason: 'calm', detail: 'no drifted window and no harmed realised reading' };
}

/** The guards every proposal passes; clear, it yields the data end of the request. */
/** The guards every proposal passes, in order; null when all hold. */
function blockingGuard(state: ControllerState, s: ControllerSettings, now: number): Why | null {
  if (state.openRun !== null) return { reason: 'run-open', detail: `run ${state.openRun.runId} is open` };
  if (state.cooldownUntil !== null && now < state.cooldownUntil)
    return { reason: 'cooldown', detail: `cooldown until ${state.cooldownUntil}, now ${now}` };
  if (state.labelsSinceLastRequest < s.minLabels)
    return {
      reason: 'too-few-labels',
      detail: `${state.labelsSinceLastRequest} of ${s.minLabels} labelled rows since the last request`,
    };
  return null;
}

function hold(
  state: ControllerState,
  s: ControllerSettings,
  now: number,
  trigger: Trigger,
  why: Why,
  proposed: RetrainReason | null,
): Step {
  const decision: HoldDecision = {
    action: 'hold',
    reason: why.reason,
    proposed,
    model: state.model,
    at: now,
    trigger,
    progress: progressOf(state, s),
    detail: why.detail,
  };
  return { state, decision };
}

function mergeFeatures(windows: readonly StreakWindow[]): FeatureEvidence[] {
  const byFeature = new Map<string, FeatureEvidence>();
  for (const w of windows)
    for (const e of w.drifted) {
      const windowsDrifted = (byFeature.get(e.feature)?.windowsDrifted ?? 0) + 1;
      byFeature.set(e.feature, { ...copyEvidence(e), windowEnd: w.windowEnd, windowsDrifted });
    }
  return [...byFeature.values()].sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
}

function evidenceOf(state: ControllerState, s: ControllerSettings, reason: RetrainReason): RetrainEvidence {
  const windows = reason === 'drift' ? state.driftStreak.windows : state.harmStreak.windows;
  return {
    features: mergeFeatures(state.driftStreak.windows),
    reference: {
      value: s.referenceValue,
      performanceDrop: s.performanceDrop,
      higherIsBetter: s.higherIsBetter,
    },
    windows: windows.map((w) => judgeWindow(w, s)),
  };
}

function retrainDetail(state: ControllerState, s: ControllerSettings, reason: RetrainReason): string {
  if (reason === 'performance')
    return `realised harm in ${state.harmStreak.length} consecutive windows (needed ${s.performanceWindows})`;
  const harmed = driftHarm(state, s).map((w) => `${w.windowEnd} (${w.basis})`);
  return `drift in ${state.driftStreak.length} consecutive windows (needed ${s.hysteresis}), harm in the window(s) ending ${harmed.join(', ')}`;
}

/** Emit the request; the model then has an open run, a cooldown, and starts counting from nothing. */
function request(
  state: ControllerState,
  s: ControllerSettings,
  now: number,
  trigger: Trigger,
  reason: RetrainReason,
  dataWindowEnd: number,
): Step {
  const runId = `${state.model}-${dataWindowEnd}`;
  const retrain: RetrainRequest = {
    runId,
    model: state.model,
    reason,
    requestedAt: now,
    dataWindowEnd,
    offsets: { ...state.lastOffsets },
    evidence: evidenceOf(state, s, reason),
  };
  const decision: RetrainDecision = {
    action: 'retrain',
    reason,
    request: retrain,
    model: state.model,
    at: now,
    trigger,
    progress: progressOf(state, s),
    detail: retrainDetail(state, s, reason),
  };
  const next: ControllerState = {
    ...state,
    phase: 'open-run',
    openRun: { runId, reason, requestedAt: now, dataWindowEnd },
    cooldownUntil: now + s.cooldownMs,
    driftStreak: emptyStreak(),
    harmStreak: emptyStreak(),
    labelsSinceLastRequest: 0,
    coveredUntil: dataWindowEnd,
  };
  return { state: next, decision };
}

function evaluate(state: ControllerState, s: ControllerSettings, now: number, trigger: Trigger): Step {
  const proposed = proposal(state, s);
  if (proposed === null) return hold(state, s, now, trigger, nothingProposed(state, s), null);
  const blocked = blockingGuard(state, s, now);
  if (blocked !== null) return hold(state, s, now, trigger, blocked, proposed);
  // Not null: a streak of length ≥ 1 exists only after a window has closed.
  return request(state, s, now, trigger, proposed, state.lastWindowEnd!);
}

// ------------------------------------------------------------------------------------------------
// Transitions

function ignored(
  state: ControllerState,
  s: ControllerSettings,
  now: number,
  trigger: Trigger,
  reason: HoldReason,
  detail: string,
): Step {
  return hold(state, s, now, trigger, { reason, detail }, null);
}

/**
 * A window has closed. A replay (windowEnd at or before the last one) returns the same state and
 * `replayed`; an overlapping window is a RangeError. A window that started before the current
 * champion's promotion counts its labels and nothing else.
 */
export function observeWindow(
  state: ControllerState,
  window: WindowSummary,
  settings: ControllerSettings,
  now: number,
): Step {
  checkState(state);
  validateSettings(settings);
  checkTime('now', now);
  checkWindow(window);
  const trigger: Trigger = { kind: 'window', windowEnd: window.windowEnd };
  const last = state.lastWindowEnd;
  if (last !== null && window.windowEnd <= last)
    return ignored(
      state,
      settings,
      now,
      trigger,
      'replayed',
      `window ending ${window.windowEnd} is at or before ${last}`,
    );
  if (last !== null && window.windowStart < last)
    throw new RangeError(
      `window [${window.windowStart}, ${window.windowEnd}) overlaps the last one, ending ${last}`,
    );
  const closed = closeWindow(state, window);
  if (state.championSince !== null && window.windowStart < state.championSince)
    return ignored(
      closed,
      settings,
      now,
      trigger,
      'previous-model',
      previousModel(window, state.championSince),
    );
  const drifted = applyDrift(closed, window, settings);
  return evaluate(applyRealisedAtClose(drifted, window, settings), settings, now, trigger);
}

function previousModel(w: WindowSpan, championSince: number): string {
  return `window starting ${w.windowStart} began before the champion promoted at ${championSince}`;
}

function realisedIgnored(
  state: ControllerState,
  window: AwaitingWindow,
  reading: PerformanceReading,
  s: ControllerSettings,
): Why | null {
  if (state.coveredUntil !== null && window.windowEnd <= state.coveredUntil)
    return {
      reason: 'covered',
      detail: `window ending ${window.windowEnd} is in the data of the last request (to ${state.coveredUntil})`,
    };
  if (state.championSince !== null && window.windowStart < state.championSince)
    return { reason: 'previous-model', detail: previousModel(window, state.championSince) };
  if (reading.count < s.minMetricRows)
    return {
      reason: 'too-few-rows',
      detail: `realised ${reading.metric} on ${reading.count} rows, fewer than ${s.minMetricRows}`,
    };
  return null;
}

/**
 * The labels of the window ending `windowEnd` are final. In order of windowEnd: a reading at or before
 * the last one applied is `replayed`, one for a window that never closed here (or dropped out of the
 * awaiting list) is `unknown-window`; both leave the state as it was. A window of the streak falls back
 * to its estimate when its realised reading is ignored.
 */
export function observeRealised(
  state: ControllerState,
  windowEnd: number,
  reading: PerformanceReading,
  settings: ControllerSettings,
  now: number,
): Step {
  checkState(state);
  validateSettings(settings);
  checkTime('now', now);
  checkTime('windowEnd', windowEnd);
  checkReading(`realised reading of the window ending ${windowEnd}`, reading);
  const trigger: Trigger = { kind: 'realised', windowEnd };
  const last = state.lastRealisedEnd;
  if (last !== null && windowEnd <= last)
    return ignored(
      state,
      settings,
      now,
      trigger,
      'replayed',
      `realised reading ending ${windowEnd} is at or before ${last}`,
    );
  const window = state.awaitingLabels.find((w) => w.windowEnd === windowEnd);
  if (window === undefined)
    return ignored(
      state,
      settings,
      now,
      trigger,
      'unknown-window',
      `no closed window ending ${windowEnd} awaits labels`,
    );
  // The labels that landed after the window closed count now (those before were counted at close).
  const late = Math.max(0, reading.count - (window.labelled ?? 0));
  const settled = {
    ...settleLabels(state, windowEnd),
    labelsSinceLastRequest: state.labelsSinceLastRequest + late,
  };
  const why = realisedIgnored(settled, window, reading, settings);
  if (why !== null) return ignored(settled, settings, now, trigger, why.reason, why.detail);
  return evaluate(applyHarm(settled, window, reading, settings), settings, now, trigger);
}

/**
 * The run `runId` finished. Only the open run can finish: for any other id (unknown, or finished
 * already) the very same state object is returned — `runFinished(s, …) === s` tells the caller it was
 * ignored. A promotion resets both streaks and starts the new champion's time: windows that started
 * before `at` judged its predecessor. A rejected or failed run leaves the old champion, and its
 * streaks, in place. The cooldown stands either way.
 */
export function runFinished(
  state: ControllerState,
  runId: string,
  outcome: RunOutcome,
  at: number,
): ControllerState {
  checkState(state);
  checkTime('at', at);
  if (state.openRun === null || state.openRun.runId !== runId) return state;
  const finished: ControllerState = {
    ...state,
    phase: 'watching',
    openRun: null,
    lastFinishedRun: { runId, outcome, finishedAt: at },
  };
  if (outcome !== 'promoted') return finished;
  return { ...finished, driftStreak: emptyStreak(), harmStreak: emptyStreak(), championSince: at };
}

/** True when runFinished closed a run rather than ignoring the id. */
export function isOpenRun(state: ControllerState, runId: string): boolean {
  return state.openRun?.runId === runId;
}
