import type { Producer } from 'kafkajs';
import { chunkBySize, messageBytes } from '../../platform/kafka.ts';
import { formatOrigin, type Origin, REROUTED_FROM_HEADER } from './admission.ts';

/**
 * Sends records that another producer's partitioner put on the wrong partition to the partition that
 * owns their entity, on the same topic (as Kafka Streams does through repartition topics, without a
 * second topic: the owner then sees the copy in its own offset order, like any other record).
 *
 * A copy carries its origin (partition, offset, group) in a header. It is sent before the sender's
 * checkpoint is committed, so a crash can send it twice; the owner skips a copy whose origin offset is
 * not above the highest it has decided from that partition (docs/partitioning.md shows why that is
 * exact). Other consumer groups skip the copy: each group reroutes the original itself.
 */
export interface Reroute {
  to: number;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  origin: Origin;
}

export function createRerouter(producer: Pick<Producer, 'send'>) {
  return {
    async send(topic: string, reroutes: readonly Reroute[]): Promise<void> {
      const messages = reroutes.map((r) => ({
        partition: r.to,
        key: r.key,
        value: r.value,
        // The original's timestamp: the owner measures the event time's skew against the same clock.
        timestamp: r.timestamp,
        headers: { [REROUTED_FROM_HEADER]: formatOrigin(r.origin) },
      }));
      // In order, one request after another: the owner's duplicate rule relies on offset order.
      for (const chunk of chunkBySize(messages, messageBytes))
        await producer.send({ topic, acks: -1, messages: chunk });
    },
  };
}

export type Rerouter = ReturnType<typeof createRerouter>;
