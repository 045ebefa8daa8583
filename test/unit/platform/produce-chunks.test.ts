import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkBySize, messageBytes } from '../../../services/platform/kafka.ts';

test('chunkBySize keeps order, never exceeds the bound but for an item larger alone, loses nothing', () => {
  const sizes = [100, 300, 200, 600, 50, 50, 1_000, 10];
  const chunks = chunkBySize(sizes, (n) => n, 500);
  assert.deepEqual(chunks, [[100, 300], [200], [600], [50, 50], [1_000], [10]]);
  assert.deepEqual(chunks.flat(), sizes);
  assert.deepEqual(
    chunkBySize([], (n: number) => n, 500),
    [],
  );
});

test('messageBytes counts key, value and headers', () => {
  const m = { key: 'ab', value: Buffer.alloc(10), headers: { h: 'xyz', e: undefined } };
  assert.equal(messageBytes(m), 32 + 2 + 10 + 1 + 3 + 1);
  assert.equal(messageBytes({ key: null, value: null }), 32);
});
