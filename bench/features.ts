import { shopViews } from '../examples/shop/views.ts';
import type { ProcessorOptions } from '../services/features/engine/processor.ts';
import { createFeaturesService } from '../services/features/service.ts';
import { closeEmbeddedClickHouse, createClickHouse } from '../services/platform/clickhouse.ts';
import { loadConfig } from '../services/platform/config.ts';
import { createKafka } from '../services/platform/kafka.ts';
import { createLogger } from '../services/platform/logger.ts';
import { MetricsRegistry } from '../services/platform/metrics.ts';
import { createRedis } from '../services/platform/redis.ts';
import { createRegistryCodec } from '../services/platform/registry-codec.ts';
import { createStack } from '../services/platform/stack/stack.ts';
import { scratchDir } from '../test/support/scratch.ts';
import { createShopTopic, generateOrders, produceOrders } from '../test/support/shop-events.ts';
import { intFlag } from './support/args.ts';
import { deletePrefix } from './support/redis-cleanup.ts';
import { progress, round } from './support/stats.ts';
import { produceSteadily } from './support/steady-producer.ts';

/**
 * `npm run bench -- features [--events 1000000] [--rate 10000] [--seconds 20]`
 * Throughput: N shop orders are produced first, then a processor with 3 views × 5 aggregations × 3
 * windows consumes them from the start; events_per_s = N / (time to the last checkpoint).
 * Freshness: orders are produced at a steady `rate` with event time = produce time, and each event's
 * commit time (when its tiles and offset became visible in Redis) minus its event time is recorded.
 * redis_ops_per_event counts Redis commands (reads + the commit script's writes) per event.
 */
/** As the features service runs in compose and k8s: a 64 MiB young generation (docs/performance.md). */
export const nodeOptions = ['--max-semi-space-size=64'];

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const events = intFlag(args, 'events', 1_000_000);
  const rate = intFlag(args, 'rate', 10_000);
  const seconds = intFlag(args, 'seconds', 20);
  const partitions = 4;
  const config = loadConfig(process.env, {
    clickhouse: { dataDir: scratchDir('flywheel-bench') },
    redis: { keyPrefix: `fwb${Date.now().toString(36)}:` },
  });
  const logger = createLogger({ component: 'bench' }, 'warn');
  await createStack(config, logger).up();
  const kafka = createKafka(config, logger);
  const codec = createRegistryCodec(config.registry.url);
  const redis = createRedis(config.redis.url);
  const clickhouse = await createClickHouse(config);

  // 1. Freshness at a steady rate, live, on a quiet system (before the backlog's background merges).
  const liveTopic = `bench.features.${Date.now().toString(36)}.live`;
  await createShopTopic(kafka, liveTopic, partitions);
  /** A features service over `views`, in its own group, reporting each committed flush. */
  const featuresService = (
    views: ReturnType<typeof shopViews>,
    metrics: MetricsRegistry,
    onCommit: NonNullable<ProcessorOptions['onCommit']>,
  ) =>
    createFeaturesService(
      { config, logger, metrics, kafka, redis, clickhouse, codec, views },
      { groupId: `bench-${views[0]!.source.topic}`, onCommit },
    );
  const lags: number[] = [];
  const live = featuresService(
    shopViews(liveTopic, '5m', 2),
    new MetricsRegistry(),
    ({ events: e, committedAt }) => {
      for (const x of e) lags.push(committedAt - x.eventTime);
    },
  );
  await live.start();
  progress(`producing ${rate} events/s for ${seconds} s with event time = produce time`);
  // The first 5 s warm up (the group join, JIT, connection pools) and are not measured.
  const warmUpMs = 5_000;
  const measureFrom = Date.now() + warmUpMs;
  const producing = produceSteadily({
    topic: liveTopic,
    partitions,
    rate,
    until: measureFrom + seconds * 1000,
  });
  await new Promise((r) => setTimeout(r, warmUpMs));
  lags.length = 0;
  const { sent } = await producing;
  await new Promise((r) => setTimeout(r, 2_000));
  await live.stop();
  // 2. Throughput from a backlog.
  const topic = `bench.features.${Date.now().toString(36)}`;
  await createShopTopic(kafka, topic, partitions);
  progress(`producing ${events} orders to ${topic}`);
  // Event times as if produced at 10,000 events/s: each user's tiles see a realistic number of events.
  const spanMs = Math.ceil(events / 10);
  const orders = generateOrders({
    count: events,
    users: 10_000,
    start: Date.now() - spanMs,
    spanMs,
    jitterMs: 2_000,
    lateFraction: 0,
    lateByMs: 0,
    seed: 1,
  });
  await produceOrders(kafka, codec, topic, orders, partitions, 10_000);
  orders.length = 0;
  let processed = 0;
  let flushes = 0;
  const metrics = new MetricsRegistry();
  const service = featuresService(shopViews(topic), metrics, ({ events: e }) => {
    processed += e.length;
    flushes++;
  });
  progress('consuming the backlog');
  const t0 = performance.now();
  await service.start();
  while (processed < events) await new Promise((r) => setTimeout(r, 20));
  const throughputSeconds = (performance.now() - t0) / 1000;
  await service.stop();
  const eventsPerS = events / throughputSeconds;
  progress(
    `${events} events in ${throughputSeconds.toFixed(1)} s = ${Math.round(eventsPerS)} events/s (${flushes} flushes)`,
  );

  const sorted = lags.slice().sort((a, b) => a - b);
  const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  progress(`freshness over ${sorted.length} events: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms (sent ${sent})`);
  await deletePrefix(redis, config.redis.keyPrefix);
  await redis.quit();
  await closeEmbeddedClickHouse();
  return {
    events,
    views: 3,
    aggregations_per_view: 5,
    windows: 3,
    seconds: round(throughputSeconds),
    events_per_s: Math.round(eventsPerS),
    freshness_rate_events_per_s: rate,
    freshness_p50_ms: pct(0.5),
    freshness_p99_ms: pct(0.99),
    redis_ops_per_event: round(
      metrics.counter('flywheel_features_redis_commands_total', '').get() / Math.max(1, events),
      4,
    ),
  };
}
