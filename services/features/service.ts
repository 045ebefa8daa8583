import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import type { ResolvedConfig } from '../platform/config.ts';
import { createDeadLetterWriter } from '../platform/dead-letter.ts';
import { createProducer, ensureTopics } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import type { CompiledView } from './definition.ts';
import type { Checkpoint } from './engine/partition-state.ts';
import {
  createFeatureProcessor,
  DEFAULT_PROCESSOR_OPTIONS,
  type ProcessorOptions,
} from './engine/processor.ts';
import { createRerouter } from './engine/rerouter.ts';
import { createOfflineStore } from './offline-store.ts';

/** Wires the features service: offline tables, dead-letter topics, and the stream processor. */
export interface FeaturesServiceDeps {
  config: Readonly<ResolvedConfig>;
  logger: Logger;
  metrics: MetricsRegistry;
  kafka: Kafka;
  redis: Redis;
  clickhouse: ClickHouseClient;
  codec: RegistryCodec;
  views: readonly CompiledView[];
}

export function createFeaturesService(deps: FeaturesServiceDeps, options: Partial<ProcessorOptions> = {}) {
  const offline = createOfflineStore(deps.clickhouse, deps.config.clickhouse.database);
  let producer: Producer | undefined;
  let processor: ReturnType<typeof createFeatureProcessor> | undefined;

  return {
    offline,
    async start(): Promise<void> {
      await offline.migrate();
      const admin = deps.kafka.admin();
      await admin.connect();
      try {
        const topics = [...new Set(deps.views.map((v) => v.source.topic))];
        await ensureTopics(
          admin,
          topics.map((topic) => ({
            topic,
            partitions: deps.config.kafka.defaultPartitions,
            withDeadLetter: true,
          })),
        );
      } finally {
        await admin.disconnect();
      }
      producer = createProducer(deps.kafka);
      await producer.connect();
      const deadLetters = createDeadLetterWriter({ producer, codec: deps.codec, service: 'features' });
      processor = createFeatureProcessor(
        {
          kafka: deps.kafka,
          redis: deps.redis,
          redisPrefix: deps.config.redis.keyPrefix,
          codec: deps.codec,
          offline,
          deadLetters,
          rerouter: createRerouter(producer),
          logger: deps.logger,
          metrics: deps.metrics,
        },
        {
          ...DEFAULT_PROCESSOR_OPTIONS,
          groupId: 'flywheel-features',
          views: deps.views,
          sessionTimeoutMs: deps.config.features.sessionTimeoutMs,
          maxEventsPerFlush: deps.config.features.maxEventsPerFlush,
          partitionsConsumedConcurrently: deps.config.features.partitionsConcurrently,
          offlineIntervalMs: deps.config.features.offlineIntervalMs,
          ...options,
        },
      );
      await processor.start();
    },
    async stop(): Promise<void> {
      await processor?.stop();
      await producer?.disconnect();
    },
    checkpoints: async (topic: string): Promise<Record<string, Checkpoint>> =>
      processor ? processor.checkpoints(topic) : {},
  };
}

export type FeaturesService = ReturnType<typeof createFeaturesService>;
