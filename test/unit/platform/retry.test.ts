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

test('the backoff ceiling doubles from initialDelayMs up to maxDelayMs; full jitter scales it by Math.random()', async (t) => {
  const draws = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.999, 0];
  const random = t.mock.method(Math, 'random', () => draws.shift() ?? 0.5);
  const delays: number[] = [];
  const attempts: number[] = [];
  await assert.rejects(
    withRetry(
      async () => {
        throw new FlywheelError('FW_KAFKA_UNAVAILABLE', 'down');
      },
      {
        retries: 9,
        initialDelayMs: 4,
        maxDelayMs: 40,
        onRetry: (_e, n, d) => {
          attempts.push(n);
          delays.push(d);
        },
      },
    ),
    (err: unknown) => err instanceof FlywheelError && err.code === 'FW_KAFKA_UNAVAILABLE',
  );
  // Ceilings 4, 8, 16, 32, then capped at 40; delay = round(random × ceiling).
  assert.deepEqual(delays, [2, 4, 8, 16, 20, 20, 20, 40, 0]);
  assert.deepEqual(attempts, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(random.mock.callCount(), 9, 'one draw per retry');
});
