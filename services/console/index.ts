import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { CompiledView } from '../features/definition.ts';
import { createOnlineReader } from '../features/online-reader.ts';
import type { FeaturesService } from '../features/service.ts';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createHttpServer } from '../platform/http.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import { CONSOLE_PAGE } from './page.ts';
import { createStatusProvider, runReadOnlyQuery } from './status.ts';

/** The all-in-one job's console: the live page, /api/status, and the read-only SQL endpoint. */
export async function runConsole(deps: {
  config: Readonly<ResolvedConfig>;
  logger: Logger;
  metrics: MetricsRegistry;
  clickhouse: ClickHouseClient;
  redis: Redis;
  features: FeaturesService;
  views: readonly CompiledView[];
  recentEntity: () => string | undefined;
}) {
  const reader = createOnlineReader({
    redis: deps.redis,
    prefix: deps.config.redis.keyPrefix,
    views: deps.views,
  });
  const status = createStatusProvider({ ...deps, reader, db: deps.config.clickhouse.database });
  const http = createHttpServer({
    name: 'console',
    logger: deps.logger,
    metrics: deps.metrics,
    maxBodyBytes: 64 * 1024,
  });
  http.get('/', () => ({ body: CONSOLE_PAGE, headers: { 'content-type': 'text/html; charset=utf-8' } }));
  http.get('/api/status', async () => ({ body: await status() }));
  http.post('/api/sql', async (ctx) => {
    const body = (await ctx.json()) as { sql?: unknown } | null;
    if (!body || typeof body.sql !== 'string')
      throw new FlywheelError('FW_BAD_REQUEST', 'expected {"sql": "<one read-only statement>"}');
    return { body: { rows: await runReadOnlyQuery(deps.clickhouse, body.sql) } };
  });
  const port = await http.listen(deps.config.http.consolePort, deps.config.http.host);
  return { port, close: () => http.close() };
}
