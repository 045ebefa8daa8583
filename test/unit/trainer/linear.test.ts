import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildLinearModel, INPUT_NAME, outputNameOf } from '../../../services/core/onnx/index.ts';
import { loadSession } from '../../../services/registry/signature.ts';
import {
  type LinearModel,
  type LinearProgress,
  linearModelSpec,
  predictLinear,
  trainLinear,
} from '../../../services/trainer/core/linear.ts';
import type { FeatureMatrix, TrainTask } from '../../../services/trainer/core/matrix.ts';
import { createRng, normal } from '../../support/prng.ts';

/**
 * Reference fits: test/fixtures/trainer/linear-reference.json, written by make_linear_fixtures.py
 * beside it. Each case holds scikit-learn's fit ("sklearn": lbfgs at tol=1e-10, or Ridge's cholesky)
 * and the optimum solved tightly on standardised columns ("tight").
 *
 * Coefficients are compared per input in units of its spread: |Δwⱼ| · sⱼ against the largest |wₖ| · sₖ
 * (or |wⱼ| itself, whichever allows more), so a weight on a 1e4-wide input and one on a 1e-3-wide
 * input are held to the same standard — what the weight contributes to a prediction.
 */
const SKLEARN_REL = 1e-6;
const TIGHT_REL = 1e-9;
/** Objectives: ours must be as low as the tight optimum's, to the rounding of a sum over the rows. */
const OBJECTIVE_REL = 1e-12;
/**
 * ONNX against predictLinear: 1e-5 on every case. The graph rounds the weights to float32 and sums in
 * float32, so its error grows with the terms it sums; on inputs offset by 1e4 (the badly scaled cases)
 * a raw term x·w is ~2,000 and would put the logit ~1e-4 off. The export centres the inputs first
 * (offsets = the training means), so the terms summed are (x − μ)·w: the raw form's float32 bound
 * (float32Bounds) exceeds 1e-5 there, and the centred export must hold 1e-5 anyway.
 */
const ONNX_ABS = 1e-5;
const FLOAT32_UNIT = 2 ** -24;

interface Fit {
  readonly solver: string;
  readonly coef: number[];
  readonly intercept: number;
  readonly objective: number;
  readonly predicted?: number[];
}

interface ReferenceCase {
  readonly name: string;
  readonly task: TrainTask;
  readonly rows: number;
  readonly cols: number;
  readonly x: number[];
  readonly y: number[];
  readonly params: { c?: number; alpha?: number };
  readonly lbfgsConverges?: boolean;
  readonly lbfgsObjective?: number;
  readonly sklearn: Fit;
  readonly tight: Fit;
}

const reference = JSON.parse(
  readFileSync(new URL('../../fixtures/trainer/linear-reference.json', import.meta.url), 'utf8'),
) as { cases: ReferenceCase[] };

function matrixOf(c: ReferenceCase): FeatureMatrix {
  return { rows: c.rows, cols: c.cols, x: Float32Array.from(c.x) };
}

function train(c: ReferenceCase, onProgress?: (p: LinearProgress) => void): LinearModel {
  return trainLinear(matrixOf(c), Float64Array.from(c.y), { task: c.task, ...c.params }, onProgress);
}

/** Standard deviation per column (1 for a constant one, whose weight is 0 either way). */
function spreads(m: FeatureMatrix): number[] {
  return Array.from({ length: m.cols }, (_, c) => {
    let sum = 0;
    let squares = 0;
    for (let r = 0; r < m.rows; r++) sum += m.x[r * m.cols + c]!;
    const mean = sum / m.rows;
    for (let r = 0; r < m.rows; r++) squares += (m.x[r * m.cols + c]! - mean) ** 2;
    return squares > 0 ? Math.sqrt(squares / m.rows) : 1;
  });
}

/** The worst |Δwⱼ| · sⱼ over max(|wⱼ| · sⱼ, largest |wₖ| · sₖ) — see the comment at the top. */
function coefficientGap(ours: readonly number[], ref: readonly number[], spread: readonly number[]): number {
  const largest = Math.max(...ref.map((w, j) => Math.abs(w) * spread[j]!));
  return Math.max(...ref.map((w, j) => (Math.abs(ours[j]! - w) * spread[j]!) / largest));
}

/** The intercept relative to the largest term it balances: itself or a weight times its input's mean. */
function interceptGap(model: LinearModel, ref: Fit, m: FeatureMatrix): number {
  let scale = Math.max(1, Math.abs(ref.intercept));
  for (let c = 0; c < m.cols; c++) scale = Math.max(scale, Math.abs(ref.coef[c]! * m.x[c]!));
  return Math.abs(model.bias - ref.intercept) / scale;
}

describe('trainLinear against scikit-learn (test/fixtures/trainer/linear-reference.json)', () => {
  for (const c of reference.cases) {
    it(c.name, () => {
      const m = matrixOf(c);
      const model = train(c);
      assert.equal(model.converged, true);
      assert.ok(model.weights.every(Number.isFinite) && Number.isFinite(model.bias));
      const spread = spreads(m);
      for (const [ref, rel] of [
        [c.sklearn, SKLEARN_REL],
        [c.tight, TIGHT_REL],
      ] as const) {
        const gap = coefficientGap(model.weights, ref.coef, spread);
        assert.ok(gap <= rel, `${ref.solver}: coefficients ${model.weights} vs ${ref.coef} (gap ${gap})`);
        const bias = interceptGap(model, ref, m);
        assert.ok(bias <= rel, `${ref.solver}: intercept ${model.bias} vs ${ref.intercept} (gap ${bias})`);
      }
      const objectiveGap = (model.objective - c.tight.objective) / c.tight.objective;
      assert.ok(objectiveGap <= OBJECTIVE_REL, `objective ${model.objective} vs ${c.tight.objective}`);
      assert.ok(model.objective <= c.sklearn.objective * (1 + OBJECTIVE_REL));
      const predicted = predictLinear(model, m);
      c.sklearn.predicted!.forEach((p, i) => {
        const gap = Math.abs(predicted[i]! - p) / Math.max(1, Math.abs(p));
        assert.ok(gap <= SKLEARN_REL, `row ${i}: predicted ${predicted[i]} vs scikit-learn's ${p}`);
      });
    });
  }

  it('beats lbfgs where lbfgs stops short (raw inputs a thousand-fold apart)', () => {
    const c = reference.cases.find((r) => r.lbfgsConverges === false)!;
    const model = train(c);
    assert.ok(model.objective < c.lbfgsObjective! - 1, `${model.objective} vs lbfgs ${c.lbfgsObjective}`);
  });

  it('pins a constant column at exactly 0', () => {
    for (const c of reference.cases.filter((r) => r.name.includes('constant column'))) {
      const model = train(c);
      assert.equal(model.weights.at(-1), 0, c.name);
    }
  });

  it('reports each Newton step, the objective never rising', () => {
    const c = reference.cases.find((r) => r.name.includes('C=1000'))!;
    const progress: LinearProgress[] = [];
    const model = train(c, (p) => progress.push(p));
    assert.equal(progress.length, model.iterations);
    progress.forEach((p, i) => {
      assert.equal(p.iteration, i + 1);
      if (i > 0) assert.ok(p.objective <= progress[i - 1]!.objective * (1 + OBJECTIVE_REL));
    });
    assert.equal(progress.at(-1)!.objective, model.objective);
  });
});

/**
 * Per row, the textbook bound on a float32 dot product of n terms, n · u · Σ|wⱼxⱼ|, plus rounding the
 * weights (u · Σ|wⱼxⱼ|); a sigmoid passes a logit's error on times its slope p(1 − p).
 */
function float32Bounds(model: LinearModel, m: FeatureMatrix, predicted: Float64Array): Float64Array {
  return predicted.map((p, r) => {
    let terms = Math.abs(model.bias);
    for (let c = 0; c < m.cols; c++) terms += Math.abs(model.weights[c]! * m.x[r * m.cols + c]!);
    const slope = model.task === 'binary_classification' ? p * (1 - p) : 1;
    return slope * (m.cols + 2) * FLOAT32_UNIT * terms;
  });
}

async function onnxPredictions(model: LinearModel, m: FeatureMatrix): Promise<Float32Array> {
  const spec = linearModelSpec(model);
  const session = await loadSession(buildLinearModel(spec));
  try {
    const out = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', m.x, [m.rows, m.cols]) });
    return out[outputNameOf(spec)]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('the ONNX export (buildLinearModel(linearModelSpec(model)) in onnxruntime)', () => {
  for (const c of reference.cases) {
    it(`reproduces predictLinear on the float32 inputs: ${c.name}`, async () => {
      const m = matrixOf(c);
      const model = train(c);
      const onnx = await onnxPredictions(model, m);
      const ours = predictLinear(model, m);
      const bounds = float32Bounds(model, m, ours);
      const offset = c.name.includes('badly scaled');
      for (let r = 0; r < m.rows; r++) {
        const gap = Math.abs(onnx[r]! - ours[r]!);
        assert.ok(gap <= ONNX_ABS, `row ${r}: ONNX ${onnx[r]} vs ${ours[r]}`);
      }
      // The offset cases are the ones an uncentred export could not hold to 1e-5.
      assert.equal(
        Math.max(...bounds) > ONNX_ABS,
        offset,
        `largest raw float32 bound ${Math.max(...bounds)}`,
      );
    });
  }

  it('carries feature names when given', () => {
    const model = train(reference.cases[0]!);
    const names = Array.from({ length: model.weights.length }, (_, i) => `f${i}`);
    assert.deepEqual(linearModelSpec(model, names).featureNames, names);
    assert.equal(linearModelSpec(model).sigmoid, true);
  });
});

/** rows × cols standard normal inputs and labels drawn from a logistic model (or a linear one with noise). */
function generated(rows: number, cols: number, task: TrainTask, seed: number) {
  const rng = createRng(seed);
  const truth = Array.from({ length: cols }, () => normal(rng));
  const x = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let z = 0.3;
    for (let c = 0; c < cols; c++) {
      x[r * cols + c] = normal(rng);
      z += truth[c]! * x[r * cols + c]!;
    }
    y[r] = task === 'regression' ? z + normal(rng) : Number(rng.next() < 1 / (1 + Math.exp(-z)));
  }
  return { m: { rows, cols, x }, y };
}

function scaled(m: FeatureMatrix, factor: number, shift = 0): FeatureMatrix {
  return { ...m, x: m.x.map((v) => v * factor + shift) };
}

function relativeGap(a: readonly number[], b: readonly number[]): number {
  const largest = Math.max(...b.map(Math.abs));
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!) / largest));
}

describe('trainLinear', () => {
  it('is deterministic bit for bit, and its model survives JSON and structuredClone', () => {
    for (const task of ['binary_classification', 'regression'] as const) {
      const { m, y } = generated(3000, 7, task, 5);
      const first = trainLinear(m, y, { task });
      assert.deepEqual(trainLinear(m, y, { task }), first);
      assert.deepEqual(JSON.parse(JSON.stringify(first)), first);
      assert.deepEqual(structuredClone(first), first);
    }
  });

  it('reaches the optimum from the subsample warm start too (400 000 rows: gradient 0 to 1e-12 a row)', () => {
    const { m, y } = generated(400_000, 5, 'binary_classification', 21);
    const model = trainLinear(m, y, { task: 'binary_classification' });
    assert.equal(model.converged, true);
    // The raw objective's gradient: wⱼ + C Σ (pᵢ − yᵢ) xᵢⱼ and C Σ (pᵢ − yᵢ), against C · rows.
    const p = predictLinear(model, m);
    const gradient = [...model.weights, 0];
    for (let r = 0; r < m.rows; r++) {
      const residual = p[r]! - y[r]!;
      for (let c = 0; c < m.cols; c++) gradient[c]! += residual * m.x[r * m.cols + c]!;
      gradient[m.cols]! += residual;
    }
    const worst = Math.max(...gradient.map(Math.abs)) / m.rows;
    // Converged: ~1e-17; one Newton step short of it: ~1e-9.
    assert.ok(worst <= 1e-12, `gradient ${gradient}`);
  });

  it('shifts only the intercept when every input moves by an offset (offset 1e5 against spread 1)', () => {
    for (const task of ['binary_classification', 'regression'] as const) {
      // Inputs on a 1/64 grid stay exact in float32 once 1e5 is added.
      const { m, y } = generated(2000, 4, task, 9);
      const grid = { ...m, x: m.x.map((v) => Math.round(v * 64) / 64) };
      const base = trainLinear(grid, y, { task });
      const moved = trainLinear(scaled(grid, 1, 1e5), y, { task });
      assert.ok(relativeGap(moved.weights, base.weights) <= 1e-9, `${moved.weights} vs ${base.weights}`);
      const expectedBias = base.bias - 1e5 * base.weights.reduce((a, w) => a + w, 0);
      assert.ok(Math.abs(moved.bias - expectedBias) <= 1e-9 * 1e5 * Math.max(...base.weights.map(Math.abs)));
    }
  });

  it('handles huge input scales: x · 2⁶⁴ with C = 1 is x with C = 2¹²⁸ (the penalty is on raw weights)', () => {
    // A power of two scales float32 values exactly, so the two problems are the same problem.
    const big = 2 ** 64;
    const { m, y } = generated(2000, 4, 'binary_classification', 13);
    const huge = trainLinear(scaled(m, big), y, { task: 'binary_classification' });
    const unit = trainLinear(m, y, { task: 'binary_classification', c: big * big });
    assert.equal(huge.converged, true);
    const hugeInUnits = huge.weights.map((w) => w * big);
    assert.ok(relativeGap(hugeInUnits, unit.weights) <= 1e-12, `${hugeInUnits} vs ${unit.weights}`);
    assert.ok(Math.abs(huge.bias - unit.bias) <= 1e-12 * Math.max(1, Math.abs(unit.bias)));
    const ridgeHuge = trainLinear(scaled(m, big), y, { task: 'regression', alpha: 1 });
    const ridgeUnit = trainLinear(m, y, { task: 'regression', alpha: 1 / (big * big) });
    const ridgeInUnits = ridgeHuge.weights.map((w) => w * big);
    assert.ok(
      relativeGap(ridgeInUnits, ridgeUnit.weights) <= 1e-12,
      `${ridgeInUnits} vs ${ridgeUnit.weights}`,
    );
  });

  it('keeps separable data finite, the weights growing with C', () => {
    const rows = 200;
    const x = Float32Array.from({ length: rows }, (_, r) => (r < rows / 2 ? -1 - r / rows : 1 + r / rows));
    const y = Float64Array.from({ length: rows }, (_, r) => Number(r >= rows / 2));
    const weights = [1, 100, 1e6].map((c) => {
      const model = trainLinear({ rows, cols: 1, x }, y, { task: 'binary_classification', c });
      assert.equal(model.converged, true, `C=${c}`);
      assert.ok(Number.isFinite(model.weights[0]!) && Number.isFinite(model.bias));
      return model.weights[0]!;
    });
    assert.ok(weights[0]! < weights[1]! && weights[1]! < weights[2]!, `${weights}`);
  });

  it('refuses a single class, labels other than 0/1, and bad parameters with RangeErrors that say so', () => {
    const m = { rows: 3, cols: 1, x: Float32Array.from([1, 2, 3]) };
    const task = 'binary_classification';
    assert.throws(() => trainLinear(m, Float64Array.from([1, 1, 1]), { task }), {
      name: 'RangeError',
      message: 'logistic regression needs both classes: all 3 labels are 1',
    });
    assert.throws(() => trainLinear(m, Float64Array.from([0, 0, 0]), { task }), /all 3 labels are 0/);
    assert.throws(() => trainLinear(m, Float64Array.from([0, 2, 1]), { task }), /label 1 is 2/);
    assert.throws(() => trainLinear(m, Float64Array.from([0, 1, 1]), { task, c: 0 }), /C must be > 0/);
    assert.throws(() => trainLinear(m, Float64Array.from([0, 1]), { task }), /2 labels for 3 rows/);
    assert.throws(
      () => trainLinear(m, Float64Array.from([0, 1, 2]), { task: 'regression', alpha: -1 }),
      /alpha must be >= 0/,
    );
  });

  it('refuses collinear inputs without a penalty, and fits them with one', () => {
    const x = Float32Array.from([1, 2, 2, 4, 3, 6, 5, 10]);
    const m = { rows: 4, cols: 2, x };
    const y = Float64Array.from([1, 2, 2.5, 5]);
    assert.throws(() => trainLinear(m, y, { task: 'regression', alpha: 0 }), /singular/);
    assert.ok(trainLinear(m, y, { task: 'regression', alpha: 1e-6 }).weights.every(Number.isFinite));
  });

  it('matches ordinary least squares with alpha = 0 on a well-posed problem', () => {
    // y = 2 + 3a − b exactly.
    const x = Float32Array.from([0, 0, 1, 0, 0, 1, 1, 1, 2, 3]);
    const y = Float64Array.from([2, 5, 1, 4, 5]);
    const model = trainLinear({ rows: 5, cols: 2, x }, y, { task: 'regression', alpha: 0 });
    assert.ok(relativeGap(model.weights, [3, -1]) <= 1e-12 && Math.abs(model.bias - 2) <= 1e-12);
  });

  it('predictLinear refuses a matrix of another width', () => {
    const model = train(reference.cases[0]!);
    assert.throws(() => predictLinear(model, { rows: 1, cols: 2, x: new Float32Array(2) }), RangeError);
  });
});
