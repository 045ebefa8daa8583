/**
 * A trainer SIGKILLed in the middle of a run, as `flywheel run trainer` runs in production: its own
 * process, the real entry point, a request on the real `ml.retrain`. Killed after its training set is
 * built and before it registers, it leaves the registry as it was (no version, no reference profile for
 * the run) and the run in `training`; restarted, it gets the request again (its offset was never
 * committed), starts the run over and registers exactly one version, with its reference, once.
 *
 * The training data are real rows in the real tables, written through the features service's offline
 * store and the monitor's label store before the trainer starts; libchdb binds a folder to one process,
 * so this process closes its store before any trainer opens it, and reads it back with `flywheel sql`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import { createOfflineStore } from '../../services/features/offline-store.ts';
import { loadFlywheelConfig } from '../../services/flywheel/modules.ts';
import { createMonitorStore } from '../../services/monitor/index.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../../services/platform/clickhouse.ts';
import { createConsumer, createKafka, createProducer, ensureTopics } from '../../services/platform/kafka.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { applyPlan, planFor } from '../../services/project/index.ts';
import { loadProject } from '../../services/project/public.ts';
import { MODELS_TOPIC, modelEventFromAvro } from '../../services/registry/index.ts';
import { type CliProcess, cli, runCli } from '../support/cli.ts';
import { eventually, quietLogger, uniqueName, useStack } from '../support/env.ts';
import { AFTER, amountOf, labelOf, writeLoopProject } from '../support/loop-world.ts';
import { freePort } from '../support/ports.ts';
import { createRng, normal } from '../support/prng.ts';
import { scratchDir } from '../support/scratch.ts';

const logger = quietLogger();
const model = uniqueName('crash').replace(/-/g, '_');
const topics = { orders: uniqueName('it.crash.orders'), outcomes: uniqueName('it.crash.outcomes') };
const dir = join(scratchDir('flywheel-crash'), 'loopworld');
writeLoopProject(dir, topics, model);
const clientId = uniqueName('fwt-crash');
const env: Record<string, string> = {
  FLYWHEEL_CHDB_PATH: scratchDir('flywheel-crash-chdb'),
  FLYWHEEL_CACHE_DIR: scratchDir('flywheel-crash-cache'),
  FLYWHEEL_PROJECT: dir,
  FLYWHEEL_KAFKA_CLIENT_ID: clientId,
  CLICKHOUSE_URL: '',
};
const config = loadFlywheelConfig({ ...process.env, ...env });
const ROWS = 40_000;
const WINDOW_END = Date.UTC(2026, 0, 1, 12, 0, 0);
const SPAN = 10_000;
const runId = `${model}-${WINDOW_END}`;
const children: CliProcess[] = [];

before(async () => {
  await useStack(config);
  const clickhouse = await createClickHouse(config);
  const project = await loadProject(dir);
  const deps = { config, logger, clickhouse };
  await applyPlan(project, await planFor(project, deps), deps);
  // One order and one label per row, all inside the run's window: the set is ROWS rows of the new world.
  const offline = createOfflineStore(clickhouse, config.clickhouse.database);
  await offline.migrate();
  const labels = createMonitorStore(clickhouse, config.clickhouse.database);
  await labels.migrate();
  const rng = createRng(3);
  const events = [];
  const joined = [];
  for (let i = 0; i < ROWS; i++) {
    const at = WINDOW_END - SPAN + Math.floor((i * SPAN) / ROWS);
    const amount = amountOf(AFTER, normal(rng));
    const user = `u${i}`;
    events.push({ offset: i, entity: user, eventTime: at, record: { user_id: user, amount, ts: at } });
    joined.push({
      entity: user,
      requestId: `r${i}`,
      predictedAt: at + 1,
      label: labelOf(AFTER, amount, rng.next()),
      labelledAt: at + 2,
    });
  }
  await offline.insertEvents(topics.orders, 0, events);
  await labels.saveLabels(model, joined);
  await closeEmbeddedClickHouse();
});

after(() => {
  for (const c of children) c.child.kill('SIGKILL');
});

async function trainer(): Promise<CliProcess> {
  const port = await freePort();
  const run = runCli(['run', 'trainer'], {
    ...env,
    FLYWHEEL_HTTP_PORT: String(port),
    FLYWHEEL_LOG_LEVEL: 'info',
  });
  children.push(run);
  return run;
}

async function sql<T>(query: string): Promise<T[]> {
  const run = await cli(['sql', query], { ...env, FLYWHEEL_CONSOLE_PORT: String(await freePort()) });
  assert.equal(run.code, 0, run.stderr);
  return run.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

async function publishRequest(): Promise<void> {
  const kafka = createKafka(config, logger, 'it-crash');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic: 'ml.retrain', partitions: 1 }]);
  await admin.disconnect();
  const producer = createProducer(kafka);
  await producer.connect();
  const encode = await createRegistryCodec(config.registry.url).topicEncoder(
    'ml.retrain',
    loadSchemaForTopic('ml.retrain'),
  );
  await producer.send({
    topic: 'ml.retrain',
    messages: [
      {
        key: model,
        value: encode({
          run_id: runId,
          model,
          reason: 'manual',
          evidence: [],
          data_window_start: WINDOW_END - SPAN,
          data_window_end: WINDOW_END,
          source_offsets: {},
          requested_at: WINDOW_END + 60_000,
          requested_by: 'test',
          details: '',
        }),
      },
    ],
  });
  await producer.disconnect();
}

/** Resolves with the first TRAINED or FAILED event of the run on ml.models. */
async function runEnded(): Promise<{
  stop(): Promise<void>;
  ended: Promise<{ type: string; version: number }>;
}> {
  const kafka = createKafka(config, logger, 'it-crash-read');
  const consumer = createConsumer(kafka, uniqueName('it-crash-read'));
  await consumer.connect();
  await consumer.subscribe({ topics: [MODELS_TOPIC], fromBeginning: true });
  const codec = createRegistryCodec(config.registry.url);
  const ended = new Promise<{ type: string; version: number }>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        const e = modelEventFromAvro(await codec.decode(message.value!));
        if (e.runId === runId && (e.type === 'TRAINED' || e.type === 'FAILED')) resolve(e);
      },
    });
  });
  return { stop: () => consumer.disconnect(), ended };
}

test('SIGKILL mid-run leaves no version; the restarted trainer runs it again and registers it once', async () => {
  const first = await trainer();
  await publishRequest();
  await eventually(
    async () => (first.stderr().includes('training set built') ? true : undefined),
    90_000,
    'the trainer to build the training set',
  );
  first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(!first.stderr().includes('model trained'), 'killed before it registered');

  const versions = () =>
    sql<{ version: number; run_id: string }>(
      `SELECT version, run_id FROM flywheel.model_versions WHERE model = '${model}'`,
    );
  const references = () =>
    sql<{ version: number }>(
      `SELECT version FROM flywheel.model_reference_profiles WHERE model = '${model}'`,
    );
  const states = async () =>
    (
      await sql<{ state: string }>(
        `SELECT state FROM flywheel.pipeline_runs WHERE run_id = '${runId}' ORDER BY at`,
      )
    ).map((r) => r.state);
  assert.deepEqual(await versions(), [], 'no version after the kill');
  assert.deepEqual(await references(), [], 'no reference after the kill');
  assert.deepEqual(await states(), ['requested', 'training']);

  const watch = await runEnded();
  const second = await trainer();
  const ended = await Promise.race([
    watch.ended,
    second.exited.then((code) => {
      throw new Error(`the trainer exited with ${code}:\n${second.stderr()}`);
    }),
  ]);
  await watch.stop();
  assert.equal(ended.type, 'TRAINED', second.stderr());
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.stderr());

  assert.deepEqual(await versions(), [{ version: 1, run_id: runId }]);
  assert.deepEqual(await references(), [{ version: 1 }]);
  assert.deepEqual(await states(), ['requested', 'training', 'training', 'trained']);
});
