import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Checkpoint } from '../../services/features/engine/partition-state.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import {
  eventually,
  quietLogger,
  testConfig,
  uniqueName,
  useStack,
  withoutWriteMarkers,
} from '../support/env.ts';
import { createRng } from '../support/prng.ts';
import { scratchDir } from '../support/scratch.ts';
import { createShopTopic, generateOrders, produceOrders } from '../support/shop-events.ts';

/**
 * Crash safety: processors are SIGKILLed at random points while they consume, and restarted; the final
 * Redis and ClickHouse contents must equal an uninterrupted run's exactly — also with two processors in
 * one group and rebalances in the middle.
 */
const EVENTS = Number(process.env.FLYWHEEL_TEST_EVENTS ?? 200_000);
const PARTITIONS = 4;
const GARBAGE = 25;
const config = testConfig();
const logger = quietLogger();
const redis = createRedis(config.redis.url);
const topic = uniqueName('it.crash');
const rng = createRng(2026);
const children = new Set<ChildProcess>();

const kafka = createKafka(config, logger);

before(async () => {
  await useStack(config);
  const codec = createRegistryCodec(config.registry.url);
  await createShopTopic(kafka, topic, PARTITIONS);
  const orders = generateOrders({
    count: EVENTS,
    users: 2_000,
    start: Date.UTC(2026, 1, 1),
    spanMs: 4 * 3_600_000,
    jitterMs: 60_000,
    lateFraction: 0.005,
    lateByMs: 15 * 60_000,
    seed: 11,
  });
  await produceOrders(kafka, codec, topic, orders, PARTITIONS);
  // Records that are not Avro at all: they must be dead-lettered, identically in every run.
  const producer = createProducer(kafka);
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: GARBAGE }, (_, i) => ({
      key: `u${i}`,
      value: Buffer.from(`not avro ${i}`),
      partition: i % PARTITIONS,
    })),
  });
  await producer.disconnect();
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await redis.quit();
});

interface Run {
  prefix: string;
  group: string;
  chdbDirs: string[];
}

function newRun(name: string): Run {
  return { prefix: `${uniqueName(`fwc-${name}`)}:`, group: `crash-${name}`, chdbDirs: [] };
}

function spawnWorker(run: Run, mode: 'run' | 'dump', chdbDir: string, dumpFile = ''): ChildProcess {
  const child = fork(join(import.meta.dirname, '../support/features-worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      WORKER_MODE: mode,
      WORKER_TOPIC: topic,
      WORKER_GROUP: run.group,
      WORKER_DUMP_FILE: dumpFile,
      FLYWHEEL_REDIS_PREFIX: run.prefix,
      FLYWHEEL_CHDB_PATH: chdbDir,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const exited = (c: ChildProcess) =>
  new Promise<void>((resolve) =>
    c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
  );

async function progress(run: Run): Promise<number> {
  const cps = Object.values(await redis.hgetall(`${run.prefix}cp:${run.group}:${topic}`)).map(
    (v) => JSON.parse(v) as Checkpoint,
  );
  return cps.reduce((s, c) => s + c.accepted + c.late + c.invalid, 0);
}

/** The group's committed Kafka offsets: the processor commits one only once ClickHouse holds it. */
async function committedToEnd(run: Run): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: run.group, topics: [topic] });
    return ends.every(
      (e) => committed!.partitions.find((c) => c.partition === e.partition)?.offset === e.high,
    );
  } finally {
    await admin.disconnect();
  }
}

/** Done: every record is counted in Redis, and ClickHouse has caught up (zero consumer lag). */
const finished = (run: Run) =>
  eventually(
    async () => ((await progress(run)) >= EVENTS + GARBAGE && (await committedToEnd(run)) ? true : undefined),
    600_000,
    `${run.group} done`,
  );

async function stopGracefully(c: ChildProcess): Promise<void> {
  c.kill('SIGTERM');
  await exited(c);
}

async function redisContents(run: Run): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${run.prefix}t:*`, 'COUNT', 1_000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.hgetall(k);
    const values = (await pipeline.exec()) ?? [];
    keys.forEach((k, i) => {
      out[k.slice(run.prefix.length)] = withoutWriteMarkers(values[i]![1] as Record<string, string>);
    });
  } while (cursor !== '0');
  const cps = await redis.hgetall(`${run.prefix}cp:${run.group}:${topic}`);
  // `offline` says how far ClickHouse had got at the last commit: timing, not content (ClickHouse itself
  // is compared below, and a stale position only means a redundant, idempotent replay on restart).
  for (const [p, v] of Object.entries(cps)) {
    const { offline: _progress, ...checkpoint } = JSON.parse(v) as Checkpoint;
    out[`checkpoint:${p}`] = checkpoint as unknown as Record<string, string>;
  }
  return out;
}

/** The ClickHouse contents of a run: the union of its workers' folders, deduplicated like FINAL. */
async function clickhouseContents(run: Run) {
  const events = new Map<string, unknown>();
  const tiles = new Map<string, { last_offset: number }>();
  for (const dir of run.chdbDirs) {
    const file = join(dir, 'dump.json');
    await exited(spawnWorker(run, 'dump', dir, file));
    const dump = JSON.parse(readFileSync(file, 'utf8')) as {
      events: Array<{ partition: number; offset: number }>;
      tiles: Array<{
        view: string;
        entity: string;
        resolution_ms: number;
        start: number;
        last_offset: number;
      }>;
    };
    for (const e of dump.events) events.set(`${e.partition}/${e.offset}`, e);
    for (const t of dump.tiles) {
      const key = `${t.view}/${t.entity}/${t.resolution_ms}/${t.start}`;
      if ((tiles.get(key)?.last_offset ?? -1) < t.last_offset) tiles.set(key, t);
    }
  }
  const sorted = <V>(m: Map<string, V>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  return { events: sorted(events), tiles: sorted(tiles) };
}

const chdbDir = (run: Run) => {
  const dir = scratchDir('flywheel-crash');
  run.chdbDirs.push(dir);
  return dir;
};

let reference: {
  redis: Awaited<ReturnType<typeof redisContents>>;
  ch: Awaited<ReturnType<typeof clickhouseContents>>;
};

test('an uninterrupted run (the reference)', async () => {
  const run = newRun('reference');
  const worker = spawnWorker(run, 'run', chdbDir(run));
  await finished(run);
  await stopGracefully(worker);
  reference = { redis: await redisContents(run), ch: await clickhouseContents(run) };
  assert.equal(reference.ch.events.length > EVENTS * 0.98, true, 'accepted events are in ClickHouse');
  assert.ok(Object.keys(reference.redis).length > 1_000);
});

test('SIGKILL at 6 random points and restarts: Redis and ClickHouse equal the uninterrupted run', async () => {
  const run = newRun('killed');
  const dir = chdbDir(run);
  const killedAt: number[] = [];
  for (let kill = 0; kill < 6; kill++) {
    const before = await progress(run);
    if (before >= EVENTS + GARBAGE) break;
    const worker = spawnWorker(run, 'run', dir);
    // Kill while it works: once it has committed something, after a random extra moment.
    await eventually(
      async () => ((await progress(run)) > before ? true : undefined),
      60_000,
      'worker progress',
    );
    await new Promise((r) => setTimeout(r, rng.int(100, 1_500)));
    killedAt.push(await progress(run));
    worker.kill('SIGKILL');
    await exited(worker);
  }
  assert.ok(
    killedAt.some((p) => p > 0 && p < EVENTS),
    `killed mid-stream (progress at kills: ${killedAt.join(', ')})`,
  );
  const last = spawnWorker(run, 'run', dir);
  await finished(run);
  await stopGracefully(last);
  assert.deepEqual(await redisContents(run), reference.redis);
  assert.deepEqual(await clickhouseContents(run), reference.ch);
});

test('two processors in one group, a rebalance in the middle and a SIGKILL: same contents', async () => {
  const run = newRun('pair');
  const a = spawnWorker(run, 'run', chdbDir(run));
  await eventually(
    async () => ((await progress(run)) > 0 ? true : undefined),
    60_000,
    'first worker progress',
  );
  const b = spawnWorker(run, 'run', chdbDir(run)); // joins: rebalance
  const atJoin = await progress(run);
  await eventually(
    async () => ((await progress(run)) > atJoin + 10_000 ? true : undefined),
    60_000,
    'progress after the rebalance',
  );
  const atKill = await progress(run);
  a.kill('SIGKILL'); // b takes over a's partitions after the session timeout
  assert.ok(atKill < EVENTS, `killed mid-stream (progress ${atKill})`);
  await exited(a);
  const c = spawnWorker(run, 'run', chdbDir(run)); // and another rebalance
  await finished(run);
  await Promise.all([stopGracefully(b), stopGracefully(c)]);
  assert.deepEqual(await redisContents(run), reference.redis);
  assert.deepEqual(await clickhouseContents(run), reference.ch);
});
