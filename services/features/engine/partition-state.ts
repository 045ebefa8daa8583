import { fieldName, LIFETIME_LADDER, type TileRef, tilesForEvent } from '../../core/windows/tiles.ts';
import type { CompiledView } from '../definition.ts';
import { emptyTile, type TileState } from './tile-codec.ts';

/**
 * The pure heart of the stream processor: one Kafka partition's window state. It owns every tile of the
 * entities keyed to its partition, tracks the partition's watermark, folds events into tiles and hands
 * back what changed. No I/O: the processor loads missing tiles before `apply` and persists `drain()`.
 */
export interface Checkpoint {
  /** Next offset to consume (everything below it is in the stores). */
  next: number;
  /** Highest event time seen on the partition; the watermark is this minus the allowed lateness. */
  maxEventTime: number;
  accepted: number;
  late: number;
  invalid: number;
}

export const EMPTY_CHECKPOINT: Checkpoint = {
  next: 0,
  maxEventTime: Number.NEGATIVE_INFINITY,
  accepted: 0,
  late: 0,
  invalid: 0,
};

export interface SourceEvent {
  offset: number;
  entity: string;
  eventTime: number;
  record: Record<string, unknown>;
}

export interface TileWrite {
  view: CompiledView;
  entity: string;
  ref: TileRef;
  field: string;
  tile: TileState;
}

export interface EntityWrite {
  view: CompiledView;
  entity: string;
  /** Newest event time of the entity in this view: the freshness the online read reports. */
  lastEventTime: number;
  /** Tile fields that fell out of the view's retention and can be deleted. */
  expired: string[];
}

export type ApplyResult = 'accepted' | 'late';

export function tileKey(viewId: string, entity: string, field: string): string {
  return `${viewId}\u0000${entity}\u0000${field}`;
}

export class PartitionState {
  readonly checkpoint: Checkpoint;
  private readonly tiles = new Map<string, TileState>();
  private readonly dirtyTiles = new Map<string, TileWrite>();
  private readonly dirtyEntities = new Map<string, EntityWrite>();
  private readonly lastEventTimes = new Map<string, number>();

  constructor(
    readonly views: readonly CompiledView[],
    readonly allowedLatenessMs: number,
    checkpoint: Checkpoint,
    private readonly maxCachedTiles = 500_000,
  ) {
    this.checkpoint = { ...checkpoint };
  }

  /** Tiles (by key) that `apply` will touch for these events but are not in memory yet. */
  missingTiles(
    events: readonly SourceEvent[],
  ): Array<{ key: string; view: CompiledView; entity: string; field: string }> {
    const missing = new Map<string, { key: string; view: CompiledView; entity: string; field: string }>();
    for (const e of events) {
      for (const view of this.views) {
        for (const ref of tilesForEvent(e.eventTime, view.resolutions)) {
          const field = fieldName(ref);
          const key = tileKey(view.id, e.entity, field);
          if (!this.tiles.has(key) && !missing.has(key))
            missing.set(key, { key, view, entity: e.entity, field });
        }
      }
    }
    return [...missing.values()];
  }

  /** Installs a tile read from the store (undefined: never written). */
  loadTile(key: string, view: CompiledView, stored: TileState | undefined): void {
    this.tiles.set(key, stored ?? emptyTile(view));
  }

  watermark(): number {
    return this.checkpoint.maxEventTime - this.allowedLatenessMs;
  }

  apply(e: SourceEvent): ApplyResult {
    const cp = this.checkpoint;
    cp.next = e.offset + 1;
    if (e.eventTime < this.watermark()) {
      cp.late++;
      return 'late';
    }
    if (e.eventTime > cp.maxEventTime) cp.maxEventTime = e.eventTime;
    cp.accepted++;
    for (const view of this.views) {
      for (const ref of tilesForEvent(e.eventTime, view.resolutions)) {
        const field = fieldName(ref);
        const key = tileKey(view.id, e.entity, field);
        let tile = this.tiles.get(key);
        if (!tile) throw new Error(`tile ${field} of ${view.id}/${e.entity} was not loaded before apply`);
        // Idempotence across crashes: the stored tile already holds this event.
        if (e.offset <= tile.lastOffset) continue;
        for (const slot of view.slots) {
          const value =
            slot.field === undefined ? 1 : (e.record[slot.field] as number | string | null | undefined);
          tile.irs[slot.index] = slot.aggregator.update(tile.irs[slot.index], value ?? null, e.eventTime);
        }
        tile.lastOffset = e.offset;
        this.dirtyTiles.set(key, { view, entity: e.entity, ref, field, tile });
        tile = undefined;
      }
      this.touchEntity(view, e.entity, e.eventTime);
    }
    return 'accepted';
  }

  /** Counts a record that could not be decoded or validated (it is dead-lettered, not folded). */
  countInvalid(): void {
    this.checkpoint.invalid++;
  }

  /** Moves the checkpoint past the last record of a chunk, whatever became of it. */
  advanceTo(next: number): void {
    if (next > this.checkpoint.next) this.checkpoint.next = next;
  }

  /** Hands over everything changed since the last drain and forgets it as dirty. */
  drain(): { tiles: TileWrite[]; entities: EntityWrite[]; checkpoint: Checkpoint } {
    const tiles = [...this.dirtyTiles.values()];
    const entities = [...this.dirtyEntities.values()];
    this.dirtyTiles.clear();
    this.dirtyEntities.clear();
    if (this.tiles.size > this.maxCachedTiles) this.tiles.clear(); // reloaded on demand; all were persisted
    return { tiles, entities, checkpoint: { ...this.checkpoint } };
  }

  private touchEntity(view: CompiledView, entity: string, eventTime: number): void {
    const key = `${view.id}\u0000${entity}`;
    const previous = this.lastEventTimes.get(key) ?? Number.NEGATIVE_INFINITY;
    const write = this.dirtyEntities.get(key) ?? { view, entity, lastEventTime: previous, expired: [] };
    if (eventTime > write.lastEventTime) {
      write.expired.push(...expiredFields(view, write.lastEventTime, eventTime));
      write.lastEventTime = eventTime;
      this.lastEventTimes.set(key, eventTime);
    }
    this.dirtyEntities.set(key, write);
  }
}

/**
 * Fields that fell out of retention when an entity's newest event moved from `from` to `to`: for each
 * finite resolution, the tiles older than the longest window (plus one tile of slack) behind `to`.
 * Only the span crossed by this move is listed, so the work is proportional to time advanced.
 */
export function expiredFields(view: CompiledView, from: number, to: number): string[] {
  if (!Number.isFinite(from)) return [];
  const out: string[] = [];
  for (const res of view.resolutions) {
    if (LIFETIME_LADDER.includes(res)) continue;
    const keep = Math.ceil(view.retentionMs / res) + 1;
    const oldFirst = Math.floor(from / res) - keep;
    const newFirst = Math.floor(to / res) - keep;
    for (let t = Math.max(oldFirst, newFirst - 64); t < newFirst; t++)
      out.push(fieldName({ res, start: t * res }));
  }
  return out;
}
