import type { Producer } from 'kafkajs';
import { loadSchemaFile } from '../../schemas/catalog.ts';
import type { FlywheelError } from './errors.ts';
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

export function createDeadLetterWriter(deps: { producer: Producer; codec: RegistryCodec; service: string }) {
  const encoders = new Map<string, (value: object) => Buffer>();
  const schema = loadSchemaFile('platform/dead-letter.avsc');

  async function encoderFor(dlqTopic: string) {
    let encode = encoders.get(dlqTopic);
    if (!encode) {
      const { id } = await deps.codec.register(dlqTopic, schema);
      encode = await deps.codec.encoderFor(id);
      encoders.set(dlqTopic, encode);
    }
    return encode;
  }

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
      const topicMessages = await Promise.all(
        [...byTopic].map(async ([dlqTopic, list]) => {
          const encode = await encoderFor(dlqTopic);
          return {
            topic: dlqTopic,
            messages: list.map((l) => ({
              key: l.key,
              value: encode({
                source_topic: l.topic,
                source_partition: l.partition,
                source_offset: l.offset,
                key: l.key,
                value: l.value,
                error_code: l.error.code,
                error_message: l.error.message.slice(0, 4_000),
                failed_at: now,
                service: deps.service,
                attempts: 1,
              }),
              headers: {
                'flywheel-error-code': l.error.code,
                'flywheel-error-message': l.error.message.slice(0, 1_000),
                'flywheel-source': `${l.topic}/${l.partition}/${l.offset}`,
              },
            })),
          };
        }),
      );
      await deps.producer.sendBatch({ topicMessages, acks: -1 });
    },
  };
}

export type DeadLetterWriter = ReturnType<typeof createDeadLetterWriter>;
