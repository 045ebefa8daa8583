import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { shopViews } from '../../examples/shop/views.ts';
import { fieldName, HOUR, MINUTE } from '../../services/core/windows/tiles.ts';
import { type Checkpoint, EMPTY_CHECKPOINT } from '../../services/features/engine/partition-state.ts';
import { createTileStore, parseCheckpoint, tileHashKey } from '../../services/features/engine/tile-store.ts';
import {
  partitionStatus,
  readPartition,
  resetWatermark,
  runPartitionsCommand,
  writeReset,
} from '../../services/features/repair.ts';
import { planWatermarkReset } from '../../services/features/repair-plan.ts';
import { FlywheelError } from '../../services/platform/errors.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { ownerPartition } from '../../services/platform/partitioner.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { createShopTopic } from '../support/shop-events.ts';

/**
 * `flywheel partitions` on the real Redis and Kafka: the status of a checkpoint and a committed offset,
 * and a watermark reset of a partition a year-5138 event poisoned — beside a (simulated) running owner
 * that must be fenced. Keys live under a prefix of their own, on a topic of their own.
 */
const PARTITIONS = 4;
const LATENESS = 5 * MINUTE;
const POISON = Date.UTC(5138, 0, 1) + 123;
const prefix = `${uniqueName('fw-repair')}:`;
const config = testConfig({ redis: { keyPrefix: prefix } });
const logger = quietLogger();
const group = uniqueName('repair-test');
const topic = uniqueName('it.repair');
const views = shopViews(topic);
const [spend, activity] = views as [(typeof views)[0], (typeof views)[0]];
const deps = { config, views, logger };
const redis = createRedis(config.redis.url);
const kafka = createKafka(config, logger, 'repair-test');
const store = createTileStore(redis, prefix);

/** An hour back, at a whole hour: the newest real tile is T+7m, far before the default cutoff. */
const T = Math.floor((Date.now() - 2 * HOUR) / HOUR) * HOUR;
const m = (start: number) => fieldName({ res: MINUTE, start });
const h = (start: number) => fieldName({ res: HOUR, start });
const floorTo = (t: number, res: number) => t - (t % res);

/** Users owned by `partition`, by the partitioner the processor keys tiles with. */
function usersOf(partition: number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++)
    if (ownerPartition(`u${i}`, PARTITIONS) === partition) out.push(`u${i}`);
  return out;
}
const [a, b] = usersOf(1, 2) as [string, string];
const [c] = usersOf(2, 1) as [string];

const cpKey = `${prefix}cp:${group}:${topic}`;
const epKey = (p: number) => `${prefix}ep:${group}:${topic}:${p}`;

function checkpoint(overrides: Partial<Checkpoint>): Checkpoint {
  return {
    ...EMPTY_CHECKPOINT,
    deadLetters: {},
    origins: {},
    offline: { ...EMPTY_CHECKPOINT.offline },
    ...overrides,
  };
}

const poisoned = checkpoint({
  next: 42,
  maxEventTime: POISON,
  accepted: 40,
  late: 2,
  deadLetters: { FW_EVENT_LATE: 2 },
  offline: { ...EMPTY_CHECKPOINT.offline, next: 40, maxEventTime: POISON },
});

async function writeHash(key: string, fields: Record<string, string | number>): Promise<void> {
  await redis.hset(key, Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)])));
  await redis.pexpire(key, 7 * 24 * HOUR);
}

/** Partition 1: `a` holds the poisoned event in both views, `b` is healthy; partition 2 is poisoned too. */
async function writePoisonedState(): Promise<void> {
  await writeHash(tileHashKey(prefix, spend.id, a), {
    [m(T)]: 'x',
    [m(T + 7 * MINUTE)]: 'x',
    [h(T)]: 'x',
    [m(floorTo(POISON, MINUTE))]: 'poison',
    [h(floorTo(POISON, HOUR))]: 'poison',
    _t: POISON,
    _f: POISON - LATENESS,
    _v: 'before',
  });
  await writeHash(tileHashKey(prefix, activity.id, a), {
    [m(T + 7 * MINUTE)]: 'x',
    [m(floorTo(POISON, MINUTE))]: 'poison',
    _t: POISON,
    _v: 'before',
  });
  await writeHash(tileHashKey(prefix, spend.id, b), { [m(T)]: 'x', _t: T + 1_000, _f: T - 10 * MINUTE });
  await writeHash(tileHashKey(prefix, spend.id, c), { [m(floorTo(POISON, MINUTE))]: 'poison', _t: POISON });
  await redis.hset(cpKey, '1', JSON.stringify(poisoned), '2', JSON.stringify(poisoned));
}

const hashOf = (view: typeof spend, entity: string) => redis.hgetall(tileHashKey(prefix, view.id, entity));
const storedCheckpoint = async (p: number) => parseCheckpoint((await redis.hget(cpKey, String(p)))!);

before(async () => {
  await useStack(config);
  await createShopTopic(kafka, topic, PARTITIONS);
});

after(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('partitions reset-watermark', () => {
  let ownerEpoch = '';
  before(async () => {
    await writePoisonedState();
    // A running owner of partition 1: it claimed before the reset and still holds its epoch.
    ownerEpoch = (await store.claim(group, topic, 1)).epoch;
  });

  test('a dry run reports the repair and writes nothing', async () => {
    const hashBefore = await hashOf(spend, a);
    const report = await resetWatermark(deps, { topic, partition: 1, group, dryRun: true });
    assert.equal(report.plan.tilesDeleted, 3);
    assert.deepEqual(report.plan.entitiesTouched, [a]);
    assert.deepEqual(await hashOf(spend, a), hashBefore);
    assert.equal((await storedCheckpoint(1)).maxEventTime, POISON);
    assert.equal(await redis.get(epKey(1)), ownerEpoch);
  });

  test('deletes the far-future tiles, resets freshness and the checkpoint, and fences the owner', async () => {
    const report = await resetWatermark(deps, { topic, partition: 1, group });
    const newest = T + 8 * MINUTE - 1; // the end of a's minute tile at T+7m
    assert.equal(report.plan.tilesDeleted, 3);
    assert.deepEqual(report.epoch, { before: ownerEpoch, after: String(Number(ownerEpoch) + 1) });

    const spendA = await hashOf(spend, a);
    assert.deepEqual(Object.keys(spendA).sort(), [m(T), m(T + 7 * MINUTE), h(T), '_f', '_t', '_v'].sort());
    assert.equal(spendA._t, String(newest));
    assert.equal(spendA._f, String(newest - LATENESS));
    assert.match(spendA._v!, /^repair\./);
    assert.ok((await redis.pttl(tileHashKey(prefix, spend.id, a))) > 0, 'the TTL is kept');
    const activityA = await hashOf(activity, a);
    assert.deepEqual(Object.keys(activityA).sort(), [m(T + 7 * MINUTE), '_t', '_v'].sort());
    assert.equal(activityA._t, String(newest));
    // b was healthy; c belongs to partition 2.
    assert.deepEqual(await hashOf(spend, b), {
      [m(T)]: 'x',
      _t: String(T + 1_000),
      _f: String(T - 10 * MINUTE),
    });
    assert.equal((await hashOf(spend, c))._t, String(POISON));

    const cp = await storedCheckpoint(1);
    assert.equal(cp.maxEventTime, newest);
    assert.equal(cp.offline.next, 40);
    assert.equal(cp.offline.maxEventTime, newest);
    assert.equal(cp.next, 42);
    assert.equal(cp.accepted, 40);
    assert.deepEqual(cp.deadLetters, { FW_EVENT_LATE: 2 });
    assert.equal((await storedCheckpoint(2)).maxEventTime, POISON);

    // The owner's next commit is refused; its re-claim reads the repaired checkpoint.
    await assert.rejects(
      store.commit({
        group,
        topic,
        partition: 1,
        epoch: ownerEpoch,
        tiles: [],
        entities: [],
        checkpoint: poisoned,
      }),
      (err: unknown) => err instanceof FlywheelError && err.code === 'FW_FENCED',
    );
    const reclaimed = await store.claim(group, topic, 1);
    assert.equal(reclaimed.checkpoint.maxEventTime, newest);
  });

  test('run again, it has nothing to do and fences no one', async () => {
    const epoch = await redis.get(epKey(1));
    const report = await resetWatermark(deps, { topic, partition: 1, group });
    assert.equal(report.plan.noop, true);
    assert.equal(await redis.get(epKey(1)), epoch);
  });

  test('a commit or a claim between read and write makes the write a conflict, changing nothing', async () => {
    const at = { prefix, group, topic, partition: 2 };
    const read = await readPartition(redis, { ...at, partitionCount: PARTITIONS }, views);
    const plan = planWatermarkReset({
      checkpoint: read.checkpoint,
      hashes: read.hashes,
      cutoff: Date.now() + 5 * MINUTE,
      latenessMs: LATENESS,
      version: 'repair.test',
    });
    assert.equal(plan.tilesDeleted, 1);
    await redis.hset(cpKey, '2', JSON.stringify({ ...poisoned, next: 43 })); // a commit
    assert.equal(await writeReset(redis, at, read, plan), 'conflict');
    const reread = await readPartition(redis, { ...at, partitionCount: PARTITIONS }, views);
    await store.claim(group, topic, 2); // a new owner
    assert.equal(await writeReset(redis, at, reread, plan), 'conflict');
    assert.equal((await hashOf(spend, c))._t, String(POISON));
    assert.equal((await storedCheckpoint(2)).next, 43);
  });

  test('the command prints what changed, as text and as JSON', async () => {
    let out = '';
    const write = (text: string) => {
      out += text;
    };
    await runPartitionsCommand(
      ['reset-watermark', '--topic', topic, '--partition', '2', '--group', group, '--dry-run'],
      { ...deps, write },
    );
    assert.match(
      out,
      new RegExp(`^${topic.replace(/\./g, '\\.')}/2 \\(group ${group}\\): dry run, nothing written$`, 'm'),
    );
    assert.match(out, /max event time +5138-01-01T00:00:00\.123Z → -$/m);
    out = '';
    await runPartitionsCommand(
      ['reset-watermark', '--topic', topic, '--partition', '2', '--group', group, '--json'],
      {
        ...deps,
        write,
      },
    );
    const json = JSON.parse(out) as { tilesDeleted: number; entitiesTouched: string[]; dryRun: boolean };
    assert.equal(json.dryRun, false);
    assert.equal(json.tilesDeleted, 1);
    assert.deepEqual(json.entitiesTouched, [c]);
    // c has no tile left: no freshness, and the partition has no watermark any more.
    assert.equal((await hashOf(spend, c))._t, undefined);
    assert.equal((await storedCheckpoint(2)).maxEventTime, Number.NEGATIVE_INFINITY);
  });

  test('an explicit --before cutoff removes tiles from that time on', async () => {
    await writeHash(tileHashKey(prefix, spend.id, b), { [m(T + 30 * MINUTE)]: 'x', _t: T + 30 * MINUTE + 5 });
    await redis.hset(cpKey, '1', JSON.stringify(checkpoint({ next: 50, maxEventTime: T + 30 * MINUTE + 5 })));
    const report = await resetWatermark(deps, { topic, partition: 1, group, cutoff: T + 20 * MINUTE });
    assert.equal(report.plan.tilesDeleted, 1);
    const spendB = await hashOf(spend, b);
    assert.equal(spendB[m(T + 30 * MINUTE)], undefined);
    // b's newest tile left is T's minute; a's is T+7m, so the partition's max is the end of that one.
    assert.equal(spendB._t, String(T + MINUTE - 1));
    assert.equal((await storedCheckpoint(1)).maxEventTime, T + 8 * MINUTE - 1);
  });
});

describe('partitions reset-watermark beside a committing owner', () => {
  const [d] = usersOf(3, 1) as [string];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('succeeds while the owner commits, keeps its progress, and fences it', async () => {
    await writeHash(tileHashKey(prefix, spend.id, d), {
      [m(T)]: 'x',
      [m(floorTo(POISON, MINUTE))]: 'p',
      _t: POISON,
    });
    await redis.hset(cpKey, '3', JSON.stringify(poisoned));
    const { epoch } = await store.claim(group, topic, 3);
    // A poisoned owner: every event is late, so each commit only moves the checkpoint's counters.
    const owner = (async () => {
      let cp = poisoned;
      for (let i = 0; i < 5_000; i++) {
        const next = {
          ...cp,
          next: cp.next + 1,
          late: cp.late + 1,
          deadLetters: { FW_EVENT_LATE: cp.late + 1 },
        };
        try {
          await store.commit({
            group,
            topic,
            partition: 3,
            epoch,
            tiles: [],
            entities: [],
            checkpoint: next,
          });
        } catch (err) {
          if (err instanceof FlywheelError && err.code === 'FW_FENCED') return cp;
          throw err;
        }
        cp = next;
        await sleep(5);
      }
      throw new Error('the owner was never fenced');
    })();
    await sleep(30);
    const report = await resetWatermark(deps, { topic, partition: 3, group });
    const last = await owner;
    assert.equal(report.plan.tilesDeleted, 1);
    assert.ok(last.next > poisoned.next, 'the owner committed before the reset');
    const stored = await storedCheckpoint(3);
    assert.equal(stored.maxEventTime, T + MINUTE - 1);
    // No commit of the owner was lost: the reset wrote on top of the last one.
    assert.equal(stored.next, last.next);
    assert.equal(stored.late, last.late);
    assert.equal((await hashOf(spend, d))._t, String(T + MINUTE - 1));
  });
});

describe('partitions status', () => {
  before(async () => {
    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 5 }, (_, i) => ({
        key: `k${i}`,
        value: Buffer.from('x'),
        partition: 0,
      })),
    });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '3' }] });
    await admin.disconnect();
    await redis.hset(
      cpKey,
      '0',
      JSON.stringify(
        checkpoint({
          next: 4,
          maxEventTime: T + MINUTE,
          accepted: 2,
          late: 1,
          invalid: 1,
          rerouted: 1,
          deadLetters: { FW_EVENT_LATE: 1, FW_DECODE_FAILED: 1 },
          offline: { ...EMPTY_CHECKPOINT.offline, next: 3, maxEventTime: T + MINUTE },
        }),
      ),
    );
  });

  test('reports each partition: watermark, offsets, lag and dead letters by code', async () => {
    const rows = await partitionStatus(deps, { group, topics: [topic] });
    assert.deepEqual(
      rows.map((r) => r.partition),
      [0, 1, 2, 3],
    );
    const p0 = rows[0]!;
    assert.equal(p0.watermark, T + MINUTE - LATENESS);
    assert.equal(p0.watermarkIso, new Date(T + MINUTE - LATENESS).toISOString());
    assert.equal(p0.next, 4);
    assert.equal(p0.committed, 3);
    assert.equal(p0.end, 5);
    assert.equal(p0.lag, 2);
    assert.deepEqual([p0.accepted, p0.late, p0.invalid, p0.rerouted, p0.duplicates], [2, 1, 1, 1, 0]);
    assert.deepEqual(p0.deadLetters, { FW_EVENT_LATE: 1, FW_DECODE_FAILED: 1 });
    // The group never committed partition 1: no committed offset, so no lag.
    assert.equal(rows[1]!.committed, null);
    assert.equal(rows[1]!.lag, null);
    assert.equal(rows[1]!.end, 0);

    let out = '';
    const write = (text: string) => {
      out += text;
    };
    await runPartitionsCommand(['--group', group, '--topic', topic], { ...deps, write });
    const line0 = out.split('\n').find((l) => l.split(/ +/).slice(0, 2).join(' ') === `${topic} 0`);
    assert.ok(line0, out);
    assert.match(line0, / 4 +3 +5 +2 +2 +1 +1 +1 +0 +FW_DECODE_FAILED=1 FW_EVENT_LATE=1$/);
  });
});

describe('hostile arguments', () => {
  const CLI = join(import.meta.dirname, '../../services/flywheel/cli.ts');
  function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'partitions', ...args], {
        env: { ...process.env, FLYWHEEL_REDIS_PREFIX: prefix },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stderr }));
    });
  }

  for (const [args, message] of [
    [['reset-watermark', '--partition', '1'], /FW_BAD_REQUEST: reset-watermark needs --topic/],
    [
      ['reset-watermark', '--topic', 'events.shop', '--partition', 'two'],
      /--partition must be a non-negative integer/,
    ],
    [
      ['reset-watermark', '--topic', 'no.such.topic', '--partition', '0'],
      /FW_NOT_FOUND: no feature view reads topic/,
    ],
    [['--topic', 'no.such.topic'], /FW_NOT_FOUND: no feature view reads topic/],
  ] as const) {
    test(`flywheel partitions ${args.join(' ')}: one line, non-zero exit`, async () => {
      const { code, stderr } = await runCli([...args]);
      assert.notEqual(code, 0);
      assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
      assert.match(stderr, message);
    });
  }

  test('a partition out of range and a topic Kafka does not have are refused', async () => {
    await assert.rejects(
      resetWatermark(deps, { topic, partition: PARTITIONS, group }),
      (err: unknown) =>
        err instanceof FlywheelError &&
        err.code === 'FW_BAD_REQUEST' &&
        err.message ===
          `partition ${PARTITIONS} is out of range: ${topic} has partitions 0-${PARTITIONS - 1}`,
    );
    const missing = uniqueName('it.repair-missing');
    const missingDeps = { ...deps, views: shopViews(missing) };
    for (const run of [
      () => resetWatermark(missingDeps, { topic: missing, partition: 0, group }),
      () => partitionStatus(missingDeps, { group }),
    ]) {
      await assert.rejects(
        run(),
        (err: unknown) =>
          err instanceof FlywheelError &&
          err.code === 'FW_NOT_FOUND' &&
          err.message === `topic "${missing}" does not exist in Kafka`,
      );
    }
  });
});
