import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { AggregationOutput } from '../../../services/core/aggregation/index.ts';
import { coverWindow, fieldName, HOUR, MINUTE, tilesForEvent } from '../../../services/core/windows/tiles.ts';
import type { CompiledView } from '../../../services/features/definition.ts';
import {
  decodeTile,
  emptyTile,
  encodeTile,
  type TileState,
} from '../../../services/features/engine/tile-codec.ts';
import {
  FINAL_BEFORE_FIELD,
  LAST_EVENT_FIELD,
  tileHashKey,
  VERSION_FIELD,
} from '../../../services/features/engine/tile-store.ts';
import {
  buildReadPlan,
  createOnlineReader,
  type EntityVector,
  type ViewVector,
} from '../../../services/features/online-reader.ts';
import { createRng, type Rng } from '../../support/prng.ts';
import { everyKindView } from './fixtures.ts';

/**
 * The online reader's caches (plans per base tile, closed-prefix folds per entity, output memo) must
 * never change a value: every read is compared with the plain left fold over all covering tiles (the
 * reader as it was before caching, kept here as the reference) and with an uncached reader.
 */
const PREFIX = 'unit:';
const view = everyKindView();

/**
 * A Redis double for the reader's one script call, over in-memory hashes: per key, [_t, _f, _v] and 0
 * when `_v` equals the caller's version, else the requested fields (READ_SCRIPT's contract). No I/O.
 * `requested` records, per call, how many tile fields each key asked for.
 */
function fakeRedis(hashes: Map<string, Map<string, string>>) {
  let execs = 0;
  const requested: number[][] = [];
  const redis = {
    defineCommand() {},
    async flywheelRead(numKeys: number, args: string[]) {
      execs++;
      const keys = args.slice(0, numKeys);
      const out: unknown[] = [];
      const asked: number[] = [];
      let a = numKeys;
      for (const key of keys) {
        const known = args[a]!;
        const n = Number(args[a + 1]);
        const fields = args.slice(a + 2, a + 2 + n);
        a += 2 + n;
        const h = hashes.get(key);
        const head = ['_t', '_f', '_v'].map((f) => h?.get(f) ?? null);
        out.push(head);
        if (known !== '' && head[2] === known) {
          out.push(0);
          asked.push(0);
        } else {
          out.push(fields.map((f) => h?.get(f) ?? null));
          asked.push(n);
        }
      }
      requested.push(asked);
      return out;
    },
  };
  return { redis: redis as unknown as Redis, execs: () => execs, requested };
}

/** Tiles of one entity, kept decoded and written back encoded exactly as the engine stores them. */
class EntityTiles {
  readonly tiles = new Map<string, TileState>();
  offset = 0;
  lastEventTime = -Infinity;
  constructor(
    readonly v: CompiledView,
    readonly hash: Map<string, string>,
  ) {}
  add(rng: Rng, eventTime: number): void {
    const record: Record<string, number | string | null> = {
      // Non-dyadic amounts: sums round, so any change of merge order would show in the last bits.
      amount: rng.bool(0.05) ? null : Math.round(rng.next() * 1e6) / 1e4 - 10,
      cat: rng.pick(['a', 'b', 'c', 'd', 'e', '10', '9']),
    };
    // The engine dead-letters events behind the watermark; tiles before it are final.
    assert.ok(eventTime >= this.watermark(), 'the harness only adds events the engine would accept');
    const offset = this.offset++;
    for (const ref of tilesForEvent(eventTime, this.v.resolutions)) {
      const name = fieldName(ref);
      const tile = this.tiles.get(name) ?? emptyTile(this.v);
      for (const slot of this.v.slots) {
        const value = slot.field === undefined ? 1 : (record[slot.field] ?? null);
        tile.irs[slot.index] = slot.aggregator.update(tile.irs[slot.index], value, eventTime);
      }
      tile.lastOffset = offset;
      this.tiles.set(name, tile);
      this.hash.set(name, encodeTile(this.v, tile));
    }
    this.lastEventTime = Math.max(this.lastEventTime, eventTime);
    this.hash.set(LAST_EVENT_FIELD, String(this.lastEventTime));
    // The processor's finality bound: its watermark. Callers only add events at or after it.
    this.hash.set(FINAL_BEFORE_FIELD, String(this.watermark()));
    this.hash.set(VERSION_FIELD, `v${offset}`);
  }
  /** History: events in time order, as the engine accepts them. */
  addAll(rng: Rng, times: number[]): void {
    for (const t of times.sort((a, b) => a - b)) this.add(rng, t);
  }
  watermark(): number {
    return this.lastEventTime - this.v.source.allowedLatenessMs;
  }
}

/** The reference: fold init() with every covering tile in coverWindow order (the pre-cache reader). */
function referenceFeatures(v: CompiledView, hash: Map<string, string>, asOf: number) {
  const last = hash.get(LAST_EVENT_FIELD);
  if (last === undefined) return { status: 'missing', features: null };
  if (asOf - Number(last) > v.ttlMs) return { status: 'expired', features: null };
  const features: Record<string, AggregationOutput | null> = {};
  for (const f of v.features) {
    const agg = v.slots[f.slot]!.aggregator;
    let acc = agg.init();
    for (const ref of coverWindow(asOf, v.tileMs, f.windowMs, v.resolutions)) {
      const text = hash.get(fieldName(ref));
      if (text) acc = agg.merge(acc, decodeTile(v, text).irs[f.slot]);
    }
    features[f.name] = agg.finalize(acc);
  }
  return { status: 'ok', features };
}

function setup(entities: string[]) {
  const hashes = new Map<string, Map<string, string>>();
  const tiles = new Map<string, EntityTiles>();
  for (const e of entities) {
    const hash = new Map<string, string>();
    hashes.set(tileHashKey(PREFIX, view.id, e), hash);
    tiles.set(e, new EntityTiles(view, hash));
  }
  const { redis, execs } = fakeRedis(hashes);
  const cached = createOnlineReader({ redis, prefix: PREFIX, views: [view] });
  const uncached = createOnlineReader({ redis, prefix: PREFIX, views: [view], cacheEntries: 0 });
  const tiny = createOnlineReader({ redis, prefix: PREFIX, views: [view], cacheEntries: 1 });
  return { hashes, tiles, cached, uncached, tiny, execs };
}

/** The first view of the i-th entity. */
function vector(r: EntityVector[], i: number): ViewVector {
  const v = r[i]?.views[0];
  assert.ok(v);
  return v;
}

async function checkAll(s: ReturnType<typeof setup>, entities: string[], asOf: number) {
  const a = await s.cached.read(entities, [view.id], { asOf });
  const b = await s.uncached.read(entities, [view.id], { asOf });
  const c = await s.tiny.read(entities, [view.id], { asOf });
  assert.deepStrictEqual(a, b, `cached vs uncached at ${asOf}`);
  assert.deepStrictEqual(a, c, `cached vs 1-entry cache at ${asOf}`);
  for (const [i, e] of entities.entries()) {
    const ref = referenceFeatures(view, s.hashes.get(tileHashKey(PREFIX, view.id, e))!, asOf);
    const got = vector(a, i);
    assert.equal(got.status, ref.status);
    if (ref.features) assert.deepStrictEqual(got.features, ref.features, `${e} at ${asOf}`);
    else assert.ok(Object.values(got.features).every((x) => x === null));
  }
  return a;
}

describe('online reader caches', () => {
  it('returns exactly the reference fold across asOf steps, tile rollovers and late rewrites', async () => {
    const rng = createRng(42);
    const entities = ['u1', 'u2', 'u3'];
    const s = setup(entities);
    const t0 = Date.UTC(2026, 0, 1, 0, 0, 0) - 2 * 86_400_000;
    // Two days of history (in order, as the engine would accept it), up to 30 minutes before the reads.
    for (const e of entities) {
      const span = 2 * 86_400_000 - 30 * MINUTE;
      s.tiles.get(e)!.addAll(
        rng,
        Array.from({ length: 600 }, () => t0 + Math.floor(rng.next() * span)),
      );
    }
    let asOf = t0 + 2 * 86_400_000 - 20 * MINUTE;
    for (let step = 0; step < 150; step++) {
      // Current events; now and then a late one (within the allowed lateness) that rewrites an earlier
      // minute tile the cached prefix may hold unless it is final.
      for (const e of entities) {
        const et = s.tiles.get(e)!;
        if (rng.bool(0.6)) et.add(rng, asOf - rng.int(0, 20_000));
        if (rng.bool(0.15)) et.add(rng, Math.max(et.watermark(), asOf - rng.int(1, 5) * MINUTE));
      }
      await checkAll(s, entities, asOf);
      // A repeat without writes takes the fully cached path and must not differ either.
      await checkAll(s, entities, asOf);
      asOf += rng.int(1, 40_000);
    }
    assert.ok(asOf > t0 + 2 * 86_400_000 + 10 * MINUTE, 'the sequence crosses a day (and hour) boundary');
  });

  it('a late event into an earlier, not yet final tile is read', async () => {
    const rng = createRng(7);
    const s = setup(['u1']);
    const et = s.tiles.get('u1')!;
    const asOf = Date.UTC(2026, 0, 1, 12, 30, 10);
    et.addAll(
      rng,
      Array.from({ length: 200 }, () => asOf - rng.int(0, 3 * HOUR)),
    );
    const before = await checkAll(s, ['u1'], asOf);
    await checkAll(s, ['u1'], asOf + 1_000); // same base tile: served from the cache
    // A late event 3 minutes back (within the 5m lateness) changes a minute tile before the current one.
    et.add(rng, Math.max(et.watermark(), asOf - 3 * MINUTE));
    const after = await checkAll(s, ['u1'], asOf + 2_000);
    const n = (r: typeof before) => vector(r, 0).features.n_2h;
    assert.equal(n(after), (n(before) as number) + 1);
  });

  it('after the first read of a base tile, fetches only tiles that are not final, and nothing when unchanged', async () => {
    const rng = createRng(8);
    const hash = new Map<string, string>();
    const et = new EntityTiles(view, hash);
    const asOf = Date.UTC(2026, 0, 1, 12, 30, 10);
    et.addAll(
      rng,
      Array.from({ length: 300 }, () => asOf - rng.int(0, 26 * HOUR)),
    );
    et.add(rng, asOf - 1_000);
    const fake = fakeRedis(new Map([[tileHashKey(PREFIX, view.id, 'u1'), hash]]));
    const reader = createOnlineReader({ redis: fake.redis, prefix: PREFIX, views: [view] });
    const first = await reader.read(['u1'], [view.id], { asOf });
    const plan = buildReadPlan(view, asOf);
    const live = plan.ends.filter((end) => end > et.watermark()).length;
    assert.ok(live < plan.fields.length / 4, `few live tiles (${live} of ${plan.fields.length})`);
    assert.deepStrictEqual(fake.requested[0], [plan.fields.length], 'first read: every covering tile');
    // Unchanged hash: no tile is sent, the values are the memoized ones.
    const second = await reader.read(['u1'], [view.id], { asOf: asOf + 5_000 });
    assert.deepStrictEqual(fake.requested[1], [0]);
    assert.deepStrictEqual(vector(second, 0).features, vector(first, 0).features);
    // A write: only the tiles ending after the cached finality bound are fetched.
    et.add(rng, asOf + 6_000);
    const third = await reader.read(['u1'], [view.id], { asOf: asOf + 7_000 });
    assert.deepStrictEqual(fake.requested[2], [live]);
    const ref = referenceFeatures(view, hash, asOf + 7_000);
    assert.deepStrictEqual(vector(third, 0).features, ref.features);
  });

  it('missing and expired entities read as nulls', async () => {
    const rng = createRng(3);
    const s = setup(['u1', 'ghost']);
    const asOf = Date.UTC(2026, 0, 1);
    s.tiles.get('u1')!.add(rng, asOf - 8 * 86_400_000); // older than the 7d TTL
    const r = await checkAll(s, ['u1', 'ghost'], asOf);
    assert.deepStrictEqual(
      r.map((x) => x.views[0]!.status),
      ['expired', 'missing'],
    );
    assert.equal(s.execs(), 3, 'one round trip per read');
  });

  it('callers cannot corrupt the cache by mutating a result', async () => {
    const rng = createRng(11);
    const s = setup(['u1']);
    const asOf = Date.UTC(2026, 0, 1, 5, 0, 30);
    s.tiles.get('u1')!.addAll(
      rng,
      Array.from({ length: 50 }, () => asOf - rng.int(0, HOUR)),
    );
    const first = await s.cached.read(['u1'], [view.id], { asOf });
    const q = vector(first, 0).features.amount_p_2h as number[];
    q[0] = -1;
    vector(first, 0).features.n_2h = -1;
    await checkAll(s, ['u1'], asOf);
  });
});

describe('read plans', () => {
  it('depend only on the base tile of asOf and roll over at tile boundaries', () => {
    const t = Date.UTC(2026, 0, 1, 10, 59, 0);
    const a = buildReadPlan(view, t);
    assert.deepStrictEqual(buildReadPlan(view, t + MINUTE - 1), a);
    const b = buildReadPlan(view, t + MINUTE);
    assert.notDeepStrictEqual(b.fields, a.fields);
    assert.equal(b.tile, a.tile + MINUTE);
    assert.deepStrictEqual(buildReadPlan(view, t - 1).tile, a.tile - MINUTE);
  });

  it('list each cover in cover order, with fields ordered by tile end so tiles ending later are a suffix', () => {
    for (const asOf of [Date.UTC(2026, 0, 1, 10, 59, 30), Date.UTC(2026, 0, 1, 0, 0, 0), 12_345_678_901]) {
      const p = buildReadPlan(view, asOf);
      for (const [fi, f] of view.features.entries()) {
        const refs = coverWindow(asOf, view.tileMs, f.windowMs, view.resolutions);
        assert.deepStrictEqual(
          p.features[fi]!.cover.map((i) => p.fields[i]),
          refs.map(fieldName),
        );
        // Ends grow along a cover: the tiles final by any bound form a prefix of it.
        for (let k = 1; k < refs.length; k++)
          assert.ok(refs[k]!.start + refs[k]!.res > refs[k - 1]!.start + refs[k - 1]!.res);
      }
      for (let i = 1; i < p.ends.length; i++) assert.ok(p.ends[i]! >= p.ends[i - 1]!);
      assert.equal(new Set(p.fields).size, p.fields.length, 'each tile once');
    }
  });

  it('the reader asks for the same fields within a base tile and new ones after it', async () => {
    const calls: string[][] = [];
    const redis = {
      defineCommand() {},
      async flywheelRead(numKeys: number, args: string[]) {
        calls.push(args.slice(numKeys + 2));
        return [[null, null, null], args.slice(numKeys + 2).map(() => null)];
      },
    } as unknown as Redis;
    const reader = createOnlineReader({ redis, prefix: PREFIX, views: [view] });
    const t = Date.UTC(2026, 0, 1, 10, 0, 0);
    await reader.read(['u1'], [view.id], { asOf: t });
    await reader.read(['u1'], [view.id], { asOf: t + 59_999 });
    await reader.read(['u1'], [view.id], { asOf: t + 60_000 });
    assert.deepStrictEqual(calls[1], calls[0], 'same base tile, same fields');
    assert.notDeepStrictEqual(calls[2], calls[0]);
  });
});

describe('prefix copy', () => {
  it('merge(init(), prefix) copies every kind exactly and leaves the prefix untouched', () => {
    const rng = createRng(5);
    for (const slot of view.slots) {
      const agg = slot.aggregator;
      for (const n of [0, 1, 5, 400]) {
        let ir = agg.init();
        for (let i = 0; i < n; i++) {
          const value = slot.field === 'cat' ? rng.pick(['a', 'b', String(i)]) : rng.next() * 100 - 20;
          ir = agg.update(ir, value, 1_000 + rng.int(0, 50));
        }
        const encoded = JSON.stringify(agg.encode(ir));
        const copy = agg.merge(agg.init(), ir);
        assert.deepStrictEqual(copy, ir, `${slot.kind} with ${n} values`);
        if (typeof ir === 'object' && ir !== null) assert.notEqual(copy, ir);
        agg.merge(copy, agg.update(agg.init(), 7.5, 2_000)); // mutating the copy…
        assert.equal(JSON.stringify(agg.encode(ir)), encoded, `${slot.kind}: …leaves the prefix as it was`);
      }
    }
  });
});
