import { floatTensor, floatValueInfo, graph, model, node } from './onnx-proto.ts';

/**
 * A linear / logistic-regression model as ONNX (opset 13, IR 8):
 *   features float[N, F] → (Sub(offsets[F])) → MatMul(W[F, 1]) → Add(b[1]) → (Sigmoid) → output float[N, 1]
 * The optional offsets centre the inputs first: float32 then sums small terms instead of large ones.
 * The trainer exports through this; serving only ever sees the bytes. Weights are stored as float32,
 * so a reference computation must round them (and the inputs) with Math.fround to match.
 */
export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 8;

export interface LinearModelSpec {
  weights: readonly number[];
  bias: number;
  /** Subtracted from the inputs before the product (the bias is then the centred one). */
  offsets?: readonly number[];
  /** true: logistic regression (output `probability`); false: plain linear (output `output`). */
  sigmoid?: boolean;
  /** Recorded as metadata `feature_names` (comma-separated); the registry keeps the authoritative list. */
  featureNames?: readonly string[];
}

export const INPUT_NAME = 'features';

export function outputNameOf(spec: Pick<LinearModelSpec, 'sigmoid'>): string {
  return spec.sigmoid === false ? 'output' : 'probability';
}

export function buildLinearModel(spec: LinearModelSpec): Uint8Array {
  const f = spec.weights.length;
  if (f === 0) throw new RangeError('a linear model needs at least one weight');
  if (![...spec.weights, spec.bias, ...(spec.offsets ?? [])].every(Number.isFinite))
    throw new RangeError('weights and offsets must be finite');
  if (spec.offsets && spec.offsets.length !== f)
    throw new RangeError(`${f} weights but ${spec.offsets.length} offsets`);
  if (spec.featureNames && spec.featureNames.length !== f)
    throw new RangeError(`${f} weights but ${spec.featureNames.length} feature names`);
  const out = outputNameOf(spec);
  const logistic = spec.sigmoid !== false;
  const centred = spec.offsets !== undefined;
  const nodes = [
    ...(centred ? [node('Sub', [INPUT_NAME, 'offsets'], ['centred'], 'centre')] : []),
    node('MatMul', [centred ? 'centred' : INPUT_NAME, 'W'], ['xw'], 'matmul'),
    node('Add', ['xw', 'b'], [logistic ? 'logit' : out], 'add'),
  ];
  if (logistic) nodes.push(node('Sigmoid', ['logit'], [out], 'sigmoid'));
  return model({
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    producer: 'flywheel',
    metadata: spec.featureNames ? { feature_names: spec.featureNames.join(',') } : {},
    graph: graph({
      name: logistic ? 'logistic_regression' : 'linear_regression',
      nodes,
      initializers: [
        ...(centred ? [floatTensor('offsets', [f], spec.offsets!)] : []),
        floatTensor('W', [f, 1], spec.weights),
        floatTensor('b', [1], [spec.bias]),
      ],
      inputs: [floatValueInfo(INPUT_NAME, ['N', f])],
      outputs: [floatValueInfo(out, ['N', 1])],
    }),
  });
}

/** The same model in plain TypeScript, float32-faithful: the reference tests compare ONNX against. */
export function evaluateLinear(spec: LinearModelSpec, row: readonly number[]): number {
  let z = 0;
  for (let i = 0; i < spec.weights.length; i++) {
    const x = Math.fround(row[i] ?? 0);
    const input = spec.offsets ? Math.fround(x - Math.fround(spec.offsets[i]!)) : x;
    z += Math.fround(spec.weights[i]!) * input;
  }
  z += Math.fround(spec.bias);
  return spec.sigmoid === false ? z : 1 / (1 + Math.exp(-z));
}
