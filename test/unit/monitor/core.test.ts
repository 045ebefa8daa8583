/**
 * The monitor core's edges: what it refuses, what it bounds, and how time moves. The must-shows on a
 * long stream are in loop.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialState } from '../../../services/monitor/core/controller.ts';
import {
  createMonitorCore,
  labelValue,
  MAX_OPEN_WINDOWS,
  type PredictionInput,
} from '../../../services/monitor/core/monitor-core.ts';
import { buildReference, FEATURES, makeRow, worldSpec } from '../../support/monitor-world.ts';
import { createRng } from '../../support/prng.ts';

const W = 60_000;
const reference = buildReference(1, 20_000);
const T0 = Date.UTC(2026, 0, 1);

function core(overrides: Parameters<typeof worldSpec>[1] = {}) {
  return createMonitorCore(
    worldSpec({ windowMs: W, labelDelayMs: W }, { minWindowRows: 50, ...overrides }),
    reference,
    initialState('world'),
  );
}

function prediction(i: number, at: number, extra: Partial<PredictionInput> = {}): PredictionInput {
  const rng = createRng(i + 1);
  const row = makeRow(rng, undefined);
  return {
    requestId: `r${i}`,
    entity: `u${i % 7}`,
    features: row.features,
    score: row.p,
    predictedAt: at,
    version: 1,
    ...extra,
  };
}

describe('monitor core: refusals and bounds', () => {
  it('refuses a score that is not a probability, and a label that is not 0/1, counting both', () => {
    const c = core();
    assert.equal(c.addPrediction(prediction(1, T0, { score: Number.NaN })), 'invalid');
    assert.equal(c.addPrediction(prediction(2, T0, { score: 1.7 })), 'invalid');
    assert.equal(c.addPrediction(prediction(3, T0)), 'ok');
    assert.equal(c.addOutcome({ requestId: 'r3', entity: 'u3', label: 2, at: T0 }), 'invalid');
    assert.equal(c.addOutcome({ requestId: 'r3', entity: 'u3', label: 1, at: T0 }), 'joined');
    assert.equal(c.counters().invalid, 3);
  });

  it('reads labels as outcomes carry them', () => {
    assert.deepEqual(
      [true, false, 'true', 'false', 1, 0, '1', ' 0 ', 2.5, '', 'yes', null, Number.NaN, {}].map(labelValue),
      [1, 0, 1, 0, 1, 0, 1, 0, 2.5, null, null, null, null, null],
    );
  });

  it('a prediction far ahead opens at most MAX_OPEN_WINDOWS windows and closes nothing', () => {
    const c = core();
    for (let i = 0; i < 60; i++) c.addPrediction(prediction(i, T0 + (i % 30) * 1000));
    let refused = 0;
    for (let k = 1; k <= MAX_OPEN_WINDOWS + 5; k++) {
      if (c.addPrediction(prediction(1000 + k, T0 + k * 365 * 24 * 3_600_000)) === 'invalid') refused++;
    }
    assert.equal(c.openWindows(), MAX_OPEN_WINDOWS);
    assert.ok(refused >= 5, `${refused} refused`);
  });

  it('a partition read ahead does not close a window another partition is still filling', () => {
    const c = core();
    const a = { key: 'p:0', next: 1 };
    const b = { key: 'p:1', next: 1 };
    c.addPrediction(prediction(1, T0 + 1000, { position: b }));
    for (let i = 0; i < 100; i++) c.addPrediction(prediction(10 + i, T0 + 5 * W + i, { position: a }));
    assert.equal(c.advance(T0).length, 0, 'partition 1 is still in the first window');
    assert.equal(c.addPrediction(prediction(2, T0 + 2000, { position: b })), 'ok', 'not late');
    c.addPrediction(prediction(3, T0 + 5 * W, { position: b }));
    const closed = c.advance(T0).filter((o) => o.kind === 'window');
    assert.equal(closed.length, 1);
  });

  it('holds a re-sent prediction once, and an entity’s history without leaking the pending count', () => {
    const c = core();
    c.addPrediction(prediction(1, T0));
    c.addPrediction(prediction(1, T0 + 1));
    assert.equal(c.pendingLabels(), 1);
    const e = core({ join: { by: 'entity', withinMs: W } });
    for (let i = 0; i < 100; i++) e.addPrediction(prediction(i, T0 + i, { entity: 'same' }));
    assert.equal(e.pendingLabels(), 8, 'an entity keeps its last 8');
    e.advance(T0, T0 + 10 * W);
    assert.equal(e.pendingLabels(), 0, 'every window finalised, nothing held');
  });

  it('joins by entity: the newest prediction at or before the label, within `within`, each once', () => {
    const c = core({ join: { by: 'entity', withinMs: 10_000 } });
    c.addPrediction(prediction(1, T0 + 1_000, { entity: 'e', score: 0.1 }));
    c.addPrediction(prediction(2, T0 + 5_000, { entity: 'e', score: 0.9 }));
    c.addPrediction(prediction(3, T0 + 30_000, { entity: 'e', score: 0.5 }));
    // At 6 s: the 5 s prediction (0.9), not the 1 s one; then the 1 s one; at 29 s nothing is within 10 s
    // before it (the 30 s prediction is after it); the 30 s one is never labelled.
    assert.equal(c.addOutcome({ entity: 'e', label: 1, at: T0 + 6_000 }), 'joined');
    assert.equal(c.addOutcome({ entity: 'e', label: 0, at: T0 + 6_500 }), 'joined');
    assert.equal(c.addOutcome({ entity: 'e', label: 1, at: T0 + 29_000 }), 'unmatched');
    assert.equal(c.addOutcome({ entity: 'other', label: 1, at: T0 + 6_000 }), 'unmatched');
    const realised = c.advance(T0, T0 + 10 * W).flatMap((o) => (o.kind === 'realised' ? [o.report] : []));
    assert.equal(realised.length, 1);
    // Labels 1 on 0.9 and 0 on 0.1: a perfect ranking.
    assert.deepEqual([realised[0]!.labelled, realised[0]!.reading?.value], [2, 1]);
  });

  it('an input whose values overflow is left untested with its reason; the others are tested', () => {
    // Wasserstein sums the values themselves (KS, the default at 200 rows, only counts them).
    const c = core({ tests: { 'v.f00': { test: 'wasserstein' } } });
    for (let i = 0; i < 200; i++) {
      const p = prediction(i, T0 + i * 100);
      c.addPrediction({
        ...p,
        features: { ...p.features, 'v.f00': i < 3 ? 1e308 : (p.features['v.f00'] as number) },
      });
    }
    const [out] = c.advance(T0, T0 + 2 * W).filter((o) => o.kind === 'window');
    assert.ok(out && out.kind === 'window' && out.report.drift);
    const drift = out.report.drift;
    assert.ok(drift.untested.includes('v.f00'), JSON.stringify(drift.refusals));
    assert.match(drift.refusals['v.f00']!, /non-finite/);
    assert.equal(drift.inputs.features.length, FEATURES.length - 1);
  });

  it('a window with too few rows is reported but is a gap for the controller', () => {
    const c = core({ minWindowRows: 50 });
    for (let i = 0; i < 10; i++) c.addPrediction(prediction(i, T0 + i));
    const [out] = c.advance(T0, T0 + 2 * W);
    assert.ok(out && out.kind === 'window');
    assert.equal(out.report.drift, null);
    assert.equal(out.decision, null);
    assert.equal(c.state().lastWindowEnd, null);
  });

  it('refuses a reference without a profile for an input, or without the metric', () => {
    const { [FEATURES[0]!]: _dropped, ...features } = reference.profiles.features;
    const partial = { ...reference, profiles: { ...reference.profiles, features } };
    assert.throws(
      () => createMonitorCore(worldSpec({ windowMs: W, labelDelayMs: W }), partial, initialState('world')),
      /no profile for v\.f00/,
    );
    assert.throws(
      () =>
        createMonitorCore(
          worldSpec({ windowMs: W, labelDelayMs: W }),
          { ...reference, metrics: {} },
          initialState('world'),
        ),
      /has no auc/,
    );
  });

  it('a run that never answers is closed as failed after the timeout', () => {
    const state = {
      ...initialState('world'),
      phase: 'open-run' as const,
      openRun: { runId: 'world-1', reason: 'drift' as const, requestedAt: T0, dataWindowEnd: T0 },
    };
    const c = createMonitorCore(worldSpec({ windowMs: W, labelDelayMs: W }), reference, state);
    assert.equal(c.expireOpenRun(T0 + 1000, 60_000), null);
    assert.equal(c.expireOpenRun(T0 + 60_000, 60_000), 'world-1');
    assert.equal(c.state().phase, 'watching');
  });

  it('a changed window length replays the overlapping window instead of failing', () => {
    const c = core();
    for (let i = 0; i < 100; i++) c.addPrediction(prediction(i, T0 + i * 10));
    c.advance(T0, T0 + 2 * W);
    const longer = createMonitorCore(
      worldSpec({ windowMs: 10 * W, labelDelayMs: W }, { minWindowRows: 50 }),
      reference,
      c.state(),
    );
    for (let i = 0; i < 100; i++) longer.addPrediction(prediction(i, T0 + i * 10));
    assert.doesNotThrow(() => longer.advance(T0, T0 + 30 * W));
  });
});
