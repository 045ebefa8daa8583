import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { FlywheelError } from '../../platform/errors.ts';
import type { CompiledView } from '../definition.ts';
import type { Checkpoint, EntityWrite, TileWrite } from './partition-state.ts';
import { copyCheckpoint, EMPTY_CHECKPOINT } from './partition-state.ts';
import { decodeTile, type TileState } from './tile-codec.ts';

/**
 * Redis layout of the online store (prefix `fw:` by default):
 *   t:<view>:v<version>:<entity>   hash: one field per tile (`res:start`, base 36), `_t` newest event
 *                                  time, `_f` the partition's watermark at the last write (finality),
 *                                  `_v` a version that changes with every write
 *   cp:<group>:<topic>             hash: partition → checkpoint JSON (next offset, watermark state, counts)
 *   ep:<group>:<topic>:<partition> string: the owner's fencing epoch
 * A flush writes the changed tiles, prunes expired ones and stores the checkpoint in ONE Lua script, so
 * state and offsets can never disagree; the epoch check fences off a processor that lost its partition.
 */
export const LAST_EVENT_FIELD = '_t';
/**
 * The partition's watermark when the hash was last written: a tile ending at or before it is final (any
 * event for it would be late and dead-lettered), so the online reader may cache it for good.
 */
export const FINAL_BEFORE_FIELD = '_f';
/**
 * A version that changes with every write of the hash (this store instance's random id and commit
 * count: unique across processes and restarts): a reader that saw it already can skip the hash.
 */
export const VERSION_FIELD = '_v';

/**
 * ARGV: epoch, partition, checkpoint JSON, then four per hash: the tile fields and values to set, the
 * fields to delete (each list packed into one string, items separated by \x1f), the newest event time
 * ('' for none) and the TTL in ms. Packing keeps the argument count per hash at four instead of two per
 * tile, which is most of the client's cost of a commit. \x1f never occurs in a field name (base 36) or
 * a stored tile (JSON escapes control characters).
 */
const FIELD_SEPARATOR = '\x1f';

const COMMIT_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED') end
local function split(s)
  local out, n, pos = {}, 0, 1
  while true do
    local i = string.find(s, '\\31', pos, true)
    n = n + 1
    if not i then out[n] = string.sub(s, pos); return out end
    out[n] = string.sub(s, pos, i - 1)
    pos = i + 1
  end
end
local a = 4
for k = 3, #KEYS do
  local sets, dels, t, ttl = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  if sets ~= '' then redis.call('HSET', KEYS[k], unpack(split(sets))) end
  if dels ~= '' then redis.call('HDEL', KEYS[k], unpack(split(dels))) end
  if t ~= '' then
    local current = tonumber(redis.call('HGET', KEYS[k], '_t'))
    if not current or current < tonumber(t) then redis.call('HSET', KEYS[k], '_t', t) end
  end
  redis.call('PEXPIRE', KEYS[k], ttl)
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return #KEYS - 2
`;

export function tileHashKey(prefix: string, viewId: string, entity: string): string {
  return `${prefix}t:${viewId}:${entity}`;
}

export interface CommitStats {
  keys: number;
  commands: number;
}

export function createTileStore(redis: Redis, prefix: string) {
  redis.defineCommand('flywheelCommit', { lua: COMMIT_SCRIPT });
  const instance = randomBytes(6).toString('base64url');
  let commits = 0;
  const checkpointKey = (group: string, topic: string) => `${prefix}cp:${group}:${topic}`;
  const epochKey = (group: string, topic: string, partition: number) =>
    `${prefix}ep:${group}:${topic}:${partition}`;

  return {
    /** Takes ownership of a partition: bumps its epoch and reads its checkpoint. */
    async claim(
      group: string,
      topic: string,
      partition: number,
    ): Promise<{ epoch: string; checkpoint: Checkpoint }> {
      const [[, epoch], [, stored]] = (await redis
        .multi()
        .incr(epochKey(group, topic, partition))
        .hget(checkpointKey(group, topic), String(partition))
        .exec()) as [[null, number], [null, string | null]];
      const checkpoint = stored ? parseCheckpoint(stored) : copyCheckpoint(EMPTY_CHECKPOINT);
      return { epoch: String(epoch), checkpoint };
    },

    async readCheckpoints(group: string, topic: string): Promise<Record<string, Checkpoint>> {
      const all = await redis.hgetall(checkpointKey(group, topic));
      return Object.fromEntries(Object.entries(all).map(([p, v]) => [p, parseCheckpoint(v)]));
    },

    /** One round trip: HMGET of every requested tile, grouped by entity hash. */
    async loadTiles(
      requests: ReadonlyArray<{ key: string; view: CompiledView; entity: string; field: string }>,
    ) {
      const byHash = new Map<string, Array<(typeof requests)[number]>>();
      for (const r of requests) {
        const hash = tileHashKey(prefix, r.view.id, r.entity);
        const list = byHash.get(hash);
        if (list) list.push(r);
        else byHash.set(hash, [r]);
      }
      const pipeline = redis.pipeline();
      for (const [hash, list] of byHash) pipeline.hmget(hash, ...list.map((r) => r.field));
      const replies = (await pipeline.exec()) ?? [];
      const out: Array<{ key: string; view: CompiledView; tile: TileState | undefined }> = [];
      let i = 0;
      for (const list of byHash.values()) {
        const [err, values] = replies[i++] as [Error | null, Array<string | null>];
        if (err) throw err;
        list.forEach((r, j) => {
          const text = values[j];
          out.push({ key: r.key, view: r.view, tile: text ? decodeTile(r.view, text) : undefined });
        });
      }
      return { tiles: out, commands: byHash.size };
    },

    /** Writes tiles, prunes, refreshes TTLs and stores the checkpoint atomically (fenced by epoch). */
    async commit(args: {
      group: string;
      topic: string;
      partition: number;
      epoch: string;
      tiles: readonly TileWrite[];
      entities: readonly EntityWrite[];
      checkpoint: Checkpoint;
      /** The partition's watermark after this flush, stored as `_f` on every hash written. */
      finalBefore?: number;
    }): Promise<CommitStats> {
      const perHash = new Map<
        string,
        { sets: string; tiles: number; dels: string[]; lastEventTime: string; ttl: number }
      >();
      const entry = (view: CompiledView, entity: string) => {
        const hash = tileHashKey(prefix, view.id, entity);
        let e = perHash.get(hash);
        if (!e) {
          e = { sets: '', tiles: 0, dels: [], lastEventTime: '', ttl: view.ttlMs + view.retentionMs };
          perHash.set(hash, e);
        }
        return e;
      };
      // The watermark only grows (it is restored from the checkpoint stored in the same script), so it is
      // set, not maxed; it rides in the HSET of the tiles.
      const version = `${VERSION_FIELD}${FIELD_SEPARATOR}${instance}.${(commits++).toString(36)}`;
      const header =
        args.finalBefore !== undefined && Number.isFinite(args.finalBefore)
          ? `${version}${FIELD_SEPARATOR}${FINAL_BEFORE_FIELD}${FIELD_SEPARATOR}${args.finalBefore}`
          : version;
      for (const t of args.tiles) {
        const e = entry(t.view, t.entity);
        if (e.tiles === 0) {
          e.sets = header;
          e.tiles = 1;
        }
        e.sets +=
          e.tiles++ === 0
            ? `${t.field}${FIELD_SEPARATOR}${t.encoded}`
            : `${FIELD_SEPARATOR}${t.field}${FIELD_SEPARATOR}${t.encoded}`;
      }
      for (const e of args.entities) {
        const h = entry(e.view, e.entity);
        // Written as a max in the script: a restarted processor must never move freshness back.
        h.lastEventTime = String(e.lastEventTime);
        h.dels.push(...e.expired);
      }
      const keys = [epochKey(args.group, args.topic, args.partition), checkpointKey(args.group, args.topic)];
      const argv: string[] = [args.epoch, String(args.partition), JSON.stringify(args.checkpoint)];
      let commands = 2;
      for (const [hash, e] of perHash) {
        keys.push(hash);
        argv.push(e.sets, e.dels.join(FIELD_SEPARATOR), e.lastEventTime, String(Math.min(e.ttl, 2 ** 31)));
        commands += 1 + (e.tiles > 0 ? 1 : 0) + (e.dels.length > 0 ? 1 : 0) + (e.lastEventTime ? 2 : 0);
      }
      try {
        // One array argument (ioredis flattens it): a spread of ~10^5 strings would overflow the JS stack.
        const commit = redis as unknown as { flywheelCommit(n: number, args: string[]): Promise<number> };
        await commit.flywheelCommit(keys.length, keys.concat(argv));
      } catch (err) {
        if (String((err as Error).message).includes('FENCED')) {
          throw new FlywheelError(
            'FW_FENCED',
            `partition ${args.topic}/${args.partition} is owned by a newer processor`,
          );
        }
        throw new FlywheelError('FW_REDIS_UNAVAILABLE', `tile commit failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      return { keys: perHash.size, commands };
    },
  };
}

export type TileStore = ReturnType<typeof createTileStore>;

export function parseCheckpoint(text: string): Checkpoint {
  const cp = JSON.parse(text) as Checkpoint & { maxEventTime: number | null };
  // JSON has no -Infinity: an empty watermark is stored as null.
  const offline = cp.offline ?? { next: cp.next, maxEventTime: cp.maxEventTime, origins: cp.origins };
  return {
    ...cp,
    // Checkpoints written before these counters existed read as zero.
    deadLetters: cp.deadLetters ?? {},
    rerouted: cp.rerouted ?? 0,
    duplicates: cp.duplicates ?? 0,
    origins: cp.origins ?? {},
    maxEventTime: cp.maxEventTime ?? Number.NEGATIVE_INFINITY,
    offline: {
      next: offline.next,
      maxEventTime: offline.maxEventTime ?? Number.NEGATIVE_INFINITY,
      origins: offline.origins ?? {},
    },
  };
}
