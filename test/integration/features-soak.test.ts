import assert from 'node:assert/strict';
import { test } from 'node:test';
// For its end-of-file exit guard (a leaked Kafka client must not keep this file's process alive).
import '../support/env.ts';
import { runSoak, SOAK_DEFAULTS } from '../support/soak.ts';

/**
 * The fault soak in short (`npm run bench -- soak` is the long one, same code): 60,000 events at a
 * steady 1,000/s into a Kafka and a Redis of the test's own, while the features processor is SIGKILLed
 * 5 times at random points, the broker is restarted, Redis is down for 5 s and ClickHouse refuses tile
 * inserts for 5 s, with one hostile record of every class mixed in. Then: the faulted run's Redis and
 * ClickHouse equal an uninterrupted reference run's, every good record of the log is counted exactly
 * once, the dead letters are exactly the hostile records with their codes, no worker exited by itself,
 * and the lag came back to zero. FLYWHEEL_SOAK_LOGS=<dir> keeps the workers' and the stack's logs.
 */
test(
  'fault soak: kills, a broker restart, a Redis outage and a ClickHouse fault lose nothing',
  {
    timeout: 300_000,
  },
  async () => {
    const lines: string[] = [];
    const report = await runSoak({
      ...SOAK_DEFAULTS,
      events: 60_000,
      rate: 1_000,
      kills: 5,
      redisOutageMs: 5_000,
      clickhouseFaultMs: 5_000,
      hostileEach: 1,
      users: 2_000,
      settleTimeoutMs: 120_000,
      ...(process.env.FLYWHEEL_SOAK_LOGS ? { logDir: process.env.FLYWHEEL_SOAK_LOGS } : {}),
      progress: (m) => lines.push(`${new Date().toISOString().slice(11, 19)} ${m}`),
    });
    const context = () =>
      `\n${lines.slice(-30).join('\n')}\nreport: ${JSON.stringify(report, null, 1).slice(0, 20_000)}`;
    assert.equal(report.kills, 5, `every kill happened${context()}`);
    assert.equal((report.outages as unknown[]).length, 3, `every outage happened${context()}`);
    assert.deepEqual(report.crashes, [], `no worker exited by itself${context()}`);
    assert.equal(report.lost, 0, `nothing lost${context()}`);
    assert.equal(report.doubled, 0, `nothing counted twice${context()}`);
    assert.equal(report.contents_match, true, `Redis and ClickHouse equal the reference${context()}`);
    assert.deepEqual(
      report.hostile_failing,
      [],
      `every hostile class dead-lettered with its code${context()}`,
    );
    assert.equal(report.dead_letters_exact, true, `dead letters are the hostile records${context()}`);
    assert.notEqual(report.zero_lag_s, null, `lag back to zero${context()}`);
    assert.deepEqual(report.failures, [], `no check failed${context()}`);
  },
);
