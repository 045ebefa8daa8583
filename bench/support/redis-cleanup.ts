import type { Redis } from 'ioredis';

/**
 * Deletes every key under a benchmark's own prefix: runs leave Redis as they found it, so one run's
 * millions of tiles do not slow the next (a larger keyspace means rehashing and cache misses).
 */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
