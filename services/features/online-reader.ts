import type { Redis } from 'ioredis';
import type { AggregationOutput } from '../core/aggregation/index.ts';
import { coverWindow, fieldName } from '../core/windows/tiles.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { CompiledView } from './definition.ts';
import { decodeTile, type TileState } from './engine/tile-codec.ts';
import { LAST_EVENT_FIELD, tileHashKey } from './engine/tile-store.ts';

/**
 * The online read that serving uses: feature vectors for a batch of entities as of a time (default now),
 * merging the tiles that cover each window — one Redis round trip (a pipeline of HMGETs) per batch.
 * Every view answers with a status: `ok`, `missing` (never seen) or `expired` (newest event older than
 * the view's TTL: values are withheld rather than served stale), and its event-time freshness.
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

interface ReadPlan {
  view: CompiledView;
  fields: string[];
  /** For each feature: the indexes (into fields) of the tiles covering its window. */
  featureTiles: number[][];
}

export function createOnlineReader(deps: {
  redis: Redis;
  prefix: string;
  views: readonly CompiledView[];
  maxEntities?: number;
}) {
  const byId = new Map<string, CompiledView>();
  for (const v of deps.views) {
    byId.set(v.id, v);
    // The bare name reads the newest registered version.
    const current = byId.get(v.name);
    if (!current || current.version < v.version) byId.set(v.name, v);
  }
  const maxEntities = deps.maxEntities ?? 1_000;

  function plan(view: CompiledView, asOf: number): ReadPlan {
    const fields: string[] = [LAST_EVENT_FIELD];
    const index = new Map<string, number>();
    const featureTiles = view.features.map((f) =>
      coverWindow(asOf, view.tileMs, f.windowMs, view.resolutions).map((ref) => {
        const name = fieldName(ref);
        let i = index.get(name);
        if (i === undefined) {
          i = fields.length;
          fields.push(name);
          index.set(name, i);
        }
        return i;
      }),
    );
    return { view, fields, featureTiles };
  }

  function assemble(p: ReadPlan, values: Array<string | null>, asOf: number): Omit<ViewVector, 'view'> {
    const last = values[0];
    const nulls = () => Object.fromEntries(p.view.features.map((f) => [f.name, null]));
    if (last === null || last === undefined)
      return { status: 'missing', lastEventTime: null, freshnessMs: null, features: nulls() };
    const lastEventTime = Number(last);
    const freshnessMs = asOf - lastEventTime;
    if (freshnessMs > p.view.ttlMs)
      return { status: 'expired', lastEventTime, freshnessMs, features: nulls() };
    const decoded = new Map<number, TileState>();
    const tileAt = (i: number) => {
      let t = decoded.get(i);
      if (t === undefined && values[i]) {
        t = decodeTile(p.view, values[i]!);
        decoded.set(i, t);
      }
      return t;
    };
    const features: Record<string, AggregationOutput | null> = {};
    p.view.features.forEach((f, fi) => {
      const agg = p.view.slots[f.slot]!.aggregator;
      let acc = agg.init();
      for (const i of p.featureTiles[fi]!) {
        const t = tileAt(i);
        if (t) acc = agg.merge(acc, t.irs[f.slot]);
      }
      features[f.name] = agg.finalize(acc);
    });
    return { status: 'ok', lastEventTime, freshnessMs, features };
  }

  return {
    views: () => [...new Set(byId.values())],
    resolveView(nameOrId: string): CompiledView {
      const view = byId.get(nameOrId);
      if (!view)
        throw new FlywheelError(
          'FW_NOT_FOUND',
          `unknown feature view "${nameOrId}"; known: ${[...byId.keys()].join(', ')}`,
        );
      return view;
    },
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
      const plans = viewNames.map((n) => plan(this.resolveView(n), asOf));
      const pipeline = deps.redis.pipeline();
      for (const e of entities)
        for (const p of plans) pipeline.hmget(tileHashKey(deps.prefix, p.view.id, e), ...p.fields);
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
        views: plans.map((p) => {
          const [err, values] = replies[r++]!;
          if (err)
            throw new FlywheelError('FW_REDIS_UNAVAILABLE', `online store read failed: ${err.message}`, {
              cause: err,
            });
          return { view: p.view.id, ...assemble(p, values as Array<string | null>, asOf) };
        }),
      }));
    },
  };
}

export type OnlineReader = ReturnType<typeof createOnlineReader>;
