import type { AggregationOutput, FieldValue } from '../core/aggregation/index.ts';
import { coverWindow, type TileRef, tileStart } from '../core/windows/tiles.ts';
import type { CompiledView, ViewStatus } from '../features/index.ts';
import { FlywheelError } from '../platform/errors.ts';

/**
 * The point-in-time fold (pure, no I/O): one view's feature values for ONE entity at a list of times,
 * equal — bit for bit on the exact kinds — to what the online read (online-reader.ts `assemble`) answers
 * at the same instant in a real-time stream. See docs/training-sets.md for the rule in full:
 *
 * - the value at t merges, in coverWindow(t) order, the tiles covering windowSpan(t) =
 *   [tileStart(t) + s − W, tileStart(t) + s). Every tile of the cover but the last ends at or before
 *   tileStart(t) and is complete; the last one contains t (at whatever resolution) and holds only the
 *   events with event time ≤ t — what a live processor had folded by t. Nothing after t leaks in.
 * - each tile state is built by `update` in the order the events are given (partition, offset: the order
 *   the processor folded them), and merged into `init()` in cover order, then finalized.
 * - status: no event ≤ t → 'missing'; newest event ≤ t older than t − ttl → 'expired'; values null.
 *
 * Complete tiles are built once per (resolution, start) and reused by every time; the partial tile that
 * contains t is kept per resolution and extended as the times advance (rebuilt only when an earlier-offset
 * event of that tile is later in event time than a later-offset one included at t).
 */
export interface PitEvent {
  eventTime: number;
  record: Record<string, unknown>;
}

export interface PitValue {
  status: ViewStatus;
  /** Newest event time ≤ t (epoch ms), null when missing. */
  lastEventTime: number | null;
  features: Record<string, AggregationOutput | null>;
}

export interface PitOptions {
  /**
   * Newest event time of the entity BEFORE the events supplied (omitted: none). Callers that load only a
   * recent range pass it so that an entity seen long ago reads 'expired', not 'missing'; it must be
   * older than t − ttl and than every window span start for every t asked.
   */
  priorLastEventTime?: number;
}

interface Tile {
  /** Event indexes in fold order. */
  events: number[];
  /** The whole tile's state (complete tiles), built on first use. */
  irs?: unknown[];
}

interface Partial {
  start: number;
  tile: Tile | undefined;
  /** events[0, prefix) of the tile are folded into irs. */
  prefix: number;
  irs: unknown[];
  /** suffixMin[i] = min event time of tile.events[i..]. */
  suffixMin: number[];
}

/**
 * Values of `view` at each of `times` (ascending) for one entity whose accepted events are `events`,
 * in fold order. Returns one PitValue per time, in the order given.
 */
export function pointInTimeValues(
  view: CompiledView,
  events: readonly PitEvent[],
  times: readonly number[],
  opts: PitOptions = {},
): PitValue[] {
  for (let i = 1; i < times.length; i++)
    if (!(times[i]! >= times[i - 1]!))
      throw new FlywheelError('FW_BAD_REQUEST', 'point-in-time times must be ascending');
  const slots = view.slots;
  const values: FieldValue[][] = events.map((e) =>
    slots.map((s) => (s.field === undefined ? 1 : ((e.record[s.field] as FieldValue | undefined) ?? null))),
  );
  const eventTimes = events.map((e) => e.eventTime);
  const sortedTimes = Float64Array.from(eventTimes).sort();
  // Per resolution: tiles by start, holding their events in fold order.
  const tiles = new Map<number, Map<number, Tile>>();
  for (const res of view.resolutions) {
    const byStart = new Map<number, Tile>();
    for (const [i, t] of eventTimes.entries()) {
      const start = tileStart(t, res);
      let tile = byStart.get(start);
      if (!tile) {
        tile = { events: [] };
        byStart.set(start, tile);
      }
      tile.events.push(i);
    }
    tiles.set(res, byStart);
  }
  const fold = (indexes: readonly number[], irs: unknown[], from = 0, to = indexes.length): unknown[] => {
    for (let k = from; k < to; k++) {
      const i = indexes[k]!;
      const row = values[i]!;
      const t = eventTimes[i]!;
      for (const s of slots) irs[s.index] = s.aggregator.update(irs[s.index], row[s.index]!, t);
    }
    return irs;
  };
  const init = () => slots.map((s) => s.aggregator.init());
  const complete = (res: number, start: number): unknown[] | undefined => {
    const tile = tiles.get(res)!.get(start);
    if (!tile) return undefined;
    tile.irs ??= fold(tile.events, init());
    return tile.irs;
  };
  const partials = new Map<number, Partial>();
  /** State of the tile (res, start ∋ t) holding the events ≤ t, or undefined when it holds none. */
  const partial = (res: number, start: number, t: number): unknown[] | undefined => {
    let p = partials.get(res);
    if (!p || p.start !== start) {
      const tile = tiles.get(res)!.get(start);
      const suffixMin: number[] = [];
      if (tile) {
        let min = Number.POSITIVE_INFINITY;
        for (let k = tile.events.length - 1; k >= 0; k--) {
          const i = tile.events[k] as number;
          min = Math.min(min, eventTimes[i] as number);
          suffixMin[k] = min;
        }
      }
      p = { start, tile, prefix: 0, irs: init(), suffixMin };
      partials.set(res, p);
    }
    const tile = p.tile;
    if (!tile) return undefined;
    const n = tile.events.length;
    let to = p.prefix;
    while (to < n && (eventTimes[tile.events[to] as number] as number) <= t) to++;
    if (to > p.prefix) {
      fold(tile.events, p.irs, p.prefix, to);
      p.prefix = to;
    }
    if (to < n && p.suffixMin[to]! <= t) {
      // Out-of-order inside the tile: an event after the prefix is ≤ t while one before it is not.
      const included = tile.events.filter((i) => eventTimes[i]! <= t);
      return fold(included, init());
    }
    return p.prefix === 0 ? undefined : p.irs;
  };

  // Features share covers by window, and a cover depends on t only through tileStart(t, s): per window,
  // keep the complete tiles' states of the last cover (in cover order) and its last (partial) tile.
  const windows = [...new Set(view.features.map((f) => f.windowMs))];
  const covers = windows.map(() => ({
    base: Number.NaN,
    complete: [] as unknown[][],
    last: undefined as TileRef | undefined,
  }));
  const featureWindow = view.features.map((f) => windows.indexOf(f.windowMs));
  const partialStates: Array<unknown[] | undefined> = windows.map(() => undefined);
  const out: PitValue[] = [];
  let seen = 0;
  let last = opts.priorLastEventTime ?? null;
  const nulls = () => Object.fromEntries(view.features.map((f) => [f.name, null]));
  for (const t of times) {
    while (seen < sortedTimes.length && (sortedTimes[seen] as number) <= t)
      last = sortedTimes[seen++] as number;
    if (last === null) {
      out.push({ status: 'missing', lastEventTime: null, features: nulls() });
      continue;
    }
    if (t - last > view.ttlMs) {
      out.push({ status: 'expired', lastEventTime: last, features: nulls() });
      continue;
    }
    const base = tileStart(t, view.tileMs);
    for (const [wi, windowMs] of windows.entries()) {
      const cover = covers[wi]!;
      if (cover.base !== base) {
        const refs = coverWindow(t, view.tileMs, windowMs, view.resolutions);
        cover.base = base;
        cover.last = refs.pop();
        cover.complete = [];
        for (const ref of refs) {
          const irs = complete(ref.res, ref.start);
          if (irs) cover.complete.push(irs);
        }
      }
      partialStates[wi] = cover.last && partial(cover.last.res, cover.last.start, t);
    }
    const features: Record<string, AggregationOutput | null> = {};
    for (const [fi, f] of view.features.entries()) {
      const wi = featureWindow[fi]!;
      const agg = slots[f.slot]!.aggregator;
      let acc = agg.init();
      for (const irs of covers[wi]!.complete) acc = agg.merge(acc, irs[f.slot]);
      const p = partialStates[wi];
      if (p) acc = agg.merge(acc, p[f.slot]);
      features[f.name] = agg.finalize(acc);
    }
    out.push({ status: 'ok', lastEventTime: last, features });
  }
  return out;
}
