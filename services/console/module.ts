import { type CompiledView, createOnlineReader, type FeaturesService } from '../features/index.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { CONSOLE_PAGE } from './page.ts';
import { createStatusProvider, runReadOnlyQuery } from './status.ts';

export interface ConsoleProject {
  readonly views: readonly CompiledView[];
}

/** A module that can name an entity worth showing (the demo traffic's latest user). */
export interface RecentEntitySource {
  recentEntity(): string | undefined;
}

/**
 * The live page, /api/status and the read-only SQL endpoint. Checkpoints come from the features module
 * when it runs in the same process; a console on its own shows the stores without them.
 */
export const consoleModule: FlywheelModule<ConsoleProject> = {
  name: 'console',
  description: 'the live page, /api/status and read-only SQL over the offline store',
  dependencies: ['features', 'serving', 'demo'],
  port: (config) => config.http.consolePort,
  maxBodyBytes: () => 64 * 1024,
  async init(ctx) {
    const clickhouse = await ctx.shared.clickhouse();
    const redis = ctx.shared.redis('console');
    const reader = createOnlineReader({
      redis,
      prefix: ctx.config.redis.keyPrefix,
      views: ctx.project.views,
    });
    const features = {
      checkpoints: async (topic: string) =>
        (await ctx.peer<FeaturesService>('features')?.checkpoints(topic)) ?? {},
    } as FeaturesService;
    const status = createStatusProvider({
      metrics: ctx.metrics,
      features,
      reader,
      views: ctx.project.views,
      clickhouse,
      db: ctx.config.clickhouse.database,
      recentEntity: () => ctx.peer<RecentEntitySource>('demo')?.recentEntity(),
    });
    return {
      routes(http) {
        http.get('/', () => ({
          body: CONSOLE_PAGE,
          headers: { 'content-type': 'text/html; charset=utf-8' },
        }));
        http.get('/api/status', async () => ({ body: await status() }));
        http.post('/api/sql', async (c) => {
          const body = (await c.json()) as { sql?: unknown } | null;
          if (!body || typeof body.sql !== 'string')
            throw new FlywheelError('FW_BAD_REQUEST', 'expected {"sql": "<one read-only statement>"}');
          return { body: { rows: await runReadOnlyQuery(clickhouse, body.sql) } };
        });
      },
      start: async () => {},
      stop: async () => {},
    };
  },
};
