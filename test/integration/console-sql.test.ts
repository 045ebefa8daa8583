import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { runReadOnlyQuery } from '../../services/console/status.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { FlywheelError } from '../../services/platform/errors.ts';
import { testConfig } from '../support/env.ts';

/** The console's analyst endpoint runs one read-only statement with a row cap, on the real store. */
const config = testConfig();
after(async () => closeEmbeddedClickHouse());

test('read-only SQL: answers SELECTs, caps rows, refuses writes and statement stacking', async () => {
  const ch = await createClickHouse(config);
  await ch.command({
    query: 'CREATE TABLE IF NOT EXISTS console_probe (n UInt32) ENGINE = MergeTree ORDER BY n',
  });
  await ch.insert({ table: 'console_probe', values: [{ n: 1 }, { n: 2 }], format: 'JSONEachRow' });

  assert.deepEqual(await runReadOnlyQuery(ch, 'SELECT sum(n) AS s FROM console_probe'), [{ s: 3 }]);
  const capped = await runReadOnlyQuery(ch, 'SELECT number FROM system.numbers LIMIT 100000', 1_000);
  assert.equal(capped.length, 1_000, 'the row cap applies');

  const refused = async (sql: unknown) =>
    assert.rejects(
      runReadOnlyQuery(ch, sql as string),
      (err: unknown) => err instanceof FlywheelError && err.code === 'FW_BAD_REQUEST',
    );
  await refused('INSERT INTO console_probe VALUES (3)');
  await refused('DROP TABLE console_probe');
  await refused('SELECT 1; DROP TABLE console_probe');
  await refused('');
  await refused(42);
  await refused("SELECT * FROM console_probe INTO OUTFILE '/tmp/x.csv'");
  await refused("SELECT * FROM file('/etc/passwd', 'LineAsString')");
  await refused("SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')");
  // A write smuggled behind a read-looking prefix is stopped by readonly=1 in ClickHouse itself.
  await assert.rejects(runReadOnlyQuery(ch, 'WITH 1 AS x SELECT x FROM (SELECT 1) SETTINGS readonly = 0'));
  assert.deepEqual(
    await runReadOnlyQuery(ch, 'SELECT count() AS c FROM console_probe'),
    [{ c: 2 }],
    'nothing was written or dropped',
  );
});
