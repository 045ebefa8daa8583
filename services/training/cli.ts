import { parseArgs } from 'node:util';
import { closeEmbeddedClickHouse, createClickHouse } from '../platform/clickhouse.ts';
import { loadConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createLogger } from '../platform/logger.ts';
import { loadProject, projectDir, projectRuntime, servedPlan } from '../project/index.ts';
import { createTrainingSetBuilder } from './builder.ts';

/**
 * `node --import tsx services/training/cli.ts --spine-query "<sql>" --views <view>,<view>
 *   [--set-id <id>] [--out file.jsonl] [--parquet file.parquet] [--project DIR]`
 * Builds a point-in-time training set over a project's applied views (the bundled example's by default) with the
 * configuration from loadConfig(); writes it to ClickHouse `training_sets` and, on request, to JSON Lines
 * and/or Parquet. Progress goes to stderr; the result is one JSON line on stdout.
 */
const USAGE =
  'usage: cli.ts --spine-query "<sql returning entity, ts[, label]>" --views <v1,v2> [--set-id <id>] [--out <file.jsonl>] [--parquet <file.parquet>] [--project <dir>]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'spine-query': { type: 'string' },
      views: { type: 'string' },
      'set-id': { type: 'string' },
      out: { type: 'string' },
      parquet: { type: 'string' },
      project: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values['spine-query'] || !values.views) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
  const config = loadConfig();
  const logger = createLogger({ component: 'training' }, 'warn');
  const clickhouse = await createClickHouse(config);
  const project = await loadProject(projectDir(values.project));
  const builder = createTrainingSetBuilder({
    clickhouse,
    db: config.clickhouse.database,
    views: projectRuntime(project, await servedPlan(project, { config, clickhouse })).views,
    logger,
  });
  const setId =
    values['set-id'] ??
    `ts-${new Date()
      .toISOString()
      .replace(/[^0-9]/g, '')
      .slice(0, 14)}`;
  try {
    const result = await builder.build({
      setId,
      spine: { query: values['spine-query'] },
      views: values.views.split(',').map((v) => v.trim()),
      onProgress: (p) =>
        process.stderr.write(
          `training set ${setId}: page ${p.page + 1}/${p.pages}, ${p.rows}/${p.totalRows} rows\n`,
        ),
    });
    const exported: Record<string, unknown> = {};
    if (values.out) exported.jsonl = { path: values.out, rows: await builder.exportJsonl(setId, values.out) };
    if (values.parquet) {
      await builder.exportParquet(setId, values.parquet);
      exported.parquet = { path: values.parquet };
    }
    process.stdout.write(`${JSON.stringify({ ...result, ...exported })}\n`);
  } finally {
    await closeEmbeddedClickHouse();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    const code = err instanceof FlywheelError ? err.code : 'FW_INTERNAL';
    process.stderr.write(`training: ${code}: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
