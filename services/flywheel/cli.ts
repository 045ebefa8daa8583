import { parseArgs } from 'node:util';
import { runReadOnlyQuery } from '../console/index.ts';
import { driftCommand } from '../monitor/index.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../platform/clickhouse.ts';
import { type ResolvedConfig, sectionSettings } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { type RunningModules, runModules, startOrder } from '../platform/modules.ts';
import { createStack, type PartName } from '../platform/stack/stack.ts';
import { loadProject, type ProjectRuntime } from '../project/index.ts';
import { DEMO_CONFIG } from './demo-module.ts';
import { loadFlywheelConfig, MODULE_NAMES, MODULES } from './modules.ts';
import {
  appliedRuntime,
  applyCommand,
  applyForStart,
  initCommand,
  planCommand,
  projectDir,
  typegenCommand,
  withClickHouse,
} from './project-commands.ts';

/**
 * `flywheel init <dir>`       a starter project folder
 * `flywheel plan`             what apply would change (schemas with the registry's verdict, views by
 *                             fingerprint, models, topics); changes nothing
 * `flywheel apply`            registers schemas, creates topics, records every definition in ClickHouse
 * `flywheel typegen [--check]` the project's event types from its .avsc files (or checks them)
 * `flywheel start`            the stack, then apply, then every module in one process
 * `flywheel run <m>[,<m>…]`   any subset of modules through the same code (compose, Kubernetes), on
 *                             what was applied
 * `flywheel modules`          the modules there are
 * `flywheel sql "<query>"`    a read-only query: through a running console, else the embedded store
 * `flywheel partitions …`     the features processor's partitions; `reset-watermark` repairs one (Redis + Kafka only)
 * Project commands take `--project DIR` (else FLYWHEEL_PROJECT, else the bundled example). Like Loki's
 * -target: all-in-one changes which modules run in the process, not how one is wired.
 */

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
  project: ProjectRuntime,
  config: Readonly<ResolvedConfig>,
  logger: Logger,
  after: () => Promise<void> = async () => {},
): Promise<RunningModules> {
  const running = await runModules({ catalogue: MODULES, selected, config, logger, project });
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

async function start(dir: string, config: Readonly<ResolvedConfig>, logger: Logger): Promise<void> {
  const stack = createStack(config, logger.child({ component: 'stack' }));
  const parts = await stack.up();
  const started = parts.filter((p) => p.state === 'started').map((p) => p.name as PartName);
  const stopStack = async () => {
    if (started.length) await stack.down(started);
  };
  let project: ProjectRuntime;
  try {
    project = await applyForStart(dir, config, logger);
  } catch (err) {
    await stopStack();
    throw err;
  }
  const running = await runSelected(MODULE_NAMES, project, config, logger, stopStack);
  const url = (name: string, path = '') => `http://${config.http.host}:${running.get(name)?.port}${path}`;
  const rate = sectionSettings(config, DEMO_CONFIG).rate;
  process.stderr.write(
    [
      '',
      `Flywheel is running project ${project.name} (all-in-one). Ctrl-C stops it and the stack parts it started.`,
      `  console   ${url('console', '/')}`,
      `  ingest    POST ${url('ingest', `/v1/events/${[...project.sources.keys()][0]}`)}`,
      `  serving   POST ${url('serving', '/v1/features')}   (OpenAPI: /openapi.json)`,
      `  features  ${url('features', '/metrics')}`,
      !project.traffic
        ? '  demo traffic: none (the project has no traffic generator)'
        : rate > 0
          ? `  demo traffic: ${rate} events/s from the project's generator (FLYWHEEL_DEMO_RATE)`
          : '  demo traffic: off (FLYWHEEL_DEMO_RATE=0)',
      '',
    ].join('\n'),
  );
}

async function runSome(
  list: string,
  dir: string,
  config: Readonly<ResolvedConfig>,
  logger: Logger,
): Promise<void> {
  const selected = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // Refused before anything starts: a typo must not bring modules up only to fail after.
  startOrder(MODULES, selected);
  await runSelected(selected, await appliedRuntime(dir, config), config, logger);
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
async function partitions(argv: string[], dir: string, config: Readonly<ResolvedConfig>): Promise<void> {
  const { runPartitionsCommand } = await import('../features/index.ts');
  const { loadProject, projectViewsAsDeclared } = await import('../project/index.ts');
  await runPartitionsCommand(argv, {
    config,
    views: projectViewsAsDeclared(await loadProject(dir)),
    logger: createLogger({ app: 'flywheel', command: 'partitions' }, 'warn'),
    write: (text) => process.stdout.write(text),
  });
}

const USAGE = `usage: flywheel <command> [--project DIR]
  init <dir>                 a starter project folder
  plan | apply               what apply would change | register, create, record
  typegen [--check]          event types from the project's .avsc files
  start                      the stack and every module in one process
  run <${MODULE_NAMES.join('|')}>[,…]   some modules, on what was applied
  modules                    the modules there are
  sql "<query>"              a read-only query
  drift reference <model> --training-set FILE.jsonl [--version N]
  drift report <model> [--windows N] [--json]
  models list <model> | show <model> [version] | promote <model> <version> | rollback <model>
  partitions [reset-watermark …]
(stack: npm run stack -- up|down|status)`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { project: { type: 'string' }, check: { type: 'boolean' } },
  });
  const [command, ...rest] = positionals;
  const flag = typeof values.project === 'string' ? values.project : undefined;
  const config = loadFlywheelConfig();
  const logger = createLogger({ app: 'flywheel' }, config.log.level);
  switch (command) {
    case 'init':
      if (!rest[0]) throw new FlywheelError('FW_BAD_REQUEST', 'usage: flywheel init <dir>');
      return initCommand(rest[0]);
    case 'plan':
      await planCommand(projectDir(flag), config, logger).then((plan) =>
        process.exit(plan.refusals.length ? 1 : 0),
      );
      return;
    case 'apply':
      await applyCommand(projectDir(flag), config, logger);
      process.exit(0);
      return;
    case 'typegen':
      return typegenCommand(projectDir(flag), values.check === true);
    case 'start':
      return start(projectDir(flag), config, logger);
    case 'run':
      if (!rest[0])
        throw new FlywheelError(
          'FW_BAD_REQUEST',
          `usage: flywheel run <module>[,<module>…]; modules: ${MODULE_NAMES.join(', ')}`,
        );
      return runSome(rest.join(','), projectDir(flag), config, logger);
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
    case 'drift': {
      const project = await loadProject(projectDir(flag));
      // Everything after the command word (a --project value that reads "drift" is not it).
      const at = argv.findIndex((a, i) => a === 'drift' && argv[i - 1] !== '--project');
      await driftCommand(argv.slice(at + 1), project.definition.models, config, withClickHouse);
      process.exit(0);
      return;
    }
    case 'models': {
      const { modelsCommand } = await import('../registry/index.ts');
      const at = argv.findIndex((a, i) => a === 'models' && argv[i - 1] !== '--project');
      await modelsCommand(argv.slice(at + 1), config, withClickHouse);
      process.exit(0);
      return;
    }
    case 'partitions':
      await partitions(
        argv
          .slice(argv.indexOf('partitions') + 1)
          .filter((a, i, all) => a !== '--project' && all[i - 1] !== '--project'),
        projectDir(flag),
        config,
      );
      process.exit(0);
      return;
    default:
      throw new FlywheelError('FW_BAD_REQUEST', USAGE);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const code = err instanceof FlywheelError ? err.code : 'FW_INTERNAL';
  process.stderr.write(
    `flywheel: ${code}: ${err instanceof FlywheelError ? err.message : ((err as Error).stack ?? String(err))}\n`,
  );
  process.exit(1);
});
