import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { withRetry } from '../../../services/platform/retry.ts';

const FAST = { initialDelayMs: 1, maxDelayMs: 2 };

test('retries retriable errors until the call succeeds', async () => {
  const attempts: number[] = [];
  const retries: number[] = [];
  const value = await withRetry(
    async (attempt) => {
      attempts.push(attempt);
      if (attempt < 3) throw new FlywheelError('FW_KAFKA_UNAVAILABLE', 'not yet');
      return 'done';
    },
    {
      ...FAST,
      onRetry: (_err, n, delay) => {
        retries.push(n);
        assert.ok(delay >= 0 && delay <= 2);
      },
    },
  );
  assert.equal(value, 'done');
  assert.deepEqual(attempts, [0, 1, 2, 3]);
  assert.deepEqual(retries, [1, 2, 3]);
});

test('stops at the first non-retriable error and rethrows it unchanged', async () => {
  let calls = 0;
  const fatal = new FlywheelError('FW_EVENT_INVALID', 'bad event');
  await assert.rejects(
    withRetry(async () => {
      calls++;
      if (calls === 1) throw new FlywheelError('FW_REDIS_UNAVAILABLE', 'blip');
      throw fatal;
    }, FAST),
    (err) => err === fatal,
  );
  assert.equal(calls, 2);
});

test('unknown errors are not retried blindly', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw new Error('boom');
    }, FAST),
    /boom/,
  );
  assert.equal(calls, 1);
});

test('gives up after `retries` retries with the last error', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(
      async () => {
        calls++;
        throw new FlywheelError('FW_CLICKHOUSE_UNAVAILABLE', `attempt ${calls}`);
      },
      { ...FAST, retries: 2 },
    ),
    /attempt 3/,
  );
  assert.equal(calls, 3);
});

test('a custom `retriable` predicate replaces the catalogue flag', async () => {
  let calls = 0;
  const value = await withRetry(
    async () => {
      if (++calls < 3) throw new Error('ECONNRESET');
      return calls;
    },
    { ...FAST, retriable: (err) => /ECONNRESET/.test(String(err)) },
  );
  assert.equal(value, 3);
});

test('the backoff ceiling grows exponentially and is capped', async () => {
  const delays: number[] = [];
  await assert.rejects(
    withRetry(
      async () => {
        throw new FlywheelError('FW_KAFKA_UNAVAILABLE', 'down');
      },
      { retries: 6, initialDelayMs: 1, maxDelayMs: 4, onRetry: (_e, _n, d) => delays.push(d) },
    ),
  );
  assert.equal(delays.length, 6);
  const ceilings = [1, 2, 4, 4, 4, 4];
  for (const [i, d] of delays.entries()) assert.ok(d >= 0 && d <= ceilings[i]!, `retry ${i + 1}: ${d} ms`);
});
