import type { Consumer, Kafka, Producer } from 'kafkajs';
import { createDeadLetterWriter } from './dead-letter.ts';
import { FlywheelError } from './errors.ts';
import { createConsumer, createProducer, ensureTopics, subscribeWithRetry } from './kafka.ts';
import type { Logger } from './logger.ts';
import type { RegistryCodec } from './registry-codec.ts';

/**
 * A durable, one-at-a-time consumer of a control topic (`ml.retrain` for the trainer, `ml.models` for
 * the deployer): each record is handled to the end before its offset is committed, so a process killed
 * mid-record gets it again after a restart (the handlers are idempotent by run id). A record that does
 * not decode, or that the handler refuses with FW_EVENT_INVALID, goes to `<topic>.dlq` with its reason
 * and is committed; any other failure (a store away) is thrown to kafkajs, which retries the record.
 * Handling can take minutes (a model trains): heartbeats go out meanwhile.
 */
export interface EventConsumerOptions {
  kafka: Kafka;
  codec: RegistryCodec;
  logger: Logger;
  groupId: string;
  topic: string;
  /** Also created when missing (the topics the handler publishes to). */
  alsoEnsure?: readonly string[];
  service: string;
  handle(value: Record<string, unknown>, producer: Producer): Promise<void>;
  /** Called when handling fails with anything but FW_EVENT_INVALID: kafkajs retries the record. */
  onFailure?(err: Error): void;
}

const HEARTBEAT_MS = 3_000;

export function createEventConsumer(o: EventConsumerOptions) {
  let consumer: Consumer | null = null;
  let producer: Producer | null = null;
  let busy: Promise<void> = Promise.resolve();

  async function start(): Promise<Producer> {
    const admin = o.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [
        { topic: o.topic, partitions: 1, withDeadLetter: true },
        ...(o.alsoEnsure ?? []).map((topic) => ({ topic, partitions: 1 })),
      ]);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const p = createProducer(o.kafka);
    await p.connect();
    producer = p;
    const dlq = createDeadLetterWriter({ producer: p, codec: o.codec, service: o.service });
    const c = createConsumer(o.kafka, o.groupId);
    consumer = c;
    await c.connect();
    await subscribeWithRetry(c, { topics: [o.topic], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message, heartbeat }) => {
        const beat = setInterval(() => void heartbeat().catch(() => {}), HEARTBEAT_MS);
        let done!: () => void;
        busy = new Promise((r) => {
          done = r;
        });
        try {
          const [decoded] = await o.codec.decodeMany([message.value], { topic });
          let refusal = decoded!.ok ? null : decoded!.error;
          if (decoded!.ok) {
            try {
              await o.handle(decoded!.value, p);
            } catch (err) {
              if (!(err instanceof FlywheelError && err.code === 'FW_EVENT_INVALID')) throw err;
              refusal = err;
            }
          }
          if (refusal) {
            o.logger.warn('record refused: dead-lettered', {
              topic,
              offset: message.offset,
              error: refusal.message,
            });
            await dlq.send([
              {
                topic,
                partition,
                offset: Number(message.offset),
                key: message.key,
                value: message.value,
                error: refusal,
              },
            ]);
          }
          await c.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        } catch (err) {
          o.onFailure?.(err as Error);
          throw err;
        } finally {
          clearInterval(beat);
          done();
        }
      },
    });
    return p;
  }

  return {
    start,
    /** Waits for the record in hand, then disconnects. */
    async stop(): Promise<void> {
      const c = consumer;
      consumer = null;
      await c?.stop().catch(() => {});
      await busy;
      await c?.disconnect().catch(() => {});
      await producer?.disconnect().catch(() => {});
      producer = null;
    },
  };
}
