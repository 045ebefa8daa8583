import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { parseFieldName } from '../../services/core/windows/tiles.ts';
import type { CompiledView } from '../../services/features/definition.ts';
import { decodeTile } from '../../services/features/engine/tile-codec.ts';
import {
  FINAL_BEFORE_FIELD,
  parseCheckpoint,
  VERSION_FIELD,
} from '../../services/features/engine/tile-store.ts';
import { createConsumer } from '../../services/platform/kafka.ts';
import type { RegistryCodec } from '../../services/platform/registry-codec.ts';
import { HOSTILE_CLASSES, HOSTILE_HEADER } from './soak-hostile.ts';

/**
 * What the soak checks after the runs, from the stores themselves: the topic as the log holds it (every
 * record read back), the dead-letter topic, Redis under each run's prefix, and the ClickHouse digests
 * the workers wrote (features-worker.ts `digest` mode).
 */

/** Reads every record of `topic` below its current end offsets (a throwaway group, from the start). */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  onBatch: (partition: number, messages: readonly KafkaMessage[]) => Promise<void> | void,
  onEnds: (high: readonly number[]) => void = () => undefined,
): Promise<number[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const high: number[] = [];
  for (const e of ends) high[e.partition] = Number(e.high);
  onEnds(high);
  const reached = high.map(() => 0);
  const complete = () => high.every((h, p) => reached[p]! >= h);
  if (complete()) return high;
  const consumer = createConsumer(kafka, `soak-reader-${randomBytes(4).toString('hex')}`, {
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let failure: unknown;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        try {
          const p = batch.partition;
          const wanted = batch.messages.filter((m) => Number(m.offset) < high[p]!);
          if (wanted.length > 0) await onBatch(p, wanted);
          if (batch.messages.length > 0)
            reached[p] = Math.max(reached[p]!, Number(batch.messages.at(-1)!.offset) + 1);
        } catch (err) {
          failure = err;
          finish();
        }
        if (complete()) finish();
      },
    });
    const timeout = setTimeout(() => {
      failure ??= new Error(
        `reading ${topic} back timed out (reached ${reached.join(',')} of ${high.join(',')})`,
      );
      finish();
    }, 600_000);
    await finished;
    clearTimeout(timeout);
    if (failure) throw failure;
  } finally {
    await consumer.disconnect();
  }
  return high;
}

const header = (m: KafkaMessage, name: string): string | undefined => {
  const v = m.headers?.[name];
  if (v === undefined) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : Array.isArray(v) ? String(v[0]) : String(v);
};

export const GOOD = 1;
export const HOSTILE = 2;
/** A copy the processor itself wrote back to the topic (rerouted to the partition owning its entity). */
export const COPY = 3;
const REROUTED_FROM_HEADER = 'flywheel-rerouted-from';

/** The topic as the log holds it: each record's kind, the good events per entity, the hostile ones. */
export interface LogContents {
  high: number[];
  /** Per partition, per offset: GOOD, HOSTILE, or 0 (undecodable without a hostile header). */
  kinds: Uint8Array[];
  goodRecords: number;
  /** Good events per entity (records: a duplicate written by a producer retry counts twice). */
  entityCounts: Map<string, number>;
  /** Event ids found at more than one offset (producer duplicates in the log itself). */
  duplicateEventIds: number;
  hostile: Array<{ partition: number; offset: number; cls: string }>;
  /** Rerouted copies the processor wrote (none are expected: every record is on its owner partition). */
  copies: number;
  unexplained: number;
}

export async function readLog(kafka: Kafka, codec: RegistryCodec, topic: string): Promise<LogContents> {
  const kinds: Uint8Array[] = [];
  const entityCounts = new Map<string, number>();
  const seen = new Set<string>();
  const out: LogContents = {
    high: [],
    kinds,
    goodRecords: 0,
    entityCounts,
    duplicateEventIds: 0,
    hostile: [],
    copies: 0,
    unexplained: 0,
  };
  const onBatch = async (partition: number, messages: readonly KafkaMessage[]) => {
    const decoded = await codec.decodeMany<{ user_id: string; event_id: string }>(
      messages.map((m) => m.value),
    );
    messages.forEach((m, i) => {
      const offset = Number(m.offset);
      if (header(m, REROUTED_FROM_HEADER) !== undefined) {
        kinds[partition]![offset] = COPY;
        out.copies++;
        return;
      }
      const cls = header(m, HOSTILE_HEADER);
      if (cls !== undefined) {
        kinds[partition]![offset] = HOSTILE;
        out.hostile.push({ partition, offset, cls });
        return;
      }
      const d = decoded[i]!;
      if (!d.ok) {
        out.unexplained++;
        return;
      }
      kinds[partition]![offset] = GOOD;
      out.goodRecords++;
      entityCounts.set(d.value.user_id, (entityCounts.get(d.value.user_id) ?? 0) + 1);
      if (seen.has(d.value.event_id)) out.duplicateEventIds++;
      else seen.add(d.value.event_id);
    });
  };
  out.high = await readTopic(kafka, topic, onBatch, (high) => {
    for (let p = 0; p < high.length; p++) kinds[p] = new Uint8Array(high[p]!);
  });
  out.hostile.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return out;
}

export interface DeadLetterRecord {
  dlqOffset: number;
  source: string;
  code: string;
  message: string;
}

/** The dead letters at or after `fromOffset` of `<topic>.dlq` (one partition). */
export async function readDeadLetters(
  kafka: Kafka,
  topic: string,
  fromOffset = 0,
): Promise<{ letters: DeadLetterRecord[]; end: number }> {
  const letters: DeadLetterRecord[] = [];
  const high = await readTopic(kafka, `${topic}.dlq`, (_p, messages) => {
    for (const m of messages) {
      if (Number(m.offset) < fromOffset) continue;
      letters.push({
        dlqOffset: Number(m.offset),
        source: header(m, 'flywheel-source') ?? '',
        code: header(m, 'flywheel-error-code') ?? '',
        message: header(m, 'flywheel-error-message') ?? '',
      });
    }
  });
  return { letters, end: high.reduce((a, b) => a + b, 0) };
}

export interface DeadLetterCheck {
  /** Distinct source records dead-lettered (deduplicated by source partition/offset). */
  unique: number;
  raw: number;
  exact: boolean;
  /** Per hostile class: how many the log holds, how many got a dead letter, and with which codes. */
  classes: Record<
    string,
    { expected_code: string; injected: number; with_expected_code: number; codes: Record<string, number> }
  >;
  /** Dead letters for records that are not hostile, by code, and a few examples. */
  unexpected: Record<string, number>;
  unexpected_examples: Array<{ source: string; code: string; message: string }>;
  /** Classes whose every record got exactly its expected code. */
  passing_classes: string[];
  failing_classes: string[];
}

export function checkDeadLetters(
  topic: string,
  log: LogContents,
  letters: readonly DeadLetterRecord[],
): DeadLetterCheck {
  const bySource = new Map<string, { codes: Set<string>; message: string }>();
  for (const l of letters) {
    const entry = bySource.get(l.source) ?? { codes: new Set<string>(), message: l.message };
    entry.codes.add(l.code);
    bySource.set(l.source, entry);
  }
  const classes: DeadLetterCheck['classes'] = {};
  const hostileSources = new Set<string>();
  for (const h of log.hostile) {
    const expected = HOSTILE_CLASSES.find((c) => c.name === h.cls)?.code ?? '?';
    classes[h.cls] ??= { expected_code: expected, injected: 0, with_expected_code: 0, codes: {} };
    const c = classes[h.cls]!;
    c.injected++;
    const source = `${topic}/${h.partition}/${h.offset}`;
    hostileSources.add(source);
    const got = bySource.get(source);
    const codes = got ? [...got.codes] : ['(none)'];
    for (const code of codes) c.codes[code] = (c.codes[code] ?? 0) + 1;
    if (got && got.codes.size === 1 && got.codes.has(expected)) c.with_expected_code++;
  }
  const unexpected: Record<string, number> = {};
  const examples: DeadLetterCheck['unexpected_examples'] = [];
  for (const [source, { codes, message }] of bySource) {
    if (hostileSources.has(source)) continue;
    for (const code of codes) {
      unexpected[code] = (unexpected[code] ?? 0) + 1;
      if (examples.length < 5) examples.push({ source, code, message });
    }
  }
  const passing = Object.entries(classes)
    .filter(([, c]) => c.with_expected_code === c.injected)
    .map(([n]) => n);
  const failing = Object.keys(classes).filter((n) => !passing.includes(n));
  return {
    unique: bySource.size,
    raw: letters.length,
    exact: failing.length === 0 && Object.keys(unexpected).length === 0,
    classes,
    unexpected,
    unexpected_examples: examples,
    passing_classes: passing,
    failing_classes: failing,
  };
}

/** A run's Redis: tile hashes without write markers, checkpoints without `offline`, per-entity counts. */
export interface RedisContents {
  /** Key (without the run's prefix) → canonical JSON of its content. */
  entries: Map<string, string>;
  /** Events per entity from the count aggregation of `countView`'s base-resolution tiles. */
  counts: Map<string, number>;
  checkpoints: Record<string, Record<string, unknown>>;
}

export async function redisContents(
  redis: Redis,
  prefix: string,
  group: string,
  topic: string,
  countView: CompiledView,
): Promise<RedisContents> {
  const entries = new Map<string, string>();
  const counts = new Map<string, number>();
  const countSlot = countView.slots.find((s) => s.kind === 'count');
  if (!countSlot) throw new Error(`view ${countView.id} has no count aggregation`);
  const countPrefix = `t:${countView.id}:`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}t:*`, 'COUNT', 2_000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const k of keys) pipeline.hgetall(k);
    const values = (await pipeline.exec()) ?? [];
    keys.forEach((k, i) => {
      const key = k.slice(prefix.length);
      const {
        [FINAL_BEFORE_FIELD]: _f,
        [VERSION_FIELD]: _v,
        ...content
      } = values[i]![1] as Record<string, string>;
      entries.set(key, JSON.stringify(Object.entries(content).sort(([a], [b]) => (a < b ? -1 : 1))));
      if (!key.startsWith(countPrefix)) return;
      let n = 0;
      for (const [field, text] of Object.entries(content)) {
        if (field.startsWith('_')) continue;
        if (parseFieldName(field).res !== countView.tileMs) continue;
        n += decodeTile(countView, text).irs[countSlot.index] as number;
      }
      counts.set(key.slice(countPrefix.length), n);
    });
  } while (cursor !== '0');
  const checkpoints: RedisContents['checkpoints'] = {};
  for (const [p, v] of Object.entries(await redis.hgetall(`${prefix}cp:${group}:${topic}`))) {
    // `offline` is how far ClickHouse had got at the last commit: timing, not content.
    const { offline: _o, ...cp } = parseCheckpoint(v);
    checkpoints[p] = cp as unknown as Record<string, unknown>;
  }
  return { entries, counts, checkpoints };
}

export function compareRedis(a: RedisContents, b: RedisContents) {
  let missing = 0;
  let extra = 0;
  let differing = 0;
  const examples: string[] = [];
  for (const [k, v] of b.entries) {
    const mine = a.entries.get(k);
    if (mine === undefined) {
      missing++;
      if (examples.length < 5) examples.push(`missing ${k}`);
    } else if (mine !== v) {
      differing++;
      if (examples.length < 5) examples.push(`differs ${k}`);
    }
  }
  for (const k of a.entries.keys()) {
    if (!b.entries.has(k)) {
      extra++;
      if (examples.length < 5) examples.push(`extra ${k}`);
    }
  }
  const checkpointsEqual =
    JSON.stringify(sortDeep(a.checkpoints)) === JSON.stringify(sortDeep(b.checkpoints));
  if (!checkpointsEqual && examples.length < 8)
    examples.push(`checkpoints: ${JSON.stringify(a.checkpoints)} vs ${JSON.stringify(b.checkpoints)}`);
  return {
    keys: a.entries.size,
    missing,
    extra,
    differing,
    checkpoints_equal: checkpointsEqual,
    equal: missing === 0 && extra === 0 && differing === 0 && checkpointsEqual,
    examples,
  };
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, sortDeep(x)]),
    );
  return v;
}

/** Per-entity counts against expected ones: events missing and events counted too often. */
export function compareCounts(got: Map<string, number>, expected: Map<string, number>) {
  let lost = 0;
  let doubled = 0;
  const examples: string[] = [];
  for (const [entity, n] of expected) {
    const g = got.get(entity) ?? 0;
    if (g < n) lost += n - g;
    if (g > n) doubled += g - n;
    if (g !== n && examples.length < 5) examples.push(`${entity}: ${g} instead of ${n}`);
  }
  let unexpectedEntities = 0;
  let unexpectedEvents = 0;
  for (const [entity, g] of got) {
    if (expected.has(entity) || g === 0) continue;
    unexpectedEntities++;
    unexpectedEvents += g;
  }
  return {
    lost,
    doubled,
    examples,
    unexpected_entities: unexpectedEntities,
    unexpected_events: unexpectedEvents,
  };
}

/** A ClickHouse digest (features-worker.ts `digest`): events per partition/offset, tiles by key. */
export interface ClickHouseDigest {
  events: Map<number, Map<number, string>>;
  eventRows: number;
  tiles: Map<string, string>;
}

export function readDigest(file: string): ClickHouseDigest {
  const events = new Map<number, Map<number, string>>();
  let eventRows = 0;
  for (const line of readFileSync(`${file}.events`, 'utf8').split('\n')) {
    if (!line) continue;
    const [p, o, h] = line.split('\t');
    let m = events.get(Number(p));
    if (!m) {
      m = new Map();
      events.set(Number(p), m);
    }
    m.set(Number(o), h!);
    eventRows++;
  }
  const tiles = new Map<string, string>();
  for (const line of readFileSync(`${file}.tiles`, 'utf8').split('\n')) {
    if (!line) continue;
    const cut = nthIndex(line, '\t', 5);
    tiles.set(line.slice(0, cut), line.slice(cut + 1));
  }
  return { events, eventRows, tiles };
}

function nthIndex(s: string, c: string, n: number): number {
  let i = -1;
  for (let k = 0; k < n; k++) i = s.indexOf(c, i + 1);
  return i;
}

export function compareClickHouse(faulted: ClickHouseDigest, reference: ClickHouseDigest, log: LogContents) {
  let missingVsLog = 0;
  let hostileInClickHouse = 0;
  let unknownRows = 0;
  for (let p = 0; p < log.kinds.length; p++) {
    const kinds = log.kinds[p]!;
    const rows = faulted.events.get(p) ?? new Map<number, string>();
    for (let o = 0; o < kinds.length; o++) if (kinds[o] === GOOD && !rows.has(o)) missingVsLog++;
    for (const o of rows.keys()) {
      if (kinds[o] === HOSTILE) hostileInClickHouse++;
      else if (kinds[o] !== GOOD && kinds[o] !== COPY) unknownRows++;
    }
  }
  let eventsMissing = 0;
  let eventsExtra = 0;
  let eventsDiffering = 0;
  const examples: string[] = [];
  for (const [p, rows] of reference.events) {
    const mine = faulted.events.get(p) ?? new Map<number, string>();
    for (const [o, h] of rows) {
      const m = mine.get(o);
      if (m === undefined) eventsMissing++;
      else if (m !== h) eventsDiffering++;
      if (m !== h && examples.length < 5) examples.push(`event ${p}/${o}: ${m ?? 'missing'} vs ${h}`);
    }
  }
  for (const [p, rows] of faulted.events) {
    const theirs = reference.events.get(p) ?? new Map<number, string>();
    for (const o of rows.keys()) if (!theirs.has(o)) eventsExtra++;
  }
  let tilesMissing = 0;
  let tilesExtra = 0;
  let tilesDiffering = 0;
  for (const [k, v] of reference.tiles) {
    const m = faulted.tiles.get(k);
    if (m === undefined) tilesMissing++;
    else if (m !== v) tilesDiffering++;
    if (m !== v && examples.length < 8) examples.push(`tile ${k}: ${m ?? 'missing'} vs ${v}`);
  }
  for (const k of faulted.tiles.keys()) if (!reference.tiles.has(k)) tilesExtra++;
  return {
    events: faulted.eventRows,
    events_reference: reference.eventRows,
    events_missing_vs_log: missingVsLog,
    hostile_rows: hostileInClickHouse,
    unknown_rows: unknownRows,
    events_missing: eventsMissing,
    events_extra: eventsExtra,
    events_differing: eventsDiffering,
    tiles: faulted.tiles.size,
    tiles_reference: reference.tiles.size,
    tiles_missing: tilesMissing,
    tiles_extra: tilesExtra,
    tiles_differing: tilesDiffering,
    equal: eventsMissing + eventsExtra + eventsDiffering + tilesMissing + tilesExtra + tilesDiffering === 0,
    examples,
  };
}
