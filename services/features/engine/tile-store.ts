import type { Redis } from 'ioredis';
import { FlywheelError } from '../../platform/errors.ts';
import type { CompiledView } from '../definition.ts';
import type { Checkpoint, EntityWrite, TileWrite } from './partition-state.ts';
import { EMPTY_CHECKPOINT } from './partition-state.ts';
import { decodeTile, type TileState } from './tile-codec.ts';

/**
 * Redis layout of the online store (prefix `fw:` by default):
 *   t:<view>:v<version>:<entity>   hash: one field per tile (`res:start`, base 36) + `_t` newest event time
 *   cp:<group>:<topic>             hash: partition → checkpoint JSON (next offset, watermark state, counts)
 *   ep:<group>:<topic>:<partition> string: the owner's fencing epoch
 * A flush writes the changed tiles, prunes expired ones and stores the checkpoint in ONE Lua script, so
 * state and offsets can never disagree; the epoch check fences off a processor that lost its partition.
 */
export const LAST_EVENT_FIELD = '_t';

const COMMIT_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('FENCED') end
local a = 4
for k = 3, #KEYS do
  local nset = tonumber(ARGV[a]); a = a + 1
  if nset > 0 then redis.call('HSET', KEYS[k], unpack(ARGV, a, a + 2 * nset - 1)) end
  a = a + 2 * nset
  local ndel = tonumber(ARGV[a]); a = a + 1
  if ndel > 0 then redis.call('HDEL', KEYS[k], unpack(ARGV, a, a + ndel - 1)) end
  a = a + ndel
  local t = ARGV[a]; a = a + 1
  if t ~= '' then
    local current = tonumber(redis.call('HGET', KEYS[k], '_t'))
    if not current or current < tonumber(t) then redis.call('HSET', KEYS[k], '_t', t) end
  end
  redis.call('PEXPIRE', KEYS[k], ARGV[a]); a = a + 1
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
      const checkpoint = stored ? parseCheckpoint(stored) : { ...EMPTY_CHECKPOINT };
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
    }): Promise<CommitStats> {
      const perHash = new Map<
        string,
        { sets: string[]; dels: string[]; lastEventTime: string; ttl: number }
      >();
      const entry = (view: CompiledView, entity: string) => {
        const hash = tileHashKey(prefix, view.id, entity);
        let e = perHash.get(hash);
        if (!e) {
          e = { sets: [], dels: [], lastEventTime: '', ttl: view.ttlMs + view.retentionMs };
          perHash.set(hash, e);
        }
        return e;
      };
      for (const t of args.tiles) entry(t.view, t.entity).sets.push(t.field, t.encoded);
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
        argv.push(
          String(e.sets.length / 2),
          ...e.sets,
          String(e.dels.length),
          ...e.dels,
          e.lastEventTime,
          String(Math.min(e.ttl, 2 ** 31)),
        );
        commands += 2 + (e.dels.length > 0 ? 1 : 0) + (e.lastEventTime ? 2 : 0);
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

function parseCheckpoint(text: string): Checkpoint {
  const cp = JSON.parse(text) as Checkpoint & { maxEventTime: number | null };
  // JSON has no -Infinity: an empty watermark is stored as null.
  const offline = cp.offline ?? { next: cp.next, maxEventTime: cp.maxEventTime };
  return {
    ...cp,
    maxEventTime: cp.maxEventTime ?? Number.NEGATIVE_INFINITY,
    offline: { next: offline.next, maxEventTime: offline.maxEventTime ?? Number.NEGATIVE_INFINITY },
  };
}
