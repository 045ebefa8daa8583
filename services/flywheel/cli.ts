import { runReadOnlyQuery } from '../console/status.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../platform/clickhouse.ts';
import { loadConfig, type ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { MetricsRegistry } from '../platform/metrics.ts';
import { createStack, type PartName } from '../platform/stack/stack.ts';

/**
 * `flywheel start`            the whole loop in one process (stack, ingest, features, serving, console, demo traffic)
 * `flywheel run <service>`    one service (ingest | features | serving), for compose and Kubernetes
 * `flywheel sql "<query>"`    a read-only query: through a running console, else the embedded store
 * `flywheel partitions …`     the features processor's partitions; `reset-watermark` repairs one (Redis + Kafka only)
 * Like Loki's -target: all-in-one changes the wiring, not the components.
 */
const SERVICES = ['ingest', 'features', 'serving'] as const;
const PLANNED = ['monitor', 'trainer', 'deployer'];

interface Closable {
  close(): Promise<void>;
}

function onShutdown(
  logger: Logger,
  closables: Closable[],
  after: () => Promise<void> = async () => {},
): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: draining in-flight work', { signal });
    for (const c of [...closables].reverse())
      await c.close().catch((err) => logger.error('close failed', { err }));
    await closeEmbeddedClickHouse();
    await after();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

async function start(config: Readonly<ResolvedConfig>, logger: Logger): Promise<void> {
  const { demoRateFromEnv, startDemoProducer } = await import('./demo-producer.ts');
  // Refused before anything starts: a typo must not bring the stack up only to fail after.
  const rate = demoRateFromEnv(process.env);
  const stack = createStack(config, logger.child({ component: 'stack' }));
  const parts = await stack.up();
  const started = parts.filter((p) => p.state === 'started').map((p) => p.name as PartName);
  const metrics = new MetricsRegistry();
  const clickhouse = await createClickHouse(config);
  const closables: Closable[] = [];
  onShutdown(logger, closables, async () => {
    if (started.length) await stack.down(started);
  });
  const { runIngest } = await import('../ingest/index.ts');
  const ingest = await runIngest(config, { logger: logger.child({ service: 'ingest' }), metrics });
  closables.push(ingest);
  await ingest.started;
  const { runFeatures } = await import('../features/index.ts');
  const features = await runFeatures(config, {
    logger: logger.child({ service: 'features' }),
    metrics,
    clickhouse,
  });
  closables.push(features);
  const { runServing } = await import('../serving/index.ts');
  const serving = await runServing(config, { logger: logger.child({ service: 'serving' }), metrics });
  closables.push(serving);
  const demo = startDemoProducer({
    brokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    ratePerSecond: rate,
    users: 2_000,
    logger,
  });
  closables.push({ close: () => demo.stop() });
  const { runConsole } = await import('../console/index.ts');
  const console_ = await runConsole({
    config,
    logger,
    metrics,
    clickhouse,
    redis: features.redis,
    features: features.service,
    views: features.views,
    recentEntity: demo.recentUser,
  });
  closables.push(console_);
  const host = config.http.host;
  process.stderr.write(
    [
      '',
      'Flywheel is running (all-in-one). Ctrl-C stops it and the stack parts it started.',
      `  console   http://${host}:${console_.port}/`,
      `  ingest    POST http://${host}:${ingest.port}/v1/events/shop`,
      `  serving   POST http://${host}:${serving.port}/v1/features   (OpenAPI: /openapi.json)`,
      `  features  http://${host}:${features.port}/metrics`,
      rate > 0
        ? `  demo traffic: ${rate} shop orders/s (FLYWHEEL_DEMO_RATE)`
        : '  demo traffic: off (FLYWHEEL_DEMO_RATE=0)',
      '',
    ].join('\n'),
  );
}

async function runOne(service: string, config: Readonly<ResolvedConfig>, logger: Logger): Promise<void> {
  if (PLANNED.includes(service))
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `service "${service}" is planned and not available yet; available: ${SERVICES.join(', ')}`,
    );
  if (!SERVICES.includes(service as (typeof SERVICES)[number]))
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `unknown service "${service}"; available: ${SERVICES.join(', ')}`,
    );
  const log = logger.child({ service });
  const module =
    service === 'ingest'
      ? await (await import('../ingest/index.ts')).runIngest(config, { logger: log })
      : service === 'features'
        ? await (await import('../features/index.ts')).runFeatures(config, { logger: log })
        : await (await import('../serving/index.ts')).runServing(config, { logger: log });
  onShutdown(log, [module]);
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
  const [{ runPartitionsCommand }, { shopViews }] = await Promise.all([
    import('../features/repair.ts'),
    import('../features/views/shop.ts'),
  ]);
  await runPartitionsCommand(argv, {
    config,
    views: shopViews(),
    logger: createLogger({ app: 'flywheel', command: 'partitions' }, 'warn'),
    write: (text) => process.stdout.write(text),
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  const logger = createLogger({ app: 'flywheel' });
  switch (command) {
    case 'start':
      return start(config, logger);
    case 'run':
      return runOne(rest[0] ?? '', config, logger);
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
        'usage: flywheel start | run <ingest|features|serving> | sql "<query>" | partitions [reset-watermark …]   (stack: npm run stack -- up|down|status)',
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
