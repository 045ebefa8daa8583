import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ERROR_CATALOGUE,
  type ErrorCode,
  FlywheelError,
  isRetriable,
} from '../../../services/platform/errors.ts';

const DOC = readFileSync(join(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

/** The table rows of docs/errors.md: | `CODE` | status | retriable | meaning | fix | */
function documentedRows(): Map<string, { status: number; retriable: string; cells: string[] }> {
  const rows = new Map<string, { status: number; retriable: string; cells: string[] }>();
  for (const line of DOC.split('\n')) {
    const m = /^\| `(FW_[A-Z_]+)` \| (\d{3}) \| (yes|no) \|(.*)\|$/.exec(line);
    if (m) rows.set(m[1]!, { status: Number(m[2]), retriable: m[3]!, cells: m[4]!.split(' | ') });
  }
  return rows;
}

test('docs/errors.md documents every code with its status, retriable flag, meaning and fix', () => {
  const rows = documentedRows();
  for (const code of CODES) {
    const row = rows.get(code);
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.equal(row.status, ERROR_CATALOGUE[code].status, `${code} status`);
    assert.equal(row.retriable, ERROR_CATALOGUE[code].retriable ? 'yes' : 'no', `${code} retriable`);
    assert.equal(row.cells.length, 2, `${code} has a meaning and a fix`);
    for (const cell of row.cells) assert.ok(cell.trim().length > 5, `${code}: empty cell`);
  }
});

test('docs/errors.md documents no code that the catalogue lacks', () => {
  const extra = [...documentedRows().keys()].filter((c) => !(c in ERROR_CATALOGUE));
  assert.deepEqual(extra, []);
});

test('a FlywheelError carries its catalogue status and retriable flag, and serialises without the stack', () => {
  const cause = new Error('socket hang up');
  const err = new FlywheelError('FW_KAFKA_UNAVAILABLE', 'Kafka did not answer', {
    cause,
    details: { topic: 't' },
  });
  assert.equal(err.name, 'FlywheelError');
  assert.equal(err.status, 503);
  assert.equal(err.retriable, true);
  assert.equal(err.cause, cause);
  assert.deepEqual(err.toJSON(), {
    code: 'FW_KAFKA_UNAVAILABLE',
    message: 'Kafka did not answer',
    details: { topic: 't' },
  });
  assert.deepEqual(new FlywheelError('FW_NOT_FOUND', 'no').toJSON(), { code: 'FW_NOT_FOUND', message: 'no' });
});

test('isRetriable follows the catalogue, foreign `retriable` flags, and refuses unknown errors', () => {
  assert.equal(isRetriable(new FlywheelError('FW_REDIS_UNAVAILABLE', 'x')), true);
  assert.equal(isRetriable(new FlywheelError('FW_EVENT_INVALID', 'x')), false);
  assert.equal(isRetriable(Object.assign(new Error('kafkajs'), { retriable: true })), true);
  assert.equal(isRetriable(Object.assign(new Error('kafkajs'), { retriable: false })), false);
  assert.equal(isRetriable(new Error('plain')), false);
  assert.equal(isRetriable(null), false);
  assert.equal(isRetriable('string'), false);
});

test('codes are FW_ prefixed and statuses are HTTP error statuses', () => {
  for (const code of CODES) {
    assert.match(code, /^FW_[A-Z_]+$/);
    const { status } = ERROR_CATALOGUE[code];
    assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
  }
});
