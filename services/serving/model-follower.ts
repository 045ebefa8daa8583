import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { createConsumer, subscribeWithRetry } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import { MODELS_TOPIC, modelEventFromAvro } from '../registry/index.ts';

/**
 * Follows `ml.models` from its end, so an alias move reaches serving in the time Kafka takes to deliver
 * it: PROMOTED and ROLLED_BACK make the model cache re-resolve that model at once. Every serving
 * process must see every event, so each joins a group of its own (it keeps no offsets: a restarted
 * process resolves every model afresh anyway). A lost event costs at most the cache's poll interval.
 */
export function createModelFollower(deps: {
  kafka: Kafka;
  codec: RegistryCodec;
  logger: Logger;
  groupPrefix: string;
  onMove(model: string): Promise<void>;
}) {
  let consumer: Consumer | null = null;
  let joined!: () => void;
  const following = new Promise<void>((r) => {
    joined = r;
  });
  return {
    /** Settles once the follower has joined its group: moves after this are followed by event. */
    following,
    async start(): Promise<void> {
      const c = createConsumer(deps.kafka, `${deps.groupPrefix}-serving-${randomBytes(4).toString('hex')}`, {
        maxWaitTimeInMs: 50,
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, () => joined());
      await c.connect();
      await subscribeWithRetry(c, { topics: [MODELS_TOPIC], fromBeginning: false });
      await c.run({
        eachMessage: async ({ message }) => {
          const [d] = await deps.codec.decodeMany([message.value], { topic: MODELS_TOPIC });
          if (!d?.ok) return;
          const e = modelEventFromAvro(d.value);
          if (e.type !== 'PROMOTED' && e.type !== 'ROLLED_BACK') return;
          deps.logger.info('alias moved: re-resolving', {
            model: e.model,
            version: e.version,
            event: e.type,
          });
          await deps.onMove(e.model);
        },
      });
    },
    async stop(): Promise<void> {
      const c = consumer;
      consumer = null;
      await c?.disconnect().catch(() => {});
    },
  };
}
