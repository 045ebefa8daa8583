import type { ClickHouseClient } from '@clickhouse/client';
import type { Producer } from 'kafkajs';
import { clickHouseTime } from '../platform/clickhouse.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import { sleep } from '../platform/retry.ts';

/**
 * Prediction logging, off the request path. A prediction is pushed onto a bounded in-memory queue (no
 * I/O, no await) and a background flusher writes batches — when `batchSize` are waiting or every
 * `flushMs` — to Kafka `predictions.<model>` (Avro, schemas/platform/prediction.avsc) and to the
 * ClickHouse table `predictions`. Each sink gets `attempts` tries per batch.
 *
 * Explicit loss budget: when the queue holds `maxQueue` records (the sinks are down or too slow), new
 * records are DROPPED — counted in flywheel_serving_predictions_dropped_total and logged at error
 * level (at most every 5 s) — rather than slowing or failing predictions. stop() drains what is queued.
 */
export interface PredictionRecord {
  request_id: string;
  model: string;
  model_version: number;
  entity_key: string;
  features: Record<string, number | null>;
  feature_freshness_ms: Record<string, number>;
  output: number[];
  label: string | null;
  predicted_at: number;
  latency_micros: number;
}

export interface PredictionLogOptions {
  maxQueue: number;
  batchSize: number;
  flushMs: number;
  attempts: number;
}

export const DEFAULT_PREDICTION_LOG: PredictionLogOptions = Object.freeze({
  maxQueue: 50_000,
  // Small batches: serializing one is synchronous work, and a large one shows up as a request-latency spike.
  batchSize: 250,
  flushMs: 200,
  attempts: 3,
});

export interface PredictionSinks {
  /** Encoder for a model's topic (ensures the topic and registers the schema once). */
  encoderFor(model: string): Promise<{ topic: string; encode: (r: PredictionRecord) => Buffer }>;
  producer: Pick<Producer, 'sendBatch'>;
  clickhouse: Pick<ClickHouseClient, 'insert'>;
  table: string;
}

export function createPredictionLog(
  sinks: PredictionSinks,
  deps: { logger: Logger; metrics: MetricsRegistry },
  options: Partial<PredictionLogOptions> = {},
) {
  const opts = { ...DEFAULT_PREDICTION_LOG, ...options };
  const written = deps.metrics.counter(
    'flywheel_serving_predictions_logged_total',
    'Predictions written, by sink (kafka, clickhouse).',
  );
  const dropped = deps.metrics.counter(
    'flywheel_serving_predictions_dropped_total',
    'Predictions not logged, by reason (queue_full, kafka_failed, clickhouse_failed).',
  );
  const depth = deps.metrics.gauge('flywheel_serving_prediction_queue', 'Predictions waiting to be logged.');
  const queue: PredictionRecord[] = [];
  let flushing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastLoud = 0;
  let droppedSinceLoud = 0;

  function drop(reason: string, n: number, err?: unknown): void {
    dropped.inc({ reason }, n);
    droppedSinceLoud += n;
    if (Date.now() - lastLoud < 5_000) return;
    deps.logger.error('PREDICTIONS DROPPED: the prediction log is not keeping up', {
      reason,
      dropped: droppedSinceLoud,
      maxQueue: opts.maxQueue,
      err,
    });
    lastLoud = Date.now();
    droppedSinceLoud = 0;
  }

  async function attempt(what: string, n: number, write: () => Promise<unknown>): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await write();
        written.inc({ sink: what }, n);
        return;
      } catch (err) {
        if (i >= opts.attempts) {
          drop(`${what}_failed`, n, err);
          return;
        }
        await sleep(100 * 2 ** i);
      }
    }
  }

  async function writeBatch(batch: PredictionRecord[]): Promise<void> {
    const byModel = new Map<string, PredictionRecord[]>();
    for (const r of batch) (byModel.get(r.model) ?? byModel.set(r.model, []).get(r.model)!).push(r);
    const kafka = attempt('kafka', batch.length, async () => {
      const topicMessages = await Promise.all(
        [...byModel].map(async ([model, records]) => {
          const { topic, encode } = await sinks.encoderFor(model);
          return { topic, messages: records.map((r) => ({ key: r.entity_key, value: encode(r) })) };
        }),
      );
      await sinks.producer.sendBatch({ topicMessages, acks: -1 });
    });
    const clickhouse = attempt('clickhouse', batch.length, () =>
      sinks.clickhouse.insert({ table: sinks.table, values: batch.map(toRow), format: 'JSONEachRow' }),
    );
    await Promise.all([kafka, clickhouse]);
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, opts.batchSize);
      depth.set(queue.length);
      await writeBatch(batch);
    }
  }

  /** Writes everything queued now, batch by batch; one flush at a time. */
  function flush(): Promise<void> {
    // Assigned before drain's first await returns, and cleared asynchronously after it settles.
    if (!flushing)
      flushing = drain().finally(() => {
        flushing = undefined;
      });
    return flushing;
  }

  return {
    /** Queues one prediction; never blocks, never throws. */
    log(record: PredictionRecord): void {
      if (queue.length >= opts.maxQueue) {
        drop('queue_full', 1);
        return;
      }
      queue.push(record);
      depth.set(queue.length);
      if (queue.length >= opts.batchSize && !flushing) void flush();
    },
    start(): void {
      timer = setInterval(() => void flush(), opts.flushMs);
      timer.unref();
    },
    flush,
    /** Graceful drain: stops the timer and writes everything still queued. */
    async stop(): Promise<void> {
      clearInterval(timer);
      await flushing;
      await flush();
    },
    size: () => queue.length,
  };
}

export type PredictionLog = ReturnType<typeof createPredictionLog>;

/** Kafka record → ClickHouse row: the same fields, the time as DateTime64(3) text. */
function toRow(r: PredictionRecord) {
  return { ...r, predicted_at: clickHouseTime(r.predicted_at) };
}
