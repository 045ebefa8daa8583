import type { AggregationOutput } from '../../../services/core/aggregation/index.ts';
import { coverWindow, fieldName } from '../../../services/core/windows/tiles.ts';
import type { CompiledView } from '../../../services/features/definition.ts';
import {
  type Checkpoint,
  type PartitionState,
  type SourceEvent,
  tileKey,
} from '../../../services/features/engine/partition-state.ts';
import { decodeTile, encodeTile } from '../../../services/features/engine/tile-codec.ts';

/**
 * An in-memory stand-in for the tile store: encoded tiles by tileKey, applied the way the Redis commit
 * applies a drain (tile writes, then the expired fields of each entity write are deleted).
 */
export interface MemoryStore {
  tiles: Map<string, string>;
  lastEventTimes: Map<string, number>;
  checkpoint: Checkpoint | undefined;
}

export function memoryStore(): MemoryStore {
  return { tiles: new Map(), lastEventTimes: new Map(), checkpoint: undefined };
}

/** Folds `events` in chunks of `chunk` the way the processor does: load missing tiles, apply, drain, persist. */
export function fold(
  state: PartitionState,
  store: MemoryStore,
  events: readonly SourceEvent[],
  opts: { chunk?: number; prune?: boolean } = {},
): Array<'accepted' | 'late'> {
  const chunk = opts.chunk ?? 100;
  const outcomes: Array<'accepted' | 'late'> = [];
  for (let i = 0; i < events.length; i += chunk) {
    const part = events.slice(i, i + chunk);
    for (const m of state.missingTiles(part)) {
      const text = store.tiles.get(m.key);
      state.loadTile(m.key, m.view, text === undefined ? undefined : decodeTile(m.view, text));
    }
    for (const e of part) outcomes.push(state.apply(e));
    state.advanceTo(part.at(-1)!.offset + 1);
    persist(state, store, opts.prune ?? false);
  }
  return outcomes;
}

export function persist(state: PartitionState, store: MemoryStore, prune: boolean): void {
  const { tiles, entities, checkpoint } = state.drain();
  for (const t of tiles) store.tiles.set(tileKey(t.view.id, t.entity, t.field), encodeTile(t.view, t.tile));
  for (const e of entities) {
    // As the commit script does: `_t` only ever moves forward.
    const key = `${e.view.id}\u0000${e.entity}`;
    store.lastEventTimes.set(
      key,
      Math.max(store.lastEventTimes.get(key) ?? Number.NEGATIVE_INFINITY, e.lastEventTime),
    );
    if (prune) for (const f of e.expired) store.tiles.delete(tileKey(e.view.id, e.entity, f));
  }
  store.checkpoint = checkpoint;
}

/** The online read over the memory store: merge the tiles that cover each window, then finalize. */
export function readFeature(
  store: MemoryStore,
  view: CompiledView,
  entity: string,
  featureName: string,
  asOf: number,
): AggregationOutput | null {
  const f = view.features.find((x) => x.name === featureName);
  if (!f) throw new Error(`no feature ${featureName}`);
  const agg = view.slots[f.slot]!.aggregator;
  let acc = agg.init();
  for (const ref of coverWindow(asOf, view.tileMs, f.windowMs, view.resolutions)) {
    const text = store.tiles.get(tileKey(view.id, entity, fieldName(ref)));
    if (text) acc = agg.merge(acc, decodeTile(view, text).irs[f.slot]);
  }
  return agg.finalize(acc);
}

/** The documented watermark rule, independently: late when older than (max before it) − lateness. */
export function acceptedByRule(events: readonly SourceEvent[], latenessMs: number): boolean[] {
  let max = Number.NEGATIVE_INFINITY;
  return events.map((e) => {
    if (e.eventTime < max - latenessMs) return false;
    if (e.eventTime > max) max = e.eventTime;
    return true;
  });
}
