import { readFileSync } from 'node:fs';
import type { Producer } from 'kafkajs';
import type { FlywheelError } from './errors.ts';
import { chunkBySize, messageBytes } from './kafka.ts';
import type { RegistryCodec } from './registry-codec.ts';

/**
 * Dead-letter writer: a record a consumer cannot process goes to `<topic>.dlq` as the Avro envelope in
 * schemas/platform/dead-letter.avsc (the original bytes, where it came from, the coded error), with the
 * error also in headers for tools that do not decode. Delivery is at-least-once; the (topic, partition,
 * offset) triple identifies a record, so a consumer of the DLQ can drop a replayed duplicate.
 */
export interface DeadLetter {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  error: FlywheelError;
}

/**
 * The envelope is a platform schema, not a domain contract, so it is read by its own path rather than
 * through schemas/catalog.ts (the platform imports no domain contract).
 */
const DEAD_LETTER_SCHEMA = new URL('../../schemas/platform/dead-letter.avsc', import.meta.url);

export function createDeadLetterWriter(deps: { producer: Producer; codec: RegistryCodec; service: string }) {
  const schema = JSON.parse(readFileSync(DEAD_LETTER_SCHEMA, 'utf8')) as object;

  return {
    async send(letters: readonly DeadLetter[]): Promise<void> {
      if (letters.length === 0) return;
      const byTopic = new Map<string, DeadLetter[]>();
      for (const l of letters) {
        const list = byTopic.get(`${l.topic}.dlq`) ?? [];
        list.push(l);
        byTopic.set(`${l.topic}.dlq`, list);
      }
      const now = Date.now();
      for (const [dlqTopic, list] of byTopic) {
        const encode = await deps.codec.topicEncoder(dlqTopic, schema);
        const messages = list.map((l) => toMessage(l, encode, now, deps.service));
        for (const chunk of chunkBySize(messages, messageBytes))
          await deps.producer.send({ topic: dlqTopic, messages: chunk, acks: -1 });
      }
    },
  };
}

/**
 * Bytes of the original value (and key) a dead letter carries. A record near Kafka's 1 MiB limit plus
 * its envelope would exceed it, could never be dead-lettered, and would stall its partition: past these
 * limits the letter keeps a prefix and says so in `flywheel-truncated`; `flywheel-source` still names
 * the original, which stays in the source topic for its retention.
 */
export const MAX_DEAD_LETTER_VALUE_BYTES = 256 * 1024;
export const MAX_DEAD_LETTER_KEY_BYTES = 16 * 1024;

function toMessage(l: DeadLetter, encode: (value: object) => Buffer, now: number, service: string) {
  const key = prefix(l.key, MAX_DEAD_LETTER_KEY_BYTES);
  const value = prefix(l.value, MAX_DEAD_LETTER_VALUE_BYTES);
  const truncated = [
    key !== l.key ? `key:${l.key!.length}` : '',
    value !== l.value ? `value:${l.value!.length}` : '',
  ].filter(Boolean);
  return {
    key,
    value: encode({
      source_topic: l.topic,
      source_partition: l.partition,
      source_offset: l.offset,
      key,
      value,
      error_code: l.error.code,
      error_message: l.error.message.slice(0, 4_000),
      failed_at: now,
      service,
      attempts: 1,
    }),
    headers: {
      'flywheel-error-code': l.error.code,
      'flywheel-error-message': l.error.message.slice(0, 1_000),
      'flywheel-source': `${l.topic}/${l.partition}/${l.offset}`,
      ...(truncated.length > 0 ? { 'flywheel-truncated': truncated.join(',') } : {}),
    },
  };
}

/** The first `max` bytes of `bytes` (the same buffer when it is short enough). */
function prefix(bytes: Buffer | null, max: number): Buffer | null {
  return bytes !== null && bytes.length > max ? bytes.subarray(0, max) : bytes;
}

export type DeadLetterWriter = ReturnType<typeof createDeadLetterWriter>;
