import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  CONFIG_DOC,
  configTable,
  configurationDoc,
  README,
  readmeWithTable,
} from '../../../scripts/gen-config-docs.ts';
import { ALL_ENV_VARS as ENV_VARS } from '../../../services/flywheel/modules.ts';

const FIX = 'run `node --import tsx scripts/gen-config-docs.ts` to regenerate it';

test('docs/configuration.md is generated from ENV_VARS and up to date', () => {
  assert.equal(
    readFileSync(CONFIG_DOC, 'utf8'),
    configurationDoc(),
    `docs/configuration.md is stale: ${FIX}`,
  );
});

test("the README's configuration section is up to date", () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(readme, readmeWithTable(readme), `README.md's config section is stale: ${FIX}`);
});

test('the table has one row per environment variable, with its default', () => {
  const rows = configTable().split('\n').slice(2);
  assert.equal(rows.length, ENV_VARS.length);
  assert.ok(rows.some((r) => r.startsWith('| `FLYWHEEL_REDIS_PORT` | `stack.redisPort` | `16379` |')));
  assert.ok(
    rows.some((r) => r.startsWith('| `FLYWHEEL_KAFKA_BROKERS` | `kafka.brokers` | `127.0.0.1:19092` |')),
  );
  assert.ok(rows.some((r) => r.startsWith('| `CLICKHOUSE_URL` | `clickhouse.url` | (unset) |')));
});
