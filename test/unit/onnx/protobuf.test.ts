import assert from 'node:assert/strict';
import { test } from 'node:test';
import { intField, messageField, stringField } from '../../../services/core/onnx/protobuf.ts';

test('varint and length-delimited fields match the protobuf wire format', () => {
  assert.deepEqual([...intField(1, 150)], [0x08, 0x96, 0x01]);
  assert.deepEqual([...intField(2, 300)], [0x10, 0xac, 0x02]);
  assert.deepEqual([...intField(1, 0)], [0x08, 0x00]);
  assert.deepEqual([...stringField(2, 'testing')], [0x12, 0x07, ...Buffer.from('testing')]);
  assert.deepEqual([...messageField(3, [intField(1, 150)])], [0x1a, 0x03, 0x08, 0x96, 0x01]);
  assert.equal(intField(1, -1).length, 11, 'negative int64: ten-byte two’s complement');
});
