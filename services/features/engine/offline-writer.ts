import type { OfflineStore } from '../offline-store.ts';
import type { SourceEvent, TileWrite } from './partition-state.ts';

/**
 * ClickHouse writes behind the Redis commits, batched across partitions: whatever is queued when the
 * previous INSERT finishes goes into the next one, so the batch grows with the load and the number of
 * inserts (each with a fixed cost) stays small. FIFO, so a partition's writes complete in order.
 */
interface Pending {
  topic: string;
  partition: number;
  events: readonly SourceEvent[];
  tiles: readonly TileWrite[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export function createOfflineWriter(offline: OfflineStore, opts: { maxQueuedRows: number }) {
  let queue: Pending[] = [];
  let queuedRows = 0;
  let running: Promise<void> | undefined;

  async function drainLoop(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await offline.insertBatch(latestTilesOnly(batch));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      } finally {
        for (const p of batch) queuedRows -= p.events.length + p.tiles.length;
      }
    }
    running = undefined;
  }

  return {
    /** Resolves when the rows are in ClickHouse. */
    enqueue(
      topic: string,
      partition: number,
      events: readonly SourceEvent[],
      tiles: readonly TileWrite[],
    ): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ topic, partition, events, tiles, resolve, reject });
        queuedRows += events.length + tiles.length;
        running ??= drainLoop();
      });
    },
    /** True when the fold should wait for ClickHouse (bounds memory under a backlog). */
    overloaded: () => queuedRows > opts.maxQueuedRows,
    drained: (): Promise<void> => running ?? Promise.resolve(),
  };
}

export type OfflineWriter = ReturnType<typeof createOfflineWriter>;

/**
 * Under a backlog several flushes queue up, often rewriting the same tiles: only each tile's newest
 * state needs to reach ClickHouse (its table keeps the row with the highest last_offset anyway). Tiles
 * are matched by their in-memory state object, which a partition keeps across flushes: no key strings
 * are built. (A tile evicted and reloaded in between gets a new object; both rows are written and the
 * table keeps the newer.)
 */
function latestTilesOnly(batch: readonly Pending[]): Pending[] {
  if (batch.length < 2) return [...batch];
  const newest = new Map<object, TileWrite>();
  for (const p of batch) {
    for (const t of p.tiles) {
      const seen = newest.get(t.tile);
      if (!seen || seen.lastOffset <= t.lastOffset) newest.set(t.tile, t);
    }
  }
  return batch.map((p) => ({ ...p, tiles: p.tiles.filter((t) => newest.get(t.tile) === t) }));
}
