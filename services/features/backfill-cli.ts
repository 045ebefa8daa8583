import { parseArgs } from 'node:util';
import { closeEmbeddedClickHouse, createClickHouse } from '../platform/clickhouse.ts';
import { loadConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createLogger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { loadProject, projectDir, projectRuntime, servedPlan } from '../project/index.ts';
import { type BackfillProgress, backfillView, DEFAULT_BACKFILL_ROWS_PER_CHUNK } from './backfill.ts';

/**
 * `node --import tsx services/features/backfill-cli.ts --view <name> --version <n> [--group <g>]
 *   [--source-group <g>] [--project <dir>] [--rows-per-chunk <n>]`
 * Backfills one applied version of a project's view (the bundled example's by default) from ClickHouse into Redis and
 * feature_tiles, with the configuration from loadConfig() (environment, FLYWHEEL_CONFIG). Progress goes
 * to stderr once a second; the result is one JSON line on stdout.
 */
const USAGE =
  'usage: backfill-cli.ts --view <name> --version <n> [--group <consumer group>] [--source-group <group>] [--project <dir>] [--rows-per-chunk <n>]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      view: { type: 'string' },
      version: { type: 'string' },
      group: { type: 'string' },
      'source-group': { type: 'string', default: 'flywheel-features' },
      project: { type: 'string' },
      'rows-per-chunk': { type: 'string', default: String(DEFAULT_BACKFILL_ROWS_PER_CHUNK) },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.view || !values.version) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
  const version = Number(values.version);
  if (!Number.isSafeInteger(version) || version < 1)
    throw new FlywheelError('FW_BAD_REQUEST', `--version must be a positive integer, got ${values.version}`);
  const config = loadConfig();
  const logger = createLogger({ component: 'backfill' }, 'warn');
  const clickhouse = await createClickHouse(config);
  const project = await loadProject(projectDir(values.project));
  const views = projectRuntime(project, await servedPlan(project, { config, clickhouse })).views;
  const view = views.find((v) => v.name === values.view && v.version === version);
  if (!view)
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `no applied view ${values.view} v${values.version}; served: ${views.map((v) => v.id).join(', ')}`,
    );
  const redis = createRedis(config.redis.url, { name: 'flywheel-backfill' });
  let last: BackfillProgress | undefined;
  const started = Date.now();
  const line = () => {
    if (!last) return;
    const pct = last.totalRows === 0 ? 100 : (100 * last.rows) / last.totalRows;
    const rate = last.rows / Math.max(0.001, (Date.now() - started) / 1_000);
    process.stderr.write(
      `backfill ${view.id}: partition ${last.partition}, ${last.rows}/${last.totalRows} rows (${pct.toFixed(1)}%), ${Math.round(rate)} rows/s\n`,
    );
  };
  const timer = setInterval(line, 1_000);
  try {
    const result = await backfillView(
      {
        clickhouse,
        database: config.clickhouse.database,
        redis,
        redisPrefix: config.redis.keyPrefix,
        logger,
      },
      {
        view,
        group: values.group ?? `flywheel-features-${view.name}-v${view.version}`,
        sourceGroup: values['source-group'],
        rowsPerChunk: Number(values['rows-per-chunk']),
        onProgress: (p) => {
          last = p;
        },
      },
    );
    line();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    clearInterval(timer);
    await redis.quit();
    await closeEmbeddedClickHouse();
  }
}

main().catch((err: unknown) => {
  const code = err instanceof FlywheelError ? err.code : 'FW_INTERNAL';
  process.stderr.write(`backfill: ${code}: ${(err as Error).message}\n`);
  process.exit(1);
});
