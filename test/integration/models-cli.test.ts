import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Consumer } from 'kafkajs';
import { buildLinearModel } from '../../services/core/onnx/index.ts';
import { loadConfig } from '../../services/platform/config.ts';
import { createConsumer, createKafka } from '../../services/platform/kafka.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { MODELS_TOPIC, type ModelEvent, modelEventFromAvro } from '../../services/registry/index.ts';
import { cli } from '../support/cli.ts';
import { eventually, quietLogger, testConfig, uniqueName, useStack } from '../support/env.ts';
import { freePort } from '../support/ports.ts';
import { scratchDir } from '../support/scratch.ts';

/**
 * `flywheel models` as a user drives it, each command its own process through the real entry point, on
 * a model of its own: list and show what the registry CLI registered, promote by hand, roll back, and
 * the mistakes a user types. A move is recorded (alias history, pipeline_runs) and announced on
 * ml.models, where running serving processes follow it (hot-swap.test.ts shows them doing so).
 */
const REGISTRY_CLI = fileURLToPath(new URL('../../services/registry/cli.ts', import.meta.url));
const model = uniqueName('manual').replace(/-/g, '_');
const files = scratchDir('flywheel-models-files');
const env: Record<string, string> = {
  FLYWHEEL_CHDB_PATH: scratchDir('flywheel-models-chdb'),
  FLYWHEEL_CACHE_DIR: scratchDir('flywheel-models-cache'),
  CLICKHOUSE_URL: '',
  FLYWHEEL_PROJECT: '',
  FLYWHEEL_LOG_LEVEL: 'warn',
};
const FEATURES = ['user_spend.amount_sum_1h', 'user_activity.orders_10m'];
const events: ModelEvent[] = [];
let consumer: Consumer;

const flywheel = (args: string[]) => cli(args, env);

before(async () => {
  const config = testConfig();
  await useStack(config);
  env.FLYWHEEL_CONSOLE_PORT = String(await freePort());
  const kafka = createKafka(loadConfig(process.env), quietLogger(), 'it-models-cli');
  consumer = createConsumer(kafka, uniqueName('it-models-cli'));
  await consumer.connect();
  await consumer.subscribe({ topics: [MODELS_TOPIC], fromBeginning: false }).catch(() => undefined);
  const codec = createRegistryCodec(config.registry.url);
  await consumer.run({
    eachMessage: async ({ message }) => {
      const e = modelEventFromAvro(await codec.decode(message.value!));
      if (e.model === model) events.push(e);
    },
  });
  for (const [i, weights] of [
    [0.01, 0.2],
    [0.02, 0.1],
  ].entries()) {
    const file = join(files, `v${i + 1}.onnx`);
    writeFileSync(file, buildLinearModel({ weights, bias: -1 }));
    const args = [
      'register',
      model,
      file,
      '--features',
      FEATURES.join(','),
      ...(i === 0 ? ['--alias', 'champion'] : []),
    ];
    const run = spawnSync(process.execPath, ['--import', 'tsx', REGISTRY_CLI, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
  }
});

after(async () => {
  await consumer?.disconnect();
});

async function refused(args: string[], code: string, message: RegExp): Promise<void> {
  const run = await flywheel(args);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${run.stderr}`);
  assert.ok(lines[0]!.startsWith(`flywheel: ${code}: `), lines[0]);
  assert.match(lines[0]!, message);
}

test('list and show: both versions, the champion marked, its inputs and alias history', async () => {
  const list = await flywheel(['models', 'list', model, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const { versions } = JSON.parse(list.stdout) as { versions: Array<{ version: number; aliases: string[] }> };
  assert.deepEqual(
    versions.map((v) => [v.version, v.aliases]),
    [
      [1, ['champion']],
      [2, []],
    ],
  );
  const show = await flywheel(['models', 'show', model]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`^${model} v1  sha256 [0-9a-f]{64}`));
  assert.match(show.stdout, /inputs {4}user_spend\.amount_sum_1h, user_activity\.orders_10m/);
  assert.match(show.stdout, /champion: v- → v1/);
});

test('promote by hand: recorded and announced as PROMOTED; rollback moves it back and says ROLLED_BACK', async () => {
  const promote = await flywheel(['models', 'promote', model, '2', '--reason', 'the better one', '--json']);
  assert.equal(promote.code, 0, promote.stderr);
  assert.deepEqual(
    (({ version, previousVersion, reason }) => ({ version, previousVersion, reason }))(
      JSON.parse(promote.stdout),
    ),
    { version: 2, previousVersion: 1, reason: 'the better one' },
  );
  const rollback = await flywheel(['models', 'rollback', model]);
  assert.equal(rollback.code, 0, rollback.stderr);
  assert.equal(rollback.stdout, `champion of ${model} rolled back: v2 → v1\n`);
  await eventually(async () => (events.length >= 2 ? true : undefined), 20_000, 'the two model events');
  assert.deepEqual(
    events.map((e) => [e.type, e.version, e.alias]),
    [
      ['PROMOTED', 2, 'champion'],
      ['ROLLED_BACK', 1, 'champion'],
    ],
  );
  const show = await flywheel(['models', 'show', model, '--json']);
  const shown = JSON.parse(show.stdout) as {
    version: { version: number };
    aliases: Array<{ version: number }>;
    runs: Array<{ state: string }>;
  };
  assert.equal(shown.version.version, 1);
  assert.deepEqual(
    shown.aliases.map((a) => a.version),
    [1, 2, 1],
  );
  assert.deepEqual(shown.runs.map((r) => r.state).sort(), ['promoted', 'rolled_back']);
});

test('mistakes: an unknown model or version, a version that is not a number, an unknown command', async () => {
  await refused(['models', 'list', 'nosuchmodel'], 'FW_NOT_FOUND', /nosuchmodel has no versions/);
  await refused(['models', 'promote', model, '9'], 'FW_NOT_FOUND', /has no version 9/);
  await refused(
    ['models', 'promote', model, '1; DROP TABLE x'],
    'FW_BAD_REQUEST',
    /a version is a positive integer/,
  );
  await refused(['models', 'promote', model], 'FW_BAD_REQUEST', /a version is a positive integer/);
  await refused(['models', 'frobnicate', model], 'FW_BAD_REQUEST', /unknown models command "frobnicate"/);
  await refused(['models'], 'FW_BAD_REQUEST', /usage: flywheel models/);
  await refused(['models', 'show', "x' OR 1=1 --"], 'FW_NOT_FOUND', /has no "champion" version/);
});
