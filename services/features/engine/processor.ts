import type { Redis } from 'ioredis';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { DeadLetter, DeadLetterWriter } from '../../platform/dead-letter.ts';
import { FlywheelError } from '../../platform/errors.ts';
import { createConsumer } from '../../platform/kafka.ts';
import type { Logger } from '../../platform/logger.ts';
import type { MetricsRegistry } from '../../platform/metrics.ts';
import type { RegistryCodec } from '../../platform/registry-codec.ts';
import type { CompiledView } from '../definition.ts';
import type { OfflineStore } from '../offline-store.ts';
import { PartitionState, type SourceEvent } from './partition-state.ts';
import { createTileStore } from './tile-store.ts';

/**
 * The stream processor: a consumer group over the views' source topics. For each batch of a partition it
 * decodes, validates, folds events into event-time tiles (PartitionState), then persists in this order:
 * dead letters → ClickHouse (raw events + tiles, idempotent) → Redis (tiles + checkpoint, one atomic
 * script) → Kafka offsets. Redis holds the truth about progress: a restarted or reassigned partition
 * resumes from the checkpoint stored with its tiles, and Kafka's committed offset never runs ahead of it.
 */
export interface ProcessorOptions {
  groupId: string;
  views: readonly CompiledView[];
  /** Events folded per flush; bounds the atomic Redis script and the freshness of a large batch. */
  maxEventsPerFlush: number;
  /** Partitions processed in parallel (I/O overlaps; the fold itself is single-threaded). */
  partitionsConsumedConcurrently: number;
  /** Kafka session timeout: how long a dead processor holds its partitions. */
  sessionTimeoutMs: number;
  /** Longest accepted entity key, in characters. */
  maxEntityKeyLength: number;
  /** Called after each committed flush, e.g. by the benchmark to measure freshness. */
  onCommit?: (info: {
    topic: string;
    partition: number;
    events: readonly SourceEvent[];
    committedAt: number;
  }) => void;
}

export const DEFAULT_PROCESSOR_OPTIONS = {
  maxEventsPerFlush: 5_000,
  partitionsConsumedConcurrently: 4,
  maxEntityKeyLength: 256,
};

export interface ProcessorDeps {
  kafka: Kafka;
  redis: Redis;
  redisPrefix: string;
  codec: RegistryCodec;
  offline: OfflineStore;
  deadLetters: DeadLetterWriter;
  logger: Logger;
  metrics: MetricsRegistry;
}

interface Owned {
  epoch: string;
  state: PartitionState;
}

export function createFeatureProcessor(deps: ProcessorDeps, options: ProcessorOptions) {
  const log = deps.logger.child({ component: 'features', group: options.groupId });
  const tiles = createTileStore(deps.redis, deps.redisPrefix);
  const viewsByTopic = groupViews(options.views);
  const owned = new Map<string, Owned>();
  const eventsTotal = deps.metrics.counter(
    'flywheel_features_events_total',
    'Source events by topic and outcome.',
  );
  const redisCommands = deps.metrics.counter(
    'flywheel_features_redis_commands_total',
    'Redis commands issued (tile loads and commit writes).',
  );
  const flushSeconds = deps.metrics.histogram(
    'flywheel_features_flush_seconds',
    'Time to persist one flush.',
  );
  const freshness = deps.metrics.histogram(
    'flywheel_features_freshness_seconds',
    'Event time to visible in Redis.',
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  let consumer: Consumer | undefined;
  let running = false;

  async function claim(topic: string, partition: number): Promise<Owned> {
    const key = `${topic}/${partition}`;
    let o = owned.get(key);
    if (o) return o;
    const { epoch, checkpoint } = await tiles.claim(options.groupId, topic, partition);
    const topicViews = viewsByTopic.get(topic)!;
    o = { epoch, state: new PartitionState(topicViews.views, topicViews.latenessMs, checkpoint) };
    owned.set(key, o);
    log.info('partition claimed', { topic, partition, epoch, next: checkpoint.next });
    return o;
  }

  function toEvent(
    topic: string,
    m: KafkaMessage,
    record: Record<string, unknown>,
  ): SourceEvent | FlywheelError {
    const { keyField, timestampField } = viewsByTopic.get(topic)!.source;
    const entity = record[keyField];
    const eventTime = record[timestampField];
    if (typeof entity !== 'string' || entity.length === 0 || entity.length > options.maxEntityKeyLength) {
      return new FlywheelError(
        'FW_EVENT_INVALID',
        `field ${keyField} must be a non-empty string of at most ${options.maxEntityKeyLength} characters`,
      );
    }
    const ts = typeof eventTime === 'bigint' ? Number(eventTime) : eventTime;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) {
      return new FlywheelError('FW_EVENT_INVALID', `field ${timestampField} must be epoch milliseconds`);
    }
    return { offset: Number(m.offset), entity, eventTime: ts, record };
  }

  async function processChunk(
    topic: string,
    partition: number,
    o: Owned,
    messages: readonly KafkaMessage[],
  ): Promise<void> {
    const t0 = performance.now();
    const decoded = await deps.codec.decodeMany(messages.map((m) => m.value));
    const letters: DeadLetter[] = [];
    const candidates: Array<{ event: SourceEvent; message: KafkaMessage }> = [];
    const letter = (m: KafkaMessage, error: FlywheelError) =>
      letters.push({ topic, partition, offset: Number(m.offset), key: m.key, value: m.value, error });
    messages.forEach((m, i) => {
      const d = decoded[i]!;
      const event = d.ok ? toEvent(topic, m, d.value) : d.error;
      if (event instanceof FlywheelError) {
        letter(m, event);
        o.state.countInvalid();
      } else candidates.push({ event, message: m });
    });
    const missing = o.state.missingTiles(candidates.map((c) => c.event));
    if (missing.length > 0) {
      const loaded = await tiles.loadTiles(missing);
      redisCommands.inc({}, loaded.commands);
      for (const t of loaded.tiles) o.state.loadTile(t.key, t.view, t.tile);
    }

    const accepted: SourceEvent[] = [];
    const latenessMs = viewsByTopic.get(topic)!.latenessMs;
    for (const { event, message } of candidates) {
      const watermark = o.state.watermark();
      if (o.state.apply(event) === 'accepted') accepted.push(event);
      else
        letter(
          message,
          new FlywheelError(
            'FW_EVENT_LATE',
            `event time ${event.eventTime} is behind the watermark ${watermark} (allowed lateness ${latenessMs} ms)`,
          ),
        );
    }
    o.state.advanceTo(Number(messages.at(-1)!.offset) + 1);
    const { tiles: tileWrites, entities, checkpoint } = o.state.drain();

    await deps.deadLetters.send(letters);
    await Promise.all([
      deps.offline.insertEvents(topic, partition, accepted),
      deps.offline.insertTiles(partition, tileWrites),
    ]);
    const committed = await tiles.commit({
      group: options.groupId,
      topic,
      partition,
      epoch: o.epoch,
      tiles: tileWrites,
      entities,
      checkpoint,
    });
    redisCommands.inc({}, committed.commands);

    const committedAt = Date.now();
    eventsTotal.inc({ topic, outcome: 'accepted' }, accepted.length);
    for (const l of letters)
      eventsTotal.inc({ topic, outcome: l.error.code === 'FW_EVENT_LATE' ? 'late' : 'invalid' });
    for (const e of accepted) freshness.observe((committedAt - e.eventTime) / 1000);
    flushSeconds.observe((performance.now() - t0) / 1000);
    options.onCommit?.({ topic, partition, events: accepted, committedAt });
  }

  async function eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload) {
    const { topic, partition } = batch;
    const key = `${topic}/${partition}`;
    try {
      const o = await claim(topic, partition);
      // Kafka's committed offset trails Redis's checkpoint; skip what the stores already hold.
      const fresh = batch.messages.filter((m) => Number(m.offset) >= o.state.checkpoint.next);
      for (let i = 0; i < fresh.length && isRunning() && !isStale(); i += options.maxEventsPerFlush) {
        const chunk = fresh.slice(i, i + options.maxEventsPerFlush);
        await processChunk(topic, partition, o, chunk);
        resolveOffset(chunk.at(-1)!.offset);
        await heartbeat();
      }
      if (fresh.length === 0 && batch.messages.length > 0) resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
    } catch (err) {
      // The in-memory state may hold folded-but-unpersisted events: forget it; the next batch reloads.
      owned.delete(key);
      if (err instanceof FlywheelError && err.code === 'FW_FENCED')
        log.warn('fenced off partition', { topic, partition });
      else log.error('batch failed; will retry from the last checkpoint', { topic, partition, err });
      throw err;
    }
  }

  return {
    async start(): Promise<void> {
      for (const view of options.views) {
        const known = await deps.offline.fingerprints(view);
        if (known.length > 0 && !known.includes(view.fingerprint)) {
          throw new FlywheelError(
            'FW_FEATURE_VIEW_INVALID',
            `feature view ${view.id} changed since it was registered: bump its version to run the new definition side by side`,
          );
        }
        if (known.length === 0) await deps.offline.registerView(view);
      }
      consumer = createConsumer(deps.kafka, options.groupId, {
        sessionTimeout: options.sessionTimeoutMs,
        heartbeatInterval: Math.max(500, Math.floor(options.sessionTimeoutMs / 6)),
      });
      consumer.on(consumer.events.GROUP_JOIN, () => owned.clear());
      await consumer.connect();
      await consumer.subscribe({ topics: [...viewsByTopic.keys()], fromBeginning: true });
      running = true;
      await consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: true,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
        eachBatch,
      });
    },
    async stop(): Promise<void> {
      running = false;
      await consumer?.disconnect();
      owned.clear();
    },
    isRunning: () => running,
    checkpoints: (topic: string) => tiles.readCheckpoints(options.groupId, topic),
  };
}

export type FeatureProcessor = ReturnType<typeof createFeatureProcessor>;

function groupViews(views: readonly CompiledView[]) {
  const byTopic = new Map<
    string,
    { views: CompiledView[]; latenessMs: number; source: CompiledView['source'] }
  >();
  for (const v of views) {
    const entry = byTopic.get(v.source.topic);
    if (!entry) {
      byTopic.set(v.source.topic, { views: [v], latenessMs: v.source.allowedLatenessMs, source: v.source });
      continue;
    }
    const same =
      entry.source.keyField === v.source.keyField &&
      entry.source.timestampField === v.source.timestampField &&
      entry.latenessMs === v.source.allowedLatenessMs;
    if (!same) {
      throw new FlywheelError(
        'FW_FEATURE_VIEW_INVALID',
        `views on topic ${v.source.topic} disagree on key, timestamp field or allowed lateness (${v.id} vs ${entry.views[0]!.id})`,
      );
    }
    entry.views.push(v);
  }
  return byTopic;
}
