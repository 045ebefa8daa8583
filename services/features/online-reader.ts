import type { Redis } from 'ioredis';
import type { AggregationOutput, AnyAggregator } from '../core/aggregation/index.ts';
import { coverWindow, fieldName, tileStart } from '../core/windows/tiles.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { CompiledView } from './definition.ts';
import { decodeTile, type TileState } from './engine/tile-codec.ts';
import { LAST_EVENT_FIELD, tileHashKey } from './engine/tile-store.ts';

/**
 * The online read that serving uses: feature vectors for a batch of entities as of a time (default now),
 * merging the tiles that cover each window — one Redis round trip (a pipeline of HMGETs) per batch.
 * Every view answers with a status: `ok`, `missing` (never seen) or `expired` (newest event older than
 * the view's TTL: values are withheld rather than served stale), and its event-time freshness.
 *
 * HOW A READ STAYS CHEAP (and bit-for-bit identical to the plain fold). The value of a feature is the
 * left fold `merge(…merge(merge(init(), T1), T2)…, Tn)` over its covering tiles T1…Tn in coverWindow
 * (chronological) order; the point-in-time path folds the same way, and float sums depend on that order.
 * - Plans: the cover depends on asOf only through tileStart(asOf, view.tileMs), so the field names and
 *   per-feature tile lists are built once per (view, current base tile) and reused (PLANS_PER_VIEW).
 * - Closed-prefix cache, per (view, entity): the tiles of a cover that end at or before the start of the
 *   current base tile ("closed") form a PREFIX of the cover (the cover partitions a span that ends with
 *   the current base tile, so only its last tile(s) can contain asOf). The cache keeps, per feature, the
 *   fold of init() with that prefix, validated on every read by string equality of the raw stored text
 *   of every closed tile (a late event that rewrites a closed tile invalidates the entry), together with
 *   the plan it was built for (a new base tile = a new plan = a rebuild). A read then continues the SAME
 *   left fold from the cached prefix with the open tiles, in cover order: identical by construction.
 *   The prefix is never mutated: a primitive IR (count, sum, min, max) is immutable; an object IR is
 *   continued on `merge(init(), prefix)`, the aggregator's own copy (merging into the empty state copies
 *   every field exactly; the unit tests check this for every kind).
 * - Output memo: the finalized values are also kept with the raw text of the open tiles they were
 *   computed from; when those are unchanged too, the read only copies them (quantile arrays are copied
 *   so callers never share them).
 * Entries are at most `cacheEntries` (default 2,048) in insertion order; the oldest is evicted first and
 * a rebuilt entry moves to the back. An entry holds references to the closed tiles' strings (~100 short
 * JSON strings per view) plus one IR per feature — roughly 10–30 kB — so the default bounds the cache
 * to some tens of MB. `cacheEntries: 0` disables it (every read folds all tiles).
 */
export type ViewStatus = 'ok' | 'missing' | 'expired';

export interface ViewVector {
  view: string;
  status: ViewStatus;
  /** Newest event time folded for this entity (epoch ms), null when missing. */
  lastEventTime: number | null;
  /** asOf − lastEventTime, null when missing. */
  freshnessMs: number | null;
  features: Record<string, AggregationOutput | null>;
}

export interface EntityVector {
  entity: string;
  views: ViewVector[];
}

interface FeaturePlan {
  readonly name: string;
  readonly slot: number;
  readonly agg: AnyAggregator;
  /** Indexes (into fields) of the leading closed tiles of the cover, in cover order. */
  readonly closed: readonly number[];
  /** Indexes (into fields) of the remaining tiles (those containing asOf), in cover order. */
  readonly open: readonly number[];
}

export interface ReadPlan {
  readonly view: CompiledView;
  /** tileStart(asOf, view.tileMs): every asOf with this value has this plan. */
  readonly tile: number;
  /** Field names for the HMGET: LAST_EVENT_FIELD first, then each covering tile once. */
  readonly fields: readonly string[];
  readonly features: readonly FeaturePlan[];
  /** Union of the features' closed tiles (field indexes, ascending): the cache validation set. */
  readonly closedFields: readonly number[];
  /** Union of the features' open tiles (field indexes, ascending). */
  readonly openFields: readonly number[];
}

interface CacheEntry {
  plan: ReadPlan;
  /** Raw text of plan.closedFields at build time (null = absent). */
  closedTexts: Array<string | null>;
  /** Per feature: the fold of init() with its closed tiles, in cover order. Never mutated. */
  prefixes: unknown[];
  /** Raw text of plan.openFields when `outputs` was computed. */
  openTexts: Array<string | null> | null;
  outputs: Array<AggregationOutput | null> | null;
}

/** Plans kept per view (one per base tile asked for); the map is cleared when full. */
const PLANS_PER_VIEW = 64;
const DEFAULT_CACHE_ENTRIES = 2_048;

/** Builds the read plan of `view` at `asOf` (exported for tests). */
export function buildReadPlan(view: CompiledView, asOf: number): ReadPlan {
  const tile = tileStart(asOf, view.tileMs);
  const fields: string[] = [LAST_EVENT_FIELD];
  const index = new Map<string, number>();
  const closedSet = new Set<number>();
  const openSet = new Set<number>();
  const features = view.features.map((f): FeaturePlan => {
    const closed: number[] = [];
    const open: number[] = [];
    for (const ref of coverWindow(asOf, view.tileMs, f.windowMs, view.resolutions)) {
      const name = fieldName(ref);
      let i = index.get(name);
      if (i === undefined) {
        i = fields.length;
        fields.push(name);
        index.set(name, i);
      }
      // Chronological cover: once a tile reaches into the current base tile, all later ones do.
      if (open.length === 0 && ref.start + ref.res <= tile) {
        closed.push(i);
        closedSet.add(i);
      } else {
        open.push(i);
        openSet.add(i);
      }
    }
    return { name: f.name, slot: f.slot, agg: view.slots[f.slot]!.aggregator, closed, open };
  });
  const ascending = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { view, tile, fields, features, closedFields: ascending(closedSet), openFields: ascending(openSet) };
}

function sameTexts(
  values: ReadonlyArray<string | null>,
  at: readonly number[],
  texts: ReadonlyArray<string | null>,
) {
  for (let k = 0; k < at.length; k++) if (values[at[k]!] !== texts[k]) return false;
  return true;
}

function textsAt(values: ReadonlyArray<string | null>, at: readonly number[]): Array<string | null> {
  const out = new Array<string | null>(at.length);
  for (let k = 0; k < at.length; k++) out[k] = values[at[k]!] ?? null;
  return out;
}

/** Decodes the tile at field i once per call site (memo indexed by field). */
function tileAt(
  view: CompiledView,
  values: ReadonlyArray<string | null>,
  memo: Array<TileState | null | undefined>,
  i: number,
): TileState | null {
  let t = memo[i];
  if (t === undefined) {
    const text = values[i];
    t = text ? decodeTile(view, text) : null;
    memo[i] = t;
  }
  return t;
}

/** Folds the closed prefix of every feature (the first half of the reference left fold). */
function buildEntry(p: ReadPlan, values: ReadonlyArray<string | null>): CacheEntry {
  const memo: Array<TileState | null | undefined> = new Array(p.fields.length);
  const prefixes = new Array<unknown>(p.features.length);
  for (let fi = 0; fi < p.features.length; fi++) {
    const f = p.features[fi]!;
    let acc = f.agg.init();
    for (const i of f.closed) {
      const t = tileAt(p.view, values, memo, i);
      if (t) acc = f.agg.merge(acc, t.irs[f.slot]);
    }
    prefixes[fi] = acc;
  }
  return { plan: p, closedTexts: textsAt(values, p.closedFields), prefixes, openTexts: null, outputs: null };
}

/** Continues each feature's fold from its cached prefix with its open tiles, in cover order. */
function finishFold(
  p: ReadPlan,
  e: CacheEntry,
  values: ReadonlyArray<string | null>,
): Array<AggregationOutput | null> {
  const memo: Array<TileState | null | undefined> = new Array(p.fields.length);
  const outputs = new Array<AggregationOutput | null>(p.features.length);
  for (let fi = 0; fi < p.features.length; fi++) {
    const f = p.features[fi]!;
    const prefix = e.prefixes[fi];
    let acc = prefix;
    let copied = typeof prefix !== 'object' || prefix === null; // primitives are immutable
    for (const i of f.open) {
      const t = tileAt(p.view, values, memo, i);
      if (!t) continue;
      if (!copied) {
        acc = f.agg.merge(f.agg.init(), prefix);
        copied = true;
      }
      acc = f.agg.merge(acc, t.irs[f.slot]);
    }
    outputs[fi] = f.agg.finalize(acc);
  }
  return outputs;
}

function record(p: ReadPlan, outputs: ReadonlyArray<AggregationOutput | null> | null) {
  const features: Record<string, AggregationOutput | null> = {};
  for (let fi = 0; fi < p.features.length; fi++) {
    const v = outputs ? outputs[fi]! : null;
    features[p.features[fi]!.name] = Array.isArray(v) ? v.slice() : v;
  }
  return features;
}

export function createOnlineReader(deps: {
  redis: Redis;
  prefix: string;
  views: readonly CompiledView[];
  maxEntities?: number;
  /** Bound of the per-(view, entity) read cache; 0 disables it. Default 2,048. */
  cacheEntries?: number;
}) {
  const byId = new Map<string, CompiledView>();
  for (const v of deps.views) {
    byId.set(v.id, v);
    // The bare name reads the newest registered version.
    const current = byId.get(v.name);
    if (!current || current.version < v.version) byId.set(v.name, v);
  }
  const maxEntities = deps.maxEntities ?? 1_000;
  const cacheEntries = Math.max(0, deps.cacheEntries ?? DEFAULT_CACHE_ENTRIES);

  const plans = new Map<CompiledView, Map<number, ReadPlan>>();
  function plan(view: CompiledView, asOf: number): ReadPlan {
    const tile = tileStart(asOf, view.tileMs);
    let perView = plans.get(view);
    if (!perView) {
      perView = new Map();
      plans.set(view, perView);
    }
    let p = perView.get(tile);
    if (!p) {
      p = buildReadPlan(view, asOf);
      if (perView.size >= PLANS_PER_VIEW) perView.clear();
      perView.set(tile, p);
    }
    return p;
  }

  /** Keyed by the tile hash key, which names (prefix, view id, entity). */
  const cache = new Map<string, CacheEntry>();
  function features(p: ReadPlan, key: string, values: ReadonlyArray<string | null>) {
    if (cacheEntries === 0) return record(p, finishFold(p, buildEntry(p, values), values));
    let e = cache.get(key);
    if (!e || e.plan !== p || !sameTexts(values, p.closedFields, e.closedTexts)) {
      e = buildEntry(p, values);
      cache.delete(key);
      if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value!);
      cache.set(key, e);
    } else if (e.outputs && sameTexts(values, p.openFields, e.openTexts!)) {
      return record(p, e.outputs);
    }
    const outputs = finishFold(p, e, values);
    e.openTexts = textsAt(values, p.openFields);
    e.outputs = outputs;
    return record(p, outputs);
  }

  function assemble(p: ReadPlan, key: string, values: Array<string | null>, asOf: number): ViewVector {
    const last = values[0];
    if (last === null || last === undefined)
      return {
        view: p.view.id,
        status: 'missing',
        lastEventTime: null,
        freshnessMs: null,
        features: record(p, null),
      };
    const lastEventTime = Number(last);
    const freshnessMs = asOf - lastEventTime;
    if (freshnessMs > p.view.ttlMs)
      return { view: p.view.id, status: 'expired', lastEventTime, freshnessMs, features: record(p, null) };
    return { view: p.view.id, status: 'ok', lastEventTime, freshnessMs, features: features(p, key, values) };
  }

  function resolveView(nameOrId: string): CompiledView {
    const view = byId.get(nameOrId);
    if (!view)
      throw new FlywheelError(
        'FW_NOT_FOUND',
        `unknown feature view "${nameOrId}"; known: ${[...byId.keys()].join(', ')}`,
      );
    return view;
  }

  return {
    views: () => [...new Set(byId.values())],
    resolveView,
    async read(
      entities: readonly string[],
      viewNames: readonly string[],
      opts: { asOf?: number } = {},
    ): Promise<EntityVector[]> {
      if (entities.length > maxEntities)
        throw new FlywheelError(
          'FW_BATCH_TOO_LARGE',
          `at most ${maxEntities} entities per read, got ${entities.length}`,
        );
      const asOf = opts.asOf ?? Date.now();
      const readPlans = viewNames.map((n) => plan(resolveView(n), asOf));
      const keys: string[] = [];
      const pipeline = deps.redis.pipeline();
      for (const e of entities)
        for (const p of readPlans) {
          const key = tileHashKey(deps.prefix, p.view.id, e);
          keys.push(key);
          pipeline.hmget(key, ...p.fields);
        }
      let replies: Array<[Error | null, unknown]>;
      try {
        replies = ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>;
      } catch (err) {
        throw new FlywheelError(
          'FW_REDIS_UNAVAILABLE',
          `online store read failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      let r = 0;
      return entities.map((entity) => ({
        entity,
        views: readPlans.map((p) => {
          const key = keys[r]!;
          const [err, values] = replies[r++]!;
          if (err)
            throw new FlywheelError('FW_REDIS_UNAVAILABLE', `online store read failed: ${err.message}`, {
              cause: err,
            });
          return assemble(p, key, values as Array<string | null>, asOf);
        }),
      }));
    },
  };
}

export type OnlineReader = ReturnType<typeof createOnlineReader>;
