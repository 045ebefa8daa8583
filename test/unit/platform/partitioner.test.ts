import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { murmur2, ownerPartition } from '../../../services/platform/partitioner.ts';
import { createRng } from '../../support/prng.ts';

// kafkajs's own (Long-arithmetic) murmur2: an independent implementation of the same hash.
const kafkajsMurmur2 = createRequire(import.meta.url)(
  'kafkajs/src/producer/partitioners/default/murmur2.js',
) as (key: Buffer) => number;

test("murmur2 equals the Java client's values (Kafka's UtilsTest vectors)", () => {
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, expected] of vectors) assert.equal(murmur2(Buffer.from(key)), expected, key);
});

test("murmur2 equals kafkajs's implementation on 20,000 random keys of every length mod 4", () => {
  const rng = createRng(7);
  for (let i = 0; i < 20_000; i++) {
    const bytes = Buffer.from(Array.from({ length: rng.int(0, 40) }, () => rng.int(0, 255)));
    assert.equal(murmur2(bytes), kafkajsMurmur2(bytes));
  }
});

test("ownerPartition is kafkajs's DefaultPartitioner: (murmur2 & 0x7fffffff) % partitions", () => {
  for (const key of ['u1', 'u42', 'ü-ñ', '']) {
    for (const n of [1, 4, 7]) {
      const expected = (kafkajsMurmur2(Buffer.from(key)) & 0x7fffffff) % n;
      assert.equal(ownerPartition(key, n), expected);
      assert.equal(ownerPartition(Buffer.from(key), n), expected);
    }
  }
});
