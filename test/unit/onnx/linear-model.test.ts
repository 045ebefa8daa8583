import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildLinearModel, evaluateLinear, type LinearModelSpec } from '../../../services/core/onnx/index.ts';
import { createRng } from '../../support/prng.ts';

async function run(spec: LinearModelSpec, rows: number[][]) {
  const session = await ort.InferenceSession.create(buildLinearModel(spec));
  const f = spec.weights.length;
  const input = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, f]);
  const [inputName = '', outputName = ''] = [session.inputNames[0], session.outputNames[0]];
  const out = await session.run({ [inputName]: input });
  return { session, values: [...(out[outputName]!.data as Float32Array)] };
}

test('onnxruntime loads the logistic model and reproduces sigmoid(x·w + b) within 1e-6', async () => {
  const rng = createRng(11);
  for (const f of [1, 3, 5, 45]) {
    const spec = {
      weights: Array.from({ length: f }, () => rng.next() * 2 - 1),
      bias: rng.next() - 0.5,
      featureNames: Array.from({ length: f }, (_, i) => `v.f${i}`),
    };
    const rows = Array.from({ length: 64 }, () => Array.from({ length: f }, () => rng.next() * 6 - 3));
    const { session, values } = await run(spec, rows);
    assert.deepEqual(session.inputNames, ['features']);
    assert.deepEqual(session.outputNames, ['probability']);
    assert.equal(values.length, rows.length);
    rows.forEach((row, i) => {
      const expected = evaluateLinear(spec, row);
      assert.ok(Math.abs(values[i]! - expected) <= 1e-6, `f=${f} row ${i}: ${values[i]} vs ${expected}`);
    });
  }
});

test('a linear model (no sigmoid) answers on output `output`', async () => {
  const spec = { weights: [0.5, -2, 0.25], bias: 1.5, sigmoid: false };
  const { session, values } = await run(spec, [
    [1, 2, 4],
    [0, 0, 0],
  ]);
  assert.deepEqual(session.outputNames, ['output']);
  assert.deepEqual(values, [-1, 1.5]);
});

test('the writer refuses empty, non-finite or mislabelled weights', () => {
  assert.throws(() => buildLinearModel({ weights: [], bias: 0 }), RangeError);
  assert.throws(() => buildLinearModel({ weights: [Number.NaN], bias: 0 }), RangeError);
  assert.throws(() => buildLinearModel({ weights: [1, 2], bias: 0, featureNames: ['a'] }), RangeError);
});
