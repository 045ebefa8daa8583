import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { ownerPartition } from '../platform/partitioner.ts';
import { createRedis } from '../platform/redis.ts';
import type { CompiledView } from './definition.ts';
import type { Checkpoint } from './engine/partition-state.ts';
import { parseCheckpoint } from './engine/tile-store.ts';
import {
  formatResetReport,
  formatStatusTable,
  ownedTileHashKeys,
  type PartitionStatusRow,
  partitionStatusRows,
  planWatermarkReset,
  resetReportJson,
  type TileHash,
  type WatermarkResetPlan,
  type WatermarkResetReport,
} from './repair-plan.ts';

/**
 * `flywheel partitions`: the features processor's partitions as Redis and Kafka see them, and the
 * repair of a partition whose watermark a far-future event moved. Needs only Redis and Kafka (never
 * ClickHouse), so it runs beside a live `flywheel start`. The decisions are in repair-plan.ts; this
 * file reads, writes and parses arguments.
 */
export const DEFAULT_GROUP = 'flywheel-features';
/**
 * The default cutoff of a reset is this far ahead of now: the default future skew, not the view's own,
 * because a bound set too wide may be what let the far-future event in.
 */
export const DEFAULT_CUTOFF_AHEAD_MS = 5 * 60_000;
/** A reset whose partition changed under it this many times in a row gives up (it is re-read each time). */
const RESET_ATTEMPTS = 10;

export interface PartitionsDeps {
  config: Readonly<ResolvedConfig>;
  /** The feature views the processor runs: they name the topics and the tile hashes. */
  views: readonly CompiledView[];
  logger: Logger;
}

// The same layout as tile-store.ts (whose key builders are private to its store).
const checkpointKey = (prefix: string, group: string, topic: string) => `${prefix}cp:${group}:${topic}`;
const epochKey = (prefix: string, group: string, topic: string, partition: number) =>
  `${prefix}ep:${group}:${topic}:${partition}`;

function badRequest(message: string): FlywheelError {
  return new FlywheelError('FW_BAD_REQUEST', message);
}

export function viewTopics(views: readonly CompiledView[]): string[] {
  return [...new Set(views.map((v) => v.source.topic))];
}

/** The views on `topic`; a topic no view reads is refused before anything is contacted. */
function viewsOn(views: readonly CompiledView[], topic: string): CompiledView[] {
  const on = views.filter((v) => v.source.topic === topic);
  if (on.length === 0)
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `no feature view reads topic "${topic}"; the views read: ${viewTopics(views).join(', ')}`,
    );
  return on;
}

/** The views on a topic share one allowed lateness (the processor refuses them otherwise). */
function latenessOn(views: readonly CompiledView[], topic: string): number {
  return Math.max(...viewsOn(views, topic).map((v) => v.source.allowedLatenessMs));
}

interface Connections {
  redis: Redis;
  admin: Admin;
  close(): Promise<void>;
}

async function connect(deps: PartitionsDeps): Promise<Connections> {
  const redis = createRedis(deps.config.redis.url, { name: 'flywheel-partitions' });
  const admin = createKafka(deps.config, deps.logger, 'partitions').admin();
  const close = async () => {
    await admin.disconnect().catch(() => undefined);
    redis.disconnect();
  };
  try {
    await admin.connect();
  } catch (err) {
    await close();
    throw new FlywheelError(
      'FW_KAFKA_UNAVAILABLE',
      `cannot reach Kafka at ${deps.config.kafka.brokers.join(',')}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { redis, admin, close };
}

async function withConnections<T>(deps: PartitionsDeps, work: (c: Connections) => Promise<T>): Promise<T> {
  const c = await connect(deps);
  try {
    return await work(c);
  } finally {
    await c.close();
  }
}

async function requireKafkaTopics(admin: Admin, topics: readonly string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.find((t) => !existing.has(t));
  if (missing !== undefined)
    throw new FlywheelError('FW_NOT_FOUND', `topic "${missing}" does not exist in Kafka`);
}

async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  const count = topics[0]?.partitions.length ?? 0;
  if (count === 0) throw new FlywheelError('FW_KAFKA_UNAVAILABLE', `no partition metadata for ${topic}`);
  return count;
}

async function readCheckpoints(
  redis: Redis,
  prefix: string,
  group: string,
  topic: string,
): Promise<Record<string, Checkpoint>> {
  const all = await redis.hgetall(checkpointKey(prefix, group, topic));
  return Object.fromEntries(Object.entries(all).map(([p, text]) => [p, parseCheckpoint(text)]));
}

async function topicStatus(
  c: Connections,
  deps: PartitionsDeps,
  group: string,
  topic: string,
): Promise<PartitionStatusRow[]> {
  const [ends, committed, checkpoints] = await Promise.all([
    c.admin.fetchTopicOffsets(topic),
    c.admin.fetchOffsets({ groupId: group, topics: [topic] }),
    readCheckpoints(c.redis, deps.config.redis.keyPrefix, group, topic),
  ]);
  const committedBy = new Map<number, number>();
  for (const p of committed.find((t) => t.topic === topic)?.partitions ?? []) {
    // Kafka answers -1 for a partition the group never committed.
    if (Number(p.offset) >= 0) committedBy.set(p.partition, Number(p.offset));
  }
  return partitionStatusRows({
    topic,
    latenessMs: latenessOn(deps.views, topic),
    checkpoints,
    committed: committedBy,
    ends: new Map(ends.map((e) => [e.partition, Number(e.high)])),
  });
}

/** One row per partition of each topic (default: every topic a view reads). */
export async function partitionStatus(
  deps: PartitionsDeps,
  opts: { group?: string; topics?: readonly string[] } = {},
): Promise<PartitionStatusRow[]> {
  const group = opts.group ?? DEFAULT_GROUP;
  const topics = opts.topics?.length ? [...opts.topics] : viewTopics(deps.views);
  for (const t of topics) viewsOn(deps.views, t);
  return withConnections(deps, async (c) => {
    await requireKafkaTopics(c.admin, topics);
    const rows: PartitionStatusRow[] = [];
    for (const topic of topics) rows.push(...(await topicStatus(c, deps, group, topic)));
    return rows;
  });
}

/** Glob characters of SCAN's MATCH, escaped so a prefix or view id is matched literally. */
function literalPattern(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    for (const key of batch) keys.push(key);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

async function readHashes(redis: Redis, refs: ReadonlyArray<Omit<TileHash, 'fields'>>): Promise<TileHash[]> {
  const out: TileHash[] = [];
  const chunk = 500;
  for (let i = 0; i < refs.length; i += chunk) {
    const slice = refs.slice(i, i + chunk);
    const pipeline = redis.pipeline();
    for (const r of slice) pipeline.hgetall(r.key);
    const replies = (await pipeline.exec()) ?? [];
    slice.forEach((r, j) => {
      const [err, fields] = replies[j] as [Error | null, Record<string, string>];
      if (err) throw err;
      // An empty reply: the hash expired since the scan.
      if (Object.keys(fields).length > 0) out.push({ ...r, fields });
    });
  }
  return out;
}

/** What a reset reads: the epoch and checkpoint (one atomic read) and the partition's tile hashes. */
export interface PartitionSnapshot {
  epoch: string | null;
  checkpointText: string;
  checkpoint: Checkpoint;
  hashes: TileHash[];
}

export interface PartitionAt {
  prefix: string;
  group: string;
  topic: string;
  partition: number;
  partitionCount: number;
}

/** The partition's epoch and checkpoint, read in one MULTI so they belong together. */
async function readHead(redis: Redis, at: PartitionAt): Promise<Omit<PartitionSnapshot, 'hashes'>> {
  const [[, epoch], [, checkpointText]] = (await redis
    .multi()
    .get(epochKey(at.prefix, at.group, at.topic, at.partition))
    .hget(checkpointKey(at.prefix, at.group, at.topic), String(at.partition))
    .exec()) as [[null, string | null], [null, string | null]];
  if (checkpointText === null)
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `no checkpoint for ${at.topic}/${at.partition} in group ${at.group}: nothing to reset`,
    );
  return { epoch, checkpointText, checkpoint: parseCheckpoint(checkpointText) };
}

/** The tile hashes of `views` whose entities the partition owns. */
async function readOwnedHashes(
  redis: Redis,
  at: PartitionAt,
  views: readonly CompiledView[],
): Promise<TileHash[]> {
  let keys: string[] = [];
  // concat, not a spread: a view can have more keys than a call can take arguments.
  for (const v of views)
    keys = keys.concat(await scanKeys(redis, `${literalPattern(`${at.prefix}t:${v.id}:`)}*`));
  const owned = ownedTileHashKeys(keys, {
    prefix: at.prefix,
    viewIds: views.map((v) => v.id),
    owns: (entity) => ownerPartition(entity, at.partitionCount) === at.partition,
  });
  return readHashes(redis, owned);
}

export async function readPartition(
  redis: Redis,
  at: PartitionAt,
  views: readonly CompiledView[],
): Promise<PartitionSnapshot> {
  const head = await readHead(redis, at);
  return { ...head, hashes: await readOwnedHashes(redis, at, views) };
}

/**
 * After a conflict, what to plan from next. A commit that folded no event changed no tile: tiles are
 * written only for accepted events, which raise `accepted`. That is what a poisoned owner commits
 * (every event is late), and a claim writes nothing. Then only the head is read again, one round trip,
 * so the next attempt's window is short even while the owner commits many times a second.
 */
async function rereadAfterConflict(
  redis: Redis,
  at: PartitionAt,
  views: readonly CompiledView[],
  read: PartitionSnapshot,
): Promise<PartitionSnapshot> {
  const head = await readHead(redis, at);
  const folded =
    head.checkpoint.accepted !== read.checkpoint.accepted ||
    head.checkpoint.maxEventTime !== read.checkpoint.maxEventTime;
  return folded ? readPartition(redis, at, views) : { ...head, hashes: read.hashes };
}

/**
 * Applies a plan only if the partition is as it was read: same epoch (no new owner claimed it) and the
 * same checkpoint (no commit since; every commit of tiles writes the checkpoint in the same script).
 * The epoch is bumped in the same script, so the owner's next commit is fenced and it re-claims from
 * the checkpoint written here. A hash that expired meanwhile is not recreated. Lists are packed with
 * \x1f like the processor's commit (field names are base 36 or `_x`, values are numbers or ids).
 */
const RESET_SCRIPT = `
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return redis.error_reply('CONFLICT epoch') end
if (redis.call('HGET', KEYS[2], ARGV[2]) or '') ~= ARGV[3] then return redis.error_reply('CONFLICT checkpoint') end
local function split(s)
  local out, pos = {}, 1
  while true do
    local i = string.find(s, '\\31', pos, true)
    if not i then out[#out + 1] = string.sub(s, pos); return out end
    out[#out + 1] = string.sub(s, pos, i - 1)
    pos = i + 1
  end
end
local a = 5
for k = 3, #KEYS do
  local dels, sets = ARGV[a], ARGV[a + 1]
  a = a + 2
  if redis.call('EXISTS', KEYS[k]) == 1 then
    if dels ~= '' then for _, f in ipairs(split(dels)) do redis.call('HDEL', KEYS[k], f) end end
    if sets ~= '' then redis.call('HSET', KEYS[k], unpack(split(sets))) end
  end
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
return redis.call('INCR', KEYS[1])
`;

const SEPARATOR = '\x1f';

/** Writes a plan atomically; 'conflict' when the partition changed since `read`. Returns the new epoch. */
export async function writeReset(
  redis: Redis,
  at: { prefix: string; group: string; topic: string; partition: number },
  read: Pick<PartitionSnapshot, 'epoch' | 'checkpointText'>,
  plan: WatermarkResetPlan,
): Promise<{ epoch: string } | 'conflict'> {
  const keys = [
    epochKey(at.prefix, at.group, at.topic, at.partition),
    checkpointKey(at.prefix, at.group, at.topic),
  ];
  const argv = [read.epoch ?? '', String(at.partition), read.checkpointText, JSON.stringify(plan.after)];
  for (const c of plan.changes) {
    keys.push(c.key);
    argv.push(c.deleteFields.join(SEPARATOR), Object.entries(c.setFields).flat().join(SEPARATOR));
  }
  try {
    // One array argument (ioredis flattens it): a spread of many hashes could overflow the JS stack.
    const epoch = await redis.eval(RESET_SCRIPT, keys.length, keys.concat(argv));
    return { epoch: String(epoch) };
  } catch (err) {
    if (String((err as Error).message).includes('CONFLICT')) return 'conflict';
    throw new FlywheelError('FW_REDIS_UNAVAILABLE', `watermark reset failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export interface ResetOptions {
  topic: string;
  partition: number;
  group?: string;
  /** Tiles starting at or after this (epoch ms) are removed; default now + DEFAULT_CUTOFF_AHEAD_MS. */
  cutoff?: number;
  dryRun?: boolean;
}

/**
 * Recomputes a partition's max event time from its tiles after a far-future event moved it (see
 * docs/operations.md). Re-reads and re-plans when the partition changed between read and write.
 */
export async function resetWatermark(
  deps: PartitionsDeps,
  opts: ResetOptions,
): Promise<WatermarkResetReport> {
  const views = viewsOn(deps.views, opts.topic);
  const group = opts.group ?? DEFAULT_GROUP;
  const cutoff = opts.cutoff ?? Date.now() + DEFAULT_CUTOFF_AHEAD_MS;
  const latenessMs = latenessOn(deps.views, opts.topic);
  return withConnections(deps, async (c) => {
    await requireKafkaTopics(c.admin, [opts.topic]);
    const count = await partitionCount(c.admin, opts.topic);
    if (opts.partition >= count)
      throw badRequest(
        `partition ${opts.partition} is out of range: ${opts.topic} has partitions 0-${count - 1}`,
      );
    const at = { prefix: deps.config.redis.keyPrefix, group, topic: opts.topic, partition: opts.partition };
    const where = { ...at, partitionCount: count };
    const version = `repair.${randomBytes(6).toString('base64url')}`;
    const dryRun = opts.dryRun ?? false;
    let read = await readPartition(c.redis, where, views);
    for (let attempt = 1; attempt <= RESET_ATTEMPTS; attempt++) {
      const { checkpoint, hashes } = read;
      const plan = planWatermarkReset({ checkpoint, hashes, cutoff, latenessMs, version });
      const report = { topic: opts.topic, partition: opts.partition, group, dryRun, plan };
      if (plan.noop || dryRun) return { ...report, epoch: { before: read.epoch, after: read.epoch } };
      const written = await writeReset(c.redis, at, read, plan);
      if (written !== 'conflict') return { ...report, epoch: { before: read.epoch, after: written.epoch } };
      deps.logger.info('partition changed during the reset; reading it again', { attempt });
      read = await rereadAfterConflict(c.redis, where, views, read);
    }
    throw new FlywheelError(
      'FW_FENCED',
      `${opts.topic}/${opts.partition} changed under the reset ${RESET_ATTEMPTS} times (a processor is committing to it); run it again, or stop the features processor first`,
    );
  });
}

export interface PartitionsArgs {
  command: 'status' | 'reset-watermark';
  group: string;
  topics: string[];
  partition?: number;
  cutoff?: number;
  dryRun: boolean;
  json: boolean;
}

export const PARTITIONS_USAGE =
  'usage: flywheel partitions [--group G] [--topic T]… [--json] | partitions reset-watermark --topic T --partition P [--group G] [--before <ISO time|epoch ms>] [--dry-run] [--json]';

/** `--before`: an epoch-ms integer or an ISO-8601 time (a date first: Date.parse takes too much else). */
export function parseTimeArg(text: string, flag: string): number {
  let ms = Number.NaN;
  if (/^-?\d+$/.test(text)) ms = Number(text);
  else if (/^\d{4}-\d{2}-\d{2}/.test(text)) ms = Date.parse(text);
  if (!Number.isSafeInteger(ms))
    throw badRequest(`${flag} must be an ISO-8601 time or epoch ms, got "${text}"`);
  return ms;
}

function parsePartitionArg(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n))
    throw badRequest(`--partition must be a non-negative integer, got "${text}"`);
  return n;
}

const VALUE_FLAGS = new Set(['--group', '--topic', '--partition', '--before']);
const SWITCHES = new Set(['--dry-run', '--json']);

/** Flags to values (repeatable ones collect); refuses what it does not know, with the usage. */
function readFlags(argv: readonly string[]): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (SWITCHES.has(name!) && inline === undefined) {
      flags.set(name!, ['true']);
      continue;
    }
    if (!VALUE_FLAGS.has(name!)) throw badRequest(`unknown argument "${arg}"; ${PARTITIONS_USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('--')))
      throw badRequest(`${name} needs a value; ${PARTITIONS_USAGE}`);
    flags.set(name!, [...(flags.get(name!) ?? []), value]);
  }
  return flags;
}

function single(flags: Map<string, string[]>, name: string): string | undefined {
  const values = flags.get(name);
  if (values && values.length > 1) throw badRequest(`${name} is given ${values.length} times; give it once`);
  return values?.[0];
}

export function parsePartitionsArgs(argv: readonly string[]): PartitionsArgs {
  const reset = argv[0] === 'reset-watermark';
  const flags = readFlags(reset ? argv.slice(1) : argv);
  const base = {
    group: single(flags, '--group') ?? DEFAULT_GROUP,
    topics: flags.get('--topic') ?? [],
    dryRun: flags.has('--dry-run'),
    json: flags.has('--json'),
  };
  if (!reset) {
    for (const f of ['--partition', '--before', '--dry-run'])
      if (flags.has(f)) throw badRequest(`${f} belongs to "partitions reset-watermark"; ${PARTITIONS_USAGE}`);
    return { command: 'status', ...base };
  }
  const topic = single(flags, '--topic');
  if (topic === undefined) throw badRequest(`reset-watermark needs --topic; ${PARTITIONS_USAGE}`);
  const partition = single(flags, '--partition');
  if (partition === undefined) throw badRequest(`reset-watermark needs --partition; ${PARTITIONS_USAGE}`);
  const before = single(flags, '--before');
  return {
    command: 'reset-watermark',
    ...base,
    topics: [topic],
    partition: parsePartitionArg(partition),
    ...(before === undefined ? {} : { cutoff: parseTimeArg(before, '--before') }),
  };
}

/** The `flywheel partitions …` command: parses, runs, writes the table, the report or JSON. */
export async function runPartitionsCommand(
  argv: readonly string[],
  deps: PartitionsDeps & { write: (text: string) => void },
): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    deps.write(`${PARTITIONS_USAGE}\n`);
    return;
  }
  const args = parsePartitionsArgs(argv);
  if (args.command === 'status') {
    const rows = await partitionStatus(deps, { group: args.group, topics: args.topics });
    deps.write(args.json ? `${JSON.stringify(rows, null, 2)}\n` : formatStatusTable(rows));
    return;
  }
  const report = await resetWatermark(deps, {
    topic: args.topics[0]!,
    partition: args.partition!,
    group: args.group,
    dryRun: args.dryRun,
    ...(args.cutoff === undefined ? {} : { cutoff: args.cutoff }),
  });
  deps.write(args.json ? `${JSON.stringify(resetReportJson(report), null, 2)}\n` : formatResetReport(report));
}
