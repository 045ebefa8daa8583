/**
 * The must-shows on the monitor core, end to end without I/O: profiles, tests, BH and floors,
 * CBPE, late labels and the retrain controller, over the synthetic world of test/support/monitor-world.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WindowReport } from '../../../services/monitor/core/monitor-core.ts';
import { buildReference, FEATURES, retrainsOf, runWorld } from '../../support/monitor-world.ts';

const WINDOW = 3_600_000;
const world = { rowsPerWindow: 10_000, windowMs: WINDOW, labelDelayMs: WINDOW / 2 };
const reference = buildReference(1, 200_000);
const windowsOf = (outputs: ReturnType<typeof runWorld>): WindowReport[] =>
  outputs.flatMap((o) => (o.kind === 'window' ? [o.report] : []));

describe('the monitor on a synthetic stream (50 inputs, 10 000 predictions a window)', () => {
  it('no drift, no action: 1 000 000 rows from the training distribution → zero retrain requests', (t) => {
    const outputs = runWorld(reference, { ...world, seed: 2 }, 100);
    const windows = windowsOf(outputs);
    assert.equal(windows.length, 100);
    assert.equal(retrainsOf(outputs).length, 0);
    const tested = windows.filter((w) => w.drift);
    assert.equal(tested.length, 100);
    const flagged = tested.flatMap((w) => w.drift!.inputs.features.filter((f) => f.drifted));
    const windowsFlagged = tested.filter((w) => w.drift!.inputs.driftedCount > 0).length;
    const perFeature = flagged.length / (tested.length * FEATURES.length);
    const perWindow = windowsFlagged / tested.length;
    t.diagnostic(
      `false alarms: ${flagged.length} of ${tested.length * FEATURES.length} feature-windows (${perFeature}), ${windowsFlagged} of ${tested.length} windows (${perWindow})`,
    );
    // What the defaults are built for: no false alarm at all at this size, on any test.
    assert.equal(flagged.length, 0, JSON.stringify(flagged.slice(0, 3)));
    const predictionAlarms = tested.filter((w) => w.drift!.prediction?.drifted).length;
    assert.equal(predictionAlarms, 0, 'the output does not drift either');
  });

  it('no drift, small windows: 1 000 000 rows in 5 000 windows of 200 → zero retrain requests', (t) => {
    const outputs = runWorld(reference, { ...world, rowsPerWindow: 200, seed: 6 }, 5_000);
    const tested = windowsOf(outputs).filter((w) => w.drift);
    assert.equal(tested.length, 5_000);
    const flagged = tested.flatMap((w) => w.drift!.inputs.features.filter((f) => f.drifted));
    const windowsFlagged = tested.filter((w) => w.drift!.inputs.driftedCount > 0).length;
    const perFeature = flagged.length / (tested.length * FEATURES.length);
    t.diagnostic(
      `false alarms: ${flagged.length} of ${tested.length * FEATURES.length} feature-windows (${perFeature}), ${windowsFlagged} of ${tested.length} windows`,
    );
    // At 200 rows the small-sample tests decide (KS, chi-square) under BH: about α of the windows, and
    // the controller's hysteresis and harm test keep every one of them from acting.
    assert.ok(perFeature < 0.002, `${perFeature}`);
    assert.ok(windowsFlagged / tested.length < 0.06, `${windowsFlagged}`);
    assert.equal(retrainsOf(outputs).length, 0);
  });

  it('real drift that hurts: 0.25 sd shift + a category 10% → 16% → exactly one retrain naming those two', () => {
    const outputs = runWorld(
      reference,
      {
        ...world,
        // Labels take longer than the hysteresis here, so the drift streak is complete before the
        // first realised reading confirms it (with faster labels the harm streak alone would fire).
        labelDelayMs: 3 * WINDOW,
        seed: 3,
        bends: [
          {
            from: 10,
            shift: { 'v.f05': 0.25 },
            shares: { 'v.c1': [0.16, 0.28, 0.28, 0.28] },
            // The new share of code 0 is a segment the model gets wrong: the drift hurts.
            flip: { feature: 'v.c1', code: 0 },
          },
        ],
      },
      20,
    );
    const windows = windowsOf(outputs);
    for (const w of windows.slice(0, 10))
      assert.equal(w.drift!.inputs.driftedCount, 0, `calm window ${w.windowStart}`);
    for (const w of windows.slice(10)) {
      assert.deepEqual(
        w
          .drift!.inputs.features.filter((f) => f.drifted)
          .map((f) => f.feature)
          .sort(),
        ['v.c1', 'v.f05'],
        `drifted window ${w.windowStart}`,
      );
    }
    const retrains = retrainsOf(outputs);
    assert.equal(retrains.length, 1);
    const r = retrains[0]!;
    assert.equal(r.reason, 'drift');
    assert.deepEqual(r.request.evidence.features.map((f) => f.feature).sort(), ['v.c1', 'v.f05']);
    const c1 = r.request.evidence.features.find((f) => f.feature === 'v.c1')!;
    assert.equal(c1.test, 'chisquare');
    assert.ok(c1.pValue !== null && c1.pValue < 1e-6 && c1.effectSize > 0.1, JSON.stringify(c1));
    const f05 = r.request.evidence.features.find((f) => f.feature === 'v.f05')!;
    assert.equal(f05.test, 'wasserstein');
    assert.ok(f05.statistic > 0.15 && f05.statistic < 0.35, JSON.stringify(f05));
    // Within the hysteresis plus the label delay: the first drifted window's labels confirm it.
    assert.equal(r.trigger.kind, 'realised');
    assert.equal(r.trigger.windowEnd, windows[10]!.windowEnd);
    assert.ok(r.request.dataWindowEnd <= windows[14]!.windowEnd, `requested at ${r.request.dataWindowEnd}`);
  });

  it('drift that does not hurt is recorded, not acted on: zero retrains, "drift-without-harm"', () => {
    const outputs = runWorld(
      reference,
      {
        ...world,
        seed: 4,
        bends: [{ from: 5, shift: { 'v.f05': 0.25 }, shares: { 'v.c1': [0.16, 0.28, 0.28, 0.28] } }],
      },
      15,
    );
    assert.equal(retrainsOf(outputs).length, 0);
    const reasons = outputs.flatMap((o) => (o.decision?.action === 'hold' ? [o.decision.reason] : []));
    assert.ok(reasons.includes('drift-without-harm'), reasons.join(','));
  });

  it('concept drift (inputs calm, labels flip for a segment) → a retrain on performance; the estimate is shown first', () => {
    const outputs = runWorld(
      reference,
      { ...world, seed: 5, bends: [{ from: 6, flip: { feature: 'v.c2', code: 1 } }] },
      14,
    );
    const windows = windowsOf(outputs);
    for (const w of windows) assert.equal(w.drift!.inputs.driftedCount, 0, 'the inputs do not move');
    const retrains = retrainsOf(outputs);
    assert.equal(retrains.length, 1);
    assert.equal(retrains[0]!.reason, 'performance');
    assert.deepEqual(retrains[0]!.request.evidence.features, []);
    // At close, before the labels have all landed, the window shows the estimate: CBPE cannot see a
    // concept change, so it stays near the reference while the realised AUC (final later) falls.
    const refAuc = reference.metrics.auc!;
    const finals = outputs.flatMap((o) => (o.kind === 'realised' ? [o.report] : []));
    // (The last window closes at the end of the stream, when all its labels are in.)
    for (const w of windows.slice(6, -1)) {
      assert.ok(
        w.estimated && Math.abs(w.estimated.value - refAuc) < 0.03,
        `estimate ${w.estimated?.value} vs ${refAuc}`,
      );
      assert.ok(w.labelled < w.rows, 'partial: some labels still pending at close');
      const final = finals.find((f) => f.windowStart === w.windowStart)!;
      assert.ok(final.reading!.value < refAuc - 0.05, `realised ${final.reading!.value} vs ${refAuc}`);
    }
  });
});
