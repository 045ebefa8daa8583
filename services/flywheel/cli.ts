import { runReadOnlyQuery } from '../console/index.ts';
import { shopViews } from '../features/index.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../platform/clickhouse.ts';
import { loadConfig, type ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { type RunningModules, runModules, startOrder } from '../platform/modules.ts';
import { createStack, type PartName } from '../platform/stack/stack.ts';
import { MODULE_NAMES, MODULES, type ProjectRuntime } from './modules.ts';

/**
 * `flywheel start`            every module in one process, after bringing up the local stack
 * `flywheel run <m>[,<m>…]`   any subset of modules through the same code (compose, Kubernetes)
 * `flywheel modules`          the modules there are
 * `flywheel sql "<query>"`    a read-only query: through a running console, else the embedded store
 * `flywheel partitions …`     the features processor's partitions; `reset-watermark` repairs one (Redis + Kafka only)
 * Like Loki's -target: all-in-one changes which modules run in the process, not how one is wired.
 */
function bundledProject(): ProjectRuntime {
  return { views: shopViews() };
}

/** Stops the modules (and what `start` brought up) once, on the first SIGINT or SIGTERM. */
function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: draining in-flight work', { signal });
    await stop().catch((err) => logger.error('shutdown failed', { err }));
    process.exit(0);
  };
  process.once('SIGINT', () => void handler('SIGINT'));
  process.once('SIGTERM', () => void handler('SIGTERM'));
}

async function runSelected(
  selected: readonly string[],
  config: Readonly<ResolvedConfig>,
  logger: Logger,
  after: () => Promise<void> = async () => {},
): Promise<RunningModules> {
  const running = await runModules({
    catalogue: MODULES,
    selected,
    config,
    logger,
    project: bundledProject(),
  });
  onShutdown(logger, async () => {
    await running.stop();
    await after();
  });
  // A module whose start fails for good takes the process down: a half-started job must not look alive.
  for (const m of running.modules)
    m.started.catch(async () => {
      await running.stop();
      await after();
      process.exit(1);
    });
  return running;
}

async function start(config: Readonly<ResolvedConfig>, logger: Logger): Promise<void> {
  const stack = createStack(config, logger.child({ component: 'stack' }));
  const parts = await stack.up();
  const started = parts.filter((p) => p.state === 'started').map((p) => p.name as PartName);
  const running = await runSelected(MODULE_NAMES, config, logger, async () => {
    if (started.length) await stack.down(started);
  });
  const url = (name: string, path = '') => `http://${config.http.host}:${running.get(name)?.port}${path}`;
  const rate = config.demo.rate;
  process.stderr.write(
    [
      '',
      'Flywheel is running (all-in-one). Ctrl-C stops it and the stack parts it started.',
      `  console   ${url('console', '/')}`,
      `  ingest    POST ${url('ingest', '/v1/events/shop')}`,
      `  serving   POST ${url('serving', '/v1/features')}   (OpenAPI: /openapi.json)`,
      `  features  ${url('features', '/metrics')}`,
      rate > 0
        ? `  demo traffic: ${rate} shop orders/s (FLYWHEEL_DEMO_RATE)`
        : '  demo traffic: off (FLYWHEEL_DEMO_RATE=0)',
      '',
    ].join('\n'),
  );
}

async function runSome(list: string, config: Readonly<ResolvedConfig>, logger: Logger): Promise<void> {
  const selected = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // Refused before anything starts: a typo must not bring modules up only to fail after.
  startOrder(MODULES, selected);
  await runSelected(selected, config, logger);
}

async function sql(query: string, config: Readonly<ResolvedConfig>): Promise<void> {
  let rows: unknown[];
  try {
    // A running all-in-one job holds the embedded store: ask its console.
    const res = await fetch(`http://${config.http.host}:${config.http.consolePort}/api/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql: query }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as { rows?: unknown[]; error?: { code: string; message: string } };
    if (!res.ok) throw new FlywheelError('FW_BAD_REQUEST', body.error?.message ?? `HTTP ${res.status}`);
    rows = body.rows ?? [];
  } catch (err) {
    if (err instanceof FlywheelError) throw err;
    rows = await runReadOnlyQuery(await createClickHouse(config), query);
    await closeEmbeddedClickHouse();
  }
  for (const row of rows) console.log(JSON.stringify(row));
}

/** Needs only Redis and Kafka: it runs beside `flywheel start`, which holds the embedded ClickHouse. */
async function partitions(argv: string[], config: Readonly<ResolvedConfig>): Promise<void> {
  const { runPartitionsCommand } = await import('../features/index.ts');
  await runPartitionsCommand(argv, {
    config,
    views: bundledProject().views,
    logger: createLogger({ app: 'flywheel', command: 'partitions' }, 'warn'),
    write: (text) => process.stdout.write(text),
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  const logger = createLogger({ app: 'flywheel' }, config.log.level);
  switch (command) {
    case 'start':
      return start(config, logger);
    case 'run':
      if (!rest[0])
        throw new FlywheelError(
          'FW_BAD_REQUEST',
          `usage: flywheel run <module>[,<module>…]; modules: ${MODULE_NAMES.join(', ')}`,
        );
      return runSome(rest.join(','), config, logger);
    case 'modules':
      for (const m of MODULES)
        console.log(
          `${m.name.padEnd(10)} ${m.description}${m.dependencies.length ? ` (after ${m.dependencies.join(', ')})` : ''}`,
        );
      return;
    case 'sql':
      if (!rest[0]) throw new FlywheelError('FW_BAD_REQUEST', 'usage: flywheel sql "<SELECT …>"');
      await sql(rest.join(' '), config);
      process.exit(0);
      return;
    case 'partitions':
      await partitions(rest, config);
      process.exit(0);
      return;
    default:
      throw new FlywheelError(
        'FW_BAD_REQUEST',
        `usage: flywheel start | run <${MODULE_NAMES.join('|')}>[,…] | modules | sql "<query>" | partitions [reset-watermark …]   (stack: npm run stack -- up|down|status)`,
      );
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const code = err instanceof FlywheelError ? err.code : 'FW_INTERNAL';
  process.stderr.write(
    `flywheel: ${code}: ${err instanceof FlywheelError ? err.message : ((err as Error).stack ?? String(err))}\n`,
  );
  process.exit(1);
});
