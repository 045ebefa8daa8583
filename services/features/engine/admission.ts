import { entityKeyProblem, eventTimeProblem } from '../../core/contracts/event-bounds.ts';
import type { ErrorCode } from '../../platform/errors.ts';
import { ownerPartition } from '../../platform/partitioner.ts';
import type { DecodeResult } from '../../platform/registry-codec.ts';
import type { CompiledView } from '../definition.ts';
import type { SourceEvent } from './partition-state.ts';

/**
 * What the processor does with one record of a source topic, decided before anything is folded: fold
 * it, dead-letter it with a reason, send it on to the partition that owns its entity (another
 * producer's partitioner put it here), or skip it as another consumer group's rerouted copy. Pure: the
 * processor and its ClickHouse replay both decide through it, so they cannot disagree.
 *
 * The checks, in order: tombstone, size, decoding (wire format, schema id, the topic's own subject,
 * Avro), the entity key, the event time, the record key against the value's key field, the partition.
 */
export interface SourceRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** The record's Kafka timestamp (ms, as kafkajs gives it). */
  timestamp: string;
  /** Set on a copy the processor rerouted: where the original was, and which group rerouted it. */
  reroutedFrom?: Origin;
}

export interface Origin {
  partition: number;
  offset: number;
  group: string;
}

/** The header a rerouted copy carries: `<partition>/<offset>/<group>` of the original. */
export const REROUTED_FROM_HEADER = 'flywheel-rerouted-from';

export function formatOrigin(origin: Origin): string {
  return `${origin.partition}/${origin.offset}/${origin.group}`;
}

/** Parses the header; anything malformed reads as "not a copy" (and is then judged as a plain record). */
export function parseOrigin(header: unknown): Origin | undefined {
  const text = Buffer.isBuffer(header) ? header.toString('utf8') : typeof header === 'string' ? header : '';
  const match = /^(\d{1,9})\/(\d{1,16})\/(.+)$/s.exec(text);
  if (!match) return undefined;
  return { partition: Number(match[1]), offset: Number(match[2]), group: match[3]! };
}

export type Admission =
  | { kind: 'event'; event: SourceEvent; origin: Origin | undefined }
  | { kind: 'dead'; code: ErrorCode; message: string }
  | { kind: 'reroute'; to: number }
  | { kind: 'foreign-copy' };

export interface AdmissionContext {
  /** The consumer group deciding: only its own rerouted copies are its business. */
  group: string;
  partition: number;
  /** The topic's partition count, for the owner of a key. */
  partitions: number;
  /** The processor's clock; the receiving clock is the earlier of it and the record's timestamp. */
  now: number;
}

type Source = CompiledView['source'];

/** True when a record's value may be decoded at all (oversize values are refused undecoded). */
export function decodable(value: Buffer | null, source: Source): value is Buffer {
  return value !== null && value.length <= source.rules.maxRecordBytes;
}

export function admit(
  record: SourceRecord,
  decoded: DecodeResult<Record<string, unknown>> | undefined,
  source: Source,
  ctx: AdmissionContext,
): Admission {
  const origin = record.reroutedFrom;
  if (origin && origin.group !== ctx.group) return { kind: 'foreign-copy' };
  const { value } = record;
  if (value === null)
    return dead('FW_DECODE_FAILED', 'record has no value (a tombstone); a source topic carries events');
  if (value.length > source.rules.maxRecordBytes)
    return dead(
      'FW_PAYLOAD_TOO_LARGE',
      `record value is ${value.length} bytes; the limit for ${source.topic} is ${source.rules.maxRecordBytes}`,
    );
  if (!decoded) return dead('FW_DECODE_FAILED', 'record was not decoded');
  if (!decoded.ok) return dead(decoded.error.code, decoded.error.message);
  const fields = decoded.value;
  const rawEntity = fields[source.keyField];
  const entity =
    typeof rawEntity === 'number' || typeof rawEntity === 'bigint' ? String(rawEntity) : rawEntity;
  const keyProblem = entityKeyProblem(entity, source.rules.keyLimits);
  if (keyProblem) return dead('FW_ENTITY_KEY_INVALID', `${source.keyField}: ${keyProblem}`);
  const eventTime = toMillis(fields[source.timestampField]);
  const timeProblem = eventTimeProblem(eventTime, receivedAt(record, ctx.now), source.rules.bounds);
  if (timeProblem) return dead('FW_EVENT_TIME_OUT_OF_BOUNDS', `${source.timestampField}: ${timeProblem}`);
  const keyMismatch = recordKeyProblem(record.key, entity as string, source.keyField);
  if (keyMismatch) return dead('FW_KEY_MISMATCH', keyMismatch);
  const owner = ownerPartition(record.key!, ctx.partitions);
  if (owner !== ctx.partition) {
    if (origin)
      return dead(
        'FW_PARTITION_MISMATCH',
        `rerouted copy of ${formatOrigin(origin)} is on partition ${ctx.partition}, but its key now hashes to ${owner} of ${ctx.partitions} (did the partition count change?)`,
      );
    return { kind: 'reroute', to: owner };
  }
  return {
    kind: 'event',
    event: { offset: Number(record.offset), entity: entity as string, eventTime, record: fields },
    origin,
  };
}

function dead(code: ErrorCode, message: string): Admission {
  return { kind: 'dead', code, message };
}

function toMillis(value: unknown): number {
  if (typeof value === 'bigint') return Number(value);
  return typeof value === 'number' ? value : Number.NaN;
}

/**
 * The clock the future-skew bound is measured against: the record's Kafka timestamp (the broker's
 * append time on a LogAppendTime topic, else the producer's create time), but never later than the
 * processor's own clock, so a producer cannot excuse a future event time with a future timestamp.
 */
function receivedAt(record: SourceRecord, now: number): number {
  const ts = Number(record.timestamp);
  return Number.isFinite(ts) && ts > 0 ? Math.min(ts, now) : now;
}

/** The record key must be the entity's own: it decides the partition, and the partition owns tiles. */
function recordKeyProblem(key: Buffer | null, entity: string, keyField: string): string | undefined {
  if (key === null)
    return `record has no key; key it by ${keyField} (${JSON.stringify(entity)}) so one partition owns the entity`;
  if (key.length !== Buffer.byteLength(entity, 'utf8') || key.toString('utf8') !== entity)
    return `record key ${JSON.stringify(truncate(key.toString('utf8')))} differs from ${keyField} ${JSON.stringify(entity)}`;
  return undefined;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
