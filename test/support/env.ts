import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { FINAL_BEFORE_FIELD, VERSION_FIELD } from '../../services/features/engine/tile-store.ts';
import { loadConfig, type ResolvedConfig } from '../../services/platform/config.ts';
import { createLogger } from '../../services/platform/logger.ts';
import { createStack } from '../../services/platform/stack/stack.ts';
import { scratchDir } from './scratch.ts';

/**
 * Integration tests run against the real local stack. The test command starts it once; each test file
 * calls `useStack()` which reuses what runs (and starts what is missing when a file is run alone).
 * Each file gets its own chDB data folder, since libchdb binds one folder per process.
 */
// A failed test can leave a Kafka client or server open, and Node 20's runner waits for a test file's
// process to exit: once the file's tests are done and reported, give it 5 s, then end it (unref'd, so a
// clean file exits at once as usual). The exit code the runner set is kept.
after(() => {
  setTimeout(() => process.exit(), 5_000).unref();
});

export function testConfig(overrides: Record<string, unknown> = {}): Readonly<ResolvedConfig> {
  const chdb = scratchDir('flywheel-chdb');
  return loadConfig(process.env, { clickhouse: { dataDir: chdb }, ...overrides });
}

export async function useStack(config: Readonly<ResolvedConfig>): Promise<void> {
  await createStack(config, createLogger({ component: 'test-stack' }, 'warn')).up();
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export const quietLogger = () =>
  createLogger({ component: 'test' }, (process.env.FLYWHEEL_LOG_LEVEL as 'debug') ?? 'warn');

export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A tile hash without the fields that record WHEN it was written rather than what it holds: `_v` (a
 * per-write version) and `_f` (the partition watermark at the last write, which depends on how the
 * stream was cut into flushes). Runs that differ in timing (restarts, rebalances, backfills) agree on
 * the rest, tile for tile.
 */
export function withoutWriteMarkers(hash: Record<string, string>): Record<string, string> {
  const { [FINAL_BEFORE_FIELD]: _f, [VERSION_FIELD]: _v, ...content } = hash;
  return content;
}
