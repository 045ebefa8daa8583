import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createIngestService } from '../../../services/ingest/service.ts';
import { loadConfig } from '../../../services/platform/config.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { createLogger } from '../../../services/platform/logger.ts';
import { MetricsRegistry } from '../../../services/platform/metrics.ts';
import { shopSources } from '../../support/shop-sources.ts';

/** Fakes for the Kafka and registry ports: the service's behaviour without a broker. */
function fakes(send: () => Promise<unknown>) {
  const sent: unknown[] = [];
  const kafka = {
    admin: () => ({
      connect: async () => {},
      disconnect: async () => {},
      listTopics: async () => [],
      createTopics: async () => true,
    }),
    producer: () => ({
      connect: async () => {},
      disconnect: async () => {},
      send: async (record: unknown) => {
        sent.push(record);
        return send();
      },
    }),
  };
  const codec = {
    register: async () => ({ id: 1, subject: 's' }),
    encode: async (_: number, v: unknown) => Buffer.from(JSON.stringify(v)),
  };
  return { kafka: kafka as never, codec: codec as never, sent };
}

const order = {
  event_id: 'e',
  user_id: 'u1',
  merchant_id: 'm',
  amount: 1,
  currency: 'EUR',
  category: 'c',
  country: 'DE',
  ts: Date.UTC(2026, 0, 1),
};
const base = { config: loadConfig({}), logger: createLogger({}, 'silent'), sources: shopSources() };

test('503 (retriable) before start, then 202-style result keyed by user_id after start', async () => {
  const metrics = new MetricsRegistry();
  const f = fakes(async () => [{ partition: 2, baseOffset: '7' }]);
  const service = createIngestService({ ...base, metrics, ...f });
  await assert.rejects(
    service.ingest('shop', order),
    (e: unknown) => e instanceof FlywheelError && e.code === 'FW_KAFKA_UNAVAILABLE' && e.retriable,
  );
  await service.start();
  assert.equal(service.ready(), true);
  const result = await service.ingest('shop', { events: [order, order] });
  assert.deepEqual(result, {
    accepted: 2,
    topic: 'events.shop',
    offsets: [{ partition: 2, baseOffset: '7' }],
  });
  assert.deepEqual((f.sent[0] as { messages: Array<{ key: string }>; acks: number }).acks, -1);
  assert.equal((f.sent[0] as { messages: Array<{ key: string }> }).messages[0]!.key, 'u1');
  assert.equal(metrics.counter('flywheel_ingest_events_accepted_total', '').get({ source: 'shop' }), 2);
  await assert.rejects(
    service.ingest('nope', order),
    (e: unknown) => e instanceof FlywheelError && e.code === 'FW_NOT_FOUND',
  );
  await assert.rejects(service.ingest('shop', { ...order, amount: 'x' }));
  assert.equal(
    metrics.counter('flywheel_ingest_events_rejected_total', '').get({ source: 'shop', reason: 'invalid' }),
    1,
  );
  await service.stop();
  assert.equal(service.ready(), false);
});

test('a send Kafka never acknowledges answers FW_KAFKA_UNAVAILABLE within the timeout, and stop drains', async () => {
  let release: (v: unknown) => void = () => {};
  const f = fakes(
    () =>
      new Promise((r) => {
        release = r;
      }),
  );
  const service = createIngestService({ ...base, metrics: new MetricsRegistry(), ...f, sendTimeoutMs: 150 });
  await service.start();
  const t0 = Date.now();
  await assert.rejects(
    service.ingest('shop', order),
    (e: unknown) => e instanceof FlywheelError && e.code === 'FW_KAFKA_UNAVAILABLE',
  );
  assert.ok(Date.now() - t0 < 1_000);
  // The timed-out send is still in flight: stop waits for it (bounded) before disconnecting.
  const stopping = service.stop(5_000);
  setTimeout(() => release([]), 100);
  const s0 = Date.now();
  await stopping;
  assert.ok(Date.now() - s0 >= 50, 'stop waited for the in-flight send');
});

test('a non-retriable start-up fault (incompatible schema) fails start instead of looping', async () => {
  const f = fakes(async () => []);
  const codec = {
    ...(f.codec as object),
    register: async () => {
      throw new FlywheelError('FW_SCHEMA_INCOMPATIBLE', 'no');
    },
  };
  const service = createIngestService({
    ...base,
    metrics: new MetricsRegistry(),
    kafka: f.kafka,
    codec: codec as never,
  });
  await assert.rejects(
    service.start(),
    (e: unknown) => e instanceof FlywheelError && e.code === 'FW_SCHEMA_INCOMPATIBLE',
  );
  assert.equal(service.ready(), false);
});
