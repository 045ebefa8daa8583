import { setImmediate } from 'node:timers/promises';
import { RowBuffer } from '../../platform/clickhouse.ts';
import { type OfflineStore, renderEvents, renderTile } from '../offline-store.ts';
import type { SourceEvent, TileWrite } from './partition-state.ts';

/**
 * ClickHouse writes behind the Redis commits, batched across partitions and over time:
 * - at most one INSERT per `intervalMs` (sooner when the queue passes `maxQueuedBytes`, or on drain), so
 *   the number of inserts, each with a fixed cost, stays small whatever the flush rate;
 * - a tile rewritten by several flushes in between is inserted once, in its newest state: live traffic
 *   touches the same tiles flush after flush, and each tile row is hundreds of bytes to render, parse
 *   and merge (the table keeps the row with the highest last_offset anyway);
 * - raw events are rendered to bytes at once (outside the JS heap, so waiting adds nothing to GC).
 * Waiters resolve when their rows are in ClickHouse, in FIFO order; the processor advances each
 * partition's offline position (and Kafka offset) from that.
 */
interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface PendingTile {
  partition: number;
  write: TileWrite;
}

/** Tile rows rendered between yields to the event loop. */
const RENDER_SLICE = 1_000;

/** A rough rendered size of a tile row, to bound the memory of coalesced tiles. */
const TILE_ROW_BYTES_ESTIMATE = 400;

export function createOfflineWriter(
  offline: OfflineStore,
  opts: { maxQueuedBytes: number; intervalMs: number },
) {
  let events = new RowBuffer();
  // Keyed by the tile's in-memory state object, which a partition keeps across flushes (a tile evicted
  // and reloaded in between gets a new object: both rows are written, the table keeps the newer).
  let tiles = new Map<object, PendingTile>();
  let waiters: Waiter[] = [];
  let running: Promise<void> | undefined;
  let lastInsertAt = 0;
  let urgent = false;
  let wake: (() => void) | undefined;

  const queuedBytes = () => events.byteLength + tiles.size * TILE_ROW_BYTES_ESTIMATE;
  const overloaded = () => queuedBytes() > opts.maxQueuedBytes;

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
      tiles = new Map();
      waiters = [];
      urgent = false;
      lastInsertAt = Date.now();
      try {
        const tileRows = new RowBuffer();
        let rendered = 0;
        for (const { partition, write } of batch.tiles.values()) {
          renderTile(tileRows, partition, write);
          // Yield now and then: rendering a whole interval's tiles in one go would stall the fold.
          if (++rendered % RENDER_SLICE === 0) await setImmediate();
        }
        await offline.insertRendered(batch.events, tileRows);
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
      for (const write of flushTiles) {
        const seen = tiles.get(write.tile);
        if (!seen || seen.write.lastOffset <= write.lastOffset) tiles.set(write.tile, { partition, write });
      }
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
