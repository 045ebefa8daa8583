/**
 * `flywheel models …`, the registry for people:
 *   list <model> [--json]                    versions with their metrics and aliases
 *   show <model> [version] [--json]          one version (default: the champion) with its provenance,
 *                                            the alias history and the model's latest pipeline runs
 *   promote <model> <version> [--reason T]   moves champion to the version
 *   rollback <model> [--reason T]            moves champion back to where it was before its last move
 * promote and rollback are recorded (an alias history row, a pipeline_runs step) and announced on
 * `ml.models` (PROMOTED, ROLLED_BACK): running serving processes follow within the event's delivery.
 * Like `drift`, it opens the offline store itself (embedded: while no other process holds the folder;
 * or point CLICKHOUSE_URL at a server).
 */

import { parseArgs } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createKafka, createProducer } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import { defaultArtifactsDir } from './index.ts';
import { createModelEventPublisher, type ModelEvent, versionEvent } from './model-events.ts';
import { createPipelineRuns } from './pipeline-runs.ts';
import { type AliasMove, createModelRegistry, type ModelRegistry } from './registry.ts';

type WithClickHouse = <T>(
  config: Readonly<ResolvedConfig>,
  fn: (clickhouse: ClickHouseClient) => Promise<T>,
) => Promise<T>;

const USAGE =
  'usage: flywheel models list <model> | show <model> [version] | promote <model> <version> [--reason T] | rollback <model> [--reason T]';

export async function modelsCommand(
  argv: string[],
  config: Readonly<ResolvedConfig>,
  withClickHouse: WithClickHouse,
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, reason: { type: 'string' }, project: { type: 'string' } },
  });
  const [command, model, version] = positionals;
  if (!command || !model) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
  const by = process.env.USER ?? 'cli';
  await withClickHouse(config, async (clickhouse) => {
    const db = config.clickhouse.database;
    const registry = createModelRegistry({ clickhouse, db, artifactsDir: defaultArtifactsDir(config) });
    await registry.migrate();
    const runs = createPipelineRuns({ clickhouse, db });
    const out = (json: unknown, text: string) => write(values.json ? `${JSON.stringify(json)}\n` : text);
    switch (command) {
      case 'list': {
        const versions = await registry.list(model);
        if (versions.length === 0) throw new FlywheelError('FW_NOT_FOUND', `model ${model} has no versions`);
        return out({ model, versions }, versionsTable(versions));
      }
      case 'show': {
        const v = version
          ? await registry.version(model, versionNumber(version))
          : await registry.resolve(model);
        const history = await registry.aliasHistory(model);
        const latest = await runs.latest(model, 10);
        return out({ version: v, aliases: history, runs: latest }, showText(v, history, latest));
      }
      case 'promote': {
        const v = await registry.version(model, versionNumber(version));
        const move = await registry.setAlias(model, 'champion', v.version, {
          reason: values.reason ?? 'promoted by hand',
          setBy: by,
        });
        await record(runs, move, 'promoted', by);
        await announce(
          config,
          versionEvent('PROMOTED', v, { alias: 'champion', runId: null, details: moveDetails(move) }),
        );
        return out(move, `champion of ${model}: v${move.previousVersion ?? '-'} → v${move.version}\n`);
      }
      case 'rollback': {
        const move = await registry.rollback(model, 'champion', { reason: values.reason, setBy: by });
        const v = await registry.version(model, move.version);
        await record(runs, move, 'rolled_back', by);
        await announce(
          config,
          versionEvent('ROLLED_BACK', v, { alias: 'champion', runId: null, details: moveDetails(move) }),
        );
        return out(move, `champion of ${model} rolled back: v${move.previousVersion} → v${move.version}\n`);
      }
      default:
        throw new FlywheelError('FW_BAD_REQUEST', `unknown models command "${command}"; ${USAGE}`);
    }
  });
}

function versionNumber(text: string | undefined): number {
  if (!text || !/^[1-9]\d{0,8}$/.test(text))
    throw new FlywheelError('FW_BAD_REQUEST', `${USAGE} (a version is a positive integer)`);
  return Number(text);
}

const moveDetails = (m: AliasMove) => ({
  reason: m.reason,
  setBy: m.setBy,
  previousVersion: m.previousVersion,
});

/** A move by hand is a run of its own in pipeline_runs, so the history of the champion reads in one place. */
async function record(
  runs: ReturnType<typeof createPipelineRuns>,
  m: AliasMove,
  state: 'promoted' | 'rolled_back',
  by: string,
) {
  await runs.record({
    runId: `manual.${m.model}.${Date.now()}`,
    model: m.model,
    state,
    version: m.version,
    actor: by,
    details: moveDetails(m),
  });
}

async function announce(config: Readonly<ResolvedConfig>, e: ModelEvent): Promise<void> {
  const logger = createLogger({ app: 'flywheel', command: 'models' }, 'warn');
  const producer = createProducer(createKafka(config, logger, 'models-cli'));
  await producer.connect();
  try {
    await createModelEventPublisher({ producer, codec: createRegistryCodec(config.registry.url) }).publish(e);
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

function versionsTable(versions: Awaited<ReturnType<ModelRegistry['list']>>): string {
  const lines = versions.map((v) => {
    const metrics = Object.entries(v.metrics)
      .filter(([k]) => k !== 'count' && k !== 'positives')
      .map(([k, n]) => `${k}=${Number(n).toFixed(4)}`)
      .join(' ');
    const run = v.provenance.runId ? ` run ${v.provenance.runId}` : '';
    return `v${String(v.version).padEnd(4)} ${(v.aliases ?? []).join(',').padEnd(10)} ${v.createdAt}  ${metrics}${run}`;
  });
  return `${lines.join('\n')}\n`;
}

function showText(
  v: Awaited<ReturnType<ModelRegistry['version']>>,
  history: readonly AliasMove[],
  runs: Awaited<ReturnType<ReturnType<typeof createPipelineRuns>['latest']>>,
): string {
  const p = v.provenance;
  const window = p.datasetWindow
    ? `${new Date(p.datasetWindow.start).toISOString()} → ${new Date(p.datasetWindow.end).toISOString()}`
    : '-';
  return [
    `${v.model} v${v.version}  sha256 ${v.sha256}`,
    `  created   ${v.createdAt} by ${v.createdBy || '-'}${p.runId ? ` (run ${p.runId})` : ''}`,
    `  inputs    ${v.features.join(', ')}`,
    `  metrics   ${JSON.stringify(v.metrics)}`,
    `  algorithm ${p.algorithm ?? '-'} ${JSON.stringify(p.parameters ?? {})}`,
    `  data      ${window} rows ${JSON.stringify(p.datasetRows ?? {})}`,
    `  views     ${(p.featureViews ?? []).join(', ') || '-'} (definitions ${p.featureDefinitionVersion ?? '-'})`,
    `  code      ${p.codeVersion ?? '-'}`,
    'alias history:',
    ...history.map(
      (m) =>
        `  ${m.setAt} ${m.alias}: v${m.previousVersion ?? '-'} → v${m.version}  ${m.reason}${m.setBy ? ` (${m.setBy})` : ''}`,
    ),
    'latest runs:',
    ...runs.map((r) => `  ${r.at} ${r.runId} ${r.state}${r.version !== null ? ` v${r.version}` : ''}`),
    '',
  ].join('\n');
}
