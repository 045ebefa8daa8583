import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { entityKeyProblem, eventTimeProblem } from '../core/contracts/event-bounds.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { CompiledView } from './definition.ts';
import { type Checkpoint, PartitionState, type SourceEvent } from './engine/partition-state.ts';
import { createTileStore } from './engine/tile-store.ts';
import { createOfflineStore } from './offline-store.ts';

/**
 * Backfill: recomputes one view's tiles (a new view, or a new version of one) from the raw events in
 * ClickHouse (`<db>.events FINAL`), through the same PartitionState and aggregators the stream processor
 * runs, and writes them where the processor would: ClickHouse `feature_tiles`, then Redis tiles and the
 * partition checkpoint of consumer group `group` in one fenced commit per chunk.
 *
 * For each partition of the view's source topic it pages through the rows in offset order (`rowsPerChunk`
 * per query, so memory stays bounded whatever the table size) up to a snapshot bound: the checkpoint of
 * the live `sourceGroup` (everything below its `next` offset is in ClickHouse) or, without one, the
 * newest stored offset + 1. The checkpoint it leaves for `group` holds that bound, so a live processor for
 * the view started with groupId `group` skips what the backfill folded and continues from there.
 *
 * The raw events table holds only events the live watermark ACCEPTED: events it dead-lettered as late
 * (or invalid) are not there, so the backfill cannot fold them whatever the new view's lateness says.
 * The fold still applies the view's own watermark (equal to the live one when the lateness is equal, the
 * processor requires that of views sharing a topic) and reports what it calls late.
 *
 * A backfill is resumable: re-running it for the same group continues from the group's checkpoint, and
 * per-tile lastOffset makes any re-folded row a no-op.
 */
export interface BackfillProgress {
  /** The partition the last chunk came from. */
  partition: number;
  /** Rows folded so far, over all partitions. */
  rows: number;
  /** Rows to fold in all, over all partitions (known before the first chunk). */
  totalRows: number;
}

export interface BackfillOptions {
  view: CompiledView;
  /** Consumer group whose checkpoints the backfill writes (the live processor's groupId for the view). */
  group: string;
  /** Live group whose checkpoints bound the snapshot; default 'flywheel-features' (the service's group). */
  sourceGroup?: string;
  /** Rows per ClickHouse page and per Redis commit. Default 5,000 (the processor's maxEventsPerFlush). */
  rowsPerChunk?: number;
  onProgress?: (progress: BackfillProgress) => void;
}

export interface BackfillDeps {
  clickhouse: ClickHouseClient;
  database: string;
  redis: Redis;
  redisPrefix: string;
  logger?: Logger;
}

export interface PartitionBackfill {
  partition: number;
  /** Rows folded by this run (0 when the group's checkpoint was already at the bound). */
  rows: number;
  late: number;
  /**
   * Rows outside the view source's event-time bounds or key limits (stored before the live processor
   * enforced them): skipped and counted, never folded, so they cannot move the watermark.
   */
  outOfBounds: number;
  /** The checkpoint left for the group: the next offset a live processor consumes. */
  next: number;
  epoch: string;
}

export interface BackfillResult {
  view: string;
  group: string;
  topic: string;
  rows: number;
  totalRows: number;
  late: number;
  outOfBounds: number;
  partitions: PartitionBackfill[];
}

export const DEFAULT_BACKFILL_ROWS_PER_CHUNK = 5_000;
export const MAX_BACKFILL_ROWS_PER_CHUNK = 100_000;

interface EventRow {
  offset: number | string;
  entity: string;
  t: number | string;
  payload: string;
}

export async function backfillView(deps: BackfillDeps, opts: BackfillOptions): Promise<BackfillResult> {
  const { view, group } = opts;
  const rowsPerChunk = opts.rowsPerChunk ?? DEFAULT_BACKFILL_ROWS_PER_CHUNK;
  if (!Number.isSafeInteger(rowsPerChunk) || rowsPerChunk < 1 || rowsPerChunk > MAX_BACKFILL_ROWS_PER_CHUNK)
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      `rowsPerChunk must be an integer in [1, ${MAX_BACKFILL_ROWS_PER_CHUNK}], got ${rowsPerChunk}`,
    );
  const sourceGroup = opts.sourceGroup ?? 'flywheel-features';
  if (sourceGroup === group)
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      `backfill group ${group} must differ from the live source group it reads checkpoints of`,
    );
  const topic = view.source.topic;
  const db = deps.database;
  const log = deps.logger?.child({ component: 'backfill', view: view.id, group });
  const offline = createOfflineStore(deps.clickhouse, db);
  const tiles = createTileStore(deps.redis, deps.redisPrefix);

  await offline.migrate();
  const known = await offline.fingerprints(view);
  if (known.length > 0 && !known.includes(view.fingerprint))
    throw new FlywheelError(
      'FW_FEATURE_VIEW_INVALID',
      `feature view ${view.id} changed since it was registered: bump its version to backfill the new definition`,
    );
  if (known.length === 0) await offline.registerView(view);

  const query = async <T>(sql: string, params: Record<string, unknown>): Promise<T[]> => {
    try {
      const rs = await deps.clickhouse.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (err) {
      throw new FlywheelError(
        'FW_CLICKHOUSE_UNAVAILABLE',
        `backfill query failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  };

  // The snapshot: per partition, fold offsets [group's checkpoint, bound).
  const stored = await query<{ partition: number | string; last: number | string }>(
    `SELECT partition, max(offset) AS last FROM ${db}.events FINAL WHERE topic = {t:String} GROUP BY partition`,
    { t: topic },
  );
  const live = await tiles.readCheckpoints(sourceGroup, topic);
  const bounds = new Map<number, number>();
  for (const r of stored) bounds.set(Number(r.partition), Number(r.last) + 1);
  for (const [p, cp] of Object.entries(live)) bounds.set(Number(p), cp.next);
  const mine = await tiles.readCheckpoints(group, topic);
  const plan = [...bounds.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([partition, bound]) => ({ partition, bound, from: mine[String(partition)]?.next ?? 0 }));

  const counts = await Promise.all(
    plan.map(async (p) => {
      if (p.from >= p.bound) return 0;
      const [row] = await query<{ n: number | string }>(
        `SELECT count() AS n FROM ${db}.events FINAL
         WHERE topic = {t:String} AND partition = {p:UInt32} AND offset >= {from:UInt64} AND offset < {to:UInt64}`,
        { t: topic, p: p.partition, from: p.from, to: p.bound },
      );
      return Number(row?.n ?? 0);
    }),
  );
  const totalRows = counts.reduce((s, n) => s + n, 0);
  log?.info('backfill planned', { topic, partitions: plan.length, totalRows, sourceGroup });

  let rows = 0;
  const partitions: PartitionBackfill[] = [];
  for (const { partition, bound } of plan) {
    const { epoch, checkpoint } = await tiles.claim(group, topic, partition);
    const state = new PartitionState([view], view.source.allowedLatenessMs, checkpoint);
    const result: PartitionBackfill = {
      partition,
      rows: 0,
      late: 0,
      outOfBounds: 0,
      next: checkpoint.next,
      epoch,
    };
    const flush = async (): Promise<Checkpoint> => {
      const drained = state.drain();
      await offline.insertTiles(partition, drained.tiles);
      await tiles.commit({ group, topic, partition, epoch, ...drained });
      return drained.checkpoint;
    };
    let from = checkpoint.next;
    while (from < bound) {
      const page = await query<EventRow>(
        `SELECT offset, entity, toUnixTimestamp64Milli(event_time) AS t, payload FROM ${db}.events FINAL
         WHERE topic = {t:String} AND partition = {p:UInt32} AND offset >= {from:UInt64} AND offset < {to:UInt64}
         ORDER BY offset LIMIT {n:UInt32}`,
        { t: topic, p: partition, from, to: bound, n: rowsPerChunk },
      );
      if (page.length === 0) break;
      const all = page.map(toEvent);
      const events = all.filter((e) => withinBounds(view, e, state));
      result.outOfBounds += all.length - events.length;
      const missing = state.missingTiles(events);
      if (missing.length > 0)
        for (const t of (await tiles.loadTiles(missing)).tiles) state.loadTile(t.key, t.view, t.tile);
      for (const e of events) if (state.apply(e) === 'late') result.late++;
      from = all.at(-1)!.offset + 1;
      state.advanceTo(from);
      await flush();
      result.rows += all.length;
      rows += all.length;
      opts.onProgress?.({ partition, rows, totalRows });
    }
    // Offsets without a row (dead-lettered by the live processor) up to the bound are done too.
    state.advanceTo(bound);
    result.next = (await flush()).next;
    partitions.push(result);
    log?.info('partition backfilled', {
      partition,
      rows: result.rows,
      late: result.late,
      outOfBounds: result.outOfBounds,
      next: result.next,
    });
  }
  opts.onProgress?.({ partition: plan.at(-1)?.partition ?? 0, rows, totalRows });
  return {
    view: view.id,
    group,
    topic,
    rows,
    totalRows,
    late: partitions.reduce((s, p) => s + p.late, 0),
    outOfBounds: partitions.reduce((s, p) => s + p.outOfBounds, 0),
    partitions,
  };
}

/** The live processor's bounds (admission.ts), against the backfill's clock; a miss is counted. */
function withinBounds(view: CompiledView, e: SourceEvent, state: PartitionState): boolean {
  const { bounds, keyLimits } = view.source.rules;
  if (entityKeyProblem(e.entity, keyLimits) !== undefined) {
    state.countInvalid('FW_ENTITY_KEY_INVALID');
    return false;
  }
  if (eventTimeProblem(e.eventTime, Date.now(), bounds) !== undefined) {
    state.countInvalid('FW_EVENT_TIME_OUT_OF_BOUNDS');
    return false;
  }
  return true;
}

function toEvent(row: EventRow): SourceEvent {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(row.payload) as Record<string, unknown>;
  } catch (err) {
    throw new FlywheelError(
      'FW_DECODE_FAILED',
      `events row at offset ${row.offset} has a malformed payload`,
      {
        cause: err,
      },
    );
  }
  return { offset: Number(row.offset), entity: row.entity, eventTime: Number(row.t), record };
}
