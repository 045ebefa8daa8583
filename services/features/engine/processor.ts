import type { Redis } from 'ioredis';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { fieldName, type TileRef, tilesForEvent } from '../../core/windows/tiles.ts';
import type { DeadLetter, DeadLetterWriter } from '../../platform/dead-letter.ts';
import { FlywheelError } from '../../platform/errors.ts';
import { createConsumer, subscribeWithRetry } from '../../platform/kafka.ts';
import type { Logger } from '../../platform/logger.ts';
import type { MetricsRegistry } from '../../platform/metrics.ts';
import type { RegistryCodec } from '../../platform/registry-codec.ts';
import type { CompiledView } from '../definition.ts';
import type { OfflineStore } from '../offline-store.ts';
import { createOfflineWriter } from './offline-writer.ts';
import {
  type OfflinePosition,
  PartitionState,
  type SourceEvent,
  type TileWrite,
  tileKey,
} from './partition-state.ts';
import { encodeTile } from './tile-codec.ts';
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
  /**
   * At most one ClickHouse INSERT per this many ms; tiles rewritten in between are inserted once. The
   * offline store (and the crash-replay position) trails Redis by about this much.
   */
  offlineIntervalMs: number;
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
  offlineIntervalMs: 250,
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
  /** Where ClickHouse has everything; advanced when a queued offline write completes. */
  offline: OfflinePosition;
  offlineError: unknown;
}

/** ~60,000 shop orders: one fetch fills one default-sized flush. */
const FETCH_BYTES_PER_PARTITION = 8 * 1024 * 1024;

/** Rendered rows (events + tiles) queued for ClickHouse before the fold waits for it (bounds memory). */
const MAX_QUEUED_OFFLINE_BYTES = 256 * 1024 * 1024;

export function createFeatureProcessor(deps: ProcessorDeps, options: ProcessorOptions) {
  const log = deps.logger.child({ component: 'features', group: options.groupId });
  const tiles = createTileStore(deps.redis, deps.redisPrefix);
  const viewsByTopic = groupViews(options.views);
  const owned = new Map<string, Owned>();
  const writer = createOfflineWriter(deps.offline, {
    maxQueuedBytes: MAX_QUEUED_OFFLINE_BYTES,
    intervalMs: options.offlineIntervalMs,
  });
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
    o = {
      epoch,
      state: new PartitionState(topicViews.views, topicViews.latenessMs, checkpoint),
      offline: { ...checkpoint.offline },
      offlineError: undefined,
    };
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

    // Dead letters first (at-least-once), then Redis: tiles + checkpoint atomically — the moment the
    // features become visible. ClickHouse follows off the freshness path; the checkpoint remembers how far
    // it got, so a crash before it catches up is repaired by replaying [offline.next, next) into it alone.
    await deps.deadLetters.send(letters);
    checkpoint.offline = { ...o.offline };
    const committed = await tiles.commit({
      group: options.groupId,
      topic,
      partition,
      epoch: o.epoch,
      tiles: tileWrites,
      entities,
      checkpoint,
      finalBefore: o.state.watermark(),
    });
    redisCommands.inc({}, committed.commands);
    const after: OfflinePosition = { next: checkpoint.next, maxEventTime: checkpoint.maxEventTime };
    queueOffline(topic, partition, o, after, accepted, tileWrites);

    const committedAt = Date.now();
    eventsTotal.inc({ topic, outcome: 'accepted' }, accepted.length);
    for (const l of letters)
      eventsTotal.inc({ topic, outcome: l.error.code === 'FW_EVENT_LATE' ? 'late' : 'invalid' });
    for (const e of accepted) freshness.observe((committedAt - e.eventTime) / 1000);
    flushSeconds.observe((performance.now() - t0) / 1000);
    options.onCommit?.({ topic, partition, events: accepted, committedAt });
  }

  function queueOffline(
    topic: string,
    partition: number,
    o: Owned,
    after: OfflinePosition,
    events: readonly SourceEvent[],
    tileWrites: readonly TileWrite[],
  ): void {
    writer.enqueue(topic, partition, events, tileWrites).then(
      async () => {
        if (after.next <= o.offline.next) return;
        o.offline = after;
        // Kafka's committed offset is only a restart hint; it never passes what ClickHouse holds.
        await consumer
          ?.commitOffsets([{ topic, partition, offset: String(after.next) }])
          .catch(() => undefined);
      },
      (err: unknown) => {
        o.offlineError = err;
        log.error('ClickHouse write failed; the partition will replay it', { topic, partition, err });
      },
    );
  }

  /**
   * After a crash, records the stores hold in Redis but not yet in ClickHouse: decode them again, redo
   * the lateness decisions from the saved watermark state, insert the accepted events, and write the
   * CURRENT Redis state of every tile they touch (at least as new; ReplacingMergeTree keeps the newest).
   */
  async function replayOffline(
    topic: string,
    partition: number,
    o: Owned,
    messages: readonly KafkaMessage[],
  ): Promise<void> {
    const { views, latenessMs } = viewsByTopic.get(topic)!;
    const decoded = await deps.codec.decodeMany(messages.map((m) => m.value));
    let maxEventTime = o.offline.maxEventTime;
    const accepted: SourceEvent[] = [];
    const touched = new Map<
      string,
      { key: string; view: CompiledView; entity: string; field: string; ref: TileRef }
    >();
    messages.forEach((m, i) => {
      const d = decoded[i]!;
      const event = d.ok ? toEvent(topic, m, d.value) : d.error;
      if (event instanceof FlywheelError || event.eventTime < maxEventTime - latenessMs) return;
      maxEventTime = Math.max(maxEventTime, event.eventTime);
      accepted.push(event);
      for (const view of views) {
        for (const ref of tilesForEvent(event.eventTime, view.resolutions)) {
          const field = fieldName(ref);
          const key = tileKey(view.id, event.entity, field);
          if (!touched.has(key)) touched.set(key, { key, view, entity: event.entity, field, ref });
        }
      }
    });
    const loaded = await tiles.loadTiles([...touched.values()]);
    const writes: TileWrite[] = [];
    for (const t of loaded.tiles) {
      const info = touched.get(t.key)!;
      if (t.tile)
        writes.push({
          view: info.view,
          entity: info.entity,
          ref: info.ref,
          field: info.field,
          tile: t.tile,
          lastOffset: t.tile.lastOffset,
          encoded: encodeTile(info.view, t.tile),
        });
    }
    await Promise.all([
      deps.offline.insertEvents(topic, partition, accepted),
      deps.offline.insertTiles(partition, writes),
    ]);
    o.offline = { next: Number(messages.at(-1)!.offset) + 1, maxEventTime };
    log.info('replayed records into ClickHouse after a restart', {
      topic,
      partition,
      records: messages.length,
      through: o.offline.next,
    });
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    const { topic, partition } = batch;
    const key = `${topic}/${partition}`;
    try {
      const o = await claim(topic, partition);
      if (o.offlineError !== undefined) throw o.offlineError;
      const cp = o.state.checkpoint;
      const offlineOnly = batch.messages.filter(
        (m) => Number(m.offset) >= o.offline.next && Number(m.offset) < cp.next,
      );
      if (offlineOnly.length > 0) await replayOffline(topic, partition, o, offlineOnly);
      // Everything below the checkpoint is in Redis already; fold only what is new.
      const fresh = batch.messages.filter((m) => Number(m.offset) >= cp.next);
      for (let i = 0; i < fresh.length && isRunning() && !isStale(); i += options.maxEventsPerFlush) {
        const chunk = fresh.slice(i, i + options.maxEventsPerFlush);
        if (writer.overloaded()) await writer.drained();
        await processChunk(topic, partition, o, chunk);
        resolveOffset(chunk.at(-1)!.offset);
        await heartbeat();
      }
      if (fresh.length === 0 && batch.messages.length > 0) resolveOffset(batch.lastOffset());
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
        // Large fetches under a backlog: a flush costs per distinct tile, so the more events it folds,
        // the fewer tile writes each event pays for (live traffic still arrives in small fetches).
        maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
        maxBytes: FETCH_BYTES_PER_PARTITION * Math.max(4, options.partitionsConsumedConcurrently),
      });
      consumer.on(consumer.events.GROUP_JOIN, () => owned.clear());
      await consumer.connect();
      await subscribeWithRetry(consumer, { topics: [...viewsByTopic.keys()], fromBeginning: true });
      running = true;
      await consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
        eachBatch,
      });
    },
    /** Stops consuming, lets queued ClickHouse writes finish and records how far they got. */
    async stop(): Promise<void> {
      running = false;
      await consumer?.stop();
      await writer.drained();
      for (const [key, o] of owned) {
        if (o.offlineError !== undefined) continue;
        const [topic, partition] = [
          key.slice(0, key.lastIndexOf('/')),
          Number(key.slice(key.lastIndexOf('/') + 1)),
        ];
        const checkpoint = { ...o.state.checkpoint, offline: { ...o.offline } };
        await tiles
          .commit({
            group: options.groupId,
            topic,
            partition,
            epoch: o.epoch,
            tiles: [],
            entities: [],
            checkpoint,
          })
          .catch((err) => log.warn('final checkpoint not written', { err }));
      }
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
