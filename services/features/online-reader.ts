import type { Redis } from 'ioredis';
import type { AggregationOutput, AnyAggregator } from '../core/aggregation/index.ts';
import { coverWindow, fieldName, tileStart } from '../core/windows/tiles.ts';
import { FlywheelError } from '../platform/errors.ts';
import { type CompiledView, viewsByNameOrId } from './definition.ts';
import { decodeTile, type TileState } from './engine/tile-codec.ts';
import { FINAL_BEFORE_FIELD, LAST_EVENT_FIELD, tileHashKey, VERSION_FIELD } from './engine/tile-store.ts';

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
 * - Final tiles: the processor stores with each entity its partition's watermark as `_f`
 *   (FINAL_BEFORE_FIELD). A tile that ends at or before it can never change again: any event for it is
 *   behind the watermark and dead-lettered as late. In a cover (chronological, non-overlapping) the final
 *   tiles form a PREFIX. The cache keeps, per (view, entity), each feature's fold of init() with its final
 *   prefix, and later reads fetch only `_t`, `_f` and the tiles ending after the cached bound — a few
 *   recent minute tiles instead of every covering tile (~100 per view for a 24h window). A read
 *   continues the SAME left fold from the cached prefix with the rest, in cover order: identical by
 *   construction. When `_f` has moved on, the newly final tiles (which were fetched) extend the prefix.
 *   No clock is involved: finality is the processor's own watermark, stored atomically with the tiles.
 *   The prefix is never mutated: a primitive IR (count, sum, min, max) is immutable; an object IR is
 *   continued on `merge(init(), prefix)`, the aggregator's own copy (merging into the empty state copies
 *   every field exactly; the unit tests check this for every kind).
 * - Versions: every write of a hash sets a new `_v` (VERSION_FIELD). The read is one Lua script over
 *   all (entity, view) hashes of a request that returns `_t`, `_f`, `_v` of each and its requested
 *   fields only when `_v` differs from the version the cached values were computed at; an unchanged
 *   hash costs three short fields and the read copies the memoized values (quantile arrays are copied
 *   so callers never share them).
 * Entries are at most `cacheEntries` (default 2,048) in insertion order; the oldest is evicted first and
 * a rebuilt entry moves to the back. An entry holds one IR per feature plus the texts of a few recent
 * tiles. `cacheEntries: 0` disables it (every read fetches and folds all tiles).
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
  /** Indexes (into the plan's fields) of the covering tiles, in cover (chronological) order. */
  readonly cover: readonly number[];
}

export interface ReadPlan {
  readonly view: CompiledView;
  /** tileStart(asOf, view.tileMs): every asOf with this value has this plan. */
  readonly tile: number;
  /** Every covering tile once, ordered by end time (ascending): the tiles after a bound are a suffix. */
  readonly fields: readonly string[];
  /** End time (epoch ms) of each field's tile. */
  readonly ends: readonly number[];
  readonly features: readonly FeaturePlan[];
}

interface CacheEntry {
  plan: ReadPlan;
  /** The `_f` bound the prefixes were folded with: fields ending at or before it are in them. */
  finalBefore: number;
  /** Index of the first field ending after finalBefore: the fields a read must fetch start here. */
  firstLive: number;
  /** Per feature: how many leading cover tiles are folded into its prefix. */
  prefixLengths: number[];
  /** Per feature: the fold of init() with those tiles, in cover order. Never mutated. */
  prefixes: unknown[];
  /** The hash's `_v` when `outputs` was computed (null: not computed, or the hash had none). */
  version: string | null;
  outputs: Array<AggregationOutput | null> | null;
}

interface Head {
  lastEventTime: number | null;
  /** `_f`: tiles ending at or before it are final (-Infinity when the hash has none). */
  finalBefore: number;
  version: string | null;
}

interface ReadCommand {
  flywheelRead(numKeys: number, args: string[]): Promise<unknown[]>;
}

/** Plans kept per view (one per base tile asked for); the map is cleared when full. */
const PLANS_PER_VIEW = 64;
const DEFAULT_CACHE_ENTRIES = 2_048;
/**
 * The read of one request in one round trip. KEYS: the hashes. ARGV per key: the version the caller
 * holds ('' for none), the number of fields, the fields. Reply per key: [_t, _f, _v], then 0 when `_v`
 * equals the caller's version (nothing changed) or else the fields' values.
 */
const READ_SCRIPT = `
local out = {}
local a = 1
for k = 1, #KEYS do
  local known = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  local head = redis.call('HMGET', KEYS[k], '${LAST_EVENT_FIELD}', '${FINAL_BEFORE_FIELD}', '${VERSION_FIELD}')
  out[2 * k - 1] = head
  if known ~= '' and head[3] == known then
    out[2 * k] = 0
  elseif n > 0 then
    out[2 * k] = redis.call('HMGET', KEYS[k], unpack(ARGV, a, a + n - 1))
  else
    out[2 * k] = {}
  end
  a = a + n
end
return out
`;

/** Builds the read plan of `view` at `asOf` (exported for tests). */
export function buildReadPlan(view: CompiledView, asOf: number): ReadPlan {
  const tile = tileStart(asOf, view.tileMs);
  const refs = new Map<string, number>(); // field name -> end
  const covers = view.features.map((f) => {
    const names: string[] = [];
    for (const ref of coverWindow(asOf, view.tileMs, f.windowMs, view.resolutions)) {
      const name = fieldName(ref);
      refs.set(name, ref.start + ref.res);
      names.push(name);
    }
    return names;
  });
  const fields = [...refs.keys()].sort((a, b) => refs.get(a)! - refs.get(b)! || (a < b ? -1 : 1));
  const index = new Map(fields.map((name, i) => [name, i]));
  const features = view.features.map(
    (f, fi): FeaturePlan => ({
      name: f.name,
      slot: f.slot,
      agg: view.slots[f.slot]!.aggregator,
      cover: covers[fi]!.map((name) => index.get(name)!),
    }),
  );
  return { view, tile, fields, ends: fields.map((name) => refs.get(name)!), features };
}

/** Index of the first field of `p` whose tile ends after `bound` (fields are ordered by end). */
function firstEndingAfter(p: ReadPlan, bound: number): number {
  let lo = 0;
  let hi = p.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (p.ends[mid]! <= bound) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Tile texts of one read, by field index: fields[from..] came from Redis; those before were not fetched. */
interface Fetched {
  from: number;
  values: ReadonlyArray<string | null>;
}

const textAt = (f: Fetched, i: number): string | null => f.values[i - f.from] ?? null;

/** Decodes the tile at field i once per read (memo indexed by field). */
function tileAt(
  view: CompiledView,
  fetched: Fetched,
  memo: Array<TileState | null | undefined>,
  i: number,
): TileState | null {
  let t = memo[i];
  if (t === undefined) {
    const text = textAt(fetched, i);
    t = text ? decodeTile(view, text) : null;
    memo[i] = t;
  }
  return t;
}

/**
 * Folds (or extends) each feature's final prefix up to `finalBefore`. `base` is the entry being
 * extended (its tiles are folded already) or undefined to fold from init(); every tile folded here was
 * fetched (it ends after base's bound).
 */
function foldPrefixes(
  p: ReadPlan,
  fetched: Fetched,
  finalBefore: number,
  base: CacheEntry | undefined,
): CacheEntry {
  const memo: Array<TileState | null | undefined> = new Array(p.fields.length);
  const prefixLengths = new Array<number>(p.features.length);
  const prefixes = new Array<unknown>(p.features.length);
  for (let fi = 0; fi < p.features.length; fi++) {
    const f = p.features[fi]!;
    let n = base ? base.prefixLengths[fi]! : 0;
    let acc = base ? base.prefixes[fi] : f.agg.init();
    let copied = !base || typeof acc !== 'object' || acc === null;
    for (; n < f.cover.length; n++) {
      const i = f.cover[n]!;
      if (p.ends[i]! > finalBefore) break;
      const t = tileAt(p.view, fetched, memo, i);
      if (t) {
        if (!copied) {
          acc = f.agg.merge(f.agg.init(), acc);
          copied = true;
        }
        acc = f.agg.merge(acc, t.irs[f.slot]);
      }
    }
    prefixLengths[fi] = n;
    prefixes[fi] = acc;
  }
  return {
    plan: p,
    finalBefore,
    firstLive: firstEndingAfter(p, finalBefore),
    prefixLengths,
    prefixes,
    version: null,
    outputs: null,
  };
}

/** Continues each feature's fold from its cached prefix with its remaining tiles, in cover order. */
function finishFold(p: ReadPlan, e: CacheEntry, fetched: Fetched): Array<AggregationOutput | null> {
  const memo: Array<TileState | null | undefined> = new Array(p.fields.length);
  const outputs = new Array<AggregationOutput | null>(p.features.length);
  for (let fi = 0; fi < p.features.length; fi++) {
    const f = p.features[fi]!;
    const prefix = e.prefixes[fi];
    let acc = prefix;
    let copied = typeof prefix !== 'object' || prefix === null; // primitives are immutable
    for (let n = e.prefixLengths[fi]!; n < f.cover.length; n++) {
      const t = tileAt(p.view, fetched, memo, f.cover[n]!);
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
  const byId = viewsByNameOrId(deps.views);
  const maxEntities = deps.maxEntities ?? 1_000;
  const cacheEntries = Math.max(0, deps.cacheEntries ?? DEFAULT_CACHE_ENTRIES);
  deps.redis.defineCommand('flywheelRead', { lua: READ_SCRIPT });

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

  /** What a read of this hash asks for: the version its cached values hold, and the first field. */
  function requestFor(p: ReadPlan, key: string): { known: string; from: number } {
    const e = cacheEntries === 0 ? undefined : cache.get(key);
    if (!e || e.plan !== p) return { known: '', from: 0 };
    return { known: e.outputs && e.version !== null ? e.version : '', from: e.firstLive };
  }

  /** The feature values, or null when the reply does not suffice (then: read all and retry). */
  function features(p: ReadPlan, key: string, head: Head, fetched: Fetched | null) {
    const finalBefore = head.finalBefore;
    let e = cacheEntries === 0 ? undefined : cache.get(key);
    if (fetched === null) {
      // Unchanged since the version our values were computed at, if the entry is still that one.
      if (e && e.plan === p && e.outputs && e.version === head.version) return record(p, e.outputs);
      return null;
    }
    if (cacheEntries === 0)
      return record(p, finishFold(p, foldPrefixes(p, fetched, finalBefore, undefined), fetched));
    if (e && e.plan === p && e.finalBefore <= finalBefore && fetched.from <= e.firstLive) {
      if (finalBefore > e.finalBefore) {
        e = foldPrefixes(p, fetched, finalBefore, e); // newly final tiles were fetched: extend
        cache.set(key, e);
      }
    } else if (fetched.from === 0) {
      e = foldPrefixes(p, fetched, finalBefore, undefined);
      cache.delete(key);
      if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value!);
      cache.set(key, e);
    } else {
      // The bound moved back (the hash expired and was rebuilt): the cached prefix cannot be trusted.
      cache.delete(key);
      return null;
    }
    const outputs = finishFold(p, e, fetched);
    e.version = head.version;
    e.outputs = outputs;
    return record(p, outputs);
  }

  function assemble(
    p: ReadPlan,
    key: string,
    head: Head,
    fetched: Fetched | null,
    asOf: number,
  ): ViewVector | null {
    if (head.lastEventTime === null)
      return {
        view: p.view.id,
        status: 'missing',
        lastEventTime: null,
        freshnessMs: null,
        features: record(p, null),
      };
    const lastEventTime = head.lastEventTime;
    const freshnessMs = asOf - lastEventTime;
    if (freshnessMs > p.view.ttlMs)
      return { view: p.view.id, status: 'expired', lastEventTime, freshnessMs, features: record(p, null) };
    const values = features(p, key, head, fetched);
    return values && { view: p.view.id, status: 'ok', lastEventTime, freshnessMs, features: values };
  }

  /** One script call for the whole request (see READ_SCRIPT). */
  async function fetchAll(
    requests: ReadonlyArray<{ p: ReadPlan; key: string; known: string; from: number }>,
  ): Promise<Array<{ head: Head; fetched: Fetched | null }>> {
    const keys: string[] = [];
    const argv: string[] = [];
    for (const r of requests) {
      keys.push(r.key);
      const fields = r.from === 0 ? r.p.fields : r.p.fields.slice(r.from);
      argv.push(r.known, String(fields.length), ...fields);
    }
    let reply: unknown[];
    try {
      reply = await (deps.redis as unknown as ReadCommand).flywheelRead(keys.length, keys.concat(argv));
    } catch (err) {
      throw new FlywheelError('FW_REDIS_UNAVAILABLE', `online store read failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return requests.map((r, k) => {
      const [t, f, v] = reply[2 * k] as Array<string | null>;
      const values = reply[2 * k + 1];
      return {
        head: {
          lastEventTime: t === null || t === undefined ? null : Number(t),
          finalBefore: f === null || f === undefined ? Number.NEGATIVE_INFINITY : Number(f),
          version: v ?? null,
        },
        fetched: Array.isArray(values) ? { from: r.from, values: values as Array<string | null> } : null,
      };
    });
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
      const requests = entities.flatMap((e) =>
        readPlans.map((p) => {
          const key = tileHashKey(deps.prefix, p.view.id, e);
          return { p, key, ...requestFor(p, key) };
        }),
      );
      const replies = await fetchAll(requests);
      const vectors = requests.map((r, i) =>
        assemble(r.p, r.key, replies[i]!.head, replies[i]!.fetched, asOf),
      );
      // Rare: a cached bound moved back, or the entry changed under a concurrent read: read those in full.
      const again = requests.flatMap((r, i) => (vectors[i] ? [] : [{ ...r, known: '', from: 0, i }]));
      if (again.length > 0) {
        const full = await fetchAll(again);
        again.forEach((r, k) => {
          vectors[r.i] = assemble(r.p, r.key, full[k]!.head, full[k]!.fetched, asOf);
        });
      }
      let r = 0;
      return entities.map((entity) => ({ entity, views: readPlans.map(() => vectors[r++]!) }));
    },
  };
}

export type OnlineReader = ReturnType<typeof createOnlineReader>;
