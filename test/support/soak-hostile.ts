import type { ShopOrder } from './shop-events.ts';
import { partitionOf } from './shop-events.ts';

/**
 * Hostile records of the fault soak: each class is ONE table entry — how to build the record and the
 * dead-letter error code the processor must give it. Every hostile record carries the header
 * `soak-hostile: <class>` (the processor ignores headers), so the harness finds each one in the log as
 * written, retries and all, and expects exactly those records on `<topic>.dlq`.
 *
 * Each record has exactly one defect; the rest is a valid shop order whose entity is `x<n>`, a user no
 * good event has, so a hostile record the processor wrongly folds shows up as an entity of its own
 * rather than as a miscount of a real user. Records go to the partition that owns their entity.
 */
export const HOSTILE_HEADER = 'soak-hostile';

export interface HostileRecord {
  key: string | null;
  value: Buffer;
  partition: number;
}

export interface HostileContext {
  partitions: number;
  /** Encodes a shop order with the topic's own schema (Confluent wire format). */
  encode(order: ShopOrder): Buffer;
  /** Encodes a shop order with a schema registered under ANOTHER subject (plus a field of its own). */
  encodeForeign(order: ShopOrder): Buffer;
  /** A schema id the registry does not know. */
  unknownSchemaId: number;
}

export interface HostileClass {
  readonly name: string;
  /** The dead-letter code (`flywheel-error-code` header) the processor must give it. */
  readonly code: string;
  build(ctx: HostileContext, order: ShopOrder): HostileRecord;
}

const owned = (ctx: HostileContext, order: ShopOrder, value: Buffer, key: string | null = order.user_id) => ({
  key,
  value,
  partition: partitionOf(order.user_id, ctx.partitions),
});

/** The classes; `order` is a fresh valid order (user `x<n>`, event time now) to spoil. */
export const HOSTILE_CLASSES: readonly HostileClass[] = [
  {
    name: 'not_avro',
    code: 'FW_DECODE_FAILED',
    build: (ctx, o) => owned(ctx, o, Buffer.from(`not avro: ${JSON.stringify(o)}`)),
  },
  {
    name: 'unknown_schema_id',
    code: 'FW_DECODE_FAILED',
    build: (ctx, o) => {
      const value = ctx.encode(o);
      value.writeInt32BE(ctx.unknownSchemaId, 1);
      return owned(ctx, o, value);
    },
  },
  {
    name: 'truncated_avro',
    code: 'FW_DECODE_FAILED',
    // Cut inside the fields, well before the event time: avsc reports a truncated buffer.
    build: (ctx, o) => {
      const value = ctx.encode(o);
      return owned(ctx, o, value.subarray(0, Math.floor(value.length / 2)));
    },
  },
  {
    name: 'oversized_value',
    code: 'FW_PAYLOAD_TOO_LARGE',
    // Valid Avro of a valid order, only too large: a 70,000-character merchant id (> 64 KiB).
    build: (ctx, o) => owned(ctx, o, ctx.encode({ ...o, merchant_id: `m${'9'.repeat(70_000)}` })),
  },
  {
    name: 'foreign_subject',
    code: 'FW_SCHEMA_SUBJECT_MISMATCH',
    build: (ctx, o) => owned(ctx, o, ctx.encodeForeign(o)),
  },
  {
    name: 'null_key',
    code: 'FW_KEY_MISMATCH',
    build: (ctx, o) => owned(ctx, o, ctx.encode(o), null),
  },
  {
    name: 'key_mismatch',
    code: 'FW_KEY_MISMATCH',
    build: (ctx, o) => owned(ctx, o, ctx.encode(o), `${o.user_id}-other`),
  },
  {
    name: 'event_time_5138',
    code: 'FW_EVENT_TIME_OUT_OF_BOUNDS',
    build: (ctx, o) => owned(ctx, o, ctx.encode({ ...o, ts: Date.UTC(5138, 0, 1) })),
  },
  {
    name: 'empty_user_id',
    code: 'FW_ENTITY_KEY_INVALID',
    build: (ctx, o) => {
      const bad = { ...o, user_id: '' };
      return owned(ctx, bad, ctx.encode(bad));
    },
  },
  {
    name: 'control_char_user_id',
    code: 'FW_ENTITY_KEY_INVALID',
    build: (ctx, o) => {
      const bad = { ...o, user_id: `${o.user_id}\u0007` };
      return owned(ctx, bad, ctx.encode(bad));
    },
  },
];

export function hostileClass(name: string): HostileClass {
  const c = HOSTILE_CLASSES.find((h) => h.name === name);
  if (!c)
    throw new Error(
      `unknown hostile class "${name}"; known: ${HOSTILE_CLASSES.map((h) => h.name).join(', ')}`,
    );
  return c;
}

/** The shop-order schema under another name with one more field: what a foreign subject holds. */
export function foreignSchema(shopOrder: object): object {
  const s = shopOrder as { fields: object[] };
  return {
    ...s,
    name: 'SoakForeignOrder',
    namespace: 'dev.flywheel.soak',
    doc: 'Registered under another subject than the soak topic: the processor must refuse it.',
    fields: [...s.fields, { name: 'soak_note', type: 'string', default: 'foreign' }],
  };
}
