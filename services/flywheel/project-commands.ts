import { closeEmbeddedClickHouse, createClickHouse } from '../platform/clickhouse.ts';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
export { projectDir };

import {
  applyPlan,
  formatPlan,
  initProject,
  type LoadedProject,
  loadProject,
  type Plan,
  type ProjectRuntime,
  planFor,
  projectDir,
  projectRuntime,
  servedPlan,
  writeProjectTypes,
} from '../project/index.ts';

/**
 * The project side of the CLI: which folder (`--project DIR`, else FLYWHEEL_PROJECT, else the bundled
 * example named in package.json), and `init`, `plan`, `apply`, `typegen`. `start` plans and applies
 * before it runs the modules; `run` (one module of a deployment) runs only what was applied.
 */
/** `flywheel plan`: prints what apply would change; changes nothing. Exit 1 when apply would refuse. */
export async function planCommand(
  dir: string,
  config: Readonly<ResolvedConfig>,
  logger: Logger,
): Promise<Plan> {
  const project = await loadProject(dir);
  const plan = await withClickHouse(config, (clickhouse) => planFor(project, { config, logger, clickhouse }));
  process.stdout.write(`${formatPlan(plan)}\n`);
  return plan;
}

/** `flywheel apply`: plan, then register, create and record; refuses an incompatible change with one line. */
export async function applyCommand(
  dir: string,
  config: Readonly<ResolvedConfig>,
  logger: Logger,
): Promise<void> {
  const project = await loadProject(dir);
  await withClickHouse(config, async (clickhouse) => {
    const deps = { config, logger, clickhouse };
    const plan = await planFor(project, deps);
    process.stdout.write(`${formatPlan(plan)}\n`);
    const result = await applyPlan(project, plan, deps);
    process.stdout.write(
      `applied ${result.applyId}: ${result.recorded} definitions recorded, ${result.registered} schemas registered, ${result.topicsCreated} topics created\n`,
    );
  });
}

/**
 * For `start`: plan and apply in the running process (the embedded store stays open for the modules),
 * printing the plan when it changes anything, and return what the modules run.
 */
export async function applyForStart(
  dir: string,
  config: Readonly<ResolvedConfig>,
  logger: Logger,
): Promise<ProjectRuntime> {
  const project = await loadProject(dir);
  const deps = { config, logger, clickhouse: await createClickHouse(config) };
  const plan = await planFor(project, deps);
  if (plan.changes.some((c) => c.action !== 'unchanged')) process.stderr.write(`${formatPlan(plan)}\n`);
  await applyPlan(project, plan, deps);
  return projectRuntime(project, plan);
}

/** For `run`: what was applied, or a refusal naming what was not. */
export async function appliedRuntime(dir: string, config: Readonly<ResolvedConfig>): Promise<ProjectRuntime> {
  const project = await loadProject(dir);
  const plan = await servedPlan(project, { config, clickhouse: await createClickHouse(config) });
  const pending = plan.changes.filter(
    (c) => c.kind !== 'topic' && c.kind !== 'schema' && c.action !== 'unchanged',
  );
  if (pending.length)
    throw new FlywheelError(
      'FW_PROJECT_INVALID',
      `project ${plan.project} in ${project.dir} is not applied (${pending.map((c) => `${c.kind} ${c.name}: ${c.action}`).join(', ')}); fix: flywheel apply --project ${dir}`,
    );
  return projectRuntime(project, plan);
}

/** `flywheel init <dir>`: a starter project that plans, applies and runs as it is. */
export function initCommand(dir: string): void {
  const written = initProject(dir);
  // Run as `npm run flywheel -- init …` in a checkout, the next commands are spelt the same way.
  const command = process.env.npm_lifecycle_event === 'flywheel' ? 'npm run flywheel --' : 'flywheel';
  process.stdout.write(
    [
      `created a Flywheel project in ${dir}:`,
      ...written.map((f) => `  ${f}`),
      'next:',
      `  ${command} plan --project ${dir}`,
      `  ${command} apply --project ${dir}`,
      `  ${command} start --project ${dir}`,
      '',
    ].join('\n'),
  );
}

/** `flywheel typegen [--check]`: writes (or checks) `<dir>/generated/events.ts` from the `.avsc` files. */
export async function typegenCommand(dir: string, check: boolean): Promise<void> {
  const project: LoadedProject = await loadProject(dir);
  const result = writeProjectTypes(project, { check });
  if (!result.ok) throw new FlywheelError('FW_PROJECT_INVALID', result.message);
  process.stdout.write(`${check ? 'up to date' : 'wrote'}: ${result.file}\n`);
}

/** Runs fn with a ClickHouse client of its own (embedded: this process opens the data folder), then closes it. */
export async function withClickHouse<T>(
  config: Readonly<ResolvedConfig>,
  fn: (clickhouse: Awaited<ReturnType<typeof createClickHouse>>) => Promise<T>,
): Promise<T> {
  const clickhouse = await createClickHouse(config);
  try {
    return await fn(clickhouse);
  } finally {
    if (config.clickhouse.url) await clickhouse.close();
    else await closeEmbeddedClickHouse();
  }
}
