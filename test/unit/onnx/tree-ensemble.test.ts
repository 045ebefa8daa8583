import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  buildTreeEnsembleModel,
  type EnsembleTree,
  type TreeEnsembleSpec,
} from '../../../services/core/onnx/index.ts';
import { loadSession, signatureOf } from '../../../services/registry/signature.ts';
import { type GbdtModel, predictGbdt, trainGbdt } from '../../../services/trainer/core/gbdt.ts';
import type { FeatureMatrix, TrainTask } from '../../../services/trainer/core/matrix.ts';
import { createRng, normal } from '../../support/prng.ts';

/**
 * The exported tree ensemble through onnxruntime, as serving runs it (registry/signature.ts
 * loadSession), against the trainer's own predictGbdt: within 1e-5 on random rows and on rows built to
 * catch a wrong comparison — every threshold exactly, the float32 just below and above it, huge and tiny
 * magnitudes, signed zeros.
 */
const TOLERANCE = 1e-5;

async function runOnnx(bytes: Uint8Array, m: FeatureMatrix) {
  const session = await loadSession(bytes);
  try {
    const signature = signatureOf(session);
    const out = await session.run({ [signature.input]: new ort.Tensor('float32', m.x, [m.rows, m.cols]) });
    const tensor = out[signature.outputs[0] ?? '']!;
    return { signature, dims: tensor.dims, values: tensor.data as Float32Array };
  } finally {
    await session.release();
  }
}

/** Neighbouring float32 values: the bit pattern one step towards +∞ or −∞. */
function nextFloat32(v: number, direction: 1 | -1): number {
  if (v === 0) return direction * 2 ** -149;
  const bits = new Int32Array(new Float32Array([v]).buffer);
  bits[0]! += (v > 0 ? 1 : -1) * direction;
  return new Float32Array(bits.buffer)[0]!;
}

/** A training set with continuous, discrete, constant and wide-ranging columns. */
function trainingSet(task: TrainTask, seed: number, rows: number) {
  const rng = createRng(seed);
  const cols = 6;
  const x = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = [
      normal(rng),
      rng.int(0, 4),
      7,
      Math.exp(4 * normal(rng)),
      rng.next() - 0.5,
      normal(rng) * 1e6,
    ];
    x.set(row, r * cols);
    const z = row[0]! * row[4]! * 4 + (row[1]! > 2 ? 1 : -1) + Math.log(row[3]!) / 4 + row[5]! / 1e6;
    y[r] = task === 'regression' ? z + normal(rng) * 0.3 : rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { m: { rows, cols, x }, y };
}

/** Rows that sit on, just below and just above every threshold, for each tree's feature, and extremes. */
function adversarialRows(model: GbdtModel, seed: number): FeatureMatrix {
  const rng = createRng(seed);
  const cols = model.features;
  const extremes = [0, -0, 3.4e38, -3.4e38, 1e-38, -1e-38, 2 ** -149, 1e30, -1e30, 7];
  const cells: number[][] = [];
  const base = () => Array.from({ length: cols }, () => normal(rng));
  for (const tree of model.trees)
    tree.splitFeature.forEach((f, i) => {
      const t = tree.threshold[i]!;
      for (const v of [t, nextFloat32(t, -1), nextFloat32(t, 1)]) {
        const row = base();
        row[f] = v;
        cells.push(row);
      }
    });
  for (const v of extremes) cells.push(Array.from({ length: cols }, () => v));
  for (let k = 0; k < 200; k++) cells.push(base().map((v) => (rng.bool(0.3) ? rng.pick(extremes) : v)));
  return { rows: cells.length, cols, x: Float32Array.from(cells.flat()) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('onnxruntime reproduces predictGbdt', () => {
  for (const task of ['binary_classification', 'regression'] as const) {
    const data = trainingSet(task, task === 'regression' ? 3 : 4, 4000);
    const model = trainGbdt(data.m, data.y, { task, iterations: 60, minDataInLeaf: 5 });
    const names = Array.from({ length: 6 }, (_, i) => `v.f${i}`);

    it(`${task}: signature, output name and shape`, async () => {
      const { signature, dims } = await runOnnx(buildTreeEnsembleModel(model, names), data.m);
      const output = task === 'regression' ? 'output' : 'probability';
      assert.deepEqual(signature, { input: 'features', width: 6, outputs: [output] });
      assert.deepEqual(dims, [4000, 1]);
    });

    it(`${task}: random rows, within ${TOLERANCE}`, async () => {
      const probe = trainingSet(task, 99, 3000).m;
      const { values } = await runOnnx(buildTreeEnsembleModel(model), probe);
      const diff = maxAbsDiff(values, predictGbdt(model, probe));
      assert.ok(diff <= TOLERANCE, `max abs diff ${diff}`);
    });

    it(`${task}: rows on and beside every threshold, extremes and signed zeros, within ${TOLERANCE}`, async () => {
      const probe = adversarialRows(model, 5);
      const { values } = await runOnnx(buildTreeEnsembleModel(model), probe);
      const diff = maxAbsDiff(values, predictGbdt(model, probe));
      assert.ok(diff <= TOLERANCE, `max abs diff ${diff} over ${probe.rows} rows`);
      assert.ok(probe.rows > 1000);
    });
  }
});

describe('the exported graph', () => {
  const tree: EnsembleTree = {
    splitFeature: [1, 0],
    threshold: [0.5, -2],
    left: [1, ~0],
    right: [~1, ~2],
    leafValue: [10, 20, 30],
  };
  const spec: TreeEnsembleSpec = { task: 'regression', features: 2, baseScore: 0.25, trees: [tree, tree] };

  it('branches x <= threshold to the left, equality included, and sums the trees onto the base', async () => {
    const m = { rows: 4, cols: 2, x: Float32Array.from([-2, 0.5, -1.9, 0.5, 0, 0.6, -3, -1e30]) };
    const { values } = await runOnnx(buildTreeEnsembleModel(spec), m);
    // Row 0: f1 0.5 ≤ 0.5 → node 1, f0 −2 ≤ −2 → leaf 0. Row 1: leaf 2. Row 2: f1 > 0.5 → leaf 1.
    assert.deepEqual([...values], [20.25, 60.25, 40.25, 20.25]);
  });

  it('a model without trees answers its base score (through the sigmoid for binary)', async () => {
    const m = { rows: 2, cols: 2, x: Float32Array.from([1, 2, 3, 4]) };
    const binary = { ...spec, task: 'binary_classification' as const, trees: [] };
    const { values } = await runOnnx(buildTreeEnsembleModel(binary), m);
    assert.ok(maxAbsDiff(values, [1 / (1 + Math.exp(-0.25)), 1 / (1 + Math.exp(-0.25))]) <= 1e-7);
  });

  it('records the feature names as metadata', () => {
    const text = new TextDecoder().decode(buildTreeEnsembleModel(spec, ['a.x', 'a.y']));
    assert.ok(text.includes('feature_names') && text.includes('a.x,a.y'));
  });

  const broken: Array<[string, Partial<EnsembleTree>]> = [
    ['a feature beyond the input', { splitFeature: [2, 0] }],
    ['a child pointing back', { left: [0, ~0] }],
    ['a leaf reached twice', { right: [~0, ~2] }],
    ['a leaf missing', { leafValue: [1, 2] }],
    ['a non-finite threshold', { threshold: [Number.NaN, 0] }],
    ['arrays of different lengths', { threshold: [0.5] }],
  ];
  for (const [why, change] of broken)
    it(`refuses a tree with ${why}`, () => {
      assert.throws(() => buildTreeEnsembleModel({ ...spec, trees: [{ ...tree, ...change }] }), RangeError);
    });

  it('refuses feature names of the wrong count and a non-finite base score', () => {
    assert.throws(() => buildTreeEnsembleModel(spec, ['only one']), RangeError);
    assert.throws(() => buildTreeEnsembleModel({ ...spec, baseScore: Number.POSITIVE_INFINITY }), RangeError);
  });
});
