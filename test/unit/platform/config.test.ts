import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ALL_ENV_VARS, loadFlywheelConfig } from '../../../services/flywheel/modules.ts';
import { ENV_VARS, loadConfig } from '../../../services/platform/config.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { scratchDir } from '../../support/scratch.ts';

function configFile(content: string): string {
  const file = join(scratchDir('flywheel-config'), 'flywheel.json');
  writeFileSync(file, content);
  return file;
}

function rejectsWith(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FlywheelError);
    assert.equal(err.code, 'FW_CONFIG_INVALID');
    assert.match(err.message, pattern);
    return true;
  });
}

test('defaults describe the local stack on 127.0.0.1', () => {
  const c = loadConfig({});
  assert.equal(c.stack.cacheDir, '.cache');
  assert.equal(c.stack.runDir, undefined);
  assert.equal(c.stack.kafkaVersion, '3.9.2');
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:19092']);
  assert.equal(c.registry.url, 'http://127.0.0.1:18081/apis/ccompat/v7');
  assert.equal(c.redis.url, 'redis://127.0.0.1:16379');
  assert.equal(c.redis.keyPrefix, 'fw:');
  assert.equal(c.clickhouse.url, undefined);
  assert.equal(c.clickhouse.dataDir, '.cache/chdb');
  assert.equal(c.kafka.defaultPartitions, 4);
  assert.equal(c.http.maxBodyBytes, 1_048_576);
  assert.deepEqual(c.stack.jvmDirs, ['/usr/lib/jvm']);
});

test('environment variables override defaults, and derived addresses follow the ports', () => {
  const c = loadConfig({
    FLYWHEEL_KAFKA_PORT: '29092',
    FLYWHEEL_REDIS_PORT: '26379',
    FLYWHEEL_REGISTRY_PORT: '28081',
    FLYWHEEL_KAFKA_PARTITIONS: '8',
    FLYWHEEL_JVM_DIRS: '/opt/jdks, /usr/lib/jvm',
    FLYWHEEL_CACHE_DIR: '/var/cache/flywheel',
    FLYWHEEL_READY_TIMEOUT_MS: '',
  });
  assert.equal(c.stack.kafkaPort, 29092);
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:29092']);
  assert.equal(c.redis.url, 'redis://127.0.0.1:26379');
  assert.equal(c.registry.url, 'http://127.0.0.1:28081/apis/ccompat/v7');
  assert.equal(c.kafka.defaultPartitions, 8);
  assert.deepEqual(c.stack.jvmDirs, ['/opt/jdks', '/usr/lib/jvm']);
  assert.equal(c.clickhouse.dataDir, '/var/cache/flywheel/chdb');
  assert.equal(c.stack.readyTimeoutMs, 120_000, 'an empty variable counts as unset');
});

test('explicit addresses win over the derived ones', () => {
  const c = loadConfig({
    FLYWHEEL_KAFKA_BROKERS: 'k1:9092,k2:9092',
    FLYWHEEL_REDIS_URL: 'redis://cache:6379',
    CLICKHOUSE_URL: 'http://clickhouse:8123',
  });
  assert.deepEqual(c.kafka.brokers, ['k1:9092', 'k2:9092']);
  assert.equal(c.redis.url, 'redis://cache:6379');
  assert.equal(c.clickhouse.url, 'http://clickhouse:8123');
});

test('a FLYWHEEL_CONFIG file sits between the defaults and the environment; overrides come last', () => {
  const file = configFile(
    JSON.stringify({ stack: { redisPort: 36379, kafkaPort: 39092 }, http: { ingestPort: 9700 } }),
  );
  const c = loadConfig(
    { FLYWHEEL_CONFIG: file, FLYWHEEL_KAFKA_PORT: '49092' },
    { http: { servingPort: 9701 } },
  );
  assert.equal(c.stack.redisPort, 36379, 'from the file');
  assert.equal(c.stack.kafkaPort, 49092, 'the environment beats the file');
  assert.equal(c.http.ingestPort, 9700);
  assert.equal(c.http.servingPort, 9701, 'from the overrides');
  assert.equal(c.http.consolePort, 8702, 'default');
});

test('an unreadable or malformed config file is a readable FW_CONFIG_INVALID', () => {
  rejectsWith(
    () => loadConfig({ FLYWHEEL_CONFIG: '/nonexistent/flywheel.json' }),
    /Cannot read FLYWHEEL_CONFIG file \/nonexistent\/flywheel\.json/,
  );
  rejectsWith(
    () => loadConfig({ FLYWHEEL_CONFIG: configFile('{ not json') }),
    /Cannot read FLYWHEEL_CONFIG file .*JSON/,
  );
});

test('an invalid value names the config path and the environment variable to change', () => {
  rejectsWith(() => loadConfig({ FLYWHEEL_REDIS_PORT: 'abc' }), /stack\.redisPort \(FLYWHEEL_REDIS_PORT\)/);
  rejectsWith(() => loadConfig({ FLYWHEEL_KAFKA_PORT: '70000' }), /stack\.kafkaPort \(FLYWHEEL_KAFKA_PORT\)/);
  rejectsWith(
    () => loadConfig({ FLYWHEEL_KAFKA_VERSION: 'latest' }),
    /stack\.kafkaVersion \(FLYWHEEL_KAFKA_VERSION\)/,
  );
  rejectsWith(() => loadConfig({ CLICKHOUSE_URL: 'not a url' }), /clickhouse\.url \(CLICKHOUSE_URL\)/);
  rejectsWith(
    () => loadConfig({ FLYWHEEL_REDIS_PORT: '0', FLYWHEEL_MAX_BODY_BYTES: '-1' }),
    /Invalid Flywheel configuration:\n {2}- stack\.redisPort .*\n {2}- http\.maxBodyBytes \(FLYWHEEL_MAX_BODY_BYTES\)/,
  );
});

test('the configuration is deeply frozen', () => {
  const c = loadConfig({});
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.stack));
  assert.ok(Object.isFrozen(c.kafka.brokers));
  assert.ok(Object.isFrozen(c.stack.jvmDirs));
  assert.throws(() => {
    (c.stack as { redisPort: number }).redisPort = 1;
  }, TypeError);
  assert.throws(() => {
    (c.kafka.brokers as string[]).push('x:1');
  }, TypeError);
});

test("every environment variable, the platform's and the modules', maps to a real config path, once", () => {
  const full = loadFlywheelConfig({});
  const c = { ...full, ...full.sections } as unknown as Record<string, Record<string, unknown>>;
  assert.ok(ALL_ENV_VARS.length > ENV_VARS.length, 'the modules declare variables of their own');
  const names = new Set<string>();
  for (const v of ALL_ENV_VARS) {
    assert.ok(!names.has(v.env), `${v.env} listed twice`);
    names.add(v.env);
    const [section, key] = v.path.split('.') as [string, string];
    assert.ok(
      (section in c && key in (c[section] ?? {})) ||
        [
          'stack.runDir',
          'clickhouse.url',
          'http.port',
          'kafka.brokers',
          'registry.url',
          'redis.url',
        ].includes(v.path),
      `${v.env} → ${v.path}`,
    );
    assert.ok(v.description.length > 10, `${v.env} has a description`);
  }
});
