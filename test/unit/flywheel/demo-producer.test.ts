import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../services/platform/config.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { createRateBudget as createOrderBudget } from '../../../services/project/traffic.ts';

describe('FLYWHEEL_DEMO_RATE (config demo.rate)', () => {
  test('unset or empty is the default, 0 is off, a number of 0 or more is taken', () => {
    assert.equal(loadConfig({}).demo.rate, 200);
    assert.equal(loadConfig({ FLYWHEEL_DEMO_RATE: '' }).demo.rate, 200);
    assert.equal(loadConfig({ FLYWHEEL_DEMO_RATE: '0' }).demo.rate, 0);
    assert.equal(loadConfig({ FLYWHEEL_DEMO_RATE: ' 2.5 ' }).demo.rate, 2.5);
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

  test('every bad setting is reported at once', () => {
    assert.throws(
      () =>
        loadConfig({
          FLYWHEEL_DEMO_RATE: '-1',
          FLYWHEEL_LOG_LEVEL: 'loud',
          FLYWHEEL_STARTUP_MAX_ATTEMPTS: 'x',
        }),
      (err: unknown) =>
        err instanceof FlywheelError &&
        ['FLYWHEEL_DEMO_RATE', 'FLYWHEEL_LOG_LEVEL', 'FLYWHEEL_STARTUP_MAX_ATTEMPTS'].every((v) =>
          err.message.includes(v),
        ),
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
