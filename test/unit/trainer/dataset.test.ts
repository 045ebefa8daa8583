import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkLabels,
  columnWithMissing,
  DatasetError,
  slice,
  splitByTime,
  type TrainingData,
} from '../../../services/trainer/core/dataset.ts';

/** 100 rows one second apart from t = 0, two inputs; every 10th row misses its second input. */
function data(): TrainingData {
  const rows = 100;
  const x = new Float32Array(rows * 2);
  const missing = new Uint8Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    x[r * 2] = r;
    if (r % 10 === 0) missing[r * 2 + 1] = 1;
    else x[r * 2 + 1] = -r;
  }
  return {
    features: ['v.a', 'v.b'],
    rows,
    ts: Float64Array.from({ length: rows }, (_, r) => r * 1000),
    x,
    missing,
    y: Float64Array.from({ length: rows }, (_, r) => r % 2),
  };
}

test('splits by time: holdout the newest span, validation the newest share before it, training the rest', () => {
  const s = splitByTime(data(), {
    windowEnd: 100_000,
    holdoutMs: 20_000,
    validationShare: 0.1,
    minRowsPerSplit: 5,
  });
  // Rows at t ≥ 80 s are the holdout (80 … 99: 20 rows); 10% of the 80 before it (8) validate.
  assert.deepEqual(s, {
    train: { from: 0, to: 72 },
    validation: { from: 72, to: 80 },
    holdout: { from: 80, to: 100 },
    holdoutStart: 80_000,
  });
  const holdout = slice(data(), s.holdout);
  assert.equal(holdout.m.rows, 20);
  assert.equal(holdout.m.x[0], 80);
  assert.equal(holdout.y.length, 20);
});

test('a split with too few rows is refused with what to change', () => {
  assert.throws(
    () =>
      splitByTime(data(), { windowEnd: 100_000, holdoutMs: 2_000, validationShare: 0.1, minRowsPerSplit: 5 }),
    (err: Error) =>
      err instanceof DatasetError &&
      /holdout split has 2 rows .* fewer than 5: widen training.window/.test(err.message),
  );
  assert.throws(
    () =>
      splitByTime(data(), {
        windowEnd: 100_000,
        holdoutMs: 200_000,
        validationShare: 0.1,
        minRowsPerSplit: 5,
      }),
    /the train split has 0 rows/,
  );
});

test('labels: a classifier needs both classes and 0/1 only; a regressor any finite numbers', () => {
  assert.throws(() => checkLabels('binary_classification', [1, 1, 1], 'training rows'), /every label is 1/);
  assert.throws(
    () => checkLabels('binary_classification', [0, 2], 'holdout rows'),
    /label 2 at row 1 is not 0 or 1/,
  );
  assert.throws(() => checkLabels('regression', [0, Number.NaN], 'rows'), /not a finite number/);
  checkLabels('regression', [3.5, -2], 'rows');
  checkLabels('binary_classification', [0, 1], 'rows');
});

test('the reference sees missing inputs as missing, not as the 0 the model was given', () => {
  const column = columnWithMissing(data(), 1);
  assert.equal(column[0], null);
  assert.equal(column[1], -1);
  assert.equal(column.filter((v) => v === null).length, 10);
  assert.equal(data().x[1], 0, 'the matrix holds the imputed 0');
});
