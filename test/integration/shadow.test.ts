/**
 * The shadow phase on the real stack: the loop world (loop-world.ts) with `gate.shadow: '8s'`. After the
 * drift the retrained version passes the holdout gate and becomes `challenger`, not champion: serving
 * keeps answering with v1 while it scores v2 beside it (shadow_predictions), and at the end of the phase
 * the deployer compares both on the same labelled live predictions and promotes v2. The run's steps and
 * the shadow evidence are in pipeline_runs; the challenger alias is unset again.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import { loadFlywheelConfig, MODULES } from '../../services/flywheel/modules.ts';
import { createClickHouse } from '../../services/platform/clickhouse.ts';
import { type RunningModules, runModules } from '../../services/platform/modules.ts';
import { applyPlan, planFor, projectRuntime } from '../../services/project/index.ts';
import { loadProject } from '../../services/project/public.ts';
import {
  createModelRegistry,
  createPipelineRuns,
  defaultArtifactsDir,
  type ModelRegistry,
} from '../../services/registry/index.ts';
import { quietLogger, uniqueName, useStack } from '../support/env.ts';
import { drive, registerFirstModel } from '../support/loop-driver.ts';
import { writeLoopProject } from '../support/loop-world.ts';
import { freePorts } from '../support/ports.ts';
import { scratchDir } from '../support/scratch.ts';

const logger = quietLogger();
const model = uniqueName('shadow').replace(/-/g, '_');
const topics = { orders: uniqueName('it.shadow.orders'), outcomes: uniqueName('it.shadow.outcomes') };
const dir = join(scratchDir('flywheel-shadow'), 'loopworld');
writeLoopProject(dir, topics, model, { shadow: '8s', shadowMinLabels: 100 });

let config: ReturnType<typeof loadFlywheelConfig>;
let running: RunningModules;
let clickhouse: ClickHouseClient;
let registry: ModelRegistry;
let servingUrl: string;

before(async () => {
  const [serving, features, monitor, trainer, deployer] = await freePorts(5);
  config = loadFlywheelConfig(process.env, {
    clickhouse: { dataDir: scratchDir('flywheel-shadow-chdb') },
    redis: { keyPrefix: `${uniqueName('fwt-shadow')}:` },
    kafka: { clientId: uniqueName('fwt-shadow') },
    http: {
      servingPort: serving,
      featuresPort: features,
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
    project: projectRuntime(project, await planFor(project, deps)),
  });
  for (const m of running.modules) await m.started;
});

after(async () => {
  await running?.stop();
});

test('a retrained version shadows the champion, then is promoted on the labelled live predictions', async () => {
  const runs = createPipelineRuns({ clickhouse, db: config.clickhouse.database });
  let shadowSeenAt: number | null = null;
  let servedAt: number | null = null;
  const { rows } = await drive({
    dir,
    config,
    servingUrl,
    model,
    beforeMs: 25_000,
    limitMs: 180_000,
    until: (rows) => {
      const v2 = rows.find((r) => r.version >= 2);
      if (v2 && servedAt === null) servedAt = v2.at;
      return servedAt !== null && Date.now() - servedAt > 3_000;
    },
  });
  const [latest] = await runs.latest(model, 1);
  assert.ok(latest);
  const history = await runs.history(latest.runId);
  assert.deepEqual(
    history.map((s) => s.state),
    ['requested', 'training', 'trained', 'gating', 'shadowing', 'promoted'],
  );
  const shadowing = history[4]!;
  const { since, until } = shadowing.details as { since: number; until: number };
  assert.equal(until - since, 8_000);
  shadowSeenAt = since;
  // While it shadowed, serving answered with v1 only.
  const during = rows.filter((r) => r.at >= since + 1_000 && r.at < until);
  assert.ok(during.length > 100, `${during.length} predictions during the shadow phase`);
  assert.deepEqual([...new Set(during.map((r) => r.version))], [1]);
  assert.ok(servedAt! >= until, 'v2 answers only after its shadow phase');
  const evidence = (
    history[5]!.details as {
      shadow: { promote: boolean; rows: number; champion: number; challenger: number };
    }
  ).shadow;
  assert.equal(evidence.promote, true);
  assert.ok(evidence.rows >= 100, `${evidence.rows} labelled shadow rows`);
  assert.ok(evidence.challenger > evidence.champion + 0.2, JSON.stringify(evidence));
  // Each alias's moves in time order (0: unset).
  const moves = (await registry.aliasHistory(model))
    .map((m) => [m.alias, m.previousVersion, m.version])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  assert.deepEqual(moves, [
    ['challenger', null, 2],
    ['challenger', 2, 0],
    ['champion', null, 1],
    ['champion', 1, 2],
  ]);
  const [{ n }] = (await (
    await clickhouse.query({
      query: `SELECT count() AS n FROM ${config.clickhouse.database}.shadow_predictions WHERE model = {m:String}`,
      query_params: { m: model },
      format: 'JSONEachRow',
    })
  ).json<{ n: number }>()) as [{ n: number }];
  assert.ok(Number(n) >= evidence.rows, `${n} shadow predictions logged`);
  console.log(JSON.stringify({ shadow: evidence, shadow_started_at: shadowSeenAt }));
});
