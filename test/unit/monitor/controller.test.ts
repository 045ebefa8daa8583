import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ControllerSettings,
  type ControllerState,
  DEFAULT_CONTROLLER_SETTINGS,
  type Decision,
  DRIFT_STREAK_KEPT,
  type DriftEvidence,
  defaultSettings,
  initialState,
  isOpenRun,
  observeRealised,
  observeWindow,
  type PerformanceReading,
  type RetrainDecision,
  type RunOutcome,
  runFinished,
  validateSettings,
  type WindowSummary,
} from '../../../services/monitor/core/controller.ts';

const H = 3_600_000;
const T0 = 1_767_225_600_000; // 2026-01-01T00:00Z
const MODEL = 'fraud';

/** auc against a holdout of 0.85: 0.78 is harm (drop ≥ 0.05), 0.83 is not. */
const HARMED = 0.78;
const FINE = 0.83;

const base = defaultSettings({ referenceValue: 0.85, higherIsBetter: true, cooldownMs: 6 * H });

const start = (i: number) => T0 + i * H;
const end = (i: number) => T0 + (i + 1) * H;

function evidence(feature: string, i: number): DriftEvidence {
  return {
    feature,
    test: 'ks',
    statistic: 0.1 + i / 100,
    pValue: 0.001 * (i + 1),
    effectSize: 0.1 + i / 100,
  };
}

const reading = (value: number, count = 500): PerformanceReading => ({ metric: 'auc', value, count });

interface WindowSpec {
  drifted?: readonly string[];
  /** The estimate's value; null: not estimable. Default FINE. */
  estimated?: number | null;
  estimatedRows?: number;
  realised?: PerformanceReading | null;
  labelled?: number;
}

/** Window i is [T0 + i h, T0 + (i + 1) h). */
function win(i: number, spec: WindowSpec = {}): WindowSummary {
  const drifted = spec.drifted ?? [];
  const estimated = spec.estimated === undefined ? FINE : spec.estimated;
  return {
    windowStart: start(i),
    windowEnd: end(i),
    drifted: drifted.map((f) => evidence(f, i)),
    datasetDrift: drifted.length >= 2,
    realised: spec.realised ?? null,
    estimated: estimated === null ? null : reading(estimated, spec.estimatedRows ?? 500),
    labelled: spec.labelled ?? 600,
    offsets: { 'predictions.fraud:0': 1000 * (i + 1), 'predictions.fraud:1': 990 * (i + 1) },
  };
}

type Event =
  | { kind: 'window'; window: WindowSummary; now: number }
  | { kind: 'realised'; windowEnd: number; reading: PerformanceReading; now: number }
  | { kind: 'finished'; runId: string; outcome: RunOutcome; at: number };

type Outcome = Decision | { action: 'finished'; runId: string; closed: boolean };

/** A window event closed at its end (the caller's clock), unless told otherwise. */
const w = (i: number, spec: WindowSpec = {}, now = end(i)): Event => ({
  kind: 'window',
  window: win(i, spec),
  now,
});
const r = (i: number, value: number, now: number, count = 500): Event => ({
  kind: 'realised',
  windowEnd: end(i),
  reading: reading(value, count),
  now,
});
const done = (runId: string, outcome: RunOutcome, at: number): Event => ({
  kind: 'finished',
  runId,
  outcome,
  at,
});

function apply(
  state: ControllerState,
  e: Event,
  s: ControllerSettings,
): { state: ControllerState; outcome: Outcome } {
  if (e.kind === 'window') {
    const step = observeWindow(state, e.window, s, e.now);
    return { state: step.state, outcome: step.decision };
  }
  if (e.kind === 'realised') {
    const step = observeRealised(state, e.windowEnd, e.reading, s, e.now);
    return { state: step.state, outcome: step.decision };
  }
  const next = runFinished(state, e.runId, e.outcome, e.at);
  return { state: next, outcome: { action: 'finished', runId: e.runId, closed: next !== state } };
}

function play(
  events: readonly Event[],
  s: ControllerSettings = base,
  from: ControllerState = initialState(MODEL),
): { state: ControllerState; outcomes: Outcome[] } {
  let state = from;
  const outcomes: Outcome[] = [];
  for (const e of events) {
    const next = apply(state, e, s);
    state = next.state;
    outcomes.push(next.outcome);
  }
  return { state, outcomes };
}

/** 'calm', 'retrain:drift', 'cooldown(drift)' (held, and what was proposed), 'finished:true'. */
function label(o: Outcome): string {
  if (o.action === 'finished') return `finished:${o.closed}`;
  if (o.action === 'retrain') return `retrain:${o.reason}`;
  return o.proposed === null ? o.reason : `${o.reason}(${o.proposed})`;
}

const labels = (outcomes: readonly Outcome[]) => outcomes.map(label);

function decisionOf(o: Outcome | undefined): Decision {
  assert.ok(o !== undefined && o.action !== 'finished', 'a decision, not a run finish');
  return o;
}
const retrains = (outcomes: readonly Outcome[]): RetrainDecision[] =>
  outcomes.filter((o): o is RetrainDecision => o.action === 'retrain');

const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object') {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

const driftedHarmed: WindowSpec = { drifted: ['amount', 'country'], estimated: HARMED };

// ------------------------------------------------------------------------------------------------

describe('settings', () => {
  it('fills the defaults and keeps the model-specific fields', () => {
    const s = defaultSettings({ referenceValue: 0.3, higherIsBetter: false, hysteresis: undefined });
    assert.deepEqual(s, { ...DEFAULT_CONTROLLER_SETTINGS, referenceValue: 0.3, higherIsBetter: false });
    assert.deepEqual(
      [s.hysteresis, s.performanceDrop, s.minLabels, s.minMetricRows, s.performanceWindows],
      [3, 0.05, 1000, 200, 2],
    );
  });

  it('refuses what the machine cannot act on, with a RangeError', () => {
    const bad: Array<Partial<ControllerSettings>> = [
      { hysteresis: 0 },
      { hysteresis: -1 },
      { hysteresis: 1.5 },
      { performanceWindows: 0 },
      { performanceDrop: -0.01 },
      { performanceDrop: 0 },
      { performanceDrop: Number.NaN },
      { referenceValue: Number.POSITIVE_INFINITY },
      { minLabels: -1 },
      { minMetricRows: 0 },
      { cooldownMs: -1 },
      { cooldownMs: Number.POSITIVE_INFINITY },
      { higherIsBetter: 'yes' as unknown as boolean },
    ];
    for (const b of bad) {
      assert.throws(
        () => defaultSettings({ referenceValue: 0.85, higherIsBetter: true, ...b }),
        RangeError,
        JSON.stringify(b),
      );
      assert.throws(() => validateSettings({ ...base, ...b }), RangeError);
    }
    assert.throws(
      () => observeWindow(initialState(MODEL), win(0), { ...base, hysteresis: 0 }, end(0)),
      RangeError,
    );
    assert.equal(validateSettings(base), base);
  });

  it('a model needs a name', () => {
    assert.throws(() => initialState(''), RangeError);
  });
});

describe('drift proposes, performance confirms', () => {
  it('a calm stream never retrains', () => {
    const { outcomes } = play(
      Array.from({ length: 30 }, (_, i) => w(i, { estimated: i % 2 ? FINE : HARMED })),
    );
    assert.deepEqual(labels(outcomes), Array(30).fill('calm'));
  });

  it('drift streaks shorter than the hysteresis never retrain, however harmed', () => {
    const events = Array.from({ length: 12 }, (_, i) => w(i, i % 3 === 2 ? {} : driftedHarmed));
    const { outcomes } = play(events);
    assert.deepEqual(
      labels(outcomes),
      Array(4).fill(['drift-streak-short', 'drift-streak-short', 'calm']).flat(),
    );
    const first = decisionOf(outcomes[1]);
    assert.equal(first.detail, 'drift streak 2 of 3 windows');
    assert.deepEqual([first.progress.driftStreak, first.progress.hysteresis], [2, 3]);
  });

  it('N drifted windows with harm: exactly one retrain, naming exactly the drifted features', () => {
    const events = [
      w(0),
      w(1, { drifted: ['amount', 'country'], estimated: FINE }),
      w(2, { drifted: ['amount'], estimated: FINE }),
      w(3, { drifted: ['amount', 'hour'], estimated: HARMED }),
      w(4, { drifted: ['amount'], estimated: HARMED }),
    ];
    const { outcomes, state } = play(events);
    assert.deepEqual(labels(outcomes), [
      'calm',
      'drift-streak-short',
      'drift-streak-short',
      'retrain:drift',
      'drift-streak-short',
    ]);
    const d = retrains(outcomes)[0]!;
    const req = d.request;
    assert.equal(req.runId, `${MODEL}-${end(3)}`);
    assert.deepEqual(
      [req.model, req.reason, req.requestedAt, req.dataWindowEnd],
      [MODEL, 'drift', end(3), end(3)],
    );
    assert.deepEqual(req.offsets, win(3).offsets);
    assert.deepEqual(d.trigger, { kind: 'window', windowEnd: end(3) });
    // Merged by feature: the figures of the latest window where each drifted.
    assert.deepEqual(req.evidence.features, [
      { ...evidence('amount', 3), windowEnd: end(3), windowsDrifted: 3 },
      { ...evidence('country', 1), windowEnd: end(1), windowsDrifted: 1 },
      { ...evidence('hour', 3), windowEnd: end(3), windowsDrifted: 1 },
    ]);
    assert.deepEqual(req.evidence.reference, { value: 0.85, performanceDrop: 0.05, higherIsBetter: true });
    assert.deepEqual(
      req.evidence.windows.map((x) => [x.windowStart, x.windowEnd, x.basis, x.harmed, x.estimated?.value]),
      [
        [start(1), end(1), 'estimated', false, FINE],
        [start(2), end(2), 'estimated', false, FINE],
        [start(3), end(3), 'estimated', true, HARMED],
      ],
    );
    assert.match(d.detail, /drift in 3 consecutive windows \(needed 3\)/);
    // After the request: an open run, a cooldown, nothing counted.
    assert.equal(state.phase, 'open-run');
    assert.deepEqual(state.openRun, {
      runId: req.runId,
      reason: 'drift',
      requestedAt: end(3),
      dataWindowEnd: end(3),
    });
    assert.equal(state.cooldownUntil, end(3) + 6 * H);
    assert.equal(state.labelsSinceLastRequest, 600);
    assert.equal(state.driftStreak.length, 1);
  });

  it('harm in any kept window of the streak confirms, even when its labels land after N windows', () => {
    const early = play([w(0, driftedHarmed), w(1, { drifted: ['amount'] }), w(2, { drifted: ['amount'] })]);
    assert.deepEqual(labels(early.outcomes), ['drift-streak-short', 'drift-streak-short', 'retrain:drift']);
    // The same harm, but the labels are short until window 3, by when window 0 has left the streak's last 3.
    const late = play([
      w(0, { ...driftedHarmed, labelled: 0 }),
      w(1, { drifted: ['amount'], labelled: 0 }),
      w(2, { drifted: ['amount'], labelled: 0 }),
      w(3, { drifted: ['amount'], labelled: 2000 }),
    ]);
    assert.deepEqual(labels(late.outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      'too-few-labels(drift)',
      'retrain:drift',
    ]);
  });

  it('drift without harm: no retrain, and drift-without-harm recorded', () => {
    const { outcomes } = play(
      Array.from({ length: 8 }, (_, i) => w(i, { drifted: ['amount'], estimated: FINE })),
    );
    assert.deepEqual(labels(outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      ...Array(6).fill('drift-without-harm'),
    ]);
    const last = outcomes.at(-1)!;
    assert.ok(last.action === 'hold' && last.proposed === null);
    assert.equal(last.progress.driftStreak, 8);
  });

  it('an estimate on fewer than minMetricRows rows is noise; so is an unestimable window', () => {
    const { outcomes } = play([
      w(0, { drifted: ['amount'], estimated: HARMED, estimatedRows: 199 }),
      w(1, { drifted: ['amount'], estimated: null }),
      w(2, { drifted: ['amount'], estimated: 0.1, estimatedRows: 10 }),
    ]);
    assert.deepEqual(labels(outcomes), ['drift-streak-short', 'drift-streak-short', 'drift-without-harm']);
  });

  it('a final realised reading overrides the estimate, both ways', () => {
    // The estimate says harm, the labels say fine: not harmed.
    const refuted = play([
      w(0, driftedHarmed),
      r(0, FINE, end(0) + 1),
      w(1, { drifted: ['a'] }),
      w(2, { drifted: ['a'] }),
    ]);
    assert.deepEqual(labels(refuted.outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      'drift-streak-short',
      'drift-without-harm',
    ]);
    // The estimate says fine, the late labels say harm: the realised reading requests the retrain.
    const confirmed = play([
      w(0, { drifted: ['a'] }),
      w(1, { drifted: ['a'] }),
      w(2, { drifted: ['a'] }),
      r(0, HARMED, end(2) + 10),
    ]);
    assert.deepEqual(labels(confirmed.outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      'drift-without-harm',
      'retrain:drift',
    ]);
    const d = retrains(confirmed.outcomes)[0]!;
    assert.deepEqual(d.trigger, { kind: 'realised', windowEnd: end(0) });
    assert.deepEqual(
      [d.request.runId, d.request.dataWindowEnd, d.request.requestedAt],
      [`${MODEL}-${end(2)}`, end(2), end(2) + 10],
    );
    assert.deepEqual(d.request.offsets, win(2).offsets);
    assert.deepEqual(
      d.request.evidence.windows.map((x) => [x.windowEnd, x.basis, x.harmed]),
      [
        [end(0), 'realised', true],
        [end(1), 'estimated', false],
        [end(2), 'estimated', false],
      ],
    );
  });

  it('a realised reading on too few rows is ignored, and the window keeps its estimate', () => {
    const { outcomes, state } = play([
      w(0, driftedHarmed),
      r(0, FINE, end(0) + 1, 150),
      w(1, { drifted: ['a'] }),
      w(2, { drifted: ['a'] }),
    ]);
    assert.deepEqual(labels(outcomes), [
      'drift-streak-short',
      'too-few-rows',
      'drift-streak-short',
      'retrain:drift',
    ]);
    assert.equal(state.lastRealisedEnd, end(0));
  });

  it('lower-is-better metrics are harmed by a rise; a drop exactly at the line counts', () => {
    const logLoss = { ...base, referenceValue: 0.3, higherIsBetter: false };
    const ll = (value: number): WindowSpec => ({ drifted: ['a'], estimated: value });
    assert.deepEqual(
      labels(play([w(0, ll(0.36)), w(1, ll(0.3)), w(2, ll(0.3))], logLoss).outcomes).at(-1),
      'retrain:drift',
    );
    // Better than the reference by far is no harm.
    assert.deepEqual(
      labels(play([w(0, ll(0.1)), w(1, ll(0.1)), w(2, ll(0.1))], logLoss).outcomes).at(-1),
      'drift-without-harm',
    );
    // 0.85 − 0.80 is 0.04999… in floating point; it is the drop of 0.05 all the same.
    assert.equal(
      labels(
        play([w(0, { drifted: ['a'], estimated: 0.8 }), w(1, { drifted: ['a'] }), w(2, { drifted: ['a'] })])
          .outcomes,
      ).at(-1),
      'retrain:drift',
    );
    assert.equal(
      labels(
        play([w(0, { drifted: ['a'], estimated: 0.801 }), w(1, { drifted: ['a'] }), w(2, { drifted: ['a'] })])
          .outcomes,
      ).at(-1),
      'drift-without-harm',
    );
  });
});

describe('harm is a shortfall beyond chance: harmZ standard errors of the reading', () => {
  const noisy = (i: number, value: number, se: number): Event => ({
    kind: 'realised',
    windowEnd: end(i),
    reading: { ...reading(value), standardError: se },
    now: end(3) + i + 1,
  });
  it('0.07 under the reference with a standard error of 0.03 is noise at harmZ 3; with 0.01 it is harm', () => {
    const calmWindows = [w(0), w(1), w(2), w(3)];
    assert.deepEqual(
      labels(play([...calmWindows, noisy(0, 0.78, 0.03), noisy(1, 0.78, 0.03)]).outcomes).slice(4),
      ['calm', 'calm'],
    );
    assert.deepEqual(
      labels(play([...calmWindows, noisy(0, 0.78, 0.01), noisy(1, 0.78, 0.01)]).outcomes).slice(4),
      ['harm-streak-short', 'retrain:performance'],
    );
    // harmZ 0 reads the drop alone, as without a standard error.
    const s = { ...base, harmZ: 0 };
    assert.equal(
      labels(play([...calmWindows, noisy(0, 0.78, 0.03), noisy(1, 0.78, 0.03)], s).outcomes)[5],
      'retrain:performance',
    );
  });

  it('refuses a negative or non-finite harmZ and standard error', () => {
    assert.throws(() => defaultSettings({ referenceValue: 0.85, higherIsBetter: true, harmZ: -1 }), /harmZ/);
    assert.throws(() => play([w(0), noisy(0, 0.8, Number.NaN)]), /standard error/);
  });
});

describe('concept drift: calm inputs, harm only in late labels', () => {
  it('performanceWindows consecutive harmed realised readings retrain with reason performance', () => {
    const { outcomes } = play([w(0), w(1), w(2), w(3), r(0, HARMED, end(3) + 1), r(1, HARMED, end(3) + 2)]);
    assert.deepEqual(labels(outcomes), [
      'calm',
      'calm',
      'calm',
      'calm',
      'harm-streak-short',
      'retrain:performance',
    ]);
    const d = retrains(outcomes)[0]!;
    assert.deepEqual(
      [d.request.runId, d.request.dataWindowEnd, d.request.reason],
      [`${MODEL}-${end(3)}`, end(3), 'performance'],
    );
    assert.deepEqual(d.request.offsets, win(3).offsets);
    assert.deepEqual(d.request.evidence.features, []);
    assert.deepEqual(
      d.request.evidence.windows.map((x) => [
        x.windowStart,
        x.windowEnd,
        x.basis,
        x.realised?.value,
        x.estimated?.value,
      ]),
      [
        [start(0), end(0), 'realised', HARMED, FINE],
        [start(1), end(1), 'realised', HARMED, FINE],
      ],
    );
    assert.match(d.detail, /realised harm in 2 consecutive windows \(needed 2\)/);
  });

  it('a healthy realised reading ends the harm streak; a noisy one neither ends nor extends it', () => {
    const { outcomes } = play([
      w(0),
      w(1),
      w(2),
      w(3),
      w(4),
      r(0, HARMED, end(4) + 1),
      r(1, FINE, end(4) + 2),
      r(2, HARMED, end(4) + 3),
      r(3, FINE, end(4) + 4, 20),
      r(4, HARMED, end(4) + 5),
    ]);
    assert.deepEqual(labels(outcomes).slice(5), [
      'harm-streak-short',
      'calm',
      'harm-streak-short',
      'too-few-rows',
      'retrain:performance',
    ]);
  });

  it('a window that closes with final labels feeds the harm streak at once', () => {
    const { outcomes } = play([
      w(0, { realised: reading(HARMED) }),
      w(1, { realised: reading(HARMED) }),
      r(1, HARMED, end(1) + 1),
    ]);
    assert.deepEqual(labels(outcomes), ['harm-streak-short', 'retrain:performance', 'replayed']);
  });
});

describe('guards', () => {
  it('the cooldown holds a second request back; it fires once the cooldown is over, if still warranted', () => {
    const first = `${MODEL}-${end(2)}`; // cooldown until end(2) + 6 h = end(8)
    const events = [
      w(0, driftedHarmed),
      w(1, driftedHarmed),
      w(2, driftedHarmed),
      done(first, 'rejected', end(2) + H / 2),
      ...[3, 4, 5, 6, 7, 8].map((i) => w(i, driftedHarmed)),
    ];
    const { outcomes } = play(events);
    assert.deepEqual(labels(outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      'retrain:drift',
      'finished:true',
      'drift-streak-short',
      'drift-streak-short',
      'cooldown(drift)',
      'cooldown(drift)',
      'cooldown(drift)',
      'retrain:drift',
    ]);
    const [a, b] = retrains(outcomes);
    assert.equal(b!.request.requestedAt - a!.request.requestedAt, base.cooldownMs);
    assert.equal(b!.request.runId, `${MODEL}-${end(8)}`);
    const blocked = outcomes[6]!;
    assert.equal(blocked.action === 'hold' && blocked.detail, `cooldown until ${end(8)}, now ${end(5)}`);
    // The streak ends (a calm window) before the cooldown does: nothing fires after it.
    const calmed = play([...events.slice(0, 7), w(6), w(7), w(8), w(9)]);
    assert.deepEqual(labels(calmed.outcomes).slice(7), ['calm', 'calm', 'calm', 'calm']);
  });

  it('an open run holds every request until it finishes', () => {
    const s = { ...base, cooldownMs: 0 };
    const runId = `${MODEL}-${end(2)}`;
    const { outcomes, state } = play(
      [
        w(0, driftedHarmed),
        w(1, driftedHarmed),
        w(2, driftedHarmed),
        w(3, driftedHarmed),
        w(4, driftedHarmed),
        w(5, driftedHarmed),
        w(6, driftedHarmed),
        done('fraud-0', 'promoted', end(6)),
        done(runId, 'failed', end(6) + 1),
        done(runId, 'failed', end(6) + 2),
        w(7, driftedHarmed),
      ],
      s,
    );
    assert.deepEqual(labels(outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      'retrain:drift',
      'drift-streak-short',
      'drift-streak-short',
      'run-open(drift)',
      'run-open(drift)',
      'finished:false', // an unknown id: ignored
      'finished:true',
      'finished:false', // finished twice: ignored
      'retrain:drift',
    ]);
    assert.deepEqual(state.lastFinishedRun, { runId, outcome: 'failed', finishedAt: end(6) + 1 });
    assert.equal(isOpenRun(state, `${MODEL}-${end(7)}`), true);
    assert.equal(isOpenRun(state, runId), false);
  });

  it('too few labelled rows hold the request until enough have landed', () => {
    const { outcomes } = play(
      Array.from({ length: 10 }, (_, i) => w(i, { ...driftedHarmed, labelled: 110 })),
    );
    // 110 a window: 990 after the 9th, 1100 after the 10th.
    assert.deepEqual(labels(outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      ...Array(7).fill('too-few-labels(drift)'),
      'retrain:drift',
    ]);
    const held = outcomes[8]!;
    assert.equal(held.action === 'hold' && held.detail, '990 of 1000 labelled rows since the last request');
    // Exactly minLabels is enough.
    const tenth = play(
      Array.from({ length: 11 }, (_, i) => w(i, { ...driftedHarmed, labelled: 100 })),
    ).outcomes;
    assert.deepEqual(labels(tenth).slice(8), [
      'too-few-labels(drift)',
      'retrain:drift',
      'drift-streak-short',
    ]);
    assert.equal(decisionOf(tenth[9]).progress.labelsSinceLastRequest, 1000);
  });

  it('a request covers its data: realised readings of earlier windows no longer count', () => {
    const { outcomes } = play([
      w(0, driftedHarmed),
      w(1, driftedHarmed),
      w(2, driftedHarmed),
      w(3),
      r(0, HARMED, end(3) + 1),
      r(1, HARMED, end(3) + 2),
      r(2, HARMED, end(3) + 3),
      r(3, HARMED, end(3) + 4),
    ]);
    assert.deepEqual(labels(outcomes).slice(2), [
      'retrain:drift',
      'calm',
      'covered',
      'covered',
      'covered',
      'harm-streak-short',
    ]);
  });

  it('after a promotion, windows that started before it judged the old champion', () => {
    const runId = `${MODEL}-${end(2)}`;
    const promotedAt = start(3) + H / 2; // inside window 3
    const s = { ...base, cooldownMs: 0, performanceWindows: 1 };
    const { outcomes, state } = play(
      [
        w(0, driftedHarmed),
        w(1, driftedHarmed),
        w(2, driftedHarmed),
        done(runId, 'promoted', promotedAt),
        w(3, driftedHarmed),
        w(4, driftedHarmed),
        r(3, HARMED, end(4) + 1),
        r(4, FINE, end(4) + 2),
      ],
      s,
    );
    assert.deepEqual(labels(outcomes), [
      'drift-streak-short',
      'drift-streak-short',
      'retrain:drift',
      'finished:true',
      'previous-model',
      'drift-streak-short',
      'previous-model',
      'drift-streak-short',
    ]);
    assert.equal(state.championSince, promotedAt);
    // The old model's labels still count as training data.
    assert.equal(state.labelsSinceLastRequest, 1200);
  });
});

describe('replay, restart and run ids', () => {
  const s = { ...base, cooldownMs: 2 * H };
  const stream: Event[] = [
    w(0),
    w(1, driftedHarmed),
    w(2, driftedHarmed),
    w(3, driftedHarmed),
    r(0, FINE, end(3) + 1),
    w(4, { drifted: ['amount'] }),
    done(`${MODEL}-${end(3)}`, 'rejected', end(4) + 1),
    w(5, { drifted: ['amount'] }),
    r(4, HARMED, end(5) + 1),
    w(6, { drifted: ['amount'] }),
    r(5, HARMED, end(6) + 1),
    w(7),
    w(9), // a gap: window 8 never came
    r(6, FINE, end(9) + 1),
    r(7, HARMED, end(9) + 2),
    r(9, HARMED, end(9) + 3),
    w(10),
  ];
  const expected = [
    'calm',
    'drift-streak-short',
    'drift-streak-short',
    'retrain:drift',
    'covered',
    'drift-streak-short',
    'finished:true',
    'drift-streak-short',
    'drift-streak-short',
    'retrain:drift', // drift streak 3 of 3 (windows 4–6), window 4 harmed by its labels
    'covered',
    'calm',
    'calm',
    'covered',
    'harm-streak-short',
    'run-open(performance)',
    'run-open(performance)',
  ];

  it('the stream decides as expected, and every state survives JSON unchanged', () => {
    let state = initialState(MODEL);
    const outcomes: Outcome[] = [];
    for (const e of stream) {
      const next = apply(state, e, s);
      assert.deepEqual(roundTrip(next.state), next.state);
      state = next.state;
      outcomes.push(next.outcome);
    }
    assert.deepEqual(labels(outcomes), expected);
    assert.deepEqual(roundTrip(outcomes), outcomes, 'decisions are JSON too');
  });

  it('replaying the whole stream from the restored state emits nothing twice and changes nothing', () => {
    const first = play(stream, s);
    const restored = roundTrip(first.state);
    const again = play(stream, s, restored);
    assert.equal(retrains(again.outcomes).length, 0);
    assert.deepEqual(
      labels(again.outcomes),
      stream.map((e) => (e.kind === 'finished' ? 'finished:false' : 'replayed')),
    );
    assert.deepEqual(again.state, first.state);
    assert.deepEqual(again.state, restored);
  });

  it('a restart anywhere mid-stream decides exactly as an uninterrupted run', () => {
    const whole = play(stream, s);
    for (let cut = 0; cut <= stream.length; cut++) {
      const before = play(stream.slice(0, cut), s);
      const after = play(stream.slice(cut), s, roundTrip(before.state));
      assert.deepEqual([...before.outcomes, ...after.outcomes], whole.outcomes, `cut at ${cut}`);
      assert.deepEqual(after.state, whole.state, `cut at ${cut}`);
    }
  });

  it('a restart that re-reads from an older offset replays the overlap silently', () => {
    const whole = play(stream, s);
    const cut = 9;
    const before = play(stream.slice(0, cut), s);
    const after = play(stream.slice(cut - 4), s, roundTrip(before.state));
    assert.deepEqual(labels(after.outcomes.slice(0, 4)), [
      'replayed',
      'finished:false',
      'replayed',
      'replayed',
    ]);
    assert.deepEqual(after.outcomes.slice(4), whole.outcomes.slice(cut));
  });

  it('run ids are <model>-<dataWindowEnd>, the same on every run of the same input', () => {
    const as = (model: string): Event[] =>
      stream.map((e) =>
        e.kind === 'finished' ? { ...e, runId: e.runId.replace(`${MODEL}-`, `${model}-`) } : e,
      );
    const ids = (model: string) =>
      retrains(play(as(model), s, initialState(model)).outcomes).map((d) => d.request.runId);
    assert.deepEqual(ids(MODEL), [`${MODEL}-${end(3)}`, `${MODEL}-${end(6)}`]);
    assert.deepEqual(ids(MODEL), ids(MODEL));
    assert.deepEqual(ids('churn'), [`churn-${end(3)}`, `churn-${end(6)}`]);
  });
});

describe('a pure machine', () => {
  it('never mutates its inputs', () => {
    const s = deepFreeze({ ...base });
    let state = deepFreeze(initialState(MODEL));
    for (const i of [0, 1, 2]) {
      const snapshot = roundTrip(state);
      const next = observeWindow(state, deepFreeze(win(i, driftedHarmed)), s, end(i)).state;
      assert.deepEqual(state, snapshot);
      state = deepFreeze(next);
    }
    state = deepFreeze(observeRealised(state, end(0), deepFreeze(reading(HARMED)), s, end(2) + 1).state);
    deepFreeze(runFinished(state, `${MODEL}-${end(2)}`, 'promoted', end(3)));
  });

  it('holds no caller object: changing the input later changes nothing', () => {
    const window = win(0, driftedHarmed);
    const { state } = observeWindow(initialState(MODEL), window, base, end(0));
    const snapshot = roundTrip(state);
    (window.drifted[0] as DriftEvidence).statistic = 99;
    (window.estimated as PerformanceReading).value = 0;
    (window.offsets as Record<string, number>)['predictions.fraud:0'] = 0;
    assert.deepEqual(state, snapshot);
  });

  it('a replayed window or reading, an unknown window and an unknown run return the very same state', () => {
    const { state } = play([w(0), w(1), r(0, FINE, end(1) + 1)]);
    assert.equal(observeWindow(state, win(1), base, end(5)).state, state);
    assert.equal(observeWindow(state, win(0), base, end(5)).state, state);
    assert.equal(observeRealised(state, end(0), reading(HARMED), base, end(5)).state, state);
    const unknown = observeRealised(state, end(7), reading(HARMED), base, end(5));
    assert.equal(unknown.state, state);
    assert.equal(unknown.decision.reason, 'unknown-window');
    assert.equal(runFinished(state, 'nope', 'promoted', end(5)), state);
  });

  it('refuses malformed input with a RangeError', () => {
    const state = play([w(0), w(1)]).state;
    const overlapping = { ...win(2), windowStart: end(1) - 1 };
    assert.throws(() => observeWindow(state, overlapping, base, end(2)), /overlaps/);
    assert.throws(() => observeWindow(state, { ...win(2), windowEnd: start(2) }, base, end(2)), RangeError);
    assert.throws(() => observeWindow(state, { ...win(2), labelled: -1 }, base, end(2)), RangeError);
    assert.throws(() => observeWindow(state, win(2, { estimated: Number.NaN }), base, end(2)), RangeError);
    assert.throws(() => observeWindow(state, win(2), base, Number.NaN), RangeError);
    assert.throws(
      () => observeWindow(state, { ...win(2), drifted: [evidence('a', 2), evidence('a', 2)] }, base, end(2)),
      /twice/,
    );
    assert.throws(
      () => observeWindow(state, { ...win(2), drifted: [{ ...evidence('a', 2), pValue: 2 }] }, base, end(2)),
      RangeError,
    );
    assert.throws(
      () => observeRealised(state, end(1), { ...reading(0.8), count: 1.5 }, base, end(2)),
      RangeError,
    );
    const stale = { ...state, version: 2 } as unknown as ControllerState;
    assert.throws(() => observeWindow(stale, win(2), base, end(2)), /version/);
  });
});

// ------------------------------------------------------------------------------------------------
// Property test

/** mulberry32: a tiny seeded PRNG, so a failing sequence can be rebuilt from its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomSettings(rnd: () => number): ControllerSettings {
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const higherIsBetter = rnd() < 0.5;
  return defaultSettings({
    referenceValue: higherIsBetter ? 0.85 : 0.3,
    higherIsBetter,
    hysteresis: int(1, 4),
    performanceWindows: int(1, 3),
    minLabels: int(0, 1500),
    minMetricRows: int(50, 300),
    cooldownMs: int(0, 8) * H,
  });
}

/**
 * A random stream, drawn one event at a time: windows with gaps, realised readings in order (some never
 * come), replays of earlier events, and run finishes — of the open run, of one finished already, or of
 * an id no run has. A finish names only runs that exist, as the trainer's would.
 */
function createStream(
  rnd: () => number,
  s: ControllerSettings,
): (openRun: string | null, finished: readonly string[]) => Event {
  const features = ['amount', 'country', 'hour', 'device'];
  const value = () => s.referenceValue + (rnd() - 0.5) * 0.2;
  const outcomes: RunOutcome[] = ['promoted', 'rejected', 'failed'];
  const events: Event[] = [];
  const closed: number[] = [];
  let i = 0;
  let now = T0;
  const window = (): Event => {
    i += rnd() < 0.1 ? 2 : 1;
    now = Math.max(now, end(i)) + Math.floor(rnd() * 60_000);
    closed.push(i);
    const summary = win(i, {
      drifted: rnd() < 0.6 ? features.filter(() => rnd() < 0.5) : [],
      estimated: rnd() < 0.15 ? null : value(),
      estimatedRows: Math.floor(rnd() * 500),
      labelled: Math.floor(rnd() * 800),
      realised: rnd() < 0.05 ? reading(value(), Math.floor(rnd() * 500)) : null,
    });
    return { kind: 'window', window: summary, now };
  };
  const finish = (openRun: string | null, finished: readonly string[]): Event => {
    now += Math.floor(rnd() * 3 * H);
    const pick = rnd();
    const runId =
      openRun !== null && pick < 0.7
        ? openRun
        : finished.length > 0 && pick < 0.85
          ? finished[Math.floor(rnd() * finished.length)]!
          : `${MODEL}-none-${events.length}`;
    return done(runId, outcomes[Math.floor(rnd() * 3)]!, now);
  };
  const draw = (openRun: string | null, finished: readonly string[]): Event => {
    const roll = rnd();
    if (roll < 0.5 || (roll < 0.8 && closed.length === 0)) return window();
    if (roll < 0.8) {
      let j = closed.shift()!;
      while (closed.length > 0 && rnd() < 0.2) j = closed.shift()!; // these labels never come
      now += Math.floor(rnd() * 600_000);
      return r(j, value(), now, Math.floor(rnd() * 600));
    }
    if (roll < 0.9 || events.length === 0) return finish(openRun, finished);
    const old = events[Math.floor(rnd() * events.length)]!;
    return old.kind === 'finished' ? old : { ...old, now: now + 1 }; // a replay, read again later
  };
  return (openRun, finished) => {
    const e = draw(openRun, finished);
    events.push(e);
    return e;
  };
}

describe('property: random streams keep the invariants', () => {
  it('never two open runs, no two requests closer than the cooldown, every request behind its guards', () => {
    let total = 0;
    let finishedByPromotion = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = mulberry32(seed);
      const s = randomSettings(rnd);
      const draw = createStream(rnd, s);
      const events: Event[] = [];
      const finishedRuns: string[] = [];
      const at = `seed ${seed}`;
      let state = initialState(MODEL);
      // Tracked by the test, from the events and decisions alone.
      let openRun: string | null = null;
      let lastRequestAt: number | null = null;
      let labelsSinceRequest = 0;
      const labelledAtClose = new Map<number, number>();
      let lateAtRequest = 0;
      let lastWindowEnd: number | null = null;
      let lastDataEnd: number | null = null;
      let championSince: number | null = null;
      let driftRun = 0; // consecutive drifted windows since the last request or promotion
      const seenWindowEnds = new Set<number>();
      const runIds = new Set<string>();
      const outcomes: Outcome[] = [];
      for (let k = 0; k < 150; k++) {
        const e = draw(openRun, finishedRuns);
        events.push(e);
        const next = apply(state, e, s);
        const o = next.outcome;
        outcomes.push(o);
        if (e.kind === 'realised' && !['replayed', 'unknown-window'].includes(label(o))) {
          // Labels that landed after the window closed count when its reading is final.
          const late = Math.max(0, e.reading.count - (labelledAtClose.get(e.windowEnd) ?? 0));
          labelsSinceRequest += o.action === 'retrain' ? 0 : late;
          if (o.action === 'retrain') lateAtRequest = late;
        }
        if (e.kind === 'window' && !seenWindowEnds.has(e.window.windowEnd)) {
          seenWindowEnds.add(e.window.windowEnd);
          labelledAtClose.set(e.window.windowEnd, e.window.labelled);
          labelsSinceRequest += e.window.labelled;
          lastWindowEnd = e.window.windowEnd;
          if (championSince === null || e.window.windowStart >= championSince)
            driftRun = e.window.drifted.length > 0 ? driftRun + 1 : 0;
        } else if (e.kind === 'window') {
          assert.equal(label(o), 'replayed', at);
          assert.equal(next.state, state, at);
        }
        if (o.action === 'finished') {
          assert.equal(o.closed, o.runId === openRun, at);
          if (o.closed) {
            openRun = null;
            finishedRuns.push(o.runId);
          }
          if (o.closed && e.kind === 'finished' && e.outcome === 'promoted') {
            finishedByPromotion++;
            championSince = e.at;
            driftRun = 0;
          }
        }
        if (o.action === 'retrain') {
          total++;
          const req = o.request;
          assert.equal(openRun, null, `${at}: a second open run`);
          if (lastRequestAt !== null)
            assert.ok(req.requestedAt - lastRequestAt >= s.cooldownMs, `${at}: cooldown`);
          assert.ok(
            labelsSinceRequest + lateAtRequest >= s.minLabels,
            `${at}: ${labelsSinceRequest + lateAtRequest} labels < ${s.minLabels}`,
          );
          lateAtRequest = 0;
          assert.equal(req.dataWindowEnd, lastWindowEnd, at);
          assert.equal(req.runId, `${MODEL}-${req.dataWindowEnd}`, at);
          assert.ok(!runIds.has(req.runId), `${at}: run id ${req.runId} twice`);
          runIds.add(req.runId);
          if (req.reason === 'drift') {
            assert.ok(o.progress.driftStreak >= s.hysteresis, at);
            assert.ok(
              req.evidence.windows.length >= 1 &&
                req.evidence.windows.length <= Math.max(s.hysteresis, DRIFT_STREAK_KEPT),
              at,
            );
            assert.ok(driftRun >= s.hysteresis, `${at}: ${driftRun} drifted windows < ${s.hysteresis}`);
            assert.ok(
              req.evidence.windows.some((x) => x.harmed),
              `${at}: drift without harm retrained`,
            );
            assert.ok(req.evidence.features.length > 0, at);
          } else {
            assert.ok(o.progress.harmStreak >= s.performanceWindows, at);
            assert.equal(req.evidence.windows.length, s.performanceWindows, at);
            assert.ok(
              req.evidence.windows.every((x) => x.basis === 'realised' && x.harmed),
              at,
            );
          }
          const ends = req.evidence.windows.map((x) => x.windowEnd);
          assert.ok(
            ends.every((x, k) => seenWindowEnds.has(x) && (k === 0 || x > ends[k - 1]!)),
            at,
          );
          assert.ok(
            ends.every((x) => lastDataEnd === null || x > lastDataEnd),
            `${at}: evidence from covered data`,
          );
          openRun = req.runId;
          lastRequestAt = req.requestedAt;
          lastDataEnd = req.dataWindowEnd;
          labelsSinceRequest = 0;
          driftRun = 0;
        }
        state = next.state;
        assert.equal(state.phase === 'open-run', state.openRun !== null, at);
        assert.equal(state.openRun?.runId ?? null, openRun, at);
        assert.ok(state.driftStreak.windows.length <= Math.max(s.hysteresis, DRIFT_STREAK_KEPT), at);
        assert.ok(state.harmStreak.windows.length <= s.performanceWindows, at);
      }
      assert.deepEqual(roundTrip(state), state, at);
      // The same stream again from the persisted state: nothing emitted, nothing changed.
      const again = play(events, s, roundTrip(state));
      assert.equal(retrains(again.outcomes).length, 0, `${at}: replay emitted`);
      assert.deepEqual(again.state, state, at);
      // A restart at a random point decides as the uninterrupted run did.
      const cut = Math.floor(rnd() * events.length);
      const before = play(events.slice(0, cut), s);
      const after = play(events.slice(cut), s, roundTrip(before.state));
      assert.deepEqual([...before.outcomes, ...after.outcomes], outcomes, `${at}, cut ${cut}`);
    }
    // The streams must exercise the machine, not just stay calm.
    assert.ok(total > 100, `only ${total} requests over 300 streams`);
    assert.ok(finishedByPromotion > 10, `only ${finishedByPromotion} promotions`);
  });
});
