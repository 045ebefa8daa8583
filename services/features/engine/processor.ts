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
import {
  type Admission,
  admit,
  decodable,
  parseOrigin,
  REROUTED_FROM_HEADER,
  type SourceRecord,
} from './admission.ts';
import { createOfflineWriter } from './offline-writer.ts';
import { PartitionQueue } from './partition-queue.ts';
import {
  type OfflinePosition,
  PartitionState,
  type SourceEvent,
  type TileWrite,
  tileKey,
} from './partition-state.ts';
import type { Reroute, Rerouter } from './rerouter.ts';
import { encodeTile } from './tile-codec.ts';
import { createTileStore } from './tile-store.ts';

/**
 * The stream processor: a consumer group over the views' source topics. The batch handler queues each
 * partition's records; the partition's fold loop decodes, validates and folds them into event-time tiles
 * (PartitionState), then persists in this order: dead letters → Redis (tiles + checkpoint, one atomic
 * script: the moment features become visible) → ClickHouse (raw events + tiles, idempotent, batched
 * behind) → Kafka offsets. Redis holds the truth about progress: a restarted or reassigned partition
 * resumes from the checkpoint stored with its tiles, and Kafka's committed offset never runs ahead of
 * ClickHouse.
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
   * At most one ClickHouse INSERT per this many ms, with every flush since the previous one. The offline
   * store (and the crash-replay position) trails Redis by about this much.
   */
  offlineIntervalMs: number;
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
};

export interface ProcessorDeps {
  kafka: Kafka;
  redis: Redis;
  redisPrefix: string;
  codec: RegistryCodec;
  offline: OfflineStore;
  deadLetters: DeadLetterWriter;
  rerouter: Rerouter;
  logger: Logger;
  metrics: MetricsRegistry;
}

/**
 * What a queued record keeps of kafkajs's message (SourceRecord): the rest (headers, batch context)
 * would survive young-generation collections while the record waits for its flush, and be promoted.
 */
function toSourceRecord(m: KafkaMessage): SourceRecord {
  const header = m.headers?.[REROUTED_FROM_HEADER];
  const reroutedFrom = header === undefined ? undefined : parseOrigin(header);
  const record: SourceRecord = { offset: m.offset, key: m.key, value: m.value, timestamp: m.timestamp };
  if (reroutedFrom) record.reroutedFrom = reroutedFrom;
  return record;
}

interface Owned {
  topic: string;
  partition: number;
  epoch: string;
  /** The topic's partition count when claimed: which partition owns a key. */
  partitions: number;
  state: PartitionState;
  /** Where ClickHouse has everything; advanced when a queued offline write completes. */
  offline: OfflinePosition;
  offlineError: unknown;
  /** Fetched records not folded yet, in offset order. */
  queue: PartitionQueue<SourceRecord>;
  /** The offset after the last record queued (records below it are not queued twice). */
  queuedNext: number;
  /** The offset Redis's checkpoint holds as of the last commit: where a failed partition resumes. */
  persistedNext: number;
  /** The fold loop; it ends when the partition is revoked, fails or the processor stops. */
  loop: Promise<void>;
  /** Records the next flush takes at most (see MAX_TILE_WRITES_PER_FLUSH). */
  flushSize: number;
}

/** ~60,000 events of ~140 bytes: one fetch fills one default-sized flush. */
const FETCH_BYTES_PER_PARTITION = 8 * 1024 * 1024;

/**
 * Tile writes one flush may produce (about). A flush of events spread over hours of event time writes
 * several tiles per event (each lands in its own minute), and the tiles, their encodings and the commit's
 * arguments of a 50,000-event flush took GBs of heap and multi-second GC stalls (long enough to lose the
 * group membership). Flushes are sized by nextFlushSize, starting from firstFlushSize.
 */
export const MAX_TILE_WRITES_PER_FLUSH = 50_000;

/** Records a flush takes at the least, however many tiles each writes. */
export const MIN_EVENTS_PER_FLUSH = 1_000;

/** Rendered rows (events + tiles) queued for ClickHouse before the fold waits for it (bounds memory). */
const MAX_QUEUED_OFFLINE_BYTES = 256 * 1024 * 1024;

export function createFeatureProcessor(deps: ProcessorDeps, options: ProcessorOptions) {
  const log = deps.logger.child({ component: 'features', group: options.groupId });
  const tiles = createTileStore(deps.redis, deps.redisPrefix);
  const viewsByTopic = groupViews(options.views);
  const owned = new Map<string, Owned>();
  const partitionCounts = new Map<string, Promise<number>>();
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
    const claimed: Owned = {
      topic,
      partition,
      epoch,
      partitions: await partitionCount(topic),
      state: new PartitionState(topicViews.views, topicViews.latenessMs, checkpoint),
      offline: { ...checkpoint.offline },
      offlineError: undefined,
      queue: new PartitionQueue(options.maxEventsPerFlush),
      queuedNext: checkpoint.next,
      persistedNext: checkpoint.next,
      loop: Promise.resolve(),
      flushSize: firstFlushSize(topicViews.views, options.maxEventsPerFlush),
    };
    claimed.loop = foldLoop(key, claimed);
    owned.set(key, claimed);
    o = claimed;
    log.info('partition claimed', { topic, partition, epoch, next: checkpoint.next });
    return o;
  }

  /** The topic's partition count, looked up once per group generation (a rejoin forgets it). */
  async function partitionCount(topic: string): Promise<number> {
    let count = partitionCounts.get(topic);
    if (!count) {
      count = fetchPartitionCount(deps.kafka, topic);
      partitionCounts.set(topic, count);
      count.catch(() => partitionCounts.delete(topic));
    }
    return count;
  }

  /** Decodes a chunk and decides each record's fate (admission.ts); oversize values stay undecoded. */
  async function decide(o: Owned, messages: readonly SourceRecord[]): Promise<Admission[]> {
    const source = viewsByTopic.get(o.topic)!.source;
    const decoded = await deps.codec.decodeMany(
      messages.map((m) => (decodable(m.value, source) ? m.value : null)),
      { topic: o.topic },
    );
    const ctx = { group: options.groupId, partition: o.partition, partitions: o.partitions, now: Date.now() };
    return messages.map((m, i) => admit(m, decoded[i], source, ctx));
  }

  /**
   * Counts each admission in the partition's state and sorts the chunk's records into dead letters,
   * rerouted copies to send, and events to fold; a rerouted copy decided before is skipped here.
   */
  function sortRecords(o: Owned, messages: readonly SourceRecord[], admissions: readonly Admission[]) {
    const letters: DeadLetter[] = [];
    const reroutes: Reroute[] = [];
    const candidates: Array<{ event: SourceEvent; message: SourceRecord }> = [];
    const { topic, partition } = o;
    messages.forEach((m, i) => {
      const a = admissions[i]!;
      if (a.kind === 'event') {
        if (!a.origin || o.state.admitOrigin(a.origin.partition, a.origin.offset))
          candidates.push({ event: a.event, message: m });
      } else if (a.kind === 'dead') {
        const error = new FlywheelError(a.code, a.message);
        letters.push({ topic, partition, offset: Number(m.offset), key: m.key, value: m.value, error });
        o.state.countInvalid(a.code);
      } else if (a.kind === 'reroute') {
        const origin = { partition, offset: Number(m.offset), group: options.groupId };
        reroutes.push({ to: a.to, key: m.key, value: m.value, timestamp: m.timestamp, origin });
        o.state.countRerouted();
      } else o.state.countSkippedCopy();
    });
    return { letters, reroutes, candidates };
  }

  async function processChunk(
    topic: string,
    partition: number,
    o: Owned,
    messages: readonly SourceRecord[],
  ): Promise<number> {
    const t0 = performance.now();
    const { letters, reroutes, candidates } = sortRecords(o, messages, await decide(o, messages));
    const letter = (m: SourceRecord, error: FlywheelError) =>
      letters.push({ topic, partition, offset: Number(m.offset), key: m.key, value: m.value, error });
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

    // Dead letters and rerouted copies first (at-least-once), then Redis: tiles + checkpoint atomically —
    // the moment the features become visible. ClickHouse follows off the freshness path; the checkpoint
    // remembers how far it got, so a crash before it catches up is repaired by replaying
    // [offline.next, next) into it alone.
    await Promise.all([deps.deadLetters.send(letters), deps.rerouter.send(topic, reroutes)]);
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
    o.persistedNext = checkpoint.next;
    const after: OfflinePosition = {
      next: checkpoint.next,
      maxEventTime: checkpoint.maxEventTime,
      origins: checkpoint.origins,
    };
    queueOffline(topic, partition, o, after, accepted, tileWrites);

    const committedAt = Date.now();
    eventsTotal.inc({ topic, outcome: 'accepted' }, accepted.length);
    for (const l of letters)
      eventsTotal.inc({ topic, outcome: l.error.code === 'FW_EVENT_LATE' ? 'late' : 'invalid' });
    if (reroutes.length > 0) eventsTotal.inc({ topic, outcome: 'rerouted' }, reroutes.length);
    for (const e of accepted) freshness.observe((committedAt - e.eventTime) / 1000);
    flushSeconds.observe((performance.now() - t0) / 1000);
    options.onCommit?.({ topic, partition, events: accepted, committedAt });
    return tileWrites.length;
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
        await commitKafkaOffset(topic, partition, after.next);
      },
      (err: unknown) => {
        o.offlineError = err;
        log.error('ClickHouse write failed; the partition will replay it', { topic, partition, err });
      },
    );
  }

  /**
   * Kafka's committed offset is a restart hint and the group's visible lag; it never passes what
   * ClickHouse holds, so zero lag means both stores have every record. (Losing the partition makes it
   * fail; the new owner commits its own.)
   */
  async function commitKafkaOffset(topic: string, partition: number, next: number): Promise<void> {
    await consumer?.commitOffsets([{ topic, partition, offset: String(next) }]).catch(() => undefined);
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
    messages: readonly SourceRecord[],
  ): Promise<void> {
    const { views, latenessMs } = viewsByTopic.get(topic)!;
    const admissions = await decide(o, messages);
    let maxEventTime = o.offline.maxEventTime;
    const origins = { ...o.offline.origins };
    const accepted: SourceEvent[] = [];
    const touched = new Map<
      string,
      { key: string; view: CompiledView; entity: string; field: string; ref: TileRef }
    >();
    for (const a of admissions) {
      if (a.kind !== 'event') continue;
      if (a.origin) {
        // The same duplicate rule as the live fold, from the origins saved with the offline position.
        const key = String(a.origin.partition);
        if (a.origin.offset <= (origins[key] ?? -1)) continue;
        origins[key] = a.origin.offset;
      }
      const event = a.event;
      if (event.eventTime < maxEventTime - latenessMs) continue;
      maxEventTime = Math.max(maxEventTime, event.eventTime);
      accepted.push(event);
      for (const view of views) {
        for (const ref of tilesForEvent(event.eventTime, view.resolutions)) {
          const field = fieldName(ref);
          const key = tileKey(view.id, event.entity, field);
          if (!touched.has(key)) touched.set(key, { key, view, entity: event.entity, field, ref });
        }
      }
    }
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
    o.offline = { next: Number(messages.at(-1)!.offset) + 1, maxEventTime, origins };
    await commitKafkaOffset(topic, partition, o.offline.next);
    log.info('replayed records into ClickHouse after a restart', {
      topic,
      partition,
      records: messages.length,
      through: o.offline.next,
    });
  }

  /**
   * Folds a partition's queued records, a flush at a time, until the partition is given up. A failure
   * forgets the in-memory state and seeks Kafka back to the last checkpoint in Redis: records fetched
   * past it were never persisted, and the next batch claims the partition afresh from Redis.
   */
  async function foldLoop(key: string, o: Owned): Promise<void> {
    try {
      while (true) {
        await o.queue.waitForRecords();
        if (o.queue.isClosed) return;
        if (o.offlineError !== undefined) throw o.offlineError;
        if (writer.overloaded()) await writer.drained();
        if (o.queue.isClosed) return;
        const records = o.queue.take(o.flushSize);
        const tileWrites = await processChunk(o.topic, o.partition, o, records);
        o.flushSize = nextFlushSize(o.flushSize, records.length, tileWrites, options.maxEventsPerFlush);
      }
    } catch (err) {
      if (owned.get(key) !== o) return; // revoked meanwhile: the new owner (or claim) decides
      release(key, o);
      if (err instanceof FlywheelError && err.code === 'FW_FENCED')
        log.warn('fenced off partition', { topic: o.topic, partition: o.partition });
      else
        log.error('flush failed; resuming from the last checkpoint', {
          topic: o.topic,
          partition: o.partition,
          next: o.persistedNext,
          err,
        });
      if (running)
        consumer?.seek({ topic: o.topic, partition: o.partition, offset: String(o.persistedNext) });
    }
  }

  /** Gives a partition up: queued records are dropped (Kafka still has them) and its loop ends. */
  function release(key: string, o: Owned): void {
    if (owned.get(key) === o) owned.delete(key);
    o.queue.close();
  }

  /**
   * The consumer's batch handler only queues records for the fold loop and resolves their offsets, so
   * kafkajs fetches the next batch while this one folds. Waiting for room in a full queue heartbeats.
   */
  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    const { topic, partition } = batch;
    const key = `${topic}/${partition}`;
    let o: Owned | undefined;
    try {
      o = await claim(topic, partition);
      if (o.offlineError !== undefined) throw o.offlineError;
      const cp = o.state.checkpoint;
      const offlineOnly = batch.messages.filter(
        (m) => Number(m.offset) >= o!.offline.next && Number(m.offset) < cp.next,
      );
      if (offlineOnly.length > 0) await replayOffline(topic, partition, o, offlineOnly);
    } catch (err) {
      if (o) release(key, o);
      log.error('batch failed; will retry from the last checkpoint', { topic, partition, err });
      throw err;
    }
    if (isStale() || !isRunning() || o.queue.isClosed) return;
    // Everything below the checkpoint is in Redis already, and what is queued is queued once.
    const fresh = batch.messages.filter((m) => Number(m.offset) >= o.queuedNext);
    if (fresh.length > 0) {
      o.queue.push(fresh.map(toSourceRecord));
      o.queuedNext = Number(fresh.at(-1)!.offset) + 1;
    }
    if (batch.messages.length > 0) resolveOffset(batch.lastOffset());
    // A heartbeat that reports a rebalance throws out of here; kafkajs rejoins and GROUP_JOIN releases.
    await o.queue.waitForRoom(heartbeat, 1_000);
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
      // A (re)join may move partitions: give every one up; the next batch reclaims it from Redis.
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const [key, o] of owned) release(key, o);
        partitionCounts.clear();
      });
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
      // Queued records are dropped (the checkpoint does not cover them); folds in progress finish.
      for (const o of owned.values()) o.queue.close();
      await Promise.all([...owned.values()].map((o) => o.loop));
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

/** A partition's first flush: as if every event wrote all of its tiles (nextFlushSize grows it). */
export function firstFlushSize(views: readonly CompiledView[], maxEvents: number): number {
  const tilesPerEvent = views.reduce((n, v) => n + v.resolutions.length, 0);
  return Math.min(
    maxEvents,
    Math.max(MIN_EVENTS_PER_FLUSH, Math.floor(MAX_TILE_WRITES_PER_FLUSH / tilesPerEvent)),
  );
}

/**
 * The records the next flush may take: shrunk in proportion when a flush wrote more than
 * MAX_TILE_WRITES_PER_FLUSH tiles, grown (at most doubled) after a full flush that wrote fewer. Tiles
 * per event fall as flushes grow (an entity's events share tiles), so the size climbs to the event
 * limit on a backlog in event-time order and settles lower when events scatter over many tiles.
 */
export function nextFlushSize(size: number, taken: number, tileWrites: number, maxEvents: number): number {
  if (tileWrites > MAX_TILE_WRITES_PER_FLUSH)
    return Math.max(MIN_EVENTS_PER_FLUSH, Math.floor((taken * MAX_TILE_WRITES_PER_FLUSH) / tileWrites));
  if (taken < size) return size; // a partial flush (live traffic) says nothing about the limit
  const growth = Math.min(2, MAX_TILE_WRITES_PER_FLUSH / Math.max(1, tileWrites));
  return Math.min(maxEvents, Math.max(size, Math.floor(taken * growth)));
}

async function fetchPartitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = topics[0]?.partitions.length ?? 0;
    if (count === 0) throw new FlywheelError('FW_KAFKA_UNAVAILABLE', `no partition metadata for ${topic}`);
    return count;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

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
      entry.latenessMs === v.source.allowedLatenessMs &&
      JSON.stringify(entry.source.rules) === JSON.stringify(v.source.rules);
    if (!same) {
      throw new FlywheelError(
        'FW_FEATURE_VIEW_INVALID',
        `views on topic ${v.source.topic} disagree on key, timestamp field, allowed lateness or event bounds (${v.id} vs ${entry.views[0]!.id})`,
      );
    }
    entry.views.push(v);
  }
  return byTopic;
}
