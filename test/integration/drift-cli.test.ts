import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildLinearModel } from '../../services/core/onnx/index.ts';
import { loadProject, projectDir } from '../../services/project/index.ts';
import { cli } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';
import { createRng } from '../support/prng.ts';
import { scratchDir } from '../support/scratch.ts';

/**
 * `flywheel drift` as a new user drives it, each command its own process through the real entry point,
 * on the bundled example (model `fraud`): register a logistic ONNX version as champion with the registry
 * CLI, build its reference profile from a training set with `drift reference`, read the (still empty)
 * monitor report with `drift report`, and the hostile inputs a user types by mistake.
 *
 * No Kafka or Redis: both commands only open the offline store. Every process gets the same fresh chDB
 * folder and artifacts folder; libchdb binds a folder to one process, so they run one after another
 * (node:test runs a file's tests in order).
 */
const REGISTRY_CLI = fileURLToPath(new URL('../../services/registry/cli.ts', import.meta.url));
const SEED = 20_240_611;
const ROWS = 5_000;
const DB = 'flywheel';

const files = scratchDir('flywheel-drift-files');
const env: Record<string, string> = {
  FLYWHEEL_CHDB_PATH: scratchDir('flywheel-drift-chdb'),
  FLYWHEEL_CACHE_DIR: scratchDir('flywheel-drift-cache'),
  FLYWHEEL_CLICKHOUSE_DATABASE: DB,
  // Empty = unset (loadConfig skips empty values): the embedded store and the bundled example, whatever
  // the developer's shell has exported.
  CLICKHOUSE_URL: '',
  FLYWHEEL_PROJECT: '',
  FLYWHEEL_LOG_LEVEL: 'warn',
};

/**
 * The model, chosen so its float32 ONNX outputs rank rows exactly as the test's exact arithmetic does:
 * every weight and the bias are dyadic and every input a small integer, so each term and every partial
 * sum of the logit z is exact in float32 (z is a multiple of 2⁻¹⁰ below 2⁴: a few significant bits),
 * whatever order MatMul adds in. Distinct logits differ by ≥ 2⁻⁹ where |z| < 5, so their sigmoids differ
 * by ≥ 2⁻⁹ · σ'(5) ≈ 1.3e-5, far above float32 rounding and onnxruntime's sigmoid approximation
 * (~1e-7); equal logits give bit-equal outputs. The ONNX ranking (ties included) is therefore the ranking
 * of z, and the AUC, a function of the ranking only, can be checked to 1e-9 (it is in fact exact), not
 * merely to the 1e-3 a float32 re-computation of the probabilities would allow. The bias's 2⁻¹⁰ keeps
 * z off 0, so the accuracy at threshold 0.5 is exact too.
 */
const WEIGHTS = [1 / 256, -1 / 256, 1 / 512, 0.25, 0.125, 0.5, 0.25];
const BIAS = -3.5 + 1 / 1024;
/** Each input's integer range, in the model's input order. */
const RANGES: [number, number][] = [
  [0, 600], // user_spend.amount_sum_1h
  [0, 300], // user_spend.amount_mean_1d
  [0, 512], // user_spend.amount_max_1d
  [0, 5], // user_activity.orders_10m
  [0, 8], // user_activity.merchants_1d
  [1, 3], // user_risk.countries_1d
  [1, 4], // user_risk.devices_1d
];

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

let inputs: string[];

interface Row {
  /** The logit, exact; a missing input counts 0 (as serving and `drift reference` impute). */
  z: number;
  label: 0 | 1 | null;
}

/**
 * The training set as `training-set --out` writes it: `label` and one key per model input. About 1% of
 * rows lack one input (imputed 0) and 1% have no label (profiled, but not in the metrics). Labels are
 * drawn from the model's own probability, so the model is calibrated on it and its AUC well above 0.5.
 */
function writeTrainingSet(file: string): Row[] {
  const rng = createRng(SEED);
  const rows: Row[] = [];
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const record: Record<string, unknown> = {};
    const missing = rng.bool(0.01) ? rng.int(0, inputs.length - 1) : -1;
    let z = BIAS;
    for (let c = 0; c < inputs.length; c++) {
      if (c === missing) continue;
      const x = rng.int(...RANGES[c]!);
      record[inputs[c]!] = x;
      z += WEIGHTS[c]! * x;
    }
    const drawn = rng.next() < sigmoid(z) ? 1 : 0;
    const label = rng.bool(0.01) ? null : drawn;
    record.label = label;
    rows.push({ z, label });
    lines.push(JSON.stringify(record));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return rows;
}

/** ROC AUC by brute force: every (positive, negative) pair, ties counting one half, O(n₊ · n₋). */
function bruteForceAuc(rows: readonly Row[]): number {
  const pos = rows.filter((r) => r.label === 1).map((r) => r.z);
  const neg = rows.filter((r) => r.label === 0).map((r) => r.z);
  let twiceU = 0;
  for (const p of pos) for (const n of neg) twiceU += p > n ? 2 : p === n ? 1 : 0;
  return twiceU / (2 * pos.length * neg.length);
}

function registry(args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', REGISTRY_CLI, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const flywheel = (args: string[]) => cli(args, env);

/** A refusal as a user should see it: exit code 1, nothing on stdout, ONE line `flywheel: CODE: message`. */
async function assertRefused(args: string[], code: string, message: RegExp | string): Promise<string> {
  const run = await flywheel(args);
  const shown = `${args.join(' ')} → exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  assert.equal(run.code, 1, shown);
  assert.equal(run.stdout, '', shown);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, not a stack trace: ${shown}`);
  assert.ok(lines[0]!.startsWith(`flywheel: ${code}: `), shown);
  if (typeof message === 'string') assert.ok(lines[0]!.includes(message), shown);
  else assert.match(lines[0]!, message, shown);
  return lines[0]!;
}

/** The stored reference profiles, read back through `flywheel sql` (embedded: no console runs). */
async function storedProfiles(): Promise<Record<string, unknown>[]> {
  const run = await flywheel([
    'sql',
    `SELECT model, version, reference_id, rows, metrics FROM ${DB}.model_reference_profiles FINAL ORDER BY version`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let training: string;
let rows: Row[];
let referenceOut: {
  model: string;
  version: number;
  rows: number;
  metrics: Record<string, number>;
  id: string;
};

before(async () => {
  // `flywheel sql` asks a running console first; point it at a port nobody listens on.
  env.FLYWHEEL_CONSOLE_PORT = String(await freePort());
  const project = await loadProject(projectDir(undefined, {}));
  const fraud = project.definition.models.find((m) => m.name === 'fraud');
  assert.ok(fraud, 'the bundled example has a fraud model');
  inputs = [...fraud.features];
  assert.equal(inputs.length, WEIGHTS.length, 'one weight per input of the example model');
  training = join(files, 'fraud-train.jsonl');
  rows = writeTrainingSet(training);
});

test('registry CLI: a logistic ONNX model over the example’s 7 inputs becomes fraud v1, champion', () => {
  const onnx = join(files, 'fraud.onnx');
  writeFileSync(onnx, buildLinearModel({ weights: WEIGHTS, bias: BIAS, featureNames: inputs }));
  const run = registry(['register', 'fraud', onnx, '--features', inputs.join(','), '--alias', 'champion']);
  assert.equal(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(out.model, 'fraud');
  assert.equal(out.version, 1);
  assert.equal(out.alias, 'champion');
  assert.deepEqual(out.features, inputs);
  assert.deepEqual(out.outputs, ['probability']);
  assert.ok(
    String(out.path).startsWith(env.FLYWHEEL_CACHE_DIR!),
    `artifact in the scratch cache: ${out.path}`,
  );
});

test('drift reference: profiles all 5,000 rows; AUC equals a brute-force pairwise count', async () => {
  const run = await flywheel(['drift', 'reference', 'fraud', '--training-set', training]);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one JSON line: ${run.stdout}`);
  referenceOut = JSON.parse(lines[0]!);
  assert.equal(referenceOut.model, 'fraud');
  assert.equal(referenceOut.version, 1, 'the champion, with no --version');
  assert.equal(referenceOut.rows, ROWS, 'unlabelled rows and rows with a missing input are profiled too');
  assert.equal(referenceOut.id, 'fraud-train.jsonl@v1');

  const labelled = rows.filter((r) => r.label !== null);
  assert.ok(labelled.length < ROWS && labelled.length > ROWS * 0.97, `${labelled.length} labelled rows`);
  const { auc, accuracy, log_loss } = referenceOut.metrics;
  assert.equal(typeof auc, 'number');
  assert.ok(auc! > 0.5 && auc! <= 1, `AUC ${auc}`);
  const expected = bruteForceAuc(labelled);
  assert.ok(expected > 0.6, `the labels follow the model: brute-force AUC ${expected}`);
  assert.ok(Math.abs(auc! - expected) <= 1e-9, `AUC ${auc}, brute force ${expected}`);

  // Accuracy at 0.5: z is never 0, so the predicted class is exact (see WEIGHTS).
  const correct = labelled.filter((r) => (r.z > 0 ? 1 : 0) === r.label).length;
  assert.ok(Math.abs(accuracy! - correct / labelled.length) <= 1e-12, `accuracy ${accuracy}`);
  // Log loss depends on the probabilities themselves: float32 and onnxruntime's sigmoid (~1e-7 off)
  // against float64 here, over probabilities ≥ ~0.03, move it by well under 1e-5.
  const loss =
    labelled.reduce((s, r) => s - Math.log(r.label === 1 ? sigmoid(r.z) : 1 - sigmoid(r.z)), 0) /
    labelled.length;
  assert.ok(Math.abs(log_loss! - loss) <= 1e-5, `log loss ${log_loss}, float64 ${loss}`);
  assert.equal(referenceOut.metrics.count, undefined, 'count and positives are not metrics');
  assert.equal(referenceOut.metrics.positives, undefined);
});

test('drift reference: the profile is stored in model_reference_profiles with the printed metrics', async () => {
  const stored = await storedProfiles();
  assert.equal(stored.length, 1, JSON.stringify(stored));
  assert.deepEqual(stored[0], {
    model: 'fraud',
    version: 1,
    reference_id: referenceOut.id,
    rows: ROWS,
    metrics: referenceOut.metrics,
  });
});

test('drift reference --version 1 names the version explicitly and gives the same result', async () => {
  const run = await flywheel(['drift', 'reference', 'fraud', '--training-set', training, '--version', '1']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), referenceOut);
});

test('drift report --json: the model, and empty lists while the monitor has not run', async () => {
  const run = await flywheel(['drift', 'report', 'fraud', '--json']);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual(report, { model: 'fraud', windows: [], features: [], decisions: [] });
});

test('drift report (text): a readable empty report', async () => {
  const run = await flywheel(['drift', 'report', 'fraud', '--windows', '3']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^model fraud: latest 0 windows\n/);
  assert.match(run.stdout, /\ndecisions:\n$/);
});

describe('hostile input: one clear line and exit code 1', () => {
  test('an unknown model names it and the models there are', async () => {
    await assertRefused(['drift', 'report', 'nosuch'], 'FW_NOT_FOUND', 'no model "nosuch" (it has: fraud)');
  });

  test('reference without --training-set', async () => {
    // The message is the usage line: it names --training-set, though it does not say it is missing.
    await assertRefused(
      ['drift', 'reference', 'fraud'],
      'FW_BAD_REQUEST',
      /usage: .*--training-set FILE\.jsonl/,
    );
  });

  test('a training set that is not JSON on line 2 names the file and the line', async () => {
    const bad = join(files, 'broken.jsonl');
    writeFileSync(bad, `${JSON.stringify({ label: 1, [inputs[0]!]: 3 })}\n{"label": 0, oops\n{"label": 1}\n`);
    await assertRefused(
      ['drift', 'reference', 'fraud', '--training-set', bad],
      'FW_BAD_REQUEST',
      `${bad}:2: not a JSON object`,
    );
    // Nothing half-written: the stored profile is still the good one.
    const stored = await storedProfiles();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.reference_id, referenceOut.id);
  });

  test('--windows 0', async () => {
    await assertRefused(
      ['drift', 'report', 'fraud', '--windows', '0'],
      'FW_BAD_REQUEST',
      '--windows 0 is not a positive integer',
    );
  });

  test('--version abc', async () => {
    await assertRefused(
      ['drift', 'reference', 'fraud', '--training-set', training, '--version', 'abc'],
      'FW_BAD_REQUEST',
      '--version abc is not a positive integer',
    );
  });

  test('a version that is not registered', async () => {
    await assertRefused(
      ['drift', 'reference', 'fraud', '--training-set', training, '--version', '7'],
      'FW_NOT_FOUND',
      'no version 7',
    );
  });

  test('an unknown drift subcommand', async () => {
    await assertRefused(
      ['drift', 'frobnicate', 'fraud'],
      'FW_BAD_REQUEST',
      'unknown drift command "frobnicate"',
    );
  });

  test('a training-set line that is JSON but not an object (null) is refused by line', async () => {
    const bad = join(files, 'null-row.jsonl');
    writeFileSync(bad, `${JSON.stringify({ label: 1 })}\nnull\n`);
    await assertRefused(
      ['drift', 'reference', 'fraud', '--training-set', bad],
      'FW_BAD_REQUEST',
      `${bad}:2:`,
    );
  });

  test('a label other than 0/1 for a binary model is refused by line', async () => {
    const bad = join(files, 'label-2.jsonl');
    writeFileSync(bad, `${JSON.stringify({ label: 1 })}\n${JSON.stringify({ label: 2 })}\n`);
    await assertRefused(
      ['drift', 'reference', 'fraud', '--training-set', bad],
      'FW_BAD_REQUEST',
      `${bad}:2:`,
    );
  });

  test('a training set that does not exist is named', async () => {
    const missing = join(files, 'no-such.jsonl');
    await assertRefused(
      ['drift', 'reference', 'fraud', '--training-set', missing],
      'FW_BAD_REQUEST',
      missing,
    );
  });

  test('an unknown option is named', async () => {
    await assertRefused(['drift', 'report', 'fraud', '--bogus'], 'FW_BAD_REQUEST', '--bogus');
  });
});
