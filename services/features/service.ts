import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import { type ResolvedConfig, sectionSettings } from '../platform/config.ts';
import { createDeadLetterWriter } from '../platform/dead-letter.ts';
import { createProducer, ensureTopics } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import { retryStartup, StartCancelled } from '../platform/retry.ts';
import { FEATURES_CONFIG, type FeaturesSettings } from './config.ts';
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
  /** The `features` config section; default: read from the environment (sectionSettings). */
  settings?: FeaturesSettings;
}

export function createFeaturesService(deps: FeaturesServiceDeps, options: Partial<ProcessorOptions> = {}) {
  const offline = createOfflineStore(deps.clickhouse, deps.config.clickhouse.database);
  const settings = deps.settings ?? sectionSettings(deps.config, FEATURES_CONFIG);
  let producer: Producer | undefined;
  let processor: ReturnType<typeof createFeatureProcessor> | undefined;

  let stopped = false;

  /** One attempt; `start` repeats it under the one start-up policy while the fault is retriable. */
  async function attempt(): Promise<void> {
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
        sessionTimeoutMs: settings.sessionTimeoutMs,
        maxEventsPerFlush: settings.maxEventsPerFlush,
        partitionsConsumedConcurrently: settings.partitionsConcurrently,
        offlineIntervalMs: settings.offlineIntervalMs,
        ...options,
      },
    );
    await processor.start();
  }

  return {
    offline,
    async start(): Promise<void> {
      await retryStartup(
        async () => {
          await producer?.disconnect().catch(() => {});
          await attempt();
        },
        { policy: deps.config.startup, logger: deps.logger, what: 'features', stopped: () => stopped },
      ).catch((err) => {
        if (!(err instanceof StartCancelled)) throw err;
      });
    },
    async stop(): Promise<void> {
      stopped = true;
      await processor?.stop();
      await producer?.disconnect();
    },
    checkpoints: async (topic: string): Promise<Record<string, Checkpoint>> =>
      processor ? processor.checkpoints(topic) : {},
  };
}

export type FeaturesService = ReturnType<typeof createFeaturesService>;
