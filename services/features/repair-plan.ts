import { parseFieldName, type TileRef } from '../core/windows/tiles.ts';
import type { Checkpoint } from './engine/partition-state.ts';
import { copyCheckpoint } from './engine/partition-state.ts';
import { FINAL_BEFORE_FIELD, LAST_EVENT_FIELD, VERSION_FIELD } from './engine/tile-store.ts';

/**
 * The pure side of `flywheel partitions` (the adapter with Redis and Kafka is repair.ts): what a
 * partition's status rows say, which tile hashes a partition owns, and how a watermark reset changes a
 * partition's tiles and checkpoint. No I/O here, so every decision is unit-tested with plain objects.
 */

/** An epoch-ms time as ISO-8601, or a marker when it is none or beyond what a Date can hold (±275,760 years). */
export function isoTime(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  if (Math.abs(ms) > 8.64e15) return `${ms} (out of Date range)`;
  return new Date(ms).toISOString();
}

/** The partition's watermark: events before it are late. Null while the partition has seen no event. */
export function watermarkOf(maxEventTime: number, latenessMs: number): number | null {
  return Number.isFinite(maxEventTime) ? maxEventTime - latenessMs : null;
}

export interface PartitionStatusRow {
  topic: string;
  partition: number;
  watermark: number | null;
  /** ISO-8601 forms of the two times (null with them). */
  watermarkIso: string | null;
  maxEventTime: number | null;
  maxEventTimeIso: string | null;
  /** The checkpoint's next offset (Redis has everything below it); null without a checkpoint. */
  next: number | null;
  /** The Kafka group's committed offset (ClickHouse has everything below it); null when none. */
  committed: number | null;
  /** The partition's end (high watermark) offset in Kafka; null when Kafka has no such partition. */
  end: number | null;
  /** end − committed: records not yet in both stores; null when either is unknown. */
  lag: number | null;
  accepted: number;
  late: number;
  invalid: number;
  rerouted: number;
  duplicates: number;
  deadLetters: Record<string, number>;
}

/**
 * One row per partition Kafka or the checkpoint hash knows of (a checkpoint can outlive a partition
 * when a topic is recreated smaller), ascending.
 */
export function partitionStatusRows(input: {
  topic: string;
  latenessMs: number;
  checkpoints: Readonly<Record<string, Checkpoint>>;
  /** Committed offset by partition; Kafka's -1 (nothing committed) is left out by the caller. */
  committed: ReadonlyMap<number, number>;
  ends: ReadonlyMap<number, number>;
}): PartitionStatusRow[] {
  const partitions = new Set<number>([...input.ends.keys(), ...Object.keys(input.checkpoints).map(Number)]);
  return [...partitions]
    .sort((a, b) => a - b)
    .map((partition) => {
      const cp = input.checkpoints[String(partition)];
      const committed = input.committed.get(partition) ?? null;
      const end = input.ends.get(partition) ?? null;
      const max = cp && Number.isFinite(cp.maxEventTime) ? cp.maxEventTime : null;
      const watermark = cp ? watermarkOf(cp.maxEventTime, input.latenessMs) : null;
      return {
        topic: input.topic,
        partition,
        watermark,
        watermarkIso: watermark === null ? null : isoTime(watermark),
        maxEventTime: max,
        maxEventTimeIso: max === null ? null : isoTime(max),
        next: cp ? cp.next : null,
        committed,
        end,
        lag: committed !== null && end !== null ? Math.max(0, end - committed) : null,
        accepted: cp?.accepted ?? 0,
        late: cp?.late ?? 0,
        invalid: cp?.invalid ?? 0,
        rerouted: cp?.rerouted ?? 0,
        duplicates: cp?.duplicates ?? 0,
        deadLetters: { ...(cp?.deadLetters ?? {}) },
      };
    });
}

const STATUS_COLUMNS: ReadonlyArray<{ title: string; cell: (r: PartitionStatusRow) => string }> = [
  { title: 'topic', cell: (r) => r.topic },
  { title: 'part', cell: (r) => String(r.partition) },
  { title: 'watermark', cell: (r) => r.watermarkIso ?? '-' },
  { title: 'watermark ms', cell: (r) => dash(r.watermark) },
  { title: 'max event time', cell: (r) => r.maxEventTimeIso ?? '-' },
  { title: 'next', cell: (r) => dash(r.next) },
  { title: 'committed', cell: (r) => dash(r.committed) },
  { title: 'end', cell: (r) => dash(r.end) },
  { title: 'lag', cell: (r) => dash(r.lag) },
  { title: 'accepted', cell: (r) => String(r.accepted) },
  { title: 'late', cell: (r) => String(r.late) },
  { title: 'invalid', cell: (r) => String(r.invalid) },
  { title: 'rerouted', cell: (r) => String(r.rerouted) },
  { title: 'dups', cell: (r) => String(r.duplicates) },
  { title: 'dead letters', cell: (r) => formatDeadLetters(r.deadLetters) },
];

function dash(n: number | null): string {
  return n === null ? '-' : String(n);
}

/** `FW_EVENT_LATE=3 FW_DECODE_FAILED=1`, most frequent first; '-' for none. */
export function formatDeadLetters(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).filter(([, n]) => n > 0);
  if (entries.length === 0) return '-';
  return entries
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([code, n]) => `${code}=${n}`)
    .join(' ');
}

/** A plain-text table, columns padded to their widest cell (numbers right-aligned). */
export function formatStatusTable(rows: readonly PartitionStatusRow[]): string {
  if (rows.length === 0) return 'no partitions\n';
  const cells = rows.map((r) => STATUS_COLUMNS.map((c) => c.cell(r)));
  const widths = STATUS_COLUMNS.map((c, i) =>
    Math.max(c.title.length, ...cells.map((row) => row[i]!.length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (/^-?\d+$/.test(v) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(STATUS_COLUMNS.map((c) => c.title)), ...cells.map(line)].join('\n') + '\n';
}

/** A tile hash (`t:<view id>:<entity>`) and its fields, as HGETALL returns them. */
export interface TileHash {
  key: string;
  viewId: string;
  entity: string;
  fields: Readonly<Record<string, string>>;
}

/**
 * The keys among `keys` that are tile hashes of `viewIds` whose entity `owns` assigns to this
 * partition. The view id is matched as a whole prefix, so an entity may itself hold ':'.
 */
export function ownedTileHashKeys(
  keys: readonly string[],
  opts: { prefix: string; viewIds: readonly string[]; owns: (entity: string) => boolean },
): Array<Omit<TileHash, 'fields'>> {
  const out: Array<Omit<TileHash, 'fields'>> = [];
  for (const key of keys) {
    const viewId = opts.viewIds.find((id) => key.startsWith(`${opts.prefix}t:${id}:`));
    if (viewId === undefined) continue;
    const entity = key.slice(`${opts.prefix}t:${viewId}:`.length);
    if (entity !== '' && opts.owns(entity)) out.push({ key, viewId, entity });
  }
  return out;
}

export interface HashChange {
  key: string;
  viewId: string;
  entity: string;
  /** Fields to delete: the tiles starting at or after the cutoff, and `_t` or `_f` when they go. */
  deleteFields: string[];
  /** Fields to set: `_t`, `_f` and a new `_v`, so that readers do not serve what they cached. */
  setFields: Record<string, string>;
  tilesDeleted: number;
  lastEventTime: { before: number | null; after: number | null };
}

export interface WatermarkResetPlan {
  cutoff: number;
  latenessMs: number;
  before: Checkpoint;
  after: Checkpoint;
  watermark: { before: number | null; after: number | null };
  changes: HashChange[];
  tilesDeleted: number;
  /** Entities with at least one changed hash, sorted. */
  entitiesTouched: string[];
  /** Nothing to write: no tile, freshness or finality mark at or past the cutoff, checkpoint as it was. */
  noop: boolean;
}

interface TileField {
  field: string;
  ref: TileRef;
}

/** The tile fields of a hash (markers such as `_t` and fields that are not tile names are skipped). */
function tileFields(fields: Readonly<Record<string, string>>): TileField[] {
  const out: TileField[] = [];
  for (const field of Object.keys(fields)) {
    if (field.startsWith('_')) continue;
    try {
      out.push({ field, ref: parseFieldName(field) });
    } catch {
      // Not a tile this version wrote: leave it as it is.
    }
  }
  return out;
}

function numericField(fields: Readonly<Record<string, string>>, name: string): number | null {
  const text = fields[name];
  if (text === undefined || text === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/**
 * Newest plausible event time of an entity with only `kept` tiles left: the last ms of the tile that
 * starts last (the finest one on a tie: every event lies in a tile of every resolution, so no event is
 * after the end of the finest tile that starts last), kept below the cutoff. Null when none is left.
 */
export function newestTileEnd(kept: readonly TileRef[], cutoff: number): number | null {
  let newest: TileRef | undefined;
  for (const ref of kept) {
    if (!newest || ref.start > newest.start || (ref.start === newest.start && ref.res < newest.res))
      newest = ref;
  }
  return newest ? Math.min(newest.start + newest.res - 1, cutoff - 1) : null;
}

interface HashDraft {
  hash: TileHash;
  doomed: string[];
  lastBefore: number | null;
  lastAfter: number | null;
}

/** The tiles of one hash that go, and the `_t` it keeps. */
function draftHash(hash: TileHash, cutoff: number): HashDraft {
  const tiles = tileFields(hash.fields);
  const doomed = tiles.filter((t) => t.ref.start >= cutoff).map((t) => t.field);
  const kept = tiles.filter((t) => t.ref.start < cutoff).map((t) => t.ref);
  const lastBefore = numericField(hash.fields, LAST_EVENT_FIELD);
  const lastAfter = lastBefore !== null && lastBefore < cutoff ? lastBefore : newestTileEnd(kept, cutoff);
  return { hash, doomed, lastBefore, lastAfter };
}

/** The writes of one hash, or undefined when it stays as it is. */
function changeOf(d: HashDraft, watermark: number | null, version: string): HashChange | undefined {
  const deleteFields = [...d.doomed];
  const setFields: Record<string, string> = {};
  if (d.lastAfter !== d.lastBefore) {
    if (d.lastAfter === null) deleteFields.push(LAST_EVENT_FIELD);
    else setFields[LAST_EVENT_FIELD] = String(d.lastAfter);
  }
  // `_f` at or past the new watermark would let readers cache tiles that can still change as final.
  const finalBefore = numericField(d.hash.fields, FINAL_BEFORE_FIELD);
  if (finalBefore !== null && (watermark === null || finalBefore > watermark)) {
    if (watermark === null) deleteFields.push(FINAL_BEFORE_FIELD);
    else setFields[FINAL_BEFORE_FIELD] = String(watermark);
  }
  if (deleteFields.length === 0 && Object.keys(setFields).length === 0) return undefined;
  setFields[VERSION_FIELD] = version;
  const { key, viewId, entity } = d.hash;
  return {
    key,
    viewId,
    entity,
    deleteFields,
    setFields,
    tilesDeleted: d.doomed.length,
    lastEventTime: { before: d.lastBefore, after: d.lastAfter },
  };
}

/**
 * How resetting a partition's watermark changes its tiles and checkpoint. `hashes` are the tile hashes
 * of the topic's views whose entities the partition owns. Tiles starting at or after `cutoff` are
 * deleted; each hash's `_t` becomes its newest plausible event time; the checkpoint's max event time
 * becomes the newest `_t` of the partition (only when it was at or past the cutoff: a plausible one is
 * kept, since an expired hash would lower it for no reason), and the offline position's is capped by
 * it. Every tile left then starts at or before the new max, which the processor relies on when it
 * creates a tile after the max empty instead of reading it.
 */
export function planWatermarkReset(input: {
  checkpoint: Checkpoint;
  hashes: readonly TileHash[];
  cutoff: number;
  latenessMs: number;
  /** The `_v` written on every changed hash. */
  version: string;
}): WatermarkResetPlan {
  const { checkpoint: before, cutoff, latenessMs } = input;
  const drafts = input.hashes.map((h) => draftHash(h, cutoff));
  const newest = drafts.reduce(
    (max, d) => (d.lastAfter !== null && d.lastAfter > max ? d.lastAfter : max),
    Number.NEGATIVE_INFINITY,
  );
  const after = copyCheckpoint(before);
  if (before.maxEventTime >= cutoff) after.maxEventTime = newest;
  after.offline.maxEventTime = Math.min(before.offline.maxEventTime, after.maxEventTime);
  const watermark = watermarkOf(after.maxEventTime, latenessMs);
  const changes = drafts
    .map((d) => changeOf(d, watermark, input.version))
    .filter((c): c is HashChange => c !== undefined);
  return {
    cutoff,
    latenessMs,
    before,
    after,
    watermark: { before: watermarkOf(before.maxEventTime, latenessMs), after: watermark },
    changes,
    tilesDeleted: changes.reduce((n, c) => n + c.tilesDeleted, 0),
    entitiesTouched: [...new Set(changes.map((c) => c.entity))].sort(),
    noop:
      changes.length === 0 &&
      after.maxEventTime === before.maxEventTime &&
      after.offline.maxEventTime === before.offline.maxEventTime,
  };
}

/** What a reset did (or, in a dry run, would do), for the report. */
export interface WatermarkResetReport {
  topic: string;
  partition: number;
  group: string;
  dryRun: boolean;
  plan: WatermarkResetPlan;
  /** The fencing epoch before and after (after = before when nothing was written). */
  epoch: { before: string | null; after: string | null };
}

const LISTED_ENTITIES = 10;

/** `3 touched: u1, u2, u7`, the first LISTED_ENTITIES of them only. */
function listEntities(entities: readonly string[]): string {
  const shown = entities.slice(0, LISTED_ENTITIES).join(', ');
  const more = entities.length - LISTED_ENTITIES;
  return `${entities.length} touched${shown ? `: ${shown}` : ''}${more > 0 ? ` … and ${more} more` : ''}`;
}

function transition(before: number | null, after: number | null): string {
  return before === after ? `${isoTime(before)} (unchanged)` : `${isoTime(before)} → ${isoTime(after)}`;
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}

/** The human-readable report of a reset: what the watermark was and is, and what was removed. */
export function formatResetReport(r: WatermarkResetReport): string {
  const { plan } = r;
  const outcome = plan.noop ? 'nothing to reset' : r.dryRun ? 'dry run, nothing written' : 'watermark reset';
  const epoch =
    r.epoch.after === r.epoch.before
      ? `${r.epoch.before ?? '-'} (unchanged)`
      : `${r.epoch.before ?? '-'} → ${r.epoch.after}: a running owner's next commit is fenced and it re-claims from this checkpoint`;
  return [
    `${r.topic}/${r.partition} (group ${r.group}): ${outcome}`,
    `  cutoff          ${isoTime(plan.cutoff)} (tiles starting at or after it are deleted)`,
    `  max event time  ${transition(finite(plan.before.maxEventTime), finite(plan.after.maxEventTime))}`,
    `  watermark       ${transition(plan.watermark.before, plan.watermark.after)}`,
    `  offline max     ${transition(finite(plan.before.offline.maxEventTime), finite(plan.after.offline.maxEventTime))}`,
    `  tiles deleted   ${plan.tilesDeleted} in ${plan.changes.filter((c) => c.tilesDeleted > 0).length} hashes`,
    `  entities        ${listEntities(plan.entitiesTouched)}`,
    `  epoch           ${epoch}`,
    '',
  ].join('\n');
}

/** The report as JSON: numbers in ms (null for none) plus ISO times, and every changed hash. */
export function resetReportJson(r: WatermarkResetReport): Record<string, unknown> {
  const { plan } = r;
  // -Infinity (no event yet) and null both read as null: JSON has no -Infinity.
  const time = (ms: number | null) => {
    const value = ms === null ? null : finite(ms);
    return { ms: value, iso: value === null ? null : isoTime(value) };
  };
  return {
    topic: r.topic,
    partition: r.partition,
    group: r.group,
    dryRun: r.dryRun,
    noop: plan.noop,
    cutoff: time(plan.cutoff),
    maxEventTime: { before: time(plan.before.maxEventTime), after: time(plan.after.maxEventTime) },
    watermark: { before: time(plan.watermark.before), after: time(plan.watermark.after) },
    offlineMaxEventTime: {
      before: time(plan.before.offline.maxEventTime),
      after: time(plan.after.offline.maxEventTime),
    },
    tilesDeleted: plan.tilesDeleted,
    entitiesTouched: plan.entitiesTouched,
    epoch: r.epoch,
    changes: plan.changes.map((c) => ({
      key: c.key,
      entity: c.entity,
      view: c.viewId,
      deleted: c.deleteFields,
      set: c.setFields,
      lastEventTime: c.lastEventTime,
    })),
  };
}
