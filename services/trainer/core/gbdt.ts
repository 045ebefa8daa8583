import { Worker } from 'node:worker_threads';
import { checkMatrix, type FeatureMatrix, type Labels, type TrainTask } from './matrix.ts';

/**
 * A histogram-based gradient-boosted decision tree trainer, deterministic and pure (no I/O), with
 * LightGBM's default behaviour so that its results compare with LightGBM's defaults:
 * - every feature is cut once into at most `maxBins` quantile bins (uint8), from a seeded sample of at
 *   most 200 000 rows (LightGBM's bin_construct_sample_cnt);
 * - trees grow leaf-wise (best gain first) to `numLeaves`, with Newton leaves −G/(H + λ) · learningRate;
 * - each split builds the histogram of the smaller child only and takes the larger one's by subtraction.
 *
 * A split sends `x <= threshold` left, and every threshold is the largest value seen in the bins on its
 * left — a float32 of the training data. So a float32 comparison (onnxruntime's) takes exactly the path
 * the trainer took; leaf values and the base score are float32 too, which leaves only the summation of
 * the trees to differ between this code and the exported model.
 *
 * Determinism: no clock and no Math.random; the bin sample is drawn by a seeded PRNG, histograms are
 * summed in row order, and ties (equal gains) go to the lowest feature, then the lowest bin, then the
 * lowest leaf. With `threads` > 1, worker threads build the histograms of some of the features, each
 * feature's by one thread in the same row order: the model is the same bit for bit, whatever `threads`.
 */

export interface GbdtParams {
  task: TrainTask;
  iterations: number;
  learningRate: number;
  /** Leaves per tree; trees grow best-first until they have this many or no split gains. */
  numLeaves: number;
  /** −1: unlimited (LightGBM's default); otherwise the deepest a leaf may be (the root is depth 0). */
  maxDepth: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  lambdaL2: number;
  /** 2…256: a bin index is one byte. */
  maxBins: number;
  /** Draws the rows the bin boundaries are computed from (only when there are more than 200 000). */
  seed: number;
  /** Stop once the validation loss has not improved for this many trees; 0: never stop early. */
  earlyStoppingRounds: number;
}

export const GBDT_DEFAULTS: Readonly<Omit<GbdtParams, 'task'>> = Object.freeze({
  iterations: 100,
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

export interface LabelledMatrix {
  m: FeatureMatrix;
  y: Labels;
}

export type GbdtOptions = Partial<GbdtParams> & {
  task: TrainTask;
  /** Scored after every tree (validationLoss); with earlyStoppingRounds > 0 it also decides when to stop. */
  validation?: LabelledMatrix;
  /**
   * Threads building histograms, this one included (default 1): how training shares the machine, not a
   * parameter of the model, which comes out the same for any value.
   */
  threads?: number;
};

const MAX_THREADS = 16;

/**
 * One tree. Internal nodes are numbered in the order they were split (0 is the root); a child ≥ 0 is
 * another internal node, a child < 0 is the leaf ~child. A tree that never split is one leaf and no
 * nodes (only ever the placeholder of a model without trees: training keeps no such tree).
 */
export interface GbdtTree {
  splitFeature: number[];
  /** float32 values: rows with x[splitFeature] <= threshold go left. */
  threshold: number[];
  left: number[];
  right: number[];
  leafValue: number[];
}

/** Plain data (JSON and structured-clone safe): what crosses the worker boundary and gets exported. */
export interface GbdtModel {
  task: TrainTask;
  /** Columns of the matrix the model was trained on: the width its input rows must have. */
  features: number;
  /** Raw score before any tree (log-odds of the mean label, or the mean), float32. */
  baseScore: number;
  trees: GbdtTree[];
  params: GbdtParams;
  /** Trees kept: the best-scoring count on validation when stopping early, otherwise all. */
  bestIteration: number;
  /** Validation loss after each tree trained (log loss or mean squared error); empty without validation. */
  validationLoss: number[];
}

export function trainGbdt(
  m: FeatureMatrix,
  y: Labels,
  options: GbdtOptions,
  onProgress?: (iteration: number, total: number) => void,
): GbdtModel {
  const params = resolveParams(options);
  const objective = OBJECTIVES[params.task];
  checkMatrix(m, y);
  objective.checkLabels(y);
  const baseScore = Math.fround(objective.initScore(y));
  const validation = options.validation && startValidation(options.validation, m.cols, baseScore, objective);
  const grower = new TreeGrower(binMatrix(m, params.maxBins, params.seed), params, options.threads ?? 1);
  const score = new Float64Array(m.rows).fill(baseScore);
  const trees: GbdtTree[] = [];
  try {
    for (let iteration = 1; iteration <= params.iterations; iteration++) {
      objective.gradients(score, y, grower.grad, grower.hess);
      const tree = grower.grow();
      // A tree that cannot split leaves the scores, hence the next gradients, as they are: so would every
      // later tree. LightGBM stops here too.
      if (tree.splitFeature.length === 0) break;
      grower.addLeafValues(tree, score);
      trees.push(tree);
      onProgress?.(iteration, params.iterations);
      if (validation?.addTree(tree, params.earlyStoppingRounds)) break;
    }
  } finally {
    grower.close();
  }
  const earlyStopping = validation !== undefined && params.earlyStoppingRounds > 0;
  if (earlyStopping) trees.length = validation.bestIteration;
  return {
    task: params.task,
    features: m.cols,
    baseScore,
    trees,
    params,
    bestIteration: trees.length,
    validationLoss: validation?.losses ?? [],
  };
}

/** Raw scores (log-odds for binary classification). */
export function rawScores(model: GbdtModel, m: FeatureMatrix): Float64Array {
  if (m.cols !== model.features)
    throw new RangeError(`the model takes ${model.features} features, the matrix has ${m.cols}`);
  const out = new Float64Array(m.rows).fill(model.baseScore);
  for (const tree of model.trees) addTreeValues(tree, m, out);
  return out;
}

/** Probabilities of the positive class for binary classification, values for regression. */
export function predictGbdt(model: GbdtModel, m: FeatureMatrix): Float64Array {
  const transform = OBJECTIVES[model.task].transform;
  return rawScores(model, m).map(transform);
}

function addTreeValues(tree: GbdtTree, m: FeatureMatrix, out: Float64Array): void {
  const { splitFeature, threshold, left, right, leafValue } = tree;
  if (splitFeature.length === 0) {
    for (let r = 0; r < m.rows; r++) out[r]! += leafValue[0]!;
    return;
  }
  const x = m.x;
  for (let r = 0, at = 0; r < m.rows; r++, at += m.cols) {
    let node = 0;
    while (node >= 0) {
      const value = x[at + (splitFeature[node] as number)] as number;
      node = value <= threshold[node]! ? left[node]! : right[node]!;
    }
    out[r]! += leafValue[~node]!;
  }
}

// ---------------------------------------------------------------------------------------------------
// Parameters

function resolveParams(options: GbdtOptions): GbdtParams {
  const { validation, threads = 1, ...given } = options;
  const p: GbdtParams = { ...GBDT_DEFAULTS, ...given };
  const wrong = Object.keys(given)
    .filter((key) => !(key in GBDT_DEFAULTS) && key !== 'task')
    .map((key) => `unknown parameter "${key}"`);
  const need = (ok: boolean, what: string) => ok || wrong.push(what);
  need(p.task in OBJECTIVES, `task must be one of ${Object.keys(OBJECTIVES).join(', ')}`);
  need(Number.isInteger(p.iterations) && p.iterations >= 1, 'iterations must be an integer ≥ 1');
  need(p.learningRate > 0 && Number.isFinite(p.learningRate), 'learningRate must be finite and > 0');
  need(Number.isInteger(p.numLeaves) && p.numLeaves >= 2, 'numLeaves must be an integer ≥ 2');
  need(p.maxDepth === -1 || (Number.isInteger(p.maxDepth) && p.maxDepth >= 1), 'maxDepth must be -1 or ≥ 1');
  need(Number.isInteger(p.minDataInLeaf) && p.minDataInLeaf >= 1, 'minDataInLeaf must be an integer ≥ 1');
  need(p.minSumHessianInLeaf >= 0 && Number.isFinite(p.minSumHessianInLeaf), 'minSumHessianInLeaf ≥ 0');
  need(p.lambdaL2 >= 0 && Number.isFinite(p.lambdaL2), 'lambdaL2 must be finite and ≥ 0');
  need(Number.isInteger(p.maxBins) && p.maxBins >= 2 && p.maxBins <= MAX_BINS, `maxBins in 2…${MAX_BINS}`);
  need(Number.isInteger(p.seed), 'seed must be an integer');
  need(Number.isInteger(p.earlyStoppingRounds) && p.earlyStoppingRounds >= 0, 'earlyStoppingRounds ≥ 0');
  need(p.earlyStoppingRounds === 0 || validation !== undefined, 'earlyStoppingRounds needs a validation set');
  need(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS, `threads in 1…${MAX_THREADS}`);
  if (wrong.length > 0) throw new RangeError(`invalid GBDT parameters: ${wrong.join('; ')}`);
  return Object.freeze(p);
}

// ---------------------------------------------------------------------------------------------------
// Objectives: raw score → gradient and hessian of the loss, the starting score, the validation loss

interface Objective {
  checkLabels(y: Labels): void;
  initScore(y: Labels): number;
  gradients(score: Float64Array, y: Labels, grad: Float64Array, hess: Float64Array): void;
  /** Mean loss of raw scores. */
  loss(score: Float64Array, y: Labels): number;
  transform(raw: number): number;
}

/** LightGBM clamps the mean label to [ε, 1 − ε] before taking its log-odds, so one class alone is finite. */
const LABEL_MEAN_EPSILON = 1e-15;

const OBJECTIVES: Record<TrainTask, Objective> = {
  binary_classification: {
    checkLabels(y) {
      for (let i = 0; i < y.length; i++)
        if (y[i] !== 0 && y[i] !== 1) throw new RangeError(`label ${i} is ${y[i]}: binary labels are 0 or 1`);
    },
    initScore(y) {
      const p = Math.min(Math.max(mean(y), LABEL_MEAN_EPSILON), 1 - LABEL_MEAN_EPSILON);
      return Math.log(p / (1 - p));
    },
    gradients(score, y, grad, hess) {
      for (let i = 0; i < score.length; i++) {
        const p = 1 / (1 + Math.exp(-score[i]!));
        grad[i] = p - y[i]!;
        hess[i] = p * (1 - p);
      }
    },
    loss(score, y) {
      let total = 0;
      // log(1 + e^s) − y·s, written so that e^s cannot overflow.
      for (let i = 0; i < score.length; i++) {
        const s = score[i]!;
        total += Math.max(s, 0) + Math.log1p(Math.exp(-Math.abs(s))) - y[i]! * s;
      }
      return total / score.length;
    },
    transform: (raw) => 1 / (1 + Math.exp(-raw)),
  },
  regression: {
    checkLabels() {},
    initScore: mean,
    gradients(score, y, grad, hess) {
      for (let i = 0; i < score.length; i++) grad[i] = score[i]! - y[i]!;
      hess.fill(1);
    },
    loss(score, y) {
      let total = 0;
      for (let i = 0; i < score.length; i++) total += (score[i]! - y[i]!) ** 2;
      return total / score.length;
    },
    transform: (raw) => raw,
  },
};

function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total / values.length;
}

// ---------------------------------------------------------------------------------------------------
// Validation: scores kept up to date tree by tree, and the early-stopping rule

interface ValidationRun {
  losses: number[];
  bestIteration: number;
  /** Scores one more tree; true when training should stop. */
  addTree(tree: GbdtTree, patience: number): boolean;
}

function startValidation(set: LabelledMatrix, cols: number, baseScore: number, objective: Objective) {
  checkMatrix(set.m, set.y);
  objective.checkLabels(set.y);
  if (set.m.cols !== cols) throw new RangeError(`validation has ${set.m.cols} columns, training ${cols}`);
  const score = new Float64Array(set.m.rows).fill(baseScore);
  let bestLoss = Number.POSITIVE_INFINITY;
  const run: ValidationRun = {
    losses: [],
    bestIteration: 0,
    addTree(tree, patience) {
      addTreeValues(tree, set.m, score);
      const loss = objective.loss(score, set.y);
      run.losses.push(loss);
      if (loss < bestLoss) {
        bestLoss = loss;
        run.bestIteration = run.losses.length;
      }
      return patience > 0 && run.losses.length - run.bestIteration >= patience;
    },
  };
  return run;
}

// ---------------------------------------------------------------------------------------------------
// Binning: each feature's values → at most maxBins ordered bins, once, before the first tree

const MAX_BINS = 256;
/** LightGBM's bin_construct_sample_cnt: enough rows to place 255 quantiles well, cheap to sort. */
const BIN_SAMPLE_ROWS = 200_000;

interface BinnedMatrix {
  rows: number;
  /** The columns that have more than one bin, in column order: the others can never split. */
  features: Int32Array;
  /**
   * Row-major bin indices of those columns, bins[r * features.length + j], for the histograms: a leaf is
   * a scattered subset of rows, and one row's bins then share a cache line and its gradient is read once
   * for all features (measured ~30% faster than column-major for a leaf's rows, ~10% for all rows).
   */
  bins: Uint8Array;
  /** The same, column-major (columns[j * rows + r]), for partitioning a leaf on one feature. */
  columns: Uint8Array;
  /** Per column of the matrix, ascending: bin b holds the values v with upperBounds[b - 1] < v <= upperBounds[b]; the last bin is unbounded. */
  upperBounds: Float32Array[];
}

function binMatrix(m: FeatureMatrix, maxBins: number, seed: number): BinnedMatrix {
  const sample = sampleRows(m.rows, Math.min(m.rows, BIN_SAMPLE_ROWS), seed);
  const upperBounds = Array.from({ length: m.cols }, (_, c) => {
    const values = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) values[i] = m.x[(sample[i] as number) * m.cols + c]!;
    return binUpperBounds(values.sort(), maxBins);
  });
  const features = Int32Array.from(upperBounds.keys()).filter((c) => upperBounds[c]!.length > 0);
  const width = features.length;
  const lookups = Array.from(features, (c) => binLookup(upperBounds[c]!));
  const bits = new Int32Array(m.x.buffer, m.x.byteOffset, m.x.length);
  const bins = new Uint8Array(new SharedArrayBuffer(m.rows * width));
  const columns = new Uint8Array(m.rows * width);
  for (let j = 0; j < width; j++) {
    const { bounds, firstBin } = lookups[j]!;
    for (let r = 0, at = features[j]!; r < m.rows; r++, at += m.cols) {
      const v = m.x[at]!;
      let bin = firstBin[orderedPrefix(bits[at] as number)]!;
      while (bounds[bin]! < v) bin++;
      bins[r * width + j] = bin;
      columns[j * m.rows + r] = bin;
    }
  }
  return { rows: m.rows, features, bins, columns, upperBounds };
}

/**
 * Finding each value's bin by binary search costs ~50 ns (its branches mispredict half the time); this
 * costs a few. firstBin maps the top 16 bits of a float32, taken in the values' order, to the bin of
 * the smallest value with those bits; the bin of v is then at most a few bounds further on.
 */
interface BinLookup {
  /** The upper bounds, then +∞ (which stops every scan). */
  bounds: Float32Array;
  firstBin: Uint8Array;
}

function binLookup(upperBounds: Float32Array): BinLookup {
  const bounds = new Float32Array(upperBounds.length + 1).fill(Number.POSITIVE_INFINITY);
  bounds.set(upperBounds);
  const firstBin = new Uint8Array(1 << 16);
  const value = new Float32Array(1);
  const valueBits = new Int32Array(value.buffer);
  let bin = 0;
  for (let prefix = 0; prefix < firstBin.length; prefix++) {
    // The smallest float32 with this prefix: undo orderedPrefix on (prefix << 16). NaN patterns compare
    // false and so leave `bin` where it is, a lower bound for every prefix after them.
    const key = prefix << 16;
    valueBits[0] = key < 0 ? key ^ 0x80000000 : ~key;
    while (bounds[bin]! < value[0]!) bin++;
    firstBin[prefix] = bin;
  }
  return { bounds, firstBin };
}

/** The top 16 bits of a float32's bits, remapped so that unsigned order is numeric order (−0 just below +0). */
function orderedPrefix(bits: number): number {
  return (bits ^ ((bits >> 31) | 0x80000000)) >>> 16;
}

/**
 * Upper bounds of a feature's bins, each a value of the (sorted) sample. Like LightGBM, negatives, zeros
 * and positives never share a bin: zero is what serving imputes for a missing input, and a sign change
 * is a natural cut. The bins beyond one per part go to the negatives and the positives by their counts.
 */
function binUpperBounds(sorted: Float32Array, maxBins: number): Float32Array {
  const n = sorted.length;
  const zerosFrom = firstIndex(sorted, (v) => v >= 0);
  const zerosTo = firstIndex(sorted, (v) => v > 0);
  const parts = [
    [0, zerosFrom],
    [zerosFrom, zerosTo],
    [zerosTo, n],
  ].filter(([from, to]) => to! > from!) as Array<[number, number]>;
  if (parts.length > maxBins) return Float32Array.from(equalCountBounds(sorted, 0, n, maxBins));
  const spare = maxBins - parts.length;
  const signed = n - (zerosTo - zerosFrom);
  const bounds: number[] = [];
  for (const [from, to] of parts) {
    const bins = sorted[from] === 0 ? 1 : 1 + Math.floor((spare * (to - from)) / signed);
    bounds.push(...equalCountBounds(sorted, from, to, bins));
    if (to < n) bounds.push(sorted[to - 1]!);
  }
  return Float32Array.from(bounds);
}

/**
 * At most bins − 1 upper bounds cutting sorted[from, to) into bins of about equal counts, the bin size
 * recomputed over what remains after each bin. A distinct value is never cut in two, and one heavier
 * than a bin gets a bin of its own. Few distinct values: one bin each.
 */
function equalCountBounds(sorted: Float32Array, from: number, to: number, bins: number): number[] {
  const bounds: number[] = [];
  let remaining = to - from;
  let distinctLeft = countDistinct(sorted, from, to);
  let inBin = 0;
  const close = (at: number) => {
    bounds.push(sorted[at]!);
    remaining -= inBin;
    inBin = 0;
  };
  for (let i = from; i < to; ) {
    let end = i + 1;
    while (end < to && sorted[end] === sorted[i]) end++;
    distinctLeft--;
    // The part's largest value is in its last bin, which needs no bound.
    if (end === to) break;
    if (inBin > 0 && end - i >= remaining / (bins - bounds.length) && bounds.length < bins - 1) close(i - 1);
    inBin += end - i;
    const binsLeft = bins - bounds.length;
    if (binsLeft > 1 && (distinctLeft < binsLeft || inBin >= remaining / binsLeft)) close(end - 1);
    i = end;
  }
  return bounds;
}

function countDistinct(sorted: Float32Array, from: number, to: number): number {
  let n = to > from ? 1 : 0;
  for (let i = from + 1; i < to; i++) if (sorted[i] !== sorted[i - 1]) n++;
  return n;
}

/** The first index of ascending values where `reached` holds (the length when it never does). */
function firstIndex(sorted: Float32Array, reached: (v: number) => boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (reached(sorted[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** `count` of `rows` row indices, ascending, drawn by a partial Fisher–Yates shuffle with mulberry32. */
function sampleRows(rows: number, count: number, seed: number): Uint32Array {
  const order = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  if (count === rows) return order;
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const j = i + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (rows - i));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order.slice(0, count).sort();
}

// ---------------------------------------------------------------------------------------------------
// Tree growth

/** A histogram keeps, per feature, MAX_BINS slots of (gradient sum, hessian sum, row count). */
const SLOT = 3;
const FEATURE_STRIDE = MAX_BINS * SLOT;

/**
 * Grows trees over one binned matrix, reusing its buffers from tree to tree. Each leaf owns a contiguous
 * range of `rowOrder`; splitting a leaf partitions its range stably, so every range stays ascending and
 * the histogram loops read the bins forwards.
 */
class TreeGrower {
  private readonly rowOrder: Uint32Array;
  private readonly scratchRows: Uint32Array;
  private readonly histograms: Float64Array[];
  private readonly histogramOf: Int32Array;
  private readonly begin: Int32Array;
  private readonly count: Int32Array;
  private readonly depth: Int32Array;
  private readonly sumGrad: Float64Array;
  private readonly sumHess: Float64Array;
  /** The internal node above each leaf, and on which side (+1: right), to rewire when the leaf splits. */
  private readonly parent: Int32Array;
  private readonly parentSide: Int8Array;
  private readonly best: BestSplits;
  /** Row counts of the root's histogram (in the count slots; the other slots stay 0). */
  private readonly rootCounts: Float64Array;
  private readonly shared: SharedArrays;
  /** Feature ranges [from, to) of the binned features, one per thread; this thread takes the first. */
  private readonly ranges: Array<[number, number]>;
  private readonly workers: HistogramWorkers | null;
  /** The objective writes each tree's gradients and hessians here. */
  readonly grad: Float64Array;
  readonly hess: Float64Array;
  private leaves = 0;

  constructor(
    private readonly data: BinnedMatrix,
    private readonly params: GbdtParams,
    threads: number,
  ) {
    const n = data.rows;
    const maxLeaves = params.numLeaves;
    const width = data.features.length;
    this.scratchRows = new Uint32Array(n);
    const size = width * FEATURE_STRIDE;
    this.shared = {
      bins: data.bins,
      width,
      grad: new Float64Array(new SharedArrayBuffer(8 * n)),
      hess: new Float64Array(new SharedArrayBuffer(8 * n)),
      rowOrder: new Uint32Array(new SharedArrayBuffer(4 * n)),
      pool: new Float64Array(new SharedArrayBuffer(8 * maxLeaves * size)),
    };
    ({ grad: this.grad, hess: this.hess, rowOrder: this.rowOrder } = this.shared);
    const pool = this.shared.pool;
    this.histograms = Array.from({ length: maxLeaves }, (_, i) => pool.subarray(i * size, (i + 1) * size));
    this.ranges = featureRanges(width, threads);
    this.workers = this.ranges.length > 1 ? new HistogramWorkers(this.shared, this.ranges.slice(1)) : null;
    this.histogramOf = new Int32Array(maxLeaves);
    this.begin = new Int32Array(maxLeaves);
    this.count = new Int32Array(maxLeaves);
    this.depth = new Int32Array(maxLeaves);
    this.sumGrad = new Float64Array(maxLeaves);
    this.sumHess = new Float64Array(maxLeaves);
    this.parent = new Int32Array(maxLeaves);
    this.parentSide = new Int8Array(maxLeaves);
    this.best = newBestSplits(maxLeaves);
    this.rootCounts = new Float64Array(size);
    for (let b = 0; b < data.bins.length; b++)
      this.rootCounts[(b % width) * FEATURE_STRIDE + data.bins[b]! * SLOT + 2]!++;
  }

  /** A tree on the gradients and hessians in this.grad and this.hess. */
  grow(): GbdtTree {
    const tree: GbdtTree = { splitFeature: [], threshold: [], left: [], right: [], leafValue: [] };
    this.startRoot();
    while (this.leaves < this.params.numLeaves) {
      const leaf = this.bestLeaf();
      if (leaf < 0) break;
      this.split(leaf, tree);
    }
    for (let leaf = 0; leaf < this.leaves; leaf++) tree.leafValue.push(this.leafValue(leaf));
    return tree;
  }

  /** Stops the worker threads, if any. */
  close(): void {
    this.workers?.close();
  }

  /** The training scores after the tree just grown, from the leaves' row ranges (no tree walk). */
  addLeafValues(tree: GbdtTree, score: Float64Array): void {
    for (let leaf = 0; leaf < this.leaves; leaf++) {
      const value = tree.leafValue[leaf]!;
      const end = this.begin[leaf]! + this.count[leaf]!;
      for (let i = this.begin[leaf]!; i < end; i++) score[this.rowOrder[i]!]! += value;
    }
  }

  private startRoot(): void {
    const n = this.data.rows;
    for (let i = 0; i < n; i++) this.rowOrder[i] = i;
    let g = 0;
    let h = 0;
    for (let i = 0; i < n; i++) {
      g += this.grad[i]!;
      h += this.hess[i]!;
    }
    this.leaves = 1;
    this.begin[0] = 0;
    this.count[0] = n;
    this.depth[0] = 0;
    this.sumGrad[0] = g;
    this.sumHess[0] = h;
    this.parent[0] = -1;
    this.histogramOf[0] = 0;
    this.best.gain[0] = Number.NEGATIVE_INFINITY;
    if (this.canSplit(0)) {
      this.buildHistogram(0);
      this.findBestSplit(0);
    }
  }

  private leafValue(leaf: number): number {
    const { learningRate, lambdaL2 } = this.params;
    return Math.fround((-this.sumGrad[leaf]! / (this.sumHess[leaf]! + lambdaL2)) * learningRate);
  }

  private canSplit(leaf: number): boolean {
    const { maxDepth, minDataInLeaf } = this.params;
    return this.count[leaf]! >= 2 * minDataInLeaf && (maxDepth === -1 || this.depth[leaf]! < maxDepth);
  }

  /** The leaf with the highest positive gain (the lowest index among equals), or −1. */
  private bestLeaf(): number {
    let leaf = -1;
    let gain = 0;
    for (let l = 0; l < this.leaves; l++)
      if (this.best.gain[l]! > gain) {
        gain = this.best.gain[l]!;
        leaf = l;
      }
    return leaf;
  }

  /** Splits `leaf` in two: the left part keeps its index, the right part becomes a new leaf. */
  private split(leaf: number, tree: GbdtTree): void {
    const j = this.best.feature[leaf]!;
    const bin = this.best.bin[leaf]!;
    const feature = this.data.features[j]!;
    const right = this.leaves++;
    const node = tree.splitFeature.length;
    tree.splitFeature.push(feature);
    tree.threshold.push(this.data.upperBounds[feature]?.[bin] as number);
    tree.left.push(~leaf);
    tree.right.push(~right);
    if (this.parent[leaf]! >= 0) (this.parentSide[leaf] ? tree.right : tree.left)[this.parent[leaf]!] = node;

    const leftCount = this.partition(leaf, j, bin);
    this.begin[right] = this.begin[leaf]! + leftCount;
    this.count[right] = this.count[leaf]! - leftCount;
    this.count[leaf] = leftCount;
    this.sumGrad[right] = this.sumGrad[leaf]! - this.best.leftGrad[leaf]!;
    this.sumHess[right] = this.sumHess[leaf]! - this.best.leftHess[leaf]!;
    this.sumGrad[leaf] = this.best.leftGrad[leaf]!;
    this.sumHess[leaf] = this.best.leftHess[leaf]!;
    this.depth[leaf]!++;
    this.depth[right] = this.depth[leaf]!;
    this.parent[leaf] = node;
    this.parentSide[leaf] = 0;
    this.parent[right] = node;
    this.parentSide[right] = 1;
    this.best.gain[leaf] = Number.NEGATIVE_INFINITY;
    this.best.gain[right] = Number.NEGATIVE_INFINITY;
    // The last split of a tree needs no histograms: its leaves will not be split.
    if (this.leaves < this.params.numLeaves) this.prepareChildren(leaf, right);
  }

  /**
   * Histograms and best splits of two new siblings: the smaller one is built from its rows, the larger
   * one is the parent's (whose buffer it inherits) minus the smaller one.
   */
  private prepareChildren(left: number, right: number): void {
    if (!this.canSplit(left) && !this.canSplit(right)) return;
    const leftSmaller = this.count[left]! <= this.count[right]!;
    const smaller = leftSmaller ? left : right;
    const larger = leftSmaller ? right : left;
    this.histogramOf[larger] = this.histogramOf[left]!;
    this.histogramOf[smaller] = right; // the one buffer no leaf holds yet: there are as many buffers as leaves
    this.buildHistogram(smaller);
    const small = this.histogramFor(smaller);
    const large = this.histogramFor(larger);
    for (let i = 0; i < large.length; i++) large[i]! -= small[i]!;
    if (this.canSplit(left)) this.findBestSplit(left);
    if (this.canSplit(right)) this.findBestSplit(right);
  }

  /** Stable in-place partition of the leaf's rows on bin <= `bin` of binned feature j; returns how many went left. */
  private partition(leaf: number, j: number, bin: number): number {
    const column = this.data.columns.subarray(j * this.data.rows, (j + 1) * this.data.rows);
    const start = this.begin[leaf]!;
    const end = start + this.count[leaf]!;
    const order = this.rowOrder;
    let kept = start;
    let moved = 0;
    const scratch = this.scratchRows;
    // Branch-free: which side a row goes is a coin toss to the branch predictor. Each row is written to
    // both places and only its side's cursor moves (kept <= i, so nothing unread is overwritten).
    for (let i = start; i < end; i++) {
      const r = order[i]!;
      const left = ((bin - column[r]!) >>> 31) ^ 1;
      order[kept] = r;
      scratch[moved] = r;
      kept += left;
      moved += left ^ 1;
    }
    order.set(scratch.subarray(0, moved), kept);
    return kept - start;
  }

  private histogramFor(leaf: number): Float64Array {
    return this.histograms[this.histogramOf[leaf] as number]!;
  }

  private buildHistogram(leaf: number): void {
    const slot = this.histogramOf[leaf]!;
    const hist = this.histograms[slot]!;
    hist.fill(0);
    const all = this.count[leaf] === this.data.rows;
    const start = this.begin[leaf]!;
    const end = start + this.count[leaf]!;
    const at = slot * hist.length;
    const [from, to] = this.ranges[0]!;
    const { pool, bins, width, grad, hess, rowOrder } = this.shared;
    const own = () =>
      all
        ? addAllRows(pool, at, bins, width, grad, hess, this.data.rows, from, to)
        : addLeafRows(pool, at, bins, width, grad, hess, rowOrder, start, end, from, to);
    if (this.workers) this.workers.run(all, at, start, end, own);
    else own();
    // The root's row counts are the same for every tree: copied in, not counted again.
    if (all) for (let i = 2; i < hist.length; i += SLOT) hist[i] = this.rootCounts[i]!;
  }

  /** The best threshold of every feature by Newton gain, under the leaf-size and hessian constraints. */
  private findBestSplit(leaf: number): void {
    const { lambdaL2, minDataInLeaf, minSumHessianInLeaf } = this.params;
    const hist = this.histogramFor(leaf);
    const g = this.sumGrad[leaf]!;
    const h = this.sumHess[leaf]!;
    const n = this.count[leaf]!;
    const parentScore = (g * g) / (h + lambdaL2);
    const best = this.best;
    const { features, upperBounds } = this.data;
    for (let j = 0; j < features.length; j++) {
      const lastBound = upperBounds[features[j] as number]!.length;
      let gl = 0;
      let hl = 0;
      let nl = 0;
      for (let b = 0, at = j * FEATURE_STRIDE; b < lastBound; b++, at += SLOT) {
        // No row of the leaf in this bin: the cut stays at the largest value the leaf does have.
        if (hist[at + 2] === 0) continue;
        gl += hist[at]!;
        hl += hist[at + 1]!;
        nl += hist[at + 2]!;
        if (nl < minDataInLeaf || hl < minSumHessianInLeaf) continue;
        const hr = h - hl;
        if (n - nl < minDataInLeaf || hr < minSumHessianInLeaf) break;
        const gr = g - gl;
        const gain = (gl * gl) / (hl + lambdaL2) + (gr * gr) / (hr + lambdaL2) - parentScore;
        if (gain > best.gain[leaf]!) {
          best.gain[leaf] = gain;
          best.feature[leaf] = j;
          best.bin[leaf] = b;
          best.leftGrad[leaf] = gl;
          best.leftHess[leaf] = hl;
        }
      }
    }
  }
}

/** `parts` contiguous ranges [from, to) of about equal size covering 0…width (fewer when width is smaller). */
function featureRanges(width: number, parts: number): Array<[number, number]> {
  const n = Math.max(1, Math.min(parts, width));
  return Array.from({ length: n }, (_, k) => [
    Math.floor((k * width) / n),
    Math.floor(((k + 1) * width) / n),
  ]);
}

/** Per leaf, its best split found so far (feature: an index into BinnedMatrix.features): gain −∞ when it has none. */
interface BestSplits {
  gain: Float64Array;
  feature: Int32Array;
  bin: Int32Array;
  leftGrad: Float64Array;
  leftHess: Float64Array;
}

function newBestSplits(leaves: number): BestSplits {
  return {
    gain: new Float64Array(leaves),
    feature: new Int32Array(leaves),
    bin: new Int32Array(leaves),
    leftGrad: new Float64Array(leaves),
    leftHess: new Float64Array(leaves),
  };
}

// ---------------------------------------------------------------------------------------------------
// Histogram kernels: top-level and closure-free, because worker threads run their source text

/**
 * The hot loop: the rows rowOrder[start…end) into the histogram at pool[at…], features [from, to) of
 * the row-major bins: gradient and hessian sums and the row count of each (feature, bin).
 */
function addLeafRows(
  pool: Float64Array,
  at: number,
  bins: Uint8Array,
  width: number,
  grad: Float64Array,
  hess: Float64Array,
  rowOrder: Uint32Array,
  start: number,
  end: number,
  from: number,
  to: number,
): void {
  for (let i = start; i < end; i++) {
    const r = rowOrder[i]!;
    const g = grad[r]!;
    const h = hess[r]!;
    for (let j = from, b = r * width + from, base = at + from * FEATURE_STRIDE; j < to; j++, b++) {
      const slot = base + (bins[b] as number) * SLOT;
      pool[slot]! += g;
      pool[slot + 1]! += h;
      pool[slot + 2]!++;
      base += FEATURE_STRIDE;
    }
  }
}

/** The root: every row in row order, the bins read straight through; no counts (they never change). */
function addAllRows(
  pool: Float64Array,
  at: number,
  bins: Uint8Array,
  width: number,
  grad: Float64Array,
  hess: Float64Array,
  rows: number,
  from: number,
  to: number,
): void {
  for (let r = 0; r < rows; r++) {
    const g = grad[r]!;
    const h = hess[r]!;
    for (let j = from, b = r * width + from, base = at + from * FEATURE_STRIDE; j < to; j++, b++) {
      const slot = base + (bins[b] as number) * SLOT;
      pool[slot]! += g;
      pool[slot + 1]! += h;
      base += FEATURE_STRIDE;
    }
  }
}

/** What the histogram threads share: shared memory, written by one thread at a time per region. */
interface SharedArrays {
  bins: Uint8Array;
  width: number;
  grad: Float64Array;
  hess: Float64Array;
  rowOrder: Uint32Array;
  /** Every leaf's histogram, one after the other. */
  pool: Float64Array;
}

/** Words of the control block: a job's sequence number and arguments, the count of finished jobs. */
const JOB = 0;
const ALL_ROWS = 1;
const AT = 2;
const START = 3;
const END = 4;
const DONE = 5;
const FAILED = 6;
/** Far longer than any one histogram takes: a worker that died without a word is given up on after this. */
const WORKER_TIMEOUT_MS = 120_000;

interface WorkerData {
  shared: SharedArrays;
  control: Int32Array;
  from: number;
  to: number;
}

/**
 * A worker's life: wait for a job, build its features' share of the histogram, count it done. Any
 * error sets FAILED and wakes the caller, which then throws instead of waiting on.
 */
function histogramWorker(data: WorkerData, leafRows: typeof addLeafRows, allRows: typeof addAllRows): void {
  const { shared, control, from, to } = data;
  const { pool, bins, width, grad, hess, rowOrder } = shared;
  let seen = 0;
  try {
    for (;;) {
      Atomics.wait(control, JOB, seen);
      seen = Atomics.load(control, JOB);
      if (seen < 0) return;
      const [at, start, end] = [control[AT]!, control[START]!, control[END]!];
      if (control[ALL_ROWS]) allRows(pool, at, bins, width, grad, hess, grad.length, from, to);
      else leafRows(pool, at, bins, width, grad, hess, rowOrder, start, end, from, to);
      Atomics.add(control, DONE, 1);
      Atomics.notify(control, DONE);
    }
  } catch {
    Atomics.store(control, FAILED, 1);
    Atomics.notify(control, DONE);
  }
}

/** The worker's script: the constants its functions use, then the functions' own source. */
const WORKER_SOURCE = [
  "const { workerData } = require('node:worker_threads');",
  ...Object.entries({ SLOT, FEATURE_STRIDE, JOB, ALL_ROWS, AT, START, END, DONE, FAILED }).map(
    ([name, value]) => `const ${name} = ${value};`,
  ),
  `(${histogramWorker})(workerData, ${addLeafRows}, ${addAllRows});`,
].join('\n');

/**
 * Worker threads that each build the histograms of one range of features, driven through a shared
 * control block: the calling thread blocks (Atomics.wait) until they are done, so training stays one
 * synchronous call.
 */
class HistogramWorkers {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * 8));
  private readonly workers: Worker[];
  private jobs = 0;

  constructor(shared: SharedArrays, ranges: ReadonlyArray<[number, number]>) {
    this.workers = ranges.map(([from, to]) => {
      const workerData: WorkerData = { shared, control: this.control, from, to };
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
      worker.unref();
      return worker;
    });
  }

  /** One histogram: the workers' feature ranges in their threads, `own` (the first range) in this one. */
  run(allRows: boolean, at: number, start: number, end: number, own: () => void): void {
    const c = this.control;
    [c[ALL_ROWS], c[AT], c[START], c[END]] = [allRows ? 1 : 0, at, start, end];
    this.jobs++;
    Atomics.store(c, JOB, this.jobs);
    Atomics.notify(c, JOB);
    own();
    const expected = this.jobs * this.workers.length;
    const deadline = performance.now() + WORKER_TIMEOUT_MS;
    for (let done = Atomics.load(c, DONE); done < expected; done = Atomics.load(c, DONE)) {
      if (Atomics.load(c, FAILED)) throw new Error('a histogram worker thread failed');
      if (performance.now() > deadline) throw new Error('a histogram worker thread stopped answering');
      Atomics.wait(c, DONE, done, WORKER_TIMEOUT_MS);
    }
  }

  close(): void {
    Atomics.store(this.control, JOB, -1);
    Atomics.notify(this.control, JOB);
    for (const worker of this.workers) void worker.terminate();
  }
}
