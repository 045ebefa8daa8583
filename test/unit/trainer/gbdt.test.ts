import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { rocAuc, rootMeanSquaredError } from '../../../services/monitor/core/performance.ts';
import {
  GBDT_DEFAULTS,
  type GbdtModel,
  type GbdtParams,
  predictGbdt,
  rawScores,
  trainGbdt,
} from '../../../services/trainer/core/gbdt.ts';
import type { FeatureMatrix, TrainTask } from '../../../services/trainer/core/matrix.ts';
import { createRng, type Rng } from '../../support/prng.ts';

/**
 * The trainer against references that do not share its code:
 * - LightGBM (test/fixtures/trainer/gbdt_reference.json, written by make_gbdt_fixtures.py beside it) on
 *   two fixed tasks the test regenerates bit for bit: test AUC within 0.01, test RMSE within 2%;
 * - a naive booster written here — every threshold of every feature tried on the raw rows, no bins, no
 *   histograms, no subtraction, no partitions — which must grow the same trees;
 * - a split small enough to check by hand.
 */

interface Labelled {
  m: FeatureMatrix;
  y: Float64Array;
}

const matrix = (rows: number[][]): FeatureMatrix => ({
  rows: rows.length,
  cols: rows[0]!.length,
  x: Float32Array.from(rows.flat()),
});

function slice(data: Labelled, from: number, to: number): Labelled {
  const cols = data.m.cols;
  return {
    m: { rows: to - from, cols, x: data.m.x.subarray(from * cols, to * cols) },
    y: data.y.subarray(from, to),
  };
}

// ---------------------------------------------------------------------------------------------------
// The fixture tasks: make_gbdt_fixtures.py's generator, draw for draw (arithmetic only, so bit-exact)

const step = (on: boolean) => (on ? 1 : 0);

function signal(x: readonly number[]): number {
  const [x0, x1, x2, x3, x4, x5, x6] = x as [number, number, number, number, number, number, number];
  return (
    1.8 * step(x0 > 0.6) -
    1.6 * step(x1 < -0.2) * step(x4 > 0) +
    1.6 * x5 * x1 +
    0.5 * (x2 - 2.5) * step(x6 === 1) +
    0.15 * x3 -
    0.8
  );
}

function fixtureTask(task: TrainTask, seed: number, rows: number): Labelled {
  const rng = createRng(seed);
  const u = () => rng.next();
  const x = new Float32Array(rows * 8);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = [u(), u() + u() + u() - 1.5, Math.floor(u() * 6), u() * u() * 10, u() - 0.5, u() + u() - 1];
    row.push(Math.floor(u() * 3), u());
    const z = signal(row);
    y[r] =
      task === 'binary_classification'
        ? step(u() < 0.5 + (0.5 * z) / (1 + Math.abs(z)))
        : z + 0.5 * (u() + u() - 1);
    x.set(row, r * 8);
  }
  return { m: { rows, cols: 8, x }, y };
}

interface FixtureTask {
  name: string;
  task: TrainTask;
  seed: number;
  train: number;
  test: number;
  checksum: { features: number; labels: number };
  first_row: number[];
  lightgbm_auc?: number;
  lightgbm_rmse?: number;
}

const reference = JSON.parse(
  readFileSync(new URL('../../fixtures/trainer/gbdt_reference.json', import.meta.url), 'utf8'),
) as { tasks: FixtureTask[] };

function fixture(name: string) {
  const spec = reference.tasks.find((t) => t.name === name)!;
  const data = fixtureTask(spec.task, spec.seed, spec.train + spec.test);
  return { spec, data, train: slice(data, 0, spec.train), test: slice(data, spec.train, data.m.rows) };
}

describe('against LightGBM on the fixture tasks', () => {
  for (const name of ['binary', 'regression']) {
    it(`regenerates the rows LightGBM trained on (${name})`, () => {
      const { spec, data } = fixture(name);
      let features = 0;
      for (const v of data.m.x) features += v;
      let labels = 0;
      for (const v of data.y) labels += v;
      assert.deepEqual({ features, labels }, spec.checksum);
      assert.deepEqual([...data.m.x.subarray(0, 8)], spec.first_row);
    });
  }

  it('binary: test AUC within 0.01 of LightGBM with the same parameters', () => {
    const { spec, train, test } = fixture('binary');
    const model = trainGbdt(train.m, train.y, { task: spec.task });
    const auc = rocAuc(test.y, predictGbdt(model, test.m))!;
    assert.equal(model.trees.length, 100);
    assert.ok(Math.abs(auc - spec.lightgbm_auc!) <= 0.01, `AUC ${auc} vs LightGBM ${spec.lightgbm_auc}`);
  });

  it('regression: test RMSE within 2% of LightGBM with the same parameters', () => {
    const { spec, train, test } = fixture('regression');
    const model = trainGbdt(train.m, train.y, { task: spec.task });
    const rmse = rootMeanSquaredError(test.y, predictGbdt(model, test.m));
    const ratio = rmse / spec.lightgbm_rmse!;
    assert.ok(Math.abs(ratio - 1) <= 0.02, `RMSE ${rmse} vs LightGBM ${spec.lightgbm_rmse}`);
  });
});

// ---------------------------------------------------------------------------------------------------
// A naive booster: the definition of leaf-wise Newton boosting, written for clarity over raw rows

interface NaiveLeaf {
  rows: number[];
  depth: number;
  /** Where the leaf hangs: [internal node, 'left' | 'right'], or null for the root. */
  at: [NaiveNode, 'left' | 'right'] | null;
}

interface NaiveNode {
  feature: number;
  threshold: number;
  left: NaiveNode | number;
  right: NaiveNode | number;
}

interface NaiveSplit {
  gain: number;
  feature: number;
  threshold: number;
}

function naiveBoost(
  x: number[][],
  y: number[],
  p: Omit<GbdtParams, 'maxBins' | 'seed' | 'earlyStoppingRounds'>,
) {
  const binary = p.task === 'binary_classification';
  const meanY = y.reduce((a, b) => a + b, 0) / y.length;
  const base = Math.fround(binary ? Math.log(meanY / (1 - meanY)) : meanY);
  const score = y.map(() => base);
  const trees: Array<NaiveNode | number> = [];
  const value = (r: number, f: number) => (x[r] as number[])[f] as number;
  for (let t = 0; t < p.iterations; t++) {
    const prob = score.map((s) => 1 / (1 + Math.exp(-s)));
    const g = score.map((s, i) => (binary ? prob[i]! - y[i]! : s - y[i]!));
    const h = score.map((_, i) => (binary ? prob[i]! * (1 - prob[i]!) : 1));
    const sum = (rows: number[], v: number[]) => rows.reduce((a, r) => a + v[r]!, 0);
    const score2 = (rows: number[]) => sum(rows, g) ** 2 / (sum(rows, h) + p.lambdaL2);
    const bestSplit = (leaf: NaiveLeaf): NaiveSplit | null => {
      if (p.maxDepth !== -1 && leaf.depth >= p.maxDepth) return null;
      let best: NaiveSplit | null = null;
      for (let f = 0; f < x[0]!.length; f++)
        for (const v of [...new Set(leaf.rows.map((r) => value(r, f)))].sort((a, b) => a - b)) {
          const left = leaf.rows.filter((r) => value(r, f) <= v);
          const right = leaf.rows.filter((r) => value(r, f) > v);
          if (left.length < p.minDataInLeaf || right.length < p.minDataInLeaf) continue;
          if (sum(left, h) < p.minSumHessianInLeaf || sum(right, h) < p.minSumHessianInLeaf) continue;
          const gain = score2(left) + score2(right) - score2(leaf.rows);
          if (gain > (best?.gain ?? 0)) best = { gain, feature: f, threshold: v };
        }
      return best;
    };
    const leaves: NaiveLeaf[] = [{ rows: y.map((_, i) => i), depth: 0, at: null }];
    let root: NaiveNode | number = 0;
    while (leaves.length < p.numLeaves) {
      const splits = leaves.map(bestSplit);
      const pick = splits.reduce((b, s, i) => (s && s.gain > (splits[b]?.gain ?? 0) ? i : b), -1);
      const split = splits[pick];
      if (!split) break;
      const leaf = leaves[pick]!;
      const node: NaiveNode = {
        feature: split.feature,
        threshold: split.threshold,
        left: pick,
        right: leaves.length,
      };
      if (leaf.at) leaf.at[0][leaf.at[1]] = node;
      else root = node;
      leaves.push({
        rows: leaf.rows.filter((r) => value(r, split.feature) > split.threshold),
        depth: leaf.depth + 1,
        at: [node, 'right'],
      });
      leaves[pick] = {
        rows: leaf.rows.filter((r) => value(r, split.feature) <= split.threshold),
        depth: leaf.depth + 1,
        at: [node, 'left'],
      };
    }
    if (leaves.length === 1) break;
    const values = leaves.map((l) =>
      Math.fround((-sum(l.rows, g) / (sum(l.rows, h) + p.lambdaL2)) * p.learningRate),
    );
    const tree = replaceLeaves(root, values);
    trees.push(tree);
    x.forEach((row, i) => {
      score[i]! += naiveValue(tree, row);
    });
  }
  return (row: number[]) => {
    const raw = trees.reduce<number>((s, tree) => s + naiveValue(tree, row), base);
    return binary ? 1 / (1 + Math.exp(-raw)) : raw;
  };
}

/** Leaf indices → leaf values (a leaf is a number either way; the index is replaced by its value once). */
function replaceLeaves(node: NaiveNode | number, values: number[]): NaiveNode | number {
  if (typeof node === 'number')
    return { feature: -1, threshold: 0, left: values[node]!, right: values[node]! };
  return { ...node, left: replaceLeaves(node.left, values), right: replaceLeaves(node.right, values) };
}

function naiveValue(node: NaiveNode | number, row: number[]): number {
  if (typeof node === 'number') return node;
  if (node.feature < 0) return node.left as number;
  return naiveValue(row[node.feature]! <= node.threshold ? node.left : node.right, row);
}

/** Rows whose features take few distinct values, so that every value is its own bin and nothing is lost. */
function coarseRows(rng: Rng, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, (_, c) => Math.fround(rng.int(0, 10 + 15 * c) / (c + 1) - 3)),
  );
}

/** The same, from a pool of float32 extremes: both signed zeros, subnormals, huge magnitudes. */
const EXOTIC = [-3.4e38, -1e20, -7, -1, -1e-30, -0, 0, 2 ** -149, 1e-38, 1e-30, 0.1, 1, 1e20, 3.4e38].map(
  Math.fround,
);
function exoticRows(rng: Rng, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () =>
      rng.bool(0.7) ? rng.pick(EXOTIC) : Math.fround(rng.next() * 10 ** rng.int(-40, 38)),
    ),
  );
}

describe('the same trees as a naive booster on raw rows', () => {
  const cases: Array<{ params: { task: TrainTask } & Partial<GbdtParams>; rows: typeof coarseRows }> = [
    {
      params: { task: 'regression', iterations: 6, numLeaves: 5, minDataInLeaf: 5, learningRate: 0.3 },
      rows: coarseRows,
    },
    {
      params: { task: 'regression', iterations: 4, numLeaves: 8, minDataInLeaf: 3, maxDepth: 2, lambdaL2: 2 },
      rows: coarseRows,
    },
    {
      params: {
        task: 'binary_classification',
        iterations: 6,
        numLeaves: 6,
        minDataInLeaf: 8,
        learningRate: 0.5,
      },
      rows: coarseRows,
    },
    {
      params: {
        task: 'binary_classification',
        iterations: 3,
        numLeaves: 4,
        minDataInLeaf: 1,
        minSumHessianInLeaf: 2,
      },
      rows: coarseRows,
    },
    { params: { task: 'regression', iterations: 5, numLeaves: 6, minDataInLeaf: 4 }, rows: exoticRows },
  ];
  cases.forEach(({ params, rows }, k) => {
    it(`${params.task} #${k} on ${rows.name}: ${JSON.stringify(params)}`, () => {
      const rng = createRng(100 + k);
      const x = rows(rng, 240, 3);
      const y = x.map(([a, b, c]) => {
        const z = 1.5 * step(a! > 0) - step(b! < 1) * step(c! > 2) + 0.2 * Math.tanh(c!) + rng.next() - 0.5;
        return params.task === 'regression' ? z : step(rng.next() < 1 / (1 + Math.exp(-z)));
      });
      const model = trainGbdt(matrix(x), Float64Array.from(y), params);
      const naive = naiveBoost(x, y, { ...GBDT_DEFAULTS, ...params });
      const probe = rows(createRng(900 + k), 300, 3);
      const ours = predictGbdt(model, matrix(probe));
      probe.forEach((row, i) => {
        assert.ok(Math.abs(ours[i]! - naive(row)) <= 1e-9, `row ${i}: ${ours[i]} vs naive ${naive(row)}`);
      });
      // Not a trivial agreement: several trees of several leaves.
      assert.ok(model.trees.length >= 3 && model.trees.every((t) => t.leafValue.length >= 3));
    });
  });
});

describe('a split checked by hand', () => {
  it('cuts where the two groups meet, at the largest value on the left, with mean-shift leaves', () => {
    // y jumps from 1 to 5 after x0 = 3; x1 is a distraction that splits the groups less well.
    const x = [
      [1, 0],
      [2, 1],
      [3, 0],
      [4, 1],
      [5, 0],
      [6, 0],
    ];
    const y = Float64Array.from([1, 1, 1, 5, 5, 5]);
    const model = trainGbdt(matrix(x), y, {
      task: 'regression',
      iterations: 1,
      numLeaves: 2,
      minDataInLeaf: 1,
      learningRate: 1,
    });
    assert.equal(model.baseScore, 3);
    assert.deepEqual(model.trees, [
      { splitFeature: [0], threshold: [3], left: [~0], right: [~1], leafValue: [-2, 2] },
    ]);
    assert.deepEqual(
      [
        ...predictGbdt(
          model,
          matrix([
            [3, 9],
            [3.5, 9],
            [-100, 0],
          ]),
        ),
      ],
      [1, 5, 1],
    );
  });

  it('starts binary models from the log-odds of the mean label and moves by a Newton step', () => {
    const y = Float64Array.from([1, 0, 0, 0, 1, 1, 1, 1]);
    const x = matrix([[0], [0], [0], [0], [1], [1], [1], [1]]);
    const model = trainGbdt(x, y, { task: 'binary_classification', iterations: 1, minDataInLeaf: 1 });
    const p = 5 / 8;
    assert.equal(model.baseScore, Math.fround(Math.log(p / (1 - p))));
    // Left: one positive of four; gradient p − y, hessian p(1 − p) per row, step −G/H × 0.1.
    const p0 = 1 / (1 + Math.exp(-model.baseScore));
    const newton = (positives: number) => Math.fround((-(4 * p0 - positives) / (4 * p0 * (1 - p0))) * 0.1);
    assert.deepEqual(model.trees[0]!.leafValue, [newton(1), newton(4)]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

function noisyTask(
  seed: number,
  rows: number,
  cols: number,
  task: TrainTask = 'binary_classification',
): Labelled {
  const rng = createRng(seed);
  const x = new Float32Array(rows * cols).map(() => rng.next() * 4 - 2);
  const y = Float64Array.from({ length: rows }, (_, r) => {
    const z = x[r * cols]! * x[r * cols + 1]! + step(x[r * cols + 2]! > 0.5) + rng.next() - 0.5;
    return task === 'regression' ? z : step(rng.next() < 1 / (1 + Math.exp(-2 * z)));
  });
  return { m: { rows, cols, x }, y };
}

describe('determinism', () => {
  it('the same data and parameters give the same model, bit for bit', () => {
    const { train } = fixture('binary');
    const a = trainGbdt(train.m, train.y, { task: 'binary_classification', iterations: 20 });
    const b = trainGbdt(train.m, train.y, { task: 'binary_classification', iterations: 20 });
    assert.equal(JSON.stringify(a), JSON.stringify(b));
  });

  it('whatever the number of threads building the histograms', () => {
    const { train } = fixture('regression');
    const params = { task: 'regression', iterations: 10 } as const;
    const one = JSON.stringify(trainGbdt(train.m, train.y, params));
    assert.equal(JSON.stringify(trainGbdt(train.m, train.y, { ...params, threads: 2 })), one);
    assert.equal(JSON.stringify(trainGbdt(train.m, train.y, { ...params, threads: 3 })), one);
  });

  it('also when the bins come from a seeded sample of a large matrix', () => {
    const data = noisyTask(5, 210_000, 2);
    const params = { task: 'binary_classification', iterations: 3, numLeaves: 8 } as const;
    const a = trainGbdt(data.m, data.y, params);
    assert.equal(JSON.stringify(a), JSON.stringify(trainGbdt(data.m, data.y, params)));
    assert.equal(a.params.seed, 1);
  });
});

describe('the model', () => {
  const { train, test } = fixture('binary');
  const model = trainGbdt(train.m, train.y, { task: 'binary_classification', iterations: 30 });

  it('is plain data: JSON and structured clones predict the same', () => {
    const expected = predictGbdt(model, test.m);
    const viaJson = JSON.parse(JSON.stringify(model)) as GbdtModel;
    assert.deepEqual(predictGbdt(viaJson, test.m), expected);
    assert.deepEqual(predictGbdt(structuredClone(model), test.m), expected);
  });

  it('splits on float32 thresholds and is a binary tree of numLeaves leaves', () => {
    for (const tree of model.trees) {
      assert.ok(tree.threshold.every((t) => Math.fround(t) === t));
      assert.equal(tree.leafValue.length, tree.splitFeature.length + 1);
      assert.ok(tree.leafValue.length <= 31);
      assert.ok(tree.leafValue.every((v) => Math.fround(v) === v));
    }
    assert.equal(model.trees[0]!.leafValue.length, 31);
  });

  it('probabilities are the sigmoid of raw scores', () => {
    const raw = rawScores(model, test.m);
    const p = predictGbdt(model, test.m);
    for (const [i, s] of raw.entries()) assert.equal(p[i], 1 / (1 + Math.exp(-s)));
  });

  it('reports progress once per tree', () => {
    const seen: Array<[number, number]> = [];
    trainGbdt(train.m, train.y, { task: 'binary_classification', iterations: 4 }, (i, n) =>
      seen.push([i, n]),
    );
    assert.deepEqual(seen, [
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
  });

  it('refuses a matrix of another width', () => {
    assert.throws(() => predictGbdt(model, { rows: 1, cols: 7, x: new Float32Array(7) }), RangeError);
  });
});

describe('bins', () => {
  it('a feature takes at most maxBins − 1 thresholds, each a value of the data', () => {
    const data = noisyTask(12, 2000, 3);
    const model = trainGbdt(data.m, data.y, { task: 'binary_classification', maxBins: 6, iterations: 40 });
    const values = new Set(data.m.x);
    for (let f = 0; f < 3; f++) {
      const cuts = new Set(model.trees.flatMap((t) => t.threshold.filter((_, i) => t.splitFeature[i] === f)));
      assert.ok(cuts.size >= 1 && cuts.size <= 5, `feature ${f}: ${[...cuts]}`);
      assert.ok([...cuts].every((c) => values.has(c)));
    }
  });

  it('keeps zeros apart from the values either side, however few bins', () => {
    // Half zeros (imputed missings, say), the rest spread both sides; the label is zero vs non-zero.
    const rng = createRng(13);
    const x = Float32Array.from({ length: 4000 }, () => (rng.bool(0.5) ? 0 : rng.next() * 2 - 1));
    const y = x.map((v) => step(v === 0));
    const model = trainGbdt({ rows: 4000, cols: 1, x }, Float64Array.from(y), {
      task: 'binary_classification',
      maxBins: 3,
      iterations: 10,
      learningRate: 1,
    });
    const sorted = [...new Set(x)].sort((a, b) => a - b);
    const nearest = [sorted[sorted.indexOf(0) - 1]!, 0, sorted[sorted.indexOf(0) + 1]!];
    const p = predictGbdt(model, matrix(nearest.map((v) => [v])));
    assert.ok(p[1]! > 0.9 && p[0]! < 0.1 && p[2]! < 0.1, `${[...p]}`);
  });
});

describe('early stopping', () => {
  const data = noisyTask(9, 3000, 5);
  const train = slice(data, 0, 2000);
  const validation = slice(data, 2000, 3000);
  const logLoss = (model: GbdtModel) => {
    const p = predictGbdt(model, validation.m);
    return p.reduce((a, q, i) => a - (validation.y[i] ? Math.log(q) : Math.log(1 - q)), 0) / p.length;
  };

  it('keeps the trees that scored best on validation, after `earlyStoppingRounds` without improvement', () => {
    const params = {
      task: 'binary_classification',
      iterations: 300,
      learningRate: 0.5,
      earlyStoppingRounds: 5,
    } as const;
    const model = trainGbdt(train.m, train.y, { ...params, validation });
    const losses = model.validationLoss;
    assert.ok(model.bestIteration < 300, `stopped at ${model.bestIteration}`);
    assert.equal(model.trees.length, model.bestIteration);
    assert.equal(losses.length, model.bestIteration + 5);
    const best = losses[model.bestIteration - 1]!;
    assert.ok(losses.every((l, i) => i === model.bestIteration - 1 || l >= best));
    assert.ok(losses.slice(0, model.bestIteration - 1).every((l) => l > best));
    assert.ok(Math.abs(logLoss(model) - best) <= 1e-12, `${logLoss(model)} vs ${best}`);
  });

  it('only records the validation loss when earlyStoppingRounds is 0', () => {
    const model = trainGbdt(train.m, train.y, { task: 'binary_classification', iterations: 12, validation });
    assert.equal(model.trees.length, 12);
    assert.equal(model.validationLoss.length, 12);
    assert.ok(Math.abs(logLoss(model) - model.validationLoss[11]!) <= 1e-12);
  });

  it('regression validation loss is the mean squared error', () => {
    const reg = noisyTask(10, 1500, 4, 'regression');
    const [t, v] = [slice(reg, 0, 1000), slice(reg, 1000, 1500)];
    const model = trainGbdt(t.m, t.y, { task: 'regression', iterations: 8, validation: v });
    const rmse = rootMeanSquaredError(v.y, predictGbdt(model, v.m));
    assert.ok(Math.abs(rmse ** 2 - model.validationLoss[7]!) <= 1e-12);
  });
});

describe('degenerate inputs', () => {
  it('constant features: no split, no tree, the base score alone', () => {
    const m = matrix(Array.from({ length: 100 }, () => [1, -2]));
    const y = Float64Array.from({ length: 100 }, (_, i) => step(i % 4 === 0));
    const model = trainGbdt(m, y, { task: 'binary_classification' });
    assert.equal(model.trees.length, 0);
    assert.deepEqual([...predictGbdt(model, matrix([[5, 5]]))], [1 / (1 + Math.exp(-model.baseScore))]);
  });

  it('too few rows for two leaves of minDataInLeaf: no tree', () => {
    const data = noisyTask(3, 39, 3, 'regression');
    assert.equal(trainGbdt(data.m, data.y, { task: 'regression' }).trees.length, 0);
    assert.ok(trainGbdt(data.m, data.y, { task: 'regression', minDataInLeaf: 19 }).trees.length > 0);
  });

  it('one class only: a finite base score', () => {
    const data = noisyTask(4, 100, 2);
    const model = trainGbdt(data.m, new Float64Array(100).fill(1), {
      task: 'binary_classification',
      iterations: 3,
    });
    assert.ok(Number.isFinite(model.baseScore) && model.baseScore > 30);
  });
});

describe('parameters', () => {
  const data = noisyTask(1, 50, 2);
  const bad: Array<Record<string, unknown>> = [
    { iterations: 0 },
    { learningRate: 0 },
    { numLeaves: 1 },
    { maxDepth: 0 },
    { minDataInLeaf: 0.5 },
    { lambdaL2: -1 },
    { maxBins: 257 },
    { maxBins: 1 },
    { seed: 1.5 },
    { earlyStoppingRounds: 3 },
    { numleaves: 31 },
    { threads: 0 },
    { threads: 17 },
    { task: 'ranking' },
  ];
  for (const params of bad)
    it(`refuses ${JSON.stringify(params)}`, () => {
      assert.throws(
        () => trainGbdt(data.m, data.y, { task: 'binary_classification', ...params } as never),
        RangeError,
      );
    });

  it('refuses binary labels other than 0 and 1, and validation of another width', () => {
    assert.throws(
      () =>
        trainGbdt(
          data.m,
          data.y.map((v) => v * 2),
          { task: 'binary_classification' },
        ),
      RangeError,
    );
    const validation = { m: matrix([[1, 2, 3]]), y: new Float64Array([1]) };
    assert.throws(() => trainGbdt(data.m, data.y, { task: 'binary_classification', validation }), RangeError);
  });

  it('records the defaults it used, LightGBM’s', () => {
    const { params } = trainGbdt(data.m, data.y, { task: 'regression', iterations: 2 });
    assert.deepEqual(params, {
      task: 'regression',
      iterations: 2,
      learningRate: 0.1,
      numLeaves: 31,
      maxDepth: -1,
      minDataInLeaf: 20,
      minSumHessianInLeaf: 1e-3,
      lambdaL2: 0,
      maxBins: 255,
      seed: 1,
      earlyStoppingRounds: 0,
    });
  });
});
