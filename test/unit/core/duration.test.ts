import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, LIFETIME, parseDuration } from '../../../services/core/windows/index.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';

describe('durations', () => {
  it('parses the units and lifetime', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('2w'), 1_209_600_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('lifetime'), LIFETIME);
    assert.equal(LIFETIME, Number.POSITIVE_INFINITY);
  });

  it('rejects anything else with a message naming the input and the format', () => {
    for (const bad of [
      '',
      '0s',
      '-1h',
      '1.5h',
      '10',
      'h',
      '10 m',
      '10M',
      '1y',
      ' 1h',
      'Lifetime',
      '01m',
      '9999999999999w',
    ]) {
      assert.throws(
        () => parseDuration(bad),
        (e: unknown) =>
          e instanceof FlywheelError &&
          e.code === 'FW_FEATURE_VIEW_INVALID' &&
          e.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
    assert.throws(() => parseDuration(undefined as unknown as string), FlywheelError);
  });

  it('formats with the largest unit that divides, and round-trips', () => {
    assert.equal(formatDuration(86_400_000), '1d');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(LIFETIME), 'lifetime');
    assert.equal(formatDuration(parseDuration('2w')), '14d');
    for (const text of ['30s', '10m', '1h', '7d', 'lifetime', '1500ms', '21d']) {
      assert.equal(formatDuration(parseDuration(text)), text);
    }
    assert.throws(() => formatDuration(0), FlywheelError);
  });
});
