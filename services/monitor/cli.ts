/**
 * `flywheel drift …`:
 *   reference <model> --training-set FILE.jsonl [--version N]
 *       Builds the reference profile of a registered version from a training set (the JSON Lines that
 *       `training-set --out` writes: `label` and one key per `<view>.<feature>`), scoring its rows with
 *       the version's ONNX model, and stores it in `model_reference_profiles`. The trainer does the same
 *       after training; until it exists this is how a version gets one.
 *   report <model> [--windows N] [--json]
 *       The latest windows (drift, estimated and realised performance) and the latest window's tests per
 *       feature, from the monitor's tables.
 * Both open the offline store themselves (embedded: no other process may hold the folder; or point
 * CLICKHOUSE_URL at a server). The running monitor serves the report too: GET /v1/monitor/<model>/report.
 */
import { createReadStream, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { ModelDefinitionSpec } from '../project/index.ts';
import { createModelRegistry, defaultArtifactsDir, loadSession, signatureOf } from '../registry/index.ts';
import { scoreOf } from './core/monitor-core.ts';
import { metricsFor } from './core/performance.ts';
import { buildReferenceProfile } from './core/reference.ts';
import { createMonitorStore } from './store.ts';

type WithClickHouse = <T>(
  config: Readonly<ResolvedConfig>,
  fn: (clickhouse: import('@clickhouse/client').ClickHouseClient) => Promise<T>,
) => Promise<T>;

const USAGE =
  'usage: flywheel drift reference <model> --training-set FILE.jsonl [--version N] | drift report <model> [--windows N] [--json]';

/** Most rows a reference is built from: the profile is exact up to here, and memory stays bounded. */
export const MAX_REFERENCE_ROWS = 5_000_000;

/** A row's label: null when absent; classification takes 0/1, true/false (or their strings) only. */
function labelOf(v: unknown, task: ModelDefinitionSpec['task'], where: string): number | null {
  if (v === null || v === undefined) return null;
  if (v === true || v === 'true' || v === 1 || v === '1') return 1;
  if (v === false || v === 'false' || v === 0 || v === '0') return 0;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (task === 'binary_classification' || !Number.isFinite(n))
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      `${where}: label ${JSON.stringify(v)} is not ${task === 'regression' ? 'a finite number' : '0 or 1'}`,
    );
  return n;
}

function checkReadable(file: string): void {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new FlywheelError('FW_BAD_REQUEST', `training set ${file} does not exist`);
  }
  if (!isFile) throw new FlywheelError('FW_BAD_REQUEST', `training set ${file} is not a file`);
}

async function readTrainingSet(file: string, features: readonly string[], task: ModelDefinitionSpec['task']) {
  const columns: Record<string, (number | null)[]> = Object.fromEntries(features.map((f) => [f, []]));
  const labels: (number | null)[] = [];
  const seen = new Set<string>();
  let line = 0;
  for await (const text of createInterface({
    input: createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    line++;
    if (text.trim() === '') continue;
    if (labels.length >= MAX_REFERENCE_ROWS)
      throw new FlywheelError(
        'FW_BAD_REQUEST',
        `${file}: more than ${MAX_REFERENCE_ROWS} rows; sample it first`,
      );
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch {
      row = undefined;
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row))
      throw new FlywheelError('FW_BAD_REQUEST', `${file}:${line}: not a JSON object`);
    const record = row as Record<string, unknown>;
    for (const f of features) {
      const v = record[f];
      if (v !== undefined) seen.add(f);
      if (v !== null && v !== undefined && !(typeof v === 'number' && Number.isFinite(v)))
        throw new FlywheelError(
          'FW_BAD_REQUEST',
          `${file}:${line}: ${f} is ${JSON.stringify(v)}, not a number`,
        );
      columns[f]!.push(v === undefined ? null : (v as number | null));
    }
    labels.push(labelOf(record.label, task, `${file}:${line}`));
  }
  if (labels.length === 0) throw new FlywheelError('FW_BAD_REQUEST', `${file}: no rows`);
  const absent = features.filter((f) => !seen.has(f));
  if (absent.length > 0)
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      `${file}: no row has the model's input(s) ${absent.join(', ')}`,
    );
  return { columns, labels };
}

/** The version's outputs on the rows, imputing as serving does (a missing value is 0). */
async function score(path: string, features: readonly string[], columns: Record<string, (number | null)[]>) {
  const session = await loadSession(await readFile(path));
  const signature = signatureOf(session);
  const rows = columns[features[0] as string]!.length;
  const scores = new Float64Array(rows);
  const batch = 4096;
  for (let from = 0; from < rows; from += batch) {
    const n = Math.min(batch, rows - from);
    const data = new Float32Array(n * features.length);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < features.length; c++)
        data[r * features.length + c] = columns[features[c] as string]![from + r] ?? 0;
    const out = await session.run({
      [signature.input]: new ort.Tensor('float32', data, [n, features.length]),
    });
    const values = out[signature.outputs[0] as string]!.data as Float32Array;
    const width = values.length / n;
    for (let r = 0; r < n; r++)
      scores[from + r] = scoreOf(Array.from(values.subarray(r * width, (r + 1) * width)));
  }
  return scores;
}

async function reference(
  model: ModelDefinitionSpec,
  file: string,
  version: number | undefined,
  config: Readonly<ResolvedConfig>,
  withClickHouse: WithClickHouse,
) {
  return withClickHouse(config, async (clickhouse) => {
    const db = config.clickhouse.database;
    const registry = createModelRegistry({ clickhouse, db, artifactsDir: defaultArtifactsDir(config) });
    await registry.migrate();
    const v =
      version !== undefined
        ? await registry.version(model.name, version)
        : ((await registry.resolve(model.name, 'champion').catch(() => null)) ??
          (await registry.list(model.name)).at(-1));
    if (!v) throw new FlywheelError('FW_NOT_FOUND', `model ${model.name} has no registered version`);
    const { columns, labels } = await readTrainingSet(file, v.features, model.task);
    const scores = await score(v.path, v.features, columns);
    const labelled = labels.flatMap((l, i) => (l === null ? [] : [i]));
    const measured =
      labelled.length > 0
        ? metricsFor(
            model.task,
            labelled.map((i) => labels[i]!),
            labelled.map((i) => scores[i]!),
          )
        : {};
    // The version's registered holdout metrics win over the ones measured on this set.
    const metrics = Object.fromEntries(
      Object.entries({ ...measured, ...v.metrics }).filter(
        ([k, x]) => k !== 'count' && k !== 'positives' && typeof x === 'number' && Number.isFinite(x),
      ),
    ) as Record<string, number>;
    const metric = model.gate.metric ?? (model.task === 'regression' ? 'rmse' : 'auc');
    if (metrics[metric] === undefined)
      throw new FlywheelError(
        'FW_BAD_REQUEST',
        `${file} has no labelled rows to measure ${metric} on, and version ${v.version} has no registered ${metric}: the monitor needs the reference's ${metric}`,
      );
    const kinds = Object.fromEntries(
      Object.entries(model.monitoring.features).flatMap(([f, c]) => (c.type ? [[f, c.type]] : [])),
    );
    const profile = buildReferenceProfile({
      model: model.name,
      version: v.version,
      id: `${file.split('/').at(-1)}@v${v.version}`,
      columns,
      scores,
      metrics,
      kinds,
    });
    const store = createMonitorStore(clickhouse, db);
    await store.migrate();
    await store.saveReference(profile);
    return { model: model.name, version: v.version, rows: profile.rows, metrics, id: profile.id };
  });
}

function printReport(report: Awaited<ReturnType<ReturnType<typeof createMonitorStore>['report']>>): string {
  const lines = [`model ${report.model}: latest ${report.windows.length} windows`];
  lines.push('window start              rows    drifted  est.     realised  decision');
  for (const w of report.windows) {
    const drifted = (w.drifted_features as string[]).length;
    const realised = w.realised ?? w.realised_partial;
    lines.push(
      `${String(w.window_start).padEnd(24)}  ${String(w.rows).padStart(6)}  ${String(drifted).padStart(7)}  ${fmt(w.estimated)}  ${fmt(realised)}${w.realised === null ? ' (partial)' : ''}`,
    );
  }
  lines.push('', 'latest window, per feature: test, statistic, adjusted p, effect (floor), verdict');
  for (const f of report.features) {
    lines.push(
      `  ${String(f.feature).padEnd(32)} ${String(f.test).padEnd(13)} ${fmt(f.statistic)} ${fmt(f.adjusted_p_value)} ${fmt(f.effect_size)} (${fmt(f.effect_floor)}) ${f.drifted ? 'DRIFT' : 'ok'} ${f.reason}`,
    );
  }
  lines.push('', 'decisions:');
  for (const d of report.decisions) lines.push(`  ${d.decided_at} ${d.action} ${d.reason}: ${d.detail}`);
  return lines.join('\n');
}

const fmt = (v: unknown) =>
  v === null || v === undefined ? '   —   ' : Number(v).toPrecision(4).padStart(7);

export async function driftCommand(
  argv: string[],
  models: readonly ModelDefinitionSpec[],
  config: Readonly<ResolvedConfig>,
  withClickHouse: WithClickHouse,
): Promise<void> {
  let parsed: ReturnType<typeof parseDriftArgs>;
  try {
    parsed = parseDriftArgs(argv);
  } catch (err) {
    throw new FlywheelError('FW_BAD_REQUEST', `${(err as Error).message}; ${USAGE}`);
  }
  const { positionals, values } = parsed;
  const [command, name] = positionals;
  if (command !== 'reference' && command !== 'report')
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      command ? `unknown drift command "${command}"; ${USAGE}` : USAGE,
    );
  if (!name) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
  const model = models.find((m) => m.name === name);
  if (!model)
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `the project has no model "${name}" (it has: ${models.map((m) => m.name).join(', ') || 'none'})`,
    );
  if (command === 'reference') {
    const file = values['training-set'];
    if (!file) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
    checkReadable(file);
    const version = values.version === undefined ? undefined : positiveInteger('--version', values.version);
    process.stdout.write(
      `${JSON.stringify(await reference(model, file, version, config, withClickHouse))}\n`,
    );
    return;
  }
  if (command === 'report') {
    const windows = values.windows === undefined ? 24 : positiveInteger('--windows', values.windows);
    if (windows > 10_000) throw new FlywheelError('FW_BAD_REQUEST', `--windows ${windows} is over 10000`);
    const report = await withClickHouse(config, async (clickhouse) => {
      const store = createMonitorStore(clickhouse, config.clickhouse.database);
      await store.migrate();
      return store.report(model.name, windows);
    });
    process.stdout.write(`${values.json ? JSON.stringify(report) : printReport(report)}\n`);
    return;
  }
}

function parseDriftArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'training-set': { type: 'string' },
      version: { type: 'string' },
      windows: { type: 'string' },
      json: { type: 'boolean' },
      project: { type: 'string' },
    },
  });
}

function positiveInteger(flag: string, text: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(text))
    throw new FlywheelError('FW_BAD_REQUEST', `${flag} ${text} is not a positive integer`);
  return Number(text);
}
