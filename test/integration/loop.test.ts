/**
 * The whole loop on the real stack, in one process as `flywheel start` runs it: orders on Kafka →
 * features (Redis, ClickHouse) → serving's predictions (logged to Kafka) → the monitor joins late labels
 * and sees the inputs drift and the model hurt → `ml.retrain` → the trainer builds the point-in-time set
 * from ClickHouse, trains, checks and registers v2 → the deployer's gate → PROMOTED → serving answers
 * with v2 (its poll is set to a minute: the swap must come from the event). Then: the run is complete in
 * pipeline_runs with its evidence; accuracy on post-drift traffic recovers; a replayed retrain request
 * trains nothing; broken models (NaN outputs, too slow) are rejected and the champion stays.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Producer } from 'kafkajs';
import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import { INPUT_NAME } from '../../services/core/onnx/index.ts';
import {
  floatTensor,
  floatValueInfo,
  graph,
  node,
  model as onnxModel,
} from '../../services/core/onnx/onnx-proto.ts';
import type { DeployerService } from '../../services/deployer/index.ts';
import { loadFlywheelConfig, MODULES } from '../../services/flywheel/modules.ts';
import { createMonitorStore } from '../../services/monitor/index.ts';
import { createClickHouse } from '../../services/platform/clickhouse.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { type RunningModules, runModules } from '../../services/platform/modules.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { applyPlan, planFor, projectRuntime } from '../../services/project/index.ts';
import { loadProject } from '../../services/project/public.ts';
import {
  createModelRegistry,
  createPipelineRuns,
  defaultArtifactsDir,
  type ModelRegistry,
} from '../../services/registry/index.ts';
import { runTrainJob } from '../../services/trainer/core/train-job.ts';
import { eventually, quietLogger, uniqueName, useStack } from '../support/env.ts';
import {
  accuracyOf,
  drive,
  firstModelScore,
  type Labelled,
  registerFirstModel,
} from '../support/loop-driver.ts';
import { FEATURES, writeLoopProject } from '../support/loop-world.ts';
import { freePorts } from '../support/ports.ts';
import { scratchDir } from '../support/scratch.ts';

const logger = quietLogger();
const model = uniqueName('loop').replace(/-/g, '_');
const topics = { orders: uniqueName('it.loop.orders'), outcomes: uniqueName('it.loop.outcomes') };
const dir = join(scratchDir('flywheel-loop'), 'loopworld');
writeLoopProject(dir, topics, model);

const BEFORE_MS = 25_000;
const AFTER_LIMIT_MS = 150_000;
const RECOVERED_MS = 20_000;

let config: ReturnType<typeof loadFlywheelConfig>;
let running: RunningModules;
let clickhouse: ClickHouseClient;
let registry: ModelRegistry;
let servingUrl: string;
let producer: Producer;

before(async () => {
  const [ingest, serving, consolePort, features, demo, monitor, trainer, deployer] = await freePorts(8);
  config = loadFlywheelConfig(process.env, {
    clickhouse: { dataDir: scratchDir('flywheel-loop-chdb') },
    redis: { keyPrefix: `${uniqueName('fwt-loop')}:` },
    http: {
      ingestPort: ingest,
      servingPort: serving,
      consolePort,
      featuresPort: features,
      demoPort: demo,
      monitorPort: monitor,
      trainerPort: trainer,
      deployerPort: deployer,
    },
    serving: { modelRefreshMs: 60_000 },
    monitor: { tickMs: 200, referenceRefreshMs: 500, minWindowRows: 100 },
    trainer: { minRowsPerSplit: 50 },
  });
  await useStack(config);
  servingUrl = `http://127.0.0.1:${serving}`;
  clickhouse = await createClickHouse(config);
  const project = await loadProject(dir);
  const deps = { config, logger, clickhouse };
  await applyPlan(project, await planFor(project, deps), deps);
  const runtime = projectRuntime(project, await planFor(project, deps));
  registry = createModelRegistry({
    clickhouse,
    db: config.clickhouse.database,
    artifactsDir: defaultArtifactsDir(config),
  });
  await registry.migrate();
  await registerFirstModel({ registry, clickhouse, db: config.clickhouse.database, model });
  running = await runModules({
    catalogue: MODULES,
    selected: ['features', 'serving', 'monitor', 'trainer', 'deployer'],
    config,
    logger,
    project: runtime,
  });
  for (const m of running.modules) await m.started;
  producer = createProducer(createKafka(config, logger, 'it-loop'));
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await running?.stop();
});

/**
 * The same stream under a timer: retrain every `everyMs` on the labelled rows of the last 10 s (the
 * project's window), with the trainer's own core. What the loop is measured against.
 */
function scheduledAccuracy(rows: readonly Labelled[], everyMs: number, budget = Number.POSITIVE_INFINITY) {
  let predict = firstModelScore;
  let next = rows[0]!.at + everyMs;
  let retrains = 0;
  let correct = 0;
  for (const [i, r] of rows.entries()) {
    if (r.at >= next && retrains < budget) {
      next += everyMs;
      const recent = rows.slice(0, i).filter((x) => x.at > r.at - 10_000 && x.at <= r.at - 3_000);
      if (new Set(recent.map((x) => x.label)).size === 2 && recent.length >= 100) {
        const x = Float32Array.from(recent.map((x) => x.amount));
        const y = Float64Array.from(recent.map((x) => x.label));
        const m = { rows: recent.length, cols: 1, x };
        const trained = runTrainJob(
          {
            task: 'binary_classification',
            algorithm: 'logistic_regression',
            params: {},
            features: FEATURES,
            train: { m, y },
            validation: { m, y },
            score: [],
          },
          () => {},
        );
        const model = trained.model as { weights: number[]; bias: number };
        predict = (row) => 1 / (1 + Math.exp(-(model.weights[0]! * row.amount + model.bias)));
        retrains++;
      }
    }
    if ((predict(r) >= 0.5 ? 1 : 0) === r.label) correct++;
  }
  return { accuracy: correct / rows.length, retrains };
}

test('drift → retrain → trained, registered, gated, promoted → serving answers with the new version; accuracy recovers', async () => {
  let swappedAt: number | null = null;
  const { rows, driftedAt } = await drive({
    dir,
    config,
    servingUrl,
    model,
    beforeMs: BEFORE_MS,
    limitMs: AFTER_LIMIT_MS,
    until: (rows) => {
      const v2 = rows.find((r) => r.version >= 2);
      if (v2 && swappedAt === null) swappedAt = v2.at;
      return swappedAt !== null && Date.now() - swappedAt > RECOVERED_MS;
    },
  });
  assert.ok(swappedAt !== null, 'serving never answered with a retrained version');
  const driftToServingS = (swappedAt! - driftedAt) / 1000;

  // The run, step by step, in pipeline_runs; its evidence from the monitor; its version's provenance.
  const runs = createPipelineRuns({ clickhouse, db: config.clickhouse.database });
  const [latest] = await runs.latest(model, 1);
  assert.ok(latest, 'no pipeline run recorded');
  const history = await runs.history(latest.runId);
  assert.deepEqual(
    history.map((s) => s.state),
    ['requested', 'training', 'trained', 'gating', 'promoted'],
  );
  const requested = history[0]!.details as { reason: string; evidence: Record<string, unknown> };
  assert.ok(['drift', 'performance'].includes(requested.reason), `reason ${requested.reason}`);
  assert.ok(Object.keys(requested.evidence).length > 0, 'the request carries the controller evidence');
  const promoted = history.at(-1)!;
  const checks = (promoted.details as { checks: Array<{ name: string; passed: boolean }> }).checks;
  assert.deepEqual(
    checks.map((c) => [c.name, c.passed]),
    [
      ['loads', true],
      ['finite', true],
      ['range', true],
      ['latency', true],
      ['metric', true],
    ],
  );
  const v2 = await registry.version(model, promoted.version!);
  assert.equal(v2.provenance.runId, latest.runId);
  assert.deepEqual(v2.provenance.featureViews, ['buyer:v1']);
  assert.ok(v2.provenance.codeVersion && v2.provenance.featureDefinitionVersion);
  assert.ok(
    v2.provenance.datasetWindow &&
      v2.provenance.datasetWindow.end - v2.provenance.datasetWindow.start === 10_000,
  );
  assert.ok((v2.provenance.datasetRows?.train ?? 0) >= 50, JSON.stringify(v2.provenance.datasetRows));
  const moves = await registry.aliasHistory(model, 'champion');
  assert.deepEqual(
    moves.map((m) => [m.previousVersion, m.version, m.runId]),
    [
      [null, 1, ''],
      [1, v2.version, latest.runId],
    ],
  );
  const store = createMonitorStore(clickhouse, config.clickhouse.database);
  assert.equal(
    (await store.loadReference(model))?.version,
    v2.version,
    "the monitor now compares with v2's reference",
  );

  // Accuracy on post-drift traffic: the new version's against what the old one would have scored.
  const drifted = rows.filter((r) => r.drifted);
  const servedByNew = drifted.filter((r) => r.version === v2.version);
  const loop = accuracyOf(drifted, (r) => r.probability);
  const never = accuracyOf(drifted, firstModelScore);
  const schedule = scheduledAccuracy(drifted, 10_000);
  const loopRetrains = new Set(drifted.map((r) => r.version)).size - 1;
  const span = drifted.at(-1)!.at - drifted[0]!.at;
  const sameBudget = scheduledAccuracy(drifted, span / (loopRetrains + 1), loopRetrains);
  const newOnly = accuracyOf(servedByNew, (r) => r.probability);
  const oldOnSame = accuracyOf(servedByNew, firstModelScore);
  console.log(
    JSON.stringify({
      drift_to_serving_s: driftToServingS,
      post_drift_rows: drifted.length,
      prequential_accuracy: {
        never_retrained: never,
        schedule_10s: schedule.accuracy,
        schedule_same_budget: sameBudget.accuracy,
        loop,
      },
      retrains: {
        never_retrained: 0,
        schedule_10s: schedule.retrains,
        schedule_same_budget: sameBudget.retrains,
        loop: loopRetrains,
      },
      after_swap: { new_version: newOnly, old_version_on_same_rows: oldOnSame, rows: servedByNew.length },
    }),
  );
  assert.ok(newOnly >= 0.85, `the retrained version's accuracy ${newOnly}`);
  assert.ok(oldOnSame <= 0.7, `the old version would have scored ${oldOnSame} on the same rows`);
  assert.ok(loop > never + 0.1, `the loop ${loop} against never retraining ${never}`);
});

test('a replayed ml.retrain trains nothing twice', async () => {
  const runs = createPipelineRuns({ clickhouse, db: config.clickhouse.database });
  const [latest] = await runs.latest(model, 1);
  assert.ok(latest, 'the first test left a run');
  const before = (await registry.list(model)).length;
  const stepsBefore = (await runs.history(latest.runId)).length;
  const codec = createRegistryCodec(config.registry.url);
  const encode = await codec.topicEncoder('ml.retrain', loadSchemaForTopic('ml.retrain'));
  const request = (await runs.history(latest.runId))[0]!.details as {
    reason: string;
    dataWindow: { start: number; end: number };
  };
  await producer.send({
    topic: 'ml.retrain',
    messages: [
      {
        key: model,
        value: encode({
          run_id: latest.runId,
          model,
          reason: request.reason,
          evidence: [],
          data_window_start: request.dataWindow.start,
          data_window_end: request.dataWindow.end,
          source_offsets: {},
          requested_at: Date.now(),
          requested_by: 'test-replay',
          details: '',
        }),
      },
    ],
  });
  // The trainer reads it (its group's lag back to 0) and records nothing new.
  const admin = createKafka(config, logger, 'it-loop-admin').admin();
  await admin.connect();
  await eventually(
    async () => {
      const [group] = await admin.fetchOffsets({
        groupId: `${config.kafka.clientId}-trainer`,
        topics: ['ml.retrain'],
      });
      const [high] = await admin.fetchTopicOffsets('ml.retrain');
      return Number(group?.partitions[0]?.offset) === Number(high!.high) ? true : undefined;
    },
    30_000,
    'the trainer to read the replayed request',
  );
  await admin.disconnect();
  assert.equal((await registry.list(model)).length, before, 'no new version');
  assert.equal((await runs.history(latest.runId)).length, stepsBefore, 'no new step');
});

/** A model that answers NaN (the square root of a negative) for every row. */
function nanModel(width: number): Uint8Array {
  return onnxModel({
    irVersion: 8,
    opset: 13,
    producer: 'test',
    metadata: {},
    graph: graph({
      name: 'nan',
      nodes: [
        node('MatMul', [INPUT_NAME, 'w'], ['xw'], 'matmul'),
        node('Abs', ['xw'], ['abs'], 'abs'),
        node('Neg', ['abs'], ['neg'], 'neg'),
        node('Sub', ['neg', 'one'], ['negative'], 'sub'),
        node('Sqrt', ['negative'], ['probability'], 'sqrt'),
      ],
      initializers: [floatTensor('w', [width, 1], new Array(width).fill(1)), floatTensor('one', [1], [1])],
      inputs: [floatValueInfo(INPUT_NAME, ['N', width])],
      outputs: [floatValueInfo('probability', ['N', 1])],
    }),
  });
}

/** A logistic model behind 300 chained 1024×1024 products (3·10⁸ multiply-adds a row): far too slow. */
function slowModel(width: number): Uint8Array {
  const n = 1024;
  const layers = 300;
  const nodes = [node('MatMul', [INPUT_NAME, 'widen'], ['h0'], 'widen')];
  for (let i = 0; i < layers; i++) nodes.push(node('MatMul', [`h${i}`, 'square'], [`h${i + 1}`], `m${i}`));
  nodes.push(
    node('MatMul', [`h${layers}`, 'narrow'], ['logit'], 'narrow'),
    node('Sigmoid', ['logit'], ['probability'], 's'),
  );
  const identity = Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));
  return onnxModel({
    irVersion: 8,
    opset: 13,
    producer: 'test',
    metadata: {},
    graph: graph({
      name: 'slow',
      nodes,
      initializers: [
        floatTensor(
          'widen',
          [width, n],
          Array.from({ length: width * n }, (_, k) => (k % n === 0 ? 0.01 : 0)),
        ),
        floatTensor('square', [n, n], identity),
        floatTensor(
          'narrow',
          [n, 1],
          Array.from({ length: n }, (_, k) => (k === 0 ? 1 : 0)),
        ),
      ],
      inputs: [floatValueInfo(INPUT_NAME, ['N', width])],
      outputs: [floatValueInfo('probability', ['N', 1])],
    }),
  });
}

test('broken models are rejected by the gate with their reasons; the champion stays and serving keeps it', async () => {
  const champion = await registry.resolve(model);
  const deployer = running.get('deployer')!.api as DeployerService;
  const runs = createPipelineRuns({ clickhouse, db: config.clickhouse.database });
  const [latest] = await runs.latest(model, 1);
  assert.ok(latest, 'the first test left a run');
  const trained = (await runs.history(latest.runId)).find((s) => s.state === 'trained')!;
  for (const [name, bytes, failing] of [
    ['nan', nanModel(FEATURES.length), 'finite'],
    ['slow', slowModel(FEATURES.length), 'latency'],
  ] as const) {
    const v = await registry.register(model, bytes, { features: FEATURES, createdBy: 'test' });
    const runId = `${model}-broken-${name}`;
    const outcome = await deployer.gate(model, v.version, runId, trained.details);
    assert.equal(outcome.kind, 'rejected', `${name}: ${JSON.stringify(outcome)}`);
    const failed =
      outcome.kind === 'rejected' ? outcome.decision.checks.filter((c) => !c.passed).map((c) => c.name) : [];
    assert.ok(failed.includes(failing), `${name} fails ${failing}: ${failed.join(',')}`);
    assert.equal((await runs.state(runId))?.state, 'rejected');
    assert.equal((await registry.resolve(model)).version, champion.version, 'the champion stays');
  }
  const res = await fetch(`${servingUrl}/v1/predict/${model}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ entities: ['u1'] }),
  });
  assert.equal(((await res.json()) as { version: number }).version, champion.version);
});
