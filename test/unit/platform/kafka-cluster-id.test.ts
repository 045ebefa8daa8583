import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newClusterId } from '../../../services/platform/stack/parts/kafka.ts';

test('a cluster id never starts with "-" (the storage tool would read it as an option)', () => {
  // 0xf8 encodes to a leading "-" in base64url: the first draw must be refused, the second taken.
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
  const id = newClusterId(() => draws.shift()!);
  assert.equal(Buffer.alloc(16, 0xf8).toString('base64url')[0], '-');
  assert.equal(id, Buffer.alloc(16, 0x01).toString('base64url'));
  assert.equal(draws.length, 0);
  for (let i = 0; i < 2_000; i++) {
    const random = newClusterId();
    assert.match(random, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  }
});
