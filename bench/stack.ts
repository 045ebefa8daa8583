import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../services/platform/config.ts';
import { createConsumer, createKafka, createProducer, ensureTopics } from '../services/platform/kafka.ts';
import { createLogger } from '../services/platform/logger.ts';
import { createRegistryCodec } from '../services/platform/registry-codec.ts';
import { createStack } from '../services/platform/stack/stack.ts';
import { intFlag } from './support/args.ts';
import { freePorts } from './support/ports.ts';
import { medians, progress, round } from './support/stats.ts';

/**
 * The local stack and the Kafka + registry path every service sits on:
 * - cold_start_s: all three parts started from stopped (jars cached) on alternate ports, then stopped;
 * - warm_start_s: an `up` when every part already answers (in process), warm_start_cli_s the same
 *   through `npm run stack -- up` (adds Node + tsx start-up);
 * - produce/consume: N small Avro records (registry codec, Confluent wire format) through kafkajs to a
 *   fresh 4-partition topic on the main stack, consumed back by a consumer group and decoded.
 * Flags: --runs N (default 3; the medians are reported with every run), --messages N (default 100000),
 * --batch N (records per producer.send, default 2000).
 */
const logger = createLogger({ component: 'bench' }, 'warn');
const ROOT = join(import.meta.dirname, '..');

const EVENT_SCHEMA = {
  type: 'record',
  name: 'BenchEvent',
  namespace: 'dev.flywheel.bench',
  fields: [
    { name: 'event_id', type: 'long' },
    { name: 'user_id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

interface RunResult {
  cold_start_s: number;
  warm_start_s: number;
  warm_start_cli_s: number;
  produce_msgs_per_s: number;
  consume_msgs_per_s: number;
  /** A new consumer group's join plus its first fetch: not included in consume_msgs_per_s. */
  consume_first_batch_s: number;
  produce_consume_msgs_per_s: number;
}

async function coldAndWarm(): Promise<Pick<RunResult, 'cold_start_s' | 'warm_start_s'>> {
  const [kafkaPort, kafkaControllerPort, registryPort, registryManagementPort, redisPort] =
    await freePorts(5);
  const runDir = mkdtempSync(join(tmpdir(), 'flywheel-bench-stack-'));
  const config = loadConfig(process.env, {
    stack: { runDir, kafkaPort, kafkaControllerPort, registryPort, registryManagementPort, redisPort },
  });
  const stack = createStack(config, logger);
  try {
    let t0 = performance.now();
    const parts = await stack.up();
    const cold = (performance.now() - t0) / 1000;
    const detail = parts.map((p) => `${p.name} ${p.seconds?.toFixed(1)} s`).join(', ');
    progress(
      `cold start on ports ${kafkaPort}/${registryPort}/${redisPort}: ${cold.toFixed(2)} s (${detail})`,
    );
    if (parts.some((p) => p.state !== 'started'))
      throw new Error('cold start reused a part: ports not free?');
    t0 = performance.now();
    await stack.up();
    const warm = (performance.now() - t0) / 1000;
    return { cold_start_s: round(cold), warm_start_s: round(warm, 4) };
  } finally {
    await stack.down();
    rmSync(runDir, { recursive: true, force: true });
  }
}

function warmCli(): number {
  const t0 = performance.now();
  const out = spawnSync(process.execPath, ['--import', 'tsx', 'services/platform/stack/cli.ts', 'up'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, FLYWHEEL_LOG_LEVEL: 'warn' },
  });
  const seconds = (performance.now() - t0) / 1000;
  const summary = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as { started?: string[] };
  if (out.status !== 0 || summary.started?.length) {
    throw new Error(`stack up on the main stack did not reuse every part: ${out.stderr}${out.stdout}`);
  }
  return round(seconds, 3);
}

async function produceConsume(
  config: Readonly<ResolvedConfig>,
  messages: number,
  batchSize: number,
): Promise<Omit<RunResult, 'cold_start_s' | 'warm_start_s' | 'warm_start_cli_s'>> {
  const topic = `bench.stack-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const kafka = createKafka(config, logger, 'bench');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions: 4 }]);
  const codec = createRegistryCodec(config.registry.url);
  const { id } = await codec.register(topic, EVENT_SCHEMA);
  const producer = createProducer(kafka);
  const roundTrip = createConsumer(kafka, `${topic}-rt`);
  const second = createConsumer(kafka, `${topic}-consume`);
  try {
    await producer.connect();
    // The round-trip group is joined and assigned before the first record is sent.
    await roundTrip.connect();
    await roundTrip.subscribe({ topic, fromBeginning: true });
    const joined = new Promise<void>((resolve) => roundTrip.on(roundTrip.events.GROUP_JOIN, () => resolve()));
    let received = 0;
    let lastAt = 0;
    let resolveAll: () => void = () => undefined;
    const allReceived = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    let checksum = 0;
    await roundTrip.run({
      eachBatch: async ({ batch }) => {
        const decoded = await Promise.all(
          batch.messages.map((m) => codec.decode<{ event_id: number }>(m.value!)),
        );
        for (const d of decoded) checksum += d.event_id;
        received += decoded.length;
        if (received >= messages) {
          lastAt = performance.now();
          resolveAll();
        }
      },
    });
    await joined;

    const base = Date.now();
    const t0 = performance.now();
    for (let start = 0; start < messages; start += batchSize) {
      const end = Math.min(messages, start + batchSize);
      const batch = new Array<{ key: string; value: Buffer }>(end - start);
      for (let i = start; i < end; i++) {
        const user = `u${i % 1000}`;
        batch[i - start] = {
          key: user,
          value: await codec.encode(id, { event_id: i, user_id: user, amount: (i % 500) / 4, ts: base + i }),
        };
      }
      await producer.send({ topic, messages: batch });
    }
    const produced = performance.now();
    await allReceived;
    const produceS = (produced - t0) / 1000;
    const roundTripS = (lastAt - t0) / 1000;
    const expected = (messages * (messages - 1)) / 2;
    if (received !== messages || checksum !== expected)
      throw new Error(`round trip got ${received} records (checksum ${checksum}, wanted ${expected})`);
    progress(
      `produced ${messages} in ${produceS.toFixed(2)} s; round trip complete after ${roundTripS.toFixed(2)} s`,
    );
    await roundTrip.disconnect();

    // Consume alone: a new group reads the full topic back; timed from its first batch to its last.
    let count = 0;
    let firstAt = 0;
    let doneAt = 0;
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    await second.connect();
    await second.subscribe({ topic, fromBeginning: true });
    const joinStart = performance.now();
    await second.run({
      eachBatch: async ({ batch }) => {
        if (firstAt === 0) firstAt = performance.now();
        const decoded = await Promise.all(batch.messages.map((m) => codec.decode(m.value!)));
        count += decoded.length;
        if (count >= messages) {
          doneAt = performance.now();
          resolveDone();
        }
      },
    });
    await done;
    const consumeS = (doneAt - firstAt) / 1000;
    const firstFetchS = (firstAt - joinStart) / 1000;
    progress(
      `consumed ${count} in ${consumeS.toFixed(2)} s (a second group; join + first fetch ${firstFetchS.toFixed(2)} s)`,
    );
    return {
      consume_first_batch_s: round(firstFetchS),
      produce_msgs_per_s: Math.round(messages / produceS),
      consume_msgs_per_s: Math.round(messages / consumeS),
      produce_consume_msgs_per_s: Math.round(messages / roundTripS),
    };
  } finally {
    await Promise.allSettled([producer.disconnect(), roundTrip.disconnect(), second.disconnect()]);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const runs = intFlag(args, 'runs', 3);
  const messages = intFlag(args, 'messages', 100_000);
  const batchSize = intFlag(args, 'batch', 2_000);
  const config = loadConfig(process.env);
  progress('making sure the main stack runs (it is reused, never stopped)');
  await createStack(config, logger).up();
  const results: RunResult[] = [];
  for (let i = 1; i <= runs; i++) {
    progress(`run ${i}/${runs}`);
    const start = await coldAndWarm();
    const warm_start_cli_s = warmCli();
    const flow = await produceConsume(config, messages, batchSize);
    const result = { ...start, warm_start_cli_s, ...flow };
    progress(`run ${i}: ${JSON.stringify(result)}`);
    results.push(result);
  }
  return {
    ...medians(results),
    runs: results,
    params: { runs, messages, batch: batchSize, partitions: 4, kafka: config.stack.kafkaVersion },
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  };
}
