import { bytesField, concat, type Field, intField, messageField, stringField } from './protobuf.ts';

/**
 * The slice of onnx.proto (IR version 8) that Flywheel's models need, as message builders. Field numbers
 * are onnx.proto's; anything not listed here (sparse tensors, functions, tensor or graph attributes) is
 * not written.
 */
export const FLOAT = 1;

/** A dimension: a fixed size, or a symbolic name such as 'N' for the batch axis. */
export type Dim = number | string;

/** TensorProto with float32 data as little-endian raw_data (field 9). */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): Field[] {
  const data = new Float32Array(values);
  return [
    ...dims.map((d) => intField(1, d)),
    intField(2, FLOAT),
    stringField(8, name),
    bytesField(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  ];
}

/** ValueInfoProto of a float tensor: name, TypeProto.tensor_type { elem_type, shape }. */
export function floatValueInfo(name: string, dims: readonly Dim[]): Field[] {
  const dim = (d: Dim) => messageField(1, [typeof d === 'number' ? intField(1, d) : stringField(2, d)]);
  const shape = messageField(2, dims.map(dim));
  const tensorType = messageField(1, [intField(1, FLOAT), shape]);
  return [stringField(1, name), messageField(2, [tensorType])];
}

export interface NodeOptions {
  /** The operator set the op belongs to, e.g. 'ai.onnx.ml'; the default domain when absent. */
  domain?: string;
  attributes?: readonly Field[][];
}

export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  options: NodeOptions = {},
) {
  return [
    ...inputs.map((i) => stringField(1, i)),
    ...outputs.map((o) => stringField(2, o)),
    stringField(3, name),
    stringField(4, opType),
    ...(options.attributes ?? []).map((a) => messageField(5, a)),
    ...(options.domain === undefined ? [] : [stringField(7, options.domain)]),
  ];
}

/** AttributeProto.AttributeType values of the kinds written below. */
const ATTRIBUTE_TYPE = { INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** AttributeProto: name (1), the value field, type (20). */
function attribute(name: string, type: number, value: readonly Field[]): Field[] {
  return [stringField(1, name), ...value, intField(20, type)];
}

export function intAttribute(name: string, value: number): Field[] {
  return attribute(name, ATTRIBUTE_TYPE.INT, [intField(3, value)]);
}

export function stringAttribute(name: string, value: string): Field[] {
  return attribute(name, ATTRIBUTE_TYPE.STRING, [stringField(4, value)]);
}

/** floats (7) packed as little-endian float32, which every protobuf parser accepts for a repeated float. */
export function floatsAttribute(name: string, values: ArrayLike<number>): Field[] {
  const data = new Float32Array(values);
  return attribute(name, ATTRIBUTE_TYPE.FLOATS, [bytesField(7, new Uint8Array(data.buffer))]);
}

/** ints (8), one varint field per value (non-negative values only, like every intField). */
export function intsAttribute(name: string, values: readonly number[]): Field[] {
  return attribute(
    name,
    ATTRIBUTE_TYPE.INTS,
    values.map((v) => intField(8, v)),
  );
}

export function stringsAttribute(name: string, values: readonly string[]): Field[] {
  return attribute(
    name,
    ATTRIBUTE_TYPE.STRINGS,
    values.map((v) => stringField(9, v)),
  );
}

export interface GraphParts {
  name: string;
  nodes: Field[][];
  initializers: Field[][];
  inputs: Field[][];
  outputs: Field[][];
}

export function graph(g: GraphParts): Field[] {
  return [
    ...g.nodes.map((n) => messageField(1, n)),
    stringField(2, g.name),
    ...g.initializers.map((t) => messageField(5, t)),
    ...g.inputs.map((v) => messageField(11, v)),
    ...g.outputs.map((v) => messageField(12, v)),
  ];
}

export interface ModelParts {
  graph: Field[];
  /** The default domain's (ai.onnx) opset version. */
  opset: number;
  /** Opset versions of further domains the graph's nodes use, e.g. { 'ai.onnx.ml': 3 }. */
  domainOpsets?: Readonly<Record<string, number>>;
  irVersion: number;
  producer: string;
  /** metadata_props: readable back through onnxruntime's session metadata. */
  metadata: Record<string, string>;
}

export function model(m: ModelParts): Uint8Array {
  return concat([
    intField(1, m.irVersion),
    stringField(2, m.producer),
    messageField(7, m.graph),
    messageField(8, [stringField(1, ''), intField(2, m.opset)]),
    ...Object.entries(m.domainOpsets ?? {}).map(([domain, v]) =>
      messageField(8, [stringField(1, domain), intField(2, v)]),
    ),
    ...Object.entries(m.metadata).map(([k, v]) => messageField(14, [stringField(1, k), stringField(2, v)])),
  ]);
}
