import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { closeEmbeddedClickHouse, createClickHouse } from './clickhouse.ts';
import { type ConfigSection, ENV_VARS, type ResolvedConfig, sectionSettings } from './config.ts';
import { FlywheelError } from './errors.ts';
import { createHttpServer } from './http.ts';
import type { Logger } from './logger.ts';
import { MetricsRegistry } from './metrics.ts';
import { createRedis } from './redis.ts';

/**
 * One module system for every service, after Loki's modules and `-target`: a module has a name, the
 * modules it needs started first, and one lifecycle — `init` builds it (no network), `start` connects
 * (under the one start-up policy, `retryStartup`), `ready` answers /readyz, `stop` drains.
 * `flywheel start` and `flywheel run a,b` both go through `runModules`; all-in-one changes which modules
 * run in the process, never how a module is wired.
 */
export interface ModuleContext<Project = unknown, Settings = undefined> {
  readonly config: Readonly<ResolvedConfig>;
  /** The module's own config section, validated with the rest at start-up (undefined without one). */
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  /** The user's project (sources, views, models) this process serves. */
  readonly project: Project;
  /** Clients shared by every module of the process; the runner closes them after the last stop. */
  readonly shared: SharedClients;
  /** The api of a module this one depends on, when that module runs in this process. */
  peer<T>(name: string): T | undefined;
}

export interface ModuleInstance<Api = unknown> {
  /** What a dependent module may use in-process (e.g. the features service for the console). */
  readonly api?: Api;
  /** Registers the module's HTTP routes beside /healthz, /readyz and /metrics. */
  routes?(http: ReturnType<typeof createHttpServer>): void;
  /**
   * Connects to what the module needs, retrying under `retryStartup` (the one start-up policy, config
   * section `startup`) while the fault is retriable; rejects with the fault that ends it.
   */
  start(): Promise<void>;
  /** Readiness beyond "started" (e.g. ingest is not ready while Kafka is away). Default: started. */
  ready?(): boolean | Promise<boolean>;
  stop(): Promise<void>;
}

export interface FlywheelModule<Project = unknown, Api = unknown, Settings = undefined> {
  readonly name: string;
  readonly description: string;
  /** Its own config section (named after the module), when it has settings of its own. */
  readonly config?: ConfigSection<Settings>;
  /** Modules started before this one when they run in the same process. */
  readonly dependencies: readonly string[];
  /** The HTTP port it serves in all-in-one mode; `http.port` overrides it for a one-module process. */
  port(config: Readonly<ResolvedConfig>): number;
  /** Largest request body its HTTP server takes. */
  maxBodyBytes?(config: Readonly<ResolvedConfig>): number;
  init(ctx: ModuleContext<Project, Settings>): Promise<ModuleInstance<Api>> | ModuleInstance<Api>;
}

export interface SharedClients {
  /** One ClickHouse client per process (embedded chDB allows one session per data folder). */
  clickhouse(): Promise<ClickHouseClient>;
  /** A Redis connection of the caller's own: the processor's large commits must not queue reads. */
  redis(name: string, options?: { failFast?: boolean }): Redis;
}

export interface RunningModule {
  readonly name: string;
  readonly port: number;
  /** Settles when the module has started (after any retries), or rejects with the fault that ended it. */
  readonly started: Promise<void>;
  readonly api: unknown;
}

export interface RunningModules {
  readonly modules: readonly RunningModule[];
  get(name: string): RunningModule | undefined;
  /** Stops modules in reverse start order, then the shared clients. Idempotent. */
  stop(): Promise<void>;
}

/** Names in start order: every selected module after the selected modules it depends on. */
export function startOrder(catalogue: readonly AnyModule<never>[], selected: readonly string[]): string[] {
  const byName = new Map(catalogue.map((m) => [m.name, m]));
  const unknown = selected.filter((n) => !byName.has(n));
  if (unknown.length || selected.length === 0)
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `${unknown.length ? `unknown module "${unknown.join('", "')}"` : 'no module named'}; modules: ${catalogue.map((m) => m.name).join(', ')}`,
    );
  const wanted = new Set(selected);
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string, path: string[]): void => {
    if (order.includes(name)) return;
    if (visiting.has(name))
      throw new FlywheelError('FW_CONFIG_INVALID', `module cycle: ${[...path, name].join(' → ')}`);
    visiting.add(name);
    for (const dep of byName.get(name)!.dependencies) if (wanted.has(dep)) visit(dep, [...path, name]);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of selected) visit(name, []);
  return order;
}

// biome-ignore lint/suspicious/noExplicitAny: a catalogue holds modules of different settings and apis
export type AnyModule<Project> = FlywheelModule<Project, any, any>;

/** The config sections of a set of modules, for loadConfig: all validated together at start-up. */
export function moduleSections(catalogue: readonly AnyModule<never>[]): ConfigSection[] {
  return catalogue.flatMap((m) => (m.config ? [m.config as ConfigSection] : []));
}

export async function runModules<Project>(opts: {
  catalogue: readonly AnyModule<Project>[];
  selected: readonly string[];
  config: Readonly<ResolvedConfig>;
  logger: Logger;
  project: Project;
  metrics?: MetricsRegistry;
}): Promise<RunningModules> {
  const { config, logger } = opts;
  const order = startOrder(opts.catalogue as AnyModule<never>[], opts.selected);
  const metrics = opts.metrics ?? new MetricsRegistry();
  const shared = sharedClients(config);
  const single = order.length === 1;
  const running: Array<RunningModule & { stop(): Promise<void> }> = [];
  let stopping = false;
  const result: RunningModules = {
    modules: running,
    get: (name) => running.find((m) => m.name === name),
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const m of [...running].reverse())
        await m.stop().catch((err) => logger.error('module stop failed', { module: m.name, err }));
      await shared.close();
    },
  };
  try {
    for (const name of order) {
      const module = opts.catalogue.find((m) => m.name === name)!;
      const log = logger.child({ service: name });
      const instance = await module.init({
        config,
        settings: module.config ? sectionSettings(config, module.config) : undefined,
        logger: log,
        metrics,
        project: opts.project,
        shared,
        peer: <T>(peer: string) => result.get(peer)?.api as T | undefined,
      });
      running.push(await serve(module, instance, { config, log, metrics, single }));
    }
  } catch (err) {
    await result.stop();
    throw err;
  }
  return result;
}

/** The variable that sets this port: the module's all-in-one one (found by value), else FLYWHEEL_HTTP_PORT. */
function portVariable(config: Readonly<ResolvedConfig>, port: number, single: boolean): string {
  if (single && config.http.port !== undefined) return 'FLYWHEEL_HTTP_PORT';
  const http = config.http as unknown as Record<string, unknown>;
  const found = ENV_VARS.find(
    (v) =>
      v.path.startsWith('http.') && v.path.endsWith('Port') && http[v.path.slice('http.'.length)] === port,
  );
  return found?.env ?? 'FLYWHEEL_HTTP_PORT';
}

/** Listens at once (so /healthz answers and /readyz says "not ready"), then starts in the background. */
async function serve<Project>(
  module: AnyModule<Project>,
  instance: ModuleInstance,
  ctx: {
    config: Readonly<ResolvedConfig>;
    log: Logger;
    metrics: MetricsRegistry;
    single: boolean;
  },
) {
  let started = false;
  const http = createHttpServer({
    name: module.name,
    logger: ctx.log,
    metrics: ctx.metrics,
    maxBodyBytes: module.maxBodyBytes?.(ctx.config) ?? ctx.config.http.maxBodyBytes,
    ready: async () => started && (instance.ready ? await instance.ready() : true),
  });
  instance.routes?.(http);
  const wanted =
    ctx.single && ctx.config.http.port !== undefined ? ctx.config.http.port : module.port(ctx.config);
  const port = await http.listen(wanted, ctx.config.http.host).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    throw new FlywheelError(
      'FW_PORT_BUSY',
      `${module.name}: ${ctx.config.http.host}:${wanted} is in use by another program; stop it, or set ${portVariable(ctx.config, wanted, ctx.single)}`,
    );
  });
  const startedPromise = instance.start().then(() => {
    started = true;
    ctx.log.info(`${module.name} started`, { port });
  });
  startedPromise.catch((err) => ctx.log.error(`${module.name} failed to start`, { err }));
  return {
    name: module.name,
    port,
    started: startedPromise,
    api: instance.api,
    async stop() {
      started = false;
      await http.close();
      await instance.stop();
    },
  };
}

function sharedClients(config: Readonly<ResolvedConfig>): SharedClients & { close(): Promise<void> } {
  let clickhouse: Promise<ClickHouseClient> | undefined;
  const redis: Redis[] = [];
  return {
    clickhouse: () => {
      clickhouse ??= createClickHouse(config);
      return clickhouse;
    },
    redis: (name, options = {}) => {
      const client = createRedis(config.redis.url, { ...options, name: `flywheel-${name}` });
      redis.push(client);
      return client;
    },
    async close() {
      await Promise.all(redis.map((r) => r.quit().catch(() => r.disconnect())));
      if (!clickhouse) return;
      if (config.clickhouse.url) await (await clickhouse).close();
      else await closeEmbeddedClickHouse();
    },
  };
}
