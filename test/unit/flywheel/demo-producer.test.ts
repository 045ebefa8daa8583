import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { DemoSettings } from '../../../services/flywheel/demo-module.ts';
import { loadFlywheelConfig as loadConfig } from '../../../services/flywheel/modules.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { createRateBudget as createOrderBudget } from '../../../services/project/traffic.ts';

/** The demo module's own section, as the whole configuration (every module's section) resolves it. */
const demo = (env: NodeJS.ProcessEnv) => (loadConfig(env).sections.demo as DemoSettings).rate;

describe('FLYWHEEL_DEMO_RATE (config demo.rate)', () => {
  test('unset or empty is the default, 0 is off, a number of 0 or more is taken', () => {
    assert.equal(demo({}), 200);
    assert.equal(demo({ FLYWHEEL_DEMO_RATE: '' }), 200);
    assert.equal(demo({ FLYWHEEL_DEMO_RATE: '0' }), 0);
    assert.equal(demo({ FLYWHEEL_DEMO_RATE: ' 2.5 ' }), 2.5);
  });

  test('a negative or non-numeric rate is refused, naming the variable', () => {
    for (const value of ['-1', 'fast', 'Infinity', '1/s']) {
      assert.throws(
        () => loadConfig({ FLYWHEEL_DEMO_RATE: value }),
        (err: unknown) =>
          err instanceof FlywheelError &&
          err.code === 'FW_CONFIG_INVALID' &&
          err.message.includes('demo.rate (FLYWHEEL_DEMO_RATE)'),
      );
    }
  });

  test("every bad setting is reported at once, the platform's and each module's own", () => {
    const bad = {
      FLYWHEEL_DEMO_RATE: '-1',
      FLYWHEEL_LOG_LEVEL: 'loud',
      FLYWHEEL_STARTUP_MAX_ATTEMPTS: 'x',
      FLYWHEEL_FEATURES_SESSION_TIMEOUT_MS: '100',
      FLYWHEEL_SERVING_MAX_ENTITIES: '0',
    };
    assert.throws(
      () => loadConfig(bad),
      (err: unknown) =>
        err instanceof FlywheelError &&
        err.code === 'FW_CONFIG_INVALID' &&
        [
          'demo.rate (FLYWHEEL_DEMO_RATE)',
          'log.level (FLYWHEEL_LOG_LEVEL)',
          'startup.maxAttempts (FLYWHEEL_STARTUP_MAX_ATTEMPTS)',
          'features.sessionTimeoutMs (FLYWHEEL_FEATURES_SESSION_TIMEOUT_MS)',
          'serving.maxEntities (FLYWHEEL_SERVING_MAX_ENTITIES)',
        ].every((v) => err.message.includes(v)) &&
        err.message.split('\n').length === 6,
    );
  });

  test('a module section of the config file is strict: a misspelt key is an error, not ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fw-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ features: { sessionTimeoutMS: 7_000 }, serving: { maxEntities: 7 } }),
    );
    assert.throws(
      () => loadConfig({ FLYWHEEL_CONFIG: file }),
      (err: unknown) =>
        err instanceof FlywheelError && /features: Unrecognized key: "sessionTimeoutMS"/.test(err.message),
    );
    writeFileSync(file, JSON.stringify({ serving: { maxEntities: 7 } }));
    assert.equal(
      (loadConfig({ FLYWHEEL_CONFIG: file }).sections.serving as { maxEntities: number }).maxEntities,
      7,
    );
  });

  test('the budget sends nothing at 0 and carries fractions between ticks', () => {
    const ticks = (rate: number, n: number) => {
      const due = createOrderBudget(rate, 100);
      return Array.from({ length: n }, () => due());
    };
    assert.deepEqual(ticks(0, 5), [0, 0, 0, 0, 0]);
    assert.deepEqual(ticks(5, 4), [0, 1, 0, 1]);
    assert.deepEqual(ticks(200, 3), [20, 20, 20]);
    assert.equal(
      ticks(7, 10).reduce((a, b) => a + b, 0),
      7,
    );
  });
});
