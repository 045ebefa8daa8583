import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { consoleModule } from '../../services/console/index.ts';
import { createClickHouse } from '../../services/platform/clickhouse.ts';
import type { ResolvedConfig } from '../../services/platform/config.ts';
import { type RunningModules, runModules } from '../../services/platform/modules.ts';
import { quietLogger, testConfig, useStack } from '../support/env.ts';
import { freePort } from '../support/ports.ts';

/**
 * The console's analyst endpoint, POST /api/sql, over HTTP: the console module started through
 * runModules (what `flywheel run console` does) on a port of its own, on the real embedded store. It runs
 * one read-only statement with a row cap (10,000) and answers everything else with a coded error.
 */
const REFUSED = /only one reading statement/;
const NOT_SQL = /expected \{"sql": "<one read-only statement>"\}/;

let config: Readonly<ResolvedConfig>;
let running: RunningModules | undefined;
let url: string;

before(async () => {
  config = testConfig({ http: { consolePort: await freePort() } });
  await useStack(config);
  running = await runModules({
    catalogue: [consoleModule],
    selected: ['console'],
    config,
    logger: quietLogger(),
    project: { views: [] },
  });
  const console = running.get('console')!;
  await console.started;
  assert.equal(console.port, config.http.consolePort);
  url = `http://127.0.0.1:${console.port}`;
  // The module's own ClickHouse session (one embedded session per process): a table to read.
  const ch = await createClickHouse(config);
  await ch.command({
    query: 'CREATE TABLE IF NOT EXISTS console_probe (n UInt32) ENGINE = MergeTree ORDER BY n',
  });
  await ch.insert({ table: 'console_probe', values: [{ n: 1 }, { n: 2 }], format: 'JSONEachRow' });
});

after(async () => running?.stop());

/** POSTs `body` (an object as JSON, a string as is) and returns the status and the parsed answer. */
async function post(body: unknown, init: { method?: string } = {}) {
  const res = await fetch(`${url}/api/sql`, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json' },
    ...(init.method === 'GET' ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return { status: res.status, body: (await res.json()) as { rows?: unknown[]; error?: ApiError } };
}

interface ApiError {
  code: string;
  message: string;
}

/** Asserts a coded error answer: status, code and message. */
function assertError(
  where: string,
  answer: { status: number; body: { rows?: unknown[]; error?: ApiError } },
  status: number,
  code: string,
  message: RegExp,
): void {
  assert.equal(answer.status, status, `${where}: status`);
  assert.equal(answer.body.rows, undefined, `${where}: no rows`);
  assert.equal(answer.body.error?.code, code, `${where}: code`);
  assert.match(answer.body.error?.message ?? '', message, `${where}: message`);
}

test('POST /api/sql answers a SELECT with its rows, and caps the rows at 10,000', async () => {
  assert.deepEqual(await post({ sql: 'SELECT sum(n) AS s FROM console_probe' }), {
    status: 200,
    body: { rows: [{ s: 3 }] },
  });
  assert.deepEqual(await post({ sql: 'SELECT n FROM console_probe ORDER BY n;' }), {
    status: 200,
    body: { rows: [{ n: 1 }, { n: 2 }] },
  });
  const capped = await post({ sql: 'SELECT number FROM system.numbers LIMIT 100000' });
  assert.equal(capped.status, 200);
  assert.equal(capped.body.rows?.length, 10_000, 'the row cap applies');
});

test('POST /api/sql refuses writes, stacked statements, SETTINGS, files and remote sources with a 400', async () => {
  const statements = [
    'INSERT INTO console_probe VALUES (3)',
    'DROP TABLE console_probe',
    'SELECT 1; DROP TABLE console_probe',
    '',
    '   ',
    "SELECT * FROM console_probe INTO OUTFILE '/tmp/x.csv'",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')",
    // A write smuggled behind a read-looking prefix: no SETTINGS clause gets through (readonly = 0 would
    // lift ClickHouse's own guard).
    'WITH 1 AS x SELECT x FROM (SELECT 1) SETTINGS readonly = 0',
  ];
  for (const sql of statements)
    assertError(JSON.stringify(sql), await post({ sql }), 400, 'FW_BAD_REQUEST', REFUSED);
  assert.deepEqual(
    await post({ sql: 'SELECT count() AS c FROM console_probe' }),
    { status: 200, body: { rows: [{ c: 2 }] } },
    'nothing was written or dropped',
  );
});

test('POST /api/sql refuses bodies that are not {"sql": "<string>"} with coded errors', async () => {
  for (const body of [{ sql: 42 }, { query: 'SELECT 1' }, 'null', '[]', '"SELECT 1"'])
    assertError(JSON.stringify(body), await post(body), 400, 'FW_BAD_REQUEST', NOT_SQL);
  assertError('invalid JSON', await post('{"sql": '), 400, 'FW_BAD_REQUEST', /not valid JSON/);
  assertError('empty body', await post(''), 400, 'FW_BAD_REQUEST', /body is empty/);
  assertError(
    'over 64 KiB',
    await post({ sql: `SELECT '${'x'.repeat(70_000)}'` }),
    413,
    'FW_PAYLOAD_TOO_LARGE',
    /exceeds the 65536-byte limit/,
  );
  assertError('GET', await post(undefined, { method: 'GET' }), 405, 'FW_BAD_REQUEST', /method GET/);
});
