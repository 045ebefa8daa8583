import { RowBuffer } from '../../platform/clickhouse.ts';
import { type OfflineStore, renderEvents, renderTiles } from '../offline-store.ts';
import type { SourceEvent, TileWrite } from './partition-state.ts';

/**
 * ClickHouse writes behind the Redis commits, batched across partitions and over time:
 * - at most one INSERT pair per `intervalMs` (sooner when the queue passes `maxQueuedBytes`, or on
 *   drain), so the number of inserts, each with a fixed cost, stays small whatever the flush rate;
 * - rows (raw events and tile states) are rendered to bytes when queued, outside the JS heap. Holding
 *   tile objects or their encoded text until the insert would keep them alive across young-generation
 *   collections and promote tens of MB/s to the old generation (measured: scavenges of 20–50 ms that
 *   moved the freshness p99). A tile rewritten twice in one interval is written twice; the table keeps
 *   the row with the highest last_offset.
 * Waiters resolve when their rows are in ClickHouse, in FIFO order; the processor advances each
 * partition's offline position (and Kafka offset) from that.
 */
interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export function createOfflineWriter(
  offline: OfflineStore,
  opts: { maxQueuedBytes: number; intervalMs: number },
) {
  let events = new RowBuffer();
  let tiles = new RowBuffer();
  let waiters: Waiter[] = [];
  let running: Promise<void> | undefined;
  let lastInsertAt = 0;
  let urgent = false;
  let wake: (() => void) | undefined;

  const overloaded = () => events.byteLength + tiles.byteLength > opts.maxQueuedBytes;

  async function drainLoop(): Promise<void> {
    while (waiters.length > 0) {
      const wait = lastInsertAt + opts.intervalMs - Date.now();
      if (wait > 0 && !urgent && !overloaded()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
      const batch = { events, tiles, waiters };
      events = new RowBuffer();
      tiles = new RowBuffer();
      waiters = [];
      urgent = false;
      lastInsertAt = Date.now();
      try {
        await offline.insertRendered(batch.events, batch.tiles);
        for (const w of batch.waiters) w.resolve();
      } catch (err) {
        for (const w of batch.waiters) w.reject(err);
      }
    }
    running = undefined;
  }

  return {
    /** Resolves when the rows are in ClickHouse. */
    enqueue(
      topic: string,
      partition: number,
      flushEvents: readonly SourceEvent[],
      flushTiles: readonly TileWrite[],
    ): Promise<void> {
      renderEvents(events, topic, partition, flushEvents);
      renderTiles(tiles, partition, flushTiles);
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        running ??= drainLoop();
        if (overloaded()) wake?.();
      });
    },
    /** True when the fold should wait for ClickHouse (bounds memory under a backlog). */
    overloaded,
    /** Inserts what is queued now without waiting for the interval; resolves once it is written. */
    drained(): Promise<void> {
      if (!running) return Promise.resolve();
      urgent = true;
      wake?.();
      // A waiter of its own: resolved with the batch that holds everything queued before this call.
      return new Promise<void>((resolve) => waiters.push({ resolve, reject: () => resolve() }));
    },
  };
}

export type OfflineWriter = ReturnType<typeof createOfflineWriter>;
