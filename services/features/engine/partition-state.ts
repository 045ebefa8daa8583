import { LIFETIME } from '../../core/windows/duration.ts';
import {
  fieldName,
  LIFETIME_LADDER,
  parseFieldName,
  type TileRef,
  tileStart,
} from '../../core/windows/tiles.ts';
import type { CompiledView } from '../definition.ts';
import { emptyTile, encodeTile, type TileState } from './tile-codec.ts';

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
  /** Dead-lettered as late (behind the watermark); also counted in `deadLetters`. */
  late: number;
  /** Dead-lettered for any other reason (undecodable, out of bounds, bad key…); also in `deadLetters`. */
  invalid: number;
  /** Dead letters by error code (FW_EVENT_LATE, FW_DECODE_FAILED, …), for operators. */
  deadLetters: Record<string, number>;
  /** Records sent on to the partition that owns their entity (another producer's partitioner). */
  rerouted: number;
  /**
   * Rerouted copies skipped: a repeat of one decided here (the sender retried or restarted), or another
   * consumer group's copy (that group's business: this group reroutes the original itself).
   */
  duplicates: number;
  /**
   * For records rerouted here: by origin partition, the highest origin offset decided here. A sender
   * reroutes in offset order, so any copy at or below it was decided already (see docs/partitioning.md).
   */
  origins: Record<string, number>;
  /**
   * How far ClickHouse has everything (it is written after Redis, off the freshness path): records in
   * [offline.next, next) are replayed into ClickHouse only, with the watermark state saved here.
   */
  offline: OfflinePosition;
}

export interface OfflinePosition {
  next: number;
  maxEventTime: number;
  /** The checkpoint's `origins` at `next`: the replay skips rerouted duplicates as the fold did. */
  origins: Record<string, number>;
}

export const EMPTY_CHECKPOINT: Checkpoint = {
  next: 0,
  maxEventTime: Number.NEGATIVE_INFINITY,
  accepted: 0,
  late: 0,
  invalid: 0,
  deadLetters: {},
  rerouted: 0,
  duplicates: 0,
  origins: {},
  offline: { next: 0, maxEventTime: Number.NEGATIVE_INFINITY, origins: {} },
};

/** A checkpoint that shares nothing with `cp` (its counters by code and origins are objects too). */
export function copyCheckpoint(cp: Checkpoint): Checkpoint {
  return {
    ...cp,
    deadLetters: { ...cp.deadLetters },
    origins: { ...cp.origins },
    offline: { ...cp.offline, origins: { ...cp.offline.origins } },
  };
}

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
  /** The tile's lastOffset when drained (the live tile object keeps changing after). */
  lastOffset: number;
  /** The stored form (tile-codec), encoded once per flush for Redis and ClickHouse alike. */
  encoded: string;
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

/** The dead-letter code of a late event (the error catalogue's FW_EVENT_LATE). */
export const LATE_CODE = 'FW_EVENT_LATE';

export function tileKey(viewId: string, entity: string, field: string): string {
  return `${viewId}\u0000${entity}\u0000${field}`;
}

interface LiveTile extends TileState {
  ref: TileRef;
  field: string;
  dirty: boolean;
}

interface EntityState {
  entity: string;
  tiles: Map<string, LiveTile>;
  lastEventTime: number;
  dirty: boolean;
  expired: string[];
}

/** Per view: its entities' tiles. Nested maps, so the per-event path builds no composite key strings. */
interface ViewState {
  view: CompiledView;
  entities: Map<string, EntityState>;
}

export class PartitionState {
  readonly checkpoint: Checkpoint;
  private readonly viewStates: ViewState[];
  private readonly byViewId = new Map<string, ViewState>();
  private dirtyTiles: Array<{ vs: ViewState; es: EntityState; tile: LiveTile }> = [];
  private dirtyEntities: Array<{ vs: ViewState; es: EntityState }> = [];
  private cachedTiles = 0;
  /** Field names by resolution and start: events cluster in few tiles, so names are built once. */
  private readonly names = new Map<number, Map<number, string>>();

  constructor(
    readonly views: readonly CompiledView[],
    readonly allowedLatenessMs: number,
    checkpoint: Checkpoint,
    private readonly maxCachedTiles = 100_000,
  ) {
    this.checkpoint = copyCheckpoint(checkpoint);
    this.viewStates = views.map((view) => ({ view, entities: new Map() }));
    for (const vs of this.viewStates) this.byViewId.set(vs.view.id, vs);
  }

  private fieldOf(res: number, start: number): string {
    let byStart = this.names.get(res);
    if (!byStart) {
      byStart = new Map();
      this.names.set(res, byStart);
    }
    let name = byStart.get(start);
    if (name === undefined) {
      if (byStart.size > 4_096) byStart.clear();
      name = fieldName({ res, start });
      byStart.set(start, name);
    }
    return name;
  }

  private entityState(vs: ViewState, entity: string): EntityState {
    let es = vs.entities.get(entity);
    if (!es) {
      es = { entity, tiles: new Map(), lastEventTime: Number.NEGATIVE_INFINITY, dirty: false, expired: [] };
      vs.entities.set(entity, es);
    }
    return es;
  }

  /**
   * Tiles (by key) that `apply` will touch for these events but are not in memory yet, to load from the
   * store. A tile that starts after the newest event time folded so far (the checkpoint's, stored
   * atomically with every tile) cannot hold anything yet: it is created empty instead of read — in
   * a stream in event-time order that is most new tiles (every entity's next minute, say).
   */
  missingTiles(
    events: readonly SourceEvent[],
  ): Array<{ key: string; view: CompiledView; entity: string; field: string }> {
    const missing = new Map<string, { key: string; view: CompiledView; entity: string; field: string }>();
    const newest = this.checkpoint.maxEventTime;
    for (const e of events) {
      for (const vs of this.viewStates) {
        let es = vs.entities.get(e.entity);
        for (const res of vs.view.resolutions) {
          const start = tileStart(e.eventTime, res);
          const field = this.fieldOf(res, start);
          if (es?.tiles.has(field)) continue;
          if (start > newest) {
            es ??= this.entityState(vs, e.entity);
            this.install(es, field, emptyTile(vs.view));
            continue;
          }
          const key = tileKey(vs.view.id, e.entity, field);
          if (!missing.has(key)) missing.set(key, { key, view: vs.view, entity: e.entity, field });
        }
      }
    }
    return [...missing.values()];
  }

  /** Installs a tile read from the store (undefined: never written). */
  loadTile(key: string, view: CompiledView, stored: TileState | undefined): void {
    const [, entity, field] = key.split('\u0000') as [string, string, string];
    const vs = this.byViewId.get(view.id);
    if (!vs) throw new Error(`view ${view.id} is not processed by this partition`);
    this.install(this.entityState(vs, entity), field, stored ?? emptyTile(view));
  }

  private install(es: EntityState, field: string, tile: TileState): void {
    if (!es.tiles.has(field)) this.cachedTiles++;
    es.tiles.set(field, {
      lastOffset: tile.lastOffset,
      irs: tile.irs,
      ref: parseFieldName(field),
      field,
      dirty: false,
    });
  }

  watermark(): number {
    return this.checkpoint.maxEventTime - this.allowedLatenessMs;
  }

  apply(e: SourceEvent): ApplyResult {
    const cp = this.checkpoint;
    cp.next = e.offset + 1;
    if (e.eventTime < this.watermark()) {
      cp.late++;
      cp.deadLetters[LATE_CODE] = (cp.deadLetters[LATE_CODE] ?? 0) + 1;
      return 'late';
    }
    if (e.eventTime > cp.maxEventTime) cp.maxEventTime = e.eventTime;
    cp.accepted++;
    for (const vs of this.viewStates) {
      const view = vs.view;
      const es = this.entityState(vs, e.entity);
      for (const res of view.resolutions) {
        const field = this.fieldOf(res, tileStart(e.eventTime, res));
        const tile = es.tiles.get(field);
        if (!tile) throw new Error(`tile ${field} of ${view.id}/${e.entity} was not loaded before apply`);
        // Idempotence across crashes: the stored tile already holds this event.
        if (e.offset <= tile.lastOffset) continue;
        for (const slot of view.slots) {
          const value =
            slot.field === undefined ? 1 : (e.record[slot.field] as number | string | null | undefined);
          tile.irs[slot.index] = slot.aggregator.update(tile.irs[slot.index], value ?? null, e.eventTime);
        }
        tile.lastOffset = e.offset;
        if (!tile.dirty) {
          tile.dirty = true;
          this.dirtyTiles.push({ vs, es, tile });
        }
      }
      if (e.eventTime > es.lastEventTime) {
        const expired = expiredFields(view, es.lastEventTime, e.eventTime);
        if (expired.length > 0) es.expired.push(...expired);
        es.lastEventTime = e.eventTime;
      }
      if (!es.dirty) {
        es.dirty = true;
        this.dirtyEntities.push({ vs, es });
      }
    }
    return 'accepted';
  }

  /** Counts a record dead-lettered for `code` before folding (undecodable, out of bounds, bad key…). */
  countInvalid(code: string): void {
    const cp = this.checkpoint;
    cp.invalid++;
    cp.deadLetters[code] = (cp.deadLetters[code] ?? 0) + 1;
  }

  /** Counts a rerouted copy skipped without a look (another consumer group's). */
  countSkippedCopy(): void {
    this.checkpoint.duplicates++;
  }

  /** Counts a record sent on to the partition that owns its entity. */
  countRerouted(): void {
    this.checkpoint.rerouted++;
  }

  /**
   * Decides a rerouted copy's fate by its origin: true when it is new here (and remembers it as
   * decided), false when a copy of it was decided before (a duplicate, counted and skipped).
   */
  admitOrigin(partition: number, offset: number): boolean {
    const cp = this.checkpoint;
    const key = String(partition);
    if (offset <= (cp.origins[key] ?? -1)) {
      cp.duplicates++;
      return false;
    }
    cp.origins[key] = offset;
    return true;
  }

  /** Moves the checkpoint past the last record of a chunk, whatever became of it. */
  advanceTo(next: number): void {
    if (next > this.checkpoint.next) this.checkpoint.next = next;
  }

  /** Hands over everything changed since the last drain and forgets it as dirty. */
  drain(): { tiles: TileWrite[]; entities: EntityWrite[]; checkpoint: Checkpoint } {
    const tiles = this.dirtyTiles.map(({ vs, es, tile }) => {
      tile.dirty = false;
      for (const f of es.expired) if (es.tiles.delete(f)) this.cachedTiles--;
      return {
        view: vs.view,
        entity: es.entity,
        ref: tile.ref,
        field: tile.field,
        tile,
        lastOffset: tile.lastOffset,
        encoded: encodeTile(vs.view, tile),
      };
    });
    const entities = this.dirtyEntities.map(({ vs, es }) => {
      es.dirty = false;
      const expired = es.expired;
      es.expired = [];
      return { view: vs.view, entity: es.entity, lastEventTime: es.lastEventTime, expired };
    });
    this.dirtyTiles = [];
    this.dirtyEntities = [];
    if (this.cachedTiles > this.maxCachedTiles) this.evict();
    return { tiles, entities, checkpoint: copyCheckpoint(this.checkpoint) };
  }

  /** Tiles held in memory (loaded, created or folded, not yet evicted or expired). */
  get tilesInMemory(): number {
    return this.cachedTiles;
  }

  /**
   * Frees memory once the cache passes its limit; everything is persisted at this point. First the
   * final tiles — those that end at or before the watermark: any event inside one is late, so no event
   * will touch it again and evicting it costs nothing. Only if that is not enough (a lateness as long
   * as the data) is the whole cache dropped, to be reloaded on demand. Without this a partition kept
   * every tile of its retention (24 h of 1-minute tiles for a 24 h window): GBs of heap, and
   * multi-second garbage-collection stalls that cost the consumer its group membership.
   */
  private evict(): void {
    const watermark = this.watermark();
    let kept = 0;
    for (const vs of this.viewStates) {
      for (const es of vs.entities.values()) {
        for (const [field, tile] of es.tiles) {
          if (tile.ref.start + tile.ref.res <= watermark) es.tiles.delete(field);
          else kept++;
        }
      }
    }
    this.cachedTiles = kept;
    if (kept > this.maxCachedTiles / 2) {
      for (const vs of this.viewStates) for (const es of vs.entities.values()) es.tiles.clear();
      this.cachedTiles = 0;
    }
  }
}

const NOTHING_EXPIRED: readonly string[] = Object.freeze([]);

/**
 * Fields that fell out of retention when an entity's newest event moved from `from` to `to`: for each
 * finite resolution, the tiles older than the longest window (plus one tile of slack) behind `to`.
 * Only the span crossed by this move is listed, so the work is proportional to time advanced.
 */
export function expiredFields(view: CompiledView, from: number, to: number): readonly string[] {
  if (!Number.isFinite(from)) return NOTHING_EXPIRED;
  let out: string[] | undefined;
  for (let i = 0; i < view.resolutions.length; i++) {
    const res = view.resolutions[i]!;
    // Most advances stay inside every tile: nothing crossed, nothing listed (or allocated).
    if (Math.floor(from / res) === Math.floor(to / res) || LIFETIME_LADDER.includes(res)) continue;
    // A lifetime read fills the recent end of its span with finer tiles, up to the next coarser rung.
    const coarser = view.resolutions[i + 1];
    const lifetime = coarser !== undefined && view.features.some((f) => f.windowMs === LIFETIME);
    const span = lifetime ? Math.max(view.retentionMs, coarser) : view.retentionMs;
    const keep = Math.ceil(span / res) + 1;
    const oldFirst = Math.floor(from / res) - keep;
    const newFirst = Math.floor(to / res) - keep;
    out ??= [];
    for (let t = Math.max(oldFirst, newFirst - 64); t < newFirst; t++)
      out.push(fieldName({ res, start: t * res }));
  }
  return out ?? NOTHING_EXPIRED;
}
