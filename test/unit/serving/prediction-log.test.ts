import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../../services/platform/logger.ts';
import { MetricsRegistry } from '../../../services/platform/metrics.ts';
import { createPredictionLog, type PredictionRecord } from '../../../services/serving/prediction-log.ts';

const record = (i: number, model = 'm'): PredictionRecord => ({
  request_id: `r${i}`,
  model,
  model_version: 1,
  entity_key: `u${i}`,
  features: { 'v.f': i },
  feature_freshness_ms: { 'v.f': 5 },
  output: [0.5],
  label: null,
  predicted_at: 1_700_000_000_000 + i,
  latency_micros: 100,
});

function fakes(opts: { failKafka?: boolean; block?: Promise<void> } = {}) {
  const sent: Array<{ topic: string; keys: string[] }> = [];
  const rows: Array<Record<string, unknown>> = [];
  const lines: string[] = [];
  const metrics = new MetricsRegistry();
  const sinks = {
    encoderFor: async (model: string) => ({
      topic: `predictions.${model}`,
      encode: (r: PredictionRecord) => Buffer.from(r.request_id),
    }),
    producer: {
      sendBatch: async (b: {
        topicMessages?: Array<{ topic: string; messages: Array<{ key?: unknown }> }>;
      }) => {
        await opts.block;
        if (opts.failKafka) throw new Error('broker down');
        for (const t of b.topicMessages ?? [])
          sent.push({ topic: t.topic, keys: t.messages.map((m) => String(m.key)) });
        return [];
      },
    },
    clickhouse: {
      insert: async (p: { values: unknown }) => {
        rows.push(...(p.values as Array<Record<string, unknown>>));
        return {} as never;
      },
    },
    table: 'db.predictions',
  };
  const logger = createLogger({}, 'error', (l) => lines.push(l));
  return { sinks, sent, rows, lines, metrics, deps: { logger, metrics } };
}

test('records are written to Kafka (per model topic, keyed by entity) and ClickHouse in batches', async () => {
  const f = fakes();
  const log = createPredictionLog(f.sinks as never, f.deps, { batchSize: 2, flushMs: 10_000 });
  log.log(record(1));
  log.log(record(2, 'other'));
  log.log(record(3));
  await log.stop();
  assert.deepEqual(f.sent, [
    { topic: 'predictions.m', keys: ['u1'] },
    { topic: 'predictions.other', keys: ['u2'] },
    { topic: 'predictions.m', keys: ['u3'] },
  ]);
  assert.equal(f.rows.length, 3);
  assert.equal(f.rows[0]!.predicted_at, '2023-11-14 22:13:20.001');
  const logged = f.metrics.counter('flywheel_serving_predictions_logged_total', '');
  assert.equal(logged.get({ sink: 'kafka' }), 3);
  assert.equal(logged.get({ sink: 'clickhouse' }), 3);
});

test('a full queue drops, counts and logs loudly instead of blocking', async () => {
  let release: () => void = () => {};
  const f = fakes({
    block: new Promise<void>((r) => {
      release = r;
    }),
  });
  const log = createPredictionLog(f.sinks as never, f.deps, { maxQueue: 3, batchSize: 1, flushMs: 10_000 });
  for (let i = 0; i < 10; i++) log.log(record(i));
  const dropped = f.metrics.counter('flywheel_serving_predictions_dropped_total', '');
  // One record is in the blocked flush, three wait in the queue, six are dropped.
  assert.equal(dropped.get({ reason: 'queue_full' }), 6);
  assert.equal(log.size(), 3);
  assert.match(f.lines[0]!, /PREDICTIONS DROPPED/);
  release();
  await log.stop();
  assert.equal(f.sent.length, 4);
  assert.equal(log.size(), 0);
});

test('a sink that keeps failing drops its batch after the attempts; the other sink still writes', async () => {
  const f = fakes({ failKafka: true });
  const log = createPredictionLog(f.sinks as never, f.deps, { attempts: 2, flushMs: 10_000 });
  log.log(record(1));
  await log.stop();
  const dropped = f.metrics.counter('flywheel_serving_predictions_dropped_total', '');
  assert.equal(dropped.get({ reason: 'kafka_failed' }), 1);
  assert.equal(f.rows.length, 1);
});

test('the timer keeps flushing after an empty tick', async () => {
  const f = fakes();
  const log = createPredictionLog(f.sinks as never, f.deps, { flushMs: 10 });
  log.start();
  await new Promise((r) => setTimeout(r, 30));
  log.log(record(1));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(f.rows.length, 1, 'written by the timer, not by stop()');
  await log.stop();
});
