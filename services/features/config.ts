import { z } from 'zod';
import type { ConfigSection } from '../platform/config.ts';

/** The features processor's own settings: config section `features`. */
export const FeaturesSettingsSchema = z.strictObject({
  /** Kafka group session timeout of the stream processor: how fast a dead processor's partitions move. */
  sessionTimeoutMs: z.coerce.number().int().min(6_000).default(10_000),
  /** Events folded per flush (bounds the atomic Redis commit and a large batch's freshness). */
  maxEventsPerFlush: z.coerce.number().int().positive().default(50_000),
  /** Partitions processed concurrently by one processor. */
  partitionsConcurrently: z.coerce.number().int().positive().default(4),
  /** At most one ClickHouse insert per this interval; the offline store trails Redis by about this. */
  offlineIntervalMs: z.coerce.number().int().min(0).max(60_000).default(250),
});

export type FeaturesSettings = z.output<typeof FeaturesSettingsSchema>;

export const FEATURES_CONFIG: ConfigSection<FeaturesSettings> = {
  name: 'features',
  schema: FeaturesSettingsSchema,
  env: [
    {
      env: 'FLYWHEEL_FEATURES_SESSION_TIMEOUT_MS',
      path: 'features.sessionTimeoutMs',
      description: 'Kafka session timeout of the features processor (min 6000).',
    },
    {
      env: 'FLYWHEEL_FEATURES_MAX_EVENTS_PER_FLUSH',
      path: 'features.maxEventsPerFlush',
      description:
        'Events folded per atomic flush of the features processor; also the records queued per partition before fetching waits.',
    },
    {
      env: 'FLYWHEEL_FEATURES_PARTITIONS_CONCURRENTLY',
      path: 'features.partitionsConcurrently',
      description: 'Partitions one features processor works on at once.',
    },
    {
      env: 'FLYWHEEL_FEATURES_OFFLINE_INTERVAL_MS',
      path: 'features.offlineIntervalMs',
      description:
        'Least time between ClickHouse inserts of the features processor (each carries every flush since the last); ClickHouse trails Redis by about this.',
    },
  ],
};
