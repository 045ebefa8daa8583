import { INPUT_NAME, ONNX_IR_VERSION, ONNX_OPSET } from './linear-model.ts';
import {
  floatsAttribute,
  floatValueInfo,
  graph,
  intAttribute,
  intsAttribute,
  model,
  node,
  stringAttribute,
  stringsAttribute,
} from './onnx-proto.ts';

/**
 * A sum of regression trees as ONNX: the ai.onnx.ml TreeEnsembleRegressor (aggregate SUM, base value
 * the ensemble's starting score), then for binary classification a Sigmoid.
 *   features float[N, F] → TreeEnsembleRegressor → (Sigmoid) → probability | output float[N, 1]
 * Branches are BRANCH_LEQ: x <= threshold goes to the true (left) child, as in the trainer. Thresholds,
 * leaf values and the base value are stored as float32; the trainer keeps them float32-exact, so
 * onnxruntime walks the very paths the trainer's own prediction does and only the sum is rounded.
 */
export const ML_DOMAIN = 'ai.onnx.ml';
/** Version 3 adds only the optional *_as_tensor attributes to version 1; runtimes since ORT 1.9 know it. */
export const ML_OPSET = 3;

/**
 * One tree, as services/trainer/core/gbdt.ts writes it (a GbdtModel is a TreeEnsembleSpec): internal
 * nodes 0…I−1 with the root at 0; a child ≥ 0 is an internal node, a child < 0 the leaf ~child.
 */
export interface EnsembleTree {
  readonly splitFeature: readonly number[];
  readonly threshold: readonly number[];
  readonly left: readonly number[];
  readonly right: readonly number[];
  readonly leafValue: readonly number[];
}

export interface TreeEnsembleSpec {
  readonly task: 'binary_classification' | 'regression';
  /** Width of the input rows. */
  readonly features: number;
  readonly baseScore: number;
  readonly trees: readonly EnsembleTree[];
}

/** The tree an ensemble without trees is written with: ONNX wants at least one, a zero leaf adds nothing. */
const EMPTY_TREE: EnsembleTree = { splitFeature: [], threshold: [], left: [], right: [], leafValue: [0] };

export function treeEnsembleOutputName(spec: Pick<TreeEnsembleSpec, 'task'>): string {
  return spec.task === 'binary_classification' ? 'probability' : 'output';
}

export function buildTreeEnsembleModel(spec: TreeEnsembleSpec, featureNames?: readonly string[]): Uint8Array {
  if (!Number.isInteger(spec.features) || spec.features < 1)
    throw new RangeError(`a tree ensemble needs at least one feature (${spec.features})`);
  if (featureNames && featureNames.length !== spec.features)
    throw new RangeError(`${spec.features} features but ${featureNames.length} feature names`);
  if (!Number.isFinite(spec.baseScore)) throw new RangeError('the base score must be finite');
  const trees = spec.trees.length > 0 ? spec.trees : [EMPTY_TREE];
  for (const [i, tree] of trees.entries()) checkTree(tree, i, spec.features);
  const out = treeEnsembleOutputName(spec);
  const logistic = spec.task === 'binary_classification';
  const nodes = [
    node('TreeEnsembleRegressor', [INPUT_NAME], [logistic ? 'score' : out], 'trees', {
      domain: ML_DOMAIN,
      attributes: ensembleAttributes(trees, spec.baseScore),
    }),
  ];
  if (logistic) nodes.push(node('Sigmoid', ['score'], [out], 'sigmoid'));
  return model({
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    domainOpsets: { [ML_DOMAIN]: ML_OPSET },
    producer: 'flywheel',
    metadata: featureNames ? { feature_names: featureNames.join(',') } : {},
    graph: graph({
      name: logistic ? 'gbdt_binary_classification' : 'gbdt_regression',
      nodes,
      initializers: [],
      inputs: [floatValueInfo(INPUT_NAME, ['N', spec.features])],
      outputs: [floatValueInfo(out, ['N', 1])],
    }),
  });
}

/**
 * TreeEnsembleRegressor's parallel node and target lists. Within a tree, ONNX node ids are the internal
 * nodes' indices, then I + leaf for the leaves.
 */
function ensembleAttributes(trees: readonly EnsembleTree[], baseScore: number) {
  const n = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as string[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
  };
  const target = { treeIds: [] as number[], nodeIds: [] as number[], weights: [] as number[] };
  trees.forEach((tree, t) => {
    const internal = tree.splitFeature.length;
    const id = (child: number) => (child >= 0 ? child : internal + ~child);
    const push = (nodeId: number, mode: string, feature: number, value: number, yes: number, no: number) => {
      n.treeIds.push(t);
      n.nodeIds.push(nodeId);
      n.modes.push(mode);
      n.featureIds.push(feature);
      n.values.push(value);
      n.trueIds.push(yes);
      n.falseIds.push(no);
    };
    for (let i = 0; i < internal; i++)
      push(i, 'BRANCH_LEQ', tree.splitFeature[i]!, tree.threshold[i]!, id(tree.left[i]!), id(tree.right[i]!));
    tree.leafValue.forEach((value, leaf) => {
      push(internal + leaf, 'LEAF', 0, 0, 0, 0);
      target.treeIds.push(t);
      target.nodeIds.push(internal + leaf);
      target.weights.push(value);
    });
  });
  return [
    stringAttribute('aggregate_function', 'SUM'),
    floatsAttribute('base_values', [baseScore]),
    intAttribute('n_targets', 1),
    intsAttribute('nodes_treeids', n.treeIds),
    intsAttribute('nodes_nodeids', n.nodeIds),
    intsAttribute('nodes_featureids', n.featureIds),
    stringsAttribute('nodes_modes', n.modes),
    floatsAttribute('nodes_values', n.values),
    intsAttribute('nodes_truenodeids', n.trueIds),
    intsAttribute('nodes_falsenodeids', n.falseIds),
    stringAttribute('post_transform', 'NONE'),
    intsAttribute('target_ids', new Array<number>(target.treeIds.length).fill(0)),
    intsAttribute('target_treeids', target.treeIds),
    intsAttribute('target_nodeids', target.nodeIds),
    floatsAttribute('target_weights', target.weights),
  ];
}

/**
 * A tree must be a binary tree over its leaves, reading features the input has, with finite numbers.
 * Every node and leaf but the root is the child of exactly one node, and a node's children come after it
 * (the order the trainer splits in), so no walk can loop.
 */
function checkTree(tree: EnsembleTree, index: number, features: number): void {
  const internal = tree.splitFeature.length;
  const fail = (why: string) => {
    throw new RangeError(`tree ${index}: ${why}`);
  };
  if ([tree.threshold, tree.left, tree.right].some((a) => a.length !== internal))
    fail('node arrays differ in length');
  if (tree.leafValue.length !== internal + 1) fail(`${internal} nodes but ${tree.leafValue.length} leaves`);
  if (!tree.splitFeature.every((f) => Number.isInteger(f) && f >= 0 && f < features))
    fail(`a split reads a feature outside 0…${features - 1}`);
  if (![...tree.threshold, ...tree.leafValue].every(Number.isFinite))
    fail('thresholds and leaves must be finite');
  const reached = new Set<number>();
  for (let i = 0; i < internal; i++)
    for (const child of [tree.left[i]!, tree.right[i]!]) {
      const inRange = child >= 0 ? child > i && child < internal : ~child <= internal;
      if (!Number.isInteger(child) || !inRange || reached.has(child))
        fail(`node ${i} has a bad child ${child}`);
      reached.add(child);
    }
}
