/**
 * Just enough of the protobuf wire format to write ONNX models: varints, length-delimited fields and
 * packed/raw bytes. Writing only (serving reads models through onnxruntime), so no schema compiler and
 * no dependency. Field numbers live with the messages that use them (onnx-proto.ts).
 */
const VARINT = 0;
const LENGTH_DELIMITED = 2;

export type Field = Uint8Array;

function varint(value: bigint | number): number[] {
  // int64 fields encode negatives as 10-byte two's complement; ONNX only needs non-negative ones here.
  let v = BigInt(value);
  if (v < 0n) v &= (1n << 64n) - 1n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);

export function intField(field: number, value: number | bigint): Field {
  return Uint8Array.from([...tag(field, VARINT), ...varint(value)]);
}

export function bytesField(field: number, bytes: Uint8Array): Field {
  const head = [...tag(field, LENGTH_DELIMITED), ...varint(bytes.length)];
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head, 0);
  out.set(bytes, head.length);
  return out;
}

export function stringField(field: number, text: string): Field {
  return bytesField(field, new TextEncoder().encode(text));
}

/** A nested message: its fields concatenated, written as one length-delimited field. */
export function messageField(field: number, parts: readonly Field[]): Field {
  return bytesField(field, concat(parts));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
