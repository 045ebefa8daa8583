import type { Kafka, Producer, RecordMetadata } from 'kafkajs';
import { z } from 'zod';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createProducer, ensureTopics } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import { retryStartup, StartCancelled, sleep } from '../platform/retry.ts';
import { invalidBatchError, validateBatch } from './core.ts';
import { toMessages } from './messages.ts';
import type { Source, SourceCatalogue } from './sources.ts';
import { withTimeout } from './with-timeout.ts';

export interface IngestServiceDeps {
  readonly config: Readonly<ResolvedConfig>;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly kafka: Pick<Kafka, 'admin' | 'producer'>;
  readonly codec: Pick<RegistryCodec, 'register' | 'encode'>;
  readonly sources: SourceCatalogue;
  /** Longest a request waits for Kafka's acknowledgement before answering 503 (never hang). */
  readonly sendTimeoutMs?: number;
  /** Backoff between start-up attempts while Kafka or the registry is unreachable (default: config.startup). */
  readonly reconnectDelayMs?: { initial: number; max: number };
}

export interface IngestResult {
  readonly accepted: number;
  readonly topic: string;
  readonly offsets: ReadonlyArray<{ partition: number; baseOffset: string | undefined }>;
}

/**
 * The ingest service: HTTP events → validated → Avro → Kafka (acks=all, idempotent producer). It answers
 * only after Kafka acknowledged the write, and 503 within `sendTimeoutMs` when it cannot. `start()`
 * keeps retrying while Kafka or the registry is down (readiness stays false) so a process started before
 * its dependencies recovers on its own; a non-retriable fault (an incompatible schema) fails start.
 */
export function createIngestService(deps: IngestServiceDeps) {
  const { config, logger, metrics, kafka, codec } = deps;
  const sources = deps.sources;
  const sendTimeoutMs = deps.sendTimeoutMs ?? 5_000;
  const reconnect = deps.reconnectDelayMs
    ? { initialDelayMs: deps.reconnectDelayMs.initial, maxDelayMs: deps.reconnectDelayMs.max }
    : {};
  const accepted = metrics.counter(
    'flywheel_ingest_events_accepted_total',
    'Events written to Kafka, by source.',
  );
  const rejected = metrics.counter(
    'flywheel_ingest_events_rejected_total',
    'Events refused, by source and reason (invalid, too_large, batch_too_large, bad_request, kafka_unavailable).',
  );
  const produceSeconds = metrics.histogram(
    'flywheel_ingest_produce_seconds',
    'Time from send to Kafka acknowledgement, by source.',
  );

  const schemaIds = new Map<string, number>();
  const inFlight = new Set<Promise<unknown>>();
  let producer: Producer | undefined;
  let state: 'idle' | 'connecting' | 'ready' | 'stopping' | 'stopped' = 'idle';

  async function connectOnce(): Promise<void> {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const topics = [...sources.values()].map((s) => ({
        topic: s.topic,
        partitions: config.kafka.defaultPartitions,
        withDeadLetter: true,
      }));
      await ensureTopics(admin, topics);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    for (const source of sources.values())
      schemaIds.set(source.name, (await codec.register(source.topic, source.schema)).id);
    producer = createProducer(kafka as Kafka);
    await producer.connect();
  }

  /** One attempt; `start` repeats it under the one start-up policy while the fault is retriable. */
  async function attempt(): Promise<void> {
    try {
      await connectOnce();
    } catch (err) {
      await producer?.disconnect().catch(() => {});
      producer = undefined;
      throw err;
    }
  }

  async function start(): Promise<void> {
    if (state !== 'idle') return;
    state = 'connecting';
    try {
      await retryStartup(attempt, {
        policy: { ...config.startup, ...reconnect },
        logger,
        what: 'ingest',
        stopped: () => state !== 'connecting',
      });
    } catch (err) {
      if (err instanceof StartCancelled) return;
      if (state === 'connecting') state = 'stopped';
      throw err;
    }
    if (state !== 'connecting') {
      await producer?.disconnect().catch(() => {});
      return;
    }
    state = 'ready';
    logger.info('ingest ready', { sources: [...sources.keys()] });
  }

  function sourceFor(name: string): Source {
    const source = sources.get(name);
    if (!source)
      throw new FlywheelError('FW_NOT_FOUND', `unknown source "${name}"; GET /v1/sources lists them`, {
        details: { source: name },
      });
    return source;
  }

  async function ingest(sourceName: string, body: unknown): Promise<IngestResult> {
    const source = sourceFor(sourceName);
    const labels = { source: source.name };
    let result: ReturnType<typeof validateBatch>;
    try {
      result = validateBatch(body, source);
    } catch (err) {
      rejected.inc({ ...labels, reason: reasonOf(err) }, countOf(body));
      throw err;
    }
    if (!result.ok) {
      rejected.inc({ ...labels, reason: 'invalid' }, countOf(body));
      throw invalidBatchError(source.name, result.errors);
    }
    const schemaId = schemaIds.get(source.name);
    if (state !== 'ready' || !producer || schemaId === undefined) {
      rejected.inc({ ...labels, reason: 'kafka_unavailable' }, result.events.length);
      throw new FlywheelError('FW_KAFKA_UNAVAILABLE', 'ingest is not connected to Kafka; retry shortly');
    }
    const messages = await toMessages(codec, schemaId, source, result.events);
    const started = process.hrtime.bigint();
    const send = producer.send({ topic: source.topic, messages, acks: -1, timeout: sendTimeoutMs });
    inFlight.add(send);
    void send.catch(() => {}).finally(() => inFlight.delete(send));
    let metadata: RecordMetadata[];
    try {
      metadata = await withTimeout(send, sendTimeoutMs, 'Kafka send');
    } catch (err) {
      rejected.inc({ ...labels, reason: 'kafka_unavailable' }, messages.length);
      logger.warn('Kafka did not acknowledge a batch', { err, source: source.name, events: messages.length });
      // After a timeout the outcome is unknown: the caller retries, and event_id lets consumers dedupe.
      throw new FlywheelError(
        'FW_KAFKA_UNAVAILABLE',
        `Kafka did not acknowledge the batch within ${sendTimeoutMs} ms; nothing is confirmed, retry`,
        { cause: err },
      );
    }
    produceSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9, labels);
    accepted.inc(labels, messages.length);
    return {
      accepted: messages.length,
      topic: source.topic,
      offsets: metadata.map((m) => ({ partition: m.partition, baseOffset: m.baseOffset })),
    };
  }

  /** Drains: refuses new batches, waits for in-flight sends (bounded), then disconnects. */
  async function stop(graceMs = 10_000): Promise<void> {
    if (state === 'stopped') return;
    state = 'stopping';
    const deadline = Date.now() + graceMs;
    while (inFlight.size > 0 && Date.now() < deadline)
      await Promise.race([...inFlight, sleep(50)]).catch(() => {});
    await producer?.disconnect().catch(() => {});
    state = 'stopped';
  }

  function describeSources() {
    return [...sources.values()].map((s) => ({
      name: s.name,
      topic: s.topic,
      keyField: s.keyField,
      limits: s.limits,
      schema: z.toJSONSchema(s.contract, { io: 'input', unrepresentable: 'any' }),
    }));
  }

  return { start, stop, ingest, sourceFor, describeSources, ready: () => state === 'ready', sources };
}

export type IngestService = ReturnType<typeof createIngestService>;

function reasonOf(err: unknown): string {
  const code = err instanceof FlywheelError ? err.code : undefined;
  if (code === 'FW_PAYLOAD_TOO_LARGE') return 'too_large';
  if (code === 'FW_BATCH_TOO_LARGE') return 'batch_too_large';
  return 'bad_request';
}

function countOf(body: unknown): number {
  if (Array.isArray(body)) return body.length;
  const events = (body as { events?: unknown } | null)?.events;
  return Array.isArray(events) ? events.length : 1;
}
