import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis client factory. `failFast` is for request paths (serving): commands fail at once while Redis is
 * down instead of queueing, so callers answer 503 quickly; background workers keep the offline queue.
 */
export function createRedis(url: string, opts: { failFast?: boolean; name?: string } = {}): Redis {
  const options: RedisOptions = {
    lazyConnect: false,
    connectionName: opts.name ?? 'flywheel',
    enableAutoPipelining: false,
    maxRetriesPerRequest: opts.failFast ? 1 : 20,
    enableOfflineQueue: !opts.failFast,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
  };
  const client = new Redis(url, options);
  client.on('error', () => {
    /* surfaced through command failures; ioredis reconnects by itself */
  });
  return client;
}
