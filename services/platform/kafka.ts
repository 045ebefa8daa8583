import {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Producer,
} from 'kafkajs';
import type { ResolvedConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { withRetry } from './retry.ts';

/**
 * The platform's Kafka port. Services depend on these factories, never on kafkajs directly, so a
 * maintained client can replace kafkajs 2.2.4 behind them without touching the services.
 */
// kafkajs 2's default partitioner is the Java client's murmur2; we want it, without the banner.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export function createKafka(config: Readonly<ResolvedConfig>, logger: Logger, clientSuffix = ''): Kafka {
  const kafkaLog = logger.child({ component: 'kafka' });
  const options: KafkaConfig = {
    clientId: `${config.kafka.clientId}${clientSuffix ? `-${clientSuffix}` : ''}`,
    brokers: config.kafka.brokers,
    logLevel: logLevel.WARN,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        // kafkajs logs a rebalance as an ERROR on every join; keep it but do not shout.
        // Bounded producer retries are deliberate (callers answer 503 rather than hang): not a warning.
        if (String(message).startsWith('Limiting retries for the idempotent producer')) return;
        const fn =
          level <= logLevel.ERROR && !String(message).includes('rebalancing')
            ? kafkaLog.error
            : kafkaLog.warn;
        fn(String(message), rest);
      },
  };
  return new Kafka(options);
}

/** Idempotent producer: no duplicates from the producer's own retries, order kept per partition. */
export function createProducer(kafka: Kafka, opts: { transactionalId?: string } = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(opts.transactionalId ? { transactionalId: opts.transactionalId } : {}),
  });
}

export function createConsumer(
  kafka: Kafka,
  groupId: string,
  overrides: Partial<ConsumerConfig> = {},
): Consumer {
  return kafka.consumer({
    groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    rebalanceTimeout: 60_000,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
    ...overrides,
  });
}

/** Creates missing topics (and their dead-letter topics when asked); existing ones are left as they are. */
export async function ensureTopics(
  admin: Admin,
  topics: ReadonlyArray<{ topic: string; partitions: number; withDeadLetter?: boolean }>,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = topics.flatMap((t) => [
    { topic: t.topic, numPartitions: t.partitions },
    ...(t.withDeadLetter ? [{ topic: `${t.topic}.dlq`, numPartitions: 1 }] : []),
  ]);
  const missing = wanted.filter((t) => !existing.has(t.topic)).map((t) => ({ ...t, replicationFactor: -1 }));
  if (missing.length === 0) return;
  await admin.createTopics({ topics: missing, waitForLeaders: true });
}

/**
 * Subscribes, retrying the broker's transient "does not host this topic-partition" that a topic created
 * a moment ago can still answer while its metadata propagates (kafkajs marks it retriable but throws).
 */
export async function subscribeWithRetry(
  consumer: Consumer,
  subscription: { topics: string[]; fromBeginning: boolean },
): Promise<void> {
  await withRetry(() => consumer.subscribe(subscription), {
    retries: 8,
    initialDelayMs: 100,
    maxDelayMs: 2_000,
  });
}

/**
 * Most bytes of keys and values one produce request carries to a partition. kafkajs sends all of a
 * call's messages for one partition as one record batch, and a batch over the topic's
 * `max.message.bytes` (1 MiB by default) is refused whole: a flush's dead letters or rerouted copies
 * must go in several requests, or one large flush could never be written and its partition would stall.
 */
export const MAX_PRODUCE_BYTES = 512 * 1024;

/** Splits `items` into consecutive runs of at most `maxBytes` each (an item larger alone is a run). */
export function chunkBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxBytes = MAX_PRODUCE_BYTES,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Bytes a message adds to a record batch, about: key, value and headers (plus a little framing). */
export function messageBytes(m: {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer | undefined>;
}): number {
  let n = 32 + byteLength(m.key) + byteLength(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + byteLength(v);
  return n;
}

function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
