/**
 * Hot swap under load: serving answers 1,000 predictions a second (an open-loop generator in a process
 * of its own) while champion moves to v2 (PROMOTED on ml.models) and back (ROLLED_BACK). Every request
 * must succeed, the p99 stay within the budget, and serving follow each move within a second — by the
 * event: its poll is set to a minute.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { buildLinearModel } from '../../services/core/onnx/index.ts';
import { loadFlywheelConfig, MODULES } from '../../services/flywheel/modules.ts';
import { createClickHouse } from '../../services/platform/clickhouse.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { type RunningModules, runModules } from '../../services/platform/modules.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { applyPlan, planFor, projectRuntime } from '../../services/project/index.ts';
import { loadProject, projectSources } from '../../services/project/public.ts';
import {
  createModelEventPublisher,
  createModelRegistry,
  defaultArtifactsDir,
  type ModelRegistry,
  versionEvent,
} from '../../services/registry/index.ts';
import { createFlywheelProducer } from '../../services/sdk/index.ts';
import type { ServingService } from '../../services/serving/index.ts';
import { eventually, quietLogger, uniqueName, useStack } from '../support/env.ts';
import { FEATURES, writeLoopProject } from '../support/loop-world.ts';
import { freePorts } from '../support/ports.ts';
import { scratchDir } from '../support/scratch.ts';

const LOAD_GEN = fileURLToPath(new URL('../support/load-gen.ts', import.meta.url));
const RPS = 1_000;
const SECONDS = 12;
const PROMOTE_AT_MS = 4_000;
const ROLLBACK_AT_MS = 8_000;
/** The serving budget a promotion may not break: p99 of the whole run, swaps included. */
const P99_BUDGET_MS = 50;
const FOLLOW_WITHIN_MS = 1_000;

const logger = quietLogger();
const model = uniqueName('swap').replace(/-/g, '_');
const topics = { orders: uniqueName('it.swap.orders'), outcomes: uniqueName('it.swap.outcomes') };
const dir = join(scratchDir('flywheel-swap'), 'loopworld');
writeLoopProject(dir, topics, model);

let config: ReturnType<typeof loadFlywheelConfig>;
let running: RunningModules;
let clickhouse: ClickHouseClient;
let registry: ModelRegistry;
let servingUrl: string;

before(async () => {
  const [serving, features] = await freePorts(2);
  config = loadFlywheelConfig(process.env, {
    clickhouse: { dataDir: scratchDir('flywheel-swap-chdb') },
    redis: { keyPrefix: `${uniqueName('fwt-swap')}:` },
    http: { servingPort: serving, featuresPort: features },
    serving: { modelRefreshMs: 60_000 },
  });
  await useStack(config);
  servingUrl = `http://127.0.0.1:${serving}`;
  clickhouse = await createClickHouse(config);
  const project = await loadProject(dir);
  const deps = { config, logger, clickhouse };
  await applyPlan(project, await planFor(project, deps), deps);
  registry = createModelRegistry({
    clickhouse,
    db: config.clickhouse.database,
    artifactsDir: defaultArtifactsDir(config),
  });
  await registry.migrate();
  running = await runModules({
    catalogue: MODULES,
    selected: ['features', 'serving'],
    config,
    logger,
    project: projectRuntime(project, await planFor(project, deps)),
  });
  for (const m of running.modules) await m.started;
  // Buyers u1…u50 with an order each, so every prediction reads a real vector.
  const sdk = createFlywheelProducer({
    brokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    sources: projectSources(project),
  });
  const now = Date.now();
  await sdk.send(
    'orders',
    Array.from({ length: 50 }, (_, i) => ({
      event_id: `o${i}`,
      user_id: `u${i + 1}`,
      merchant_id: 'm',
      amount: 40 + i,
      currency: 'EUR',
      category: 'books',
      device: null,
      country: 'DE',
      ts: now,
    })),
  );
  await sdk.close();
});

after(async () => {
  await running?.stop();
});

async function predictVersion(): Promise<number> {
  const res = await fetch(`${servingUrl}/v1/predict/${model}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ entities: ['u1'] }),
  });
  return ((await res.json()) as { version: number }).version;
}

interface Sample {
  at: number;
  status: number;
  ms: number;
  version: number | null;
}

function load(): Promise<Sample[]> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      LOAD_GEN,
      `${servingUrl}/v1/predict/${model}`,
      String(RPS),
      String(SECONDS),
      JSON.stringify({ entities: ['u7'] }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Sample[]) : reject(new Error(`load generator exited ${code}`)),
    ),
  );
}

test('a promotion and a rollback at 1,000 requests/s: no failed request, p99 within budget, followed within a second', async () => {
  const v1 = await registry.register(
    model,
    buildLinearModel({ weights: [0.2], bias: -10, featureNames: FEATURES }),
    { features: FEATURES },
  );
  const v2 = await registry.register(
    model,
    buildLinearModel({ weights: [0.1], bias: -12, featureNames: FEATURES }),
    { features: FEATURES },
  );
  await registry.setAlias(model, 'champion', v1.version, 'start');
  const serving = running.get('serving')!.api as ServingService;
  await serving.followingModelEvents();
  await eventually(
    async () => ((await predictVersion()) === v1.version ? true : undefined),
    30_000,
    'v1 served',
  );

  const producer = createProducer(createKafka(config, logger, 'it-swap'));
  await producer.connect();
  const events = createModelEventPublisher({ producer, codec: createRegistryCodec(config.registry.url) });
  const samples = load();
  const started = Date.now();
  await new Promise((r) => setTimeout(r, PROMOTE_AT_MS));
  await registry.setAlias(model, 'champion', v2.version, { reason: 'promote under load', setBy: 'test' });
  const promotedAt = Date.now();
  await events.publish(
    versionEvent('PROMOTED', await registry.version(model, v2.version), { alias: 'champion' }),
  );
  await new Promise((r) => setTimeout(r, Math.max(0, started + ROLLBACK_AT_MS - Date.now())));
  const back = await registry.rollback(model, 'champion', { setBy: 'test' });
  const rolledBackAt = Date.now();
  await events.publish(
    versionEvent('ROLLED_BACK', await registry.version(model, back.version), { alias: 'champion' }),
  );
  const all = await samples;
  await producer.disconnect();

  assert.equal(back.version, v1.version);
  assert.equal(all.length, RPS * SECONDS);
  const failed = all.filter((s) => s.status !== 200);
  assert.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 5))}`);
  const ms = all.map((s) => s.ms).sort((a, b) => a - b);
  const p99 = ms[Math.ceil(0.99 * ms.length) - 1]!;
  const firstV2 = all.find((s) => s.version === v2.version)?.at ?? Number.POSITIVE_INFINITY;
  const lastV2 = Math.max(...all.filter((s) => s.version === v2.version).map((s) => s.at));
  const followPromote = firstV2 - promotedAt;
  const followRollback = lastV2 - rolledBackAt;
  console.log(
    JSON.stringify({
      requests: all.length,
      failed: failed.length,
      p50_ms: ms[Math.floor(ms.length / 2)],
      p99_ms: p99,
      follow_promote_ms: followPromote,
      follow_rollback_ms: followRollback,
    }),
  );
  assert.ok(p99 <= P99_BUDGET_MS, `p99 ${p99} ms over the ${P99_BUDGET_MS} ms budget`);
  assert.ok(
    followPromote >= 0 && followPromote <= FOLLOW_WITHIN_MS,
    `v2 served ${followPromote} ms after the promotion`,
  );
  assert.ok(followRollback <= FOLLOW_WITHIN_MS, `v2 still served ${followRollback} ms after the rollback`);
  assert.ok(
    all.some((s) => s.version === v1.version && s.at > rolledBackAt + FOLLOW_WITHIN_MS),
    'v1 served again',
  );
});
