import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import type { Shop } from '../../examples/shop/generated/events.ts';
import { loadSchemaFile } from '../../schemas/catalog.ts';
import { createProducer, ensureTopics } from '../../services/platform/kafka.ts';
import { ownerPartition } from '../../services/platform/partitioner.ts';
import type { RegistryCodec } from '../../services/platform/registry-codec.ts';
import { createRng } from './prng.ts';

/** An order as Avro encodes it: the type `flywheel typegen` wrote for the shop example's source. */
export type ShopOrder = Shop;

const CATEGORIES = ['grocery', 'fashion', 'electronics', 'travel', 'games', 'home'];
const COUNTRIES = ['DE', 'FR', 'NL', 'PL', 'ES', 'IT', 'US'];
const DEVICES = ['ios', 'android', 'web', null];

/**
 * Seeded shop orders: `users` entities, event times advancing from `start` at `spanMs / count` per event
 * with ± `jitterMs` disorder, and a `lateFraction` pushed `lateByMs` into the past. Amounts are
 * multiples of 0.25 so float sums are exact and online/offline comparisons can be exact.
 */
export function generateOrders(opts: {
  count: number;
  users: number;
  start: number;
  spanMs: number;
  jitterMs: number;
  lateFraction: number;
  lateByMs: number;
  seed: number;
}): ShopOrder[] {
  const rng = createRng(opts.seed);
  const step = opts.spanMs / opts.count;
  return Array.from({ length: opts.count }, (_, i) => {
    let ts = Math.round(opts.start + i * step + (rng.next() * 2 - 1) * opts.jitterMs);
    if (rng.bool(opts.lateFraction)) ts -= opts.lateByMs;
    return {
      event_id: `e${opts.seed}-${i}`,
      user_id: `u${rng.int(0, opts.users - 1)}`,
      merchant_id: `m${rng.int(0, 199)}`,
      amount: rng.int(1, 40_000) / 4,
      currency: 'EUR',
      category: rng.pick(CATEGORIES),
      device: rng.pick(DEVICES),
      country: rng.pick(COUNTRIES),
      ts: Math.max(0, ts),
    };
  });
}

/**
 * The partition that owns a user: Kafka's default (murmur2) partitioner, the one Flywheel's ingest and
 * SDK write with. Tests produce to it explicitly so they know each partition's order.
 */
export function partitionOf(userId: string, partitions: number): number {
  return ownerPartition(userId, partitions);
}

export async function createShopTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, partitions, withDeadLetter: true }]);
  await admin.disconnect();
}

export function shopOrderSchema(): object {
  return loadSchemaFile(
    fileURLToPath(new URL('../../examples/shop/schemas/shop-order.avsc', import.meta.url)),
  );
}

/** Produces orders in order, keyed by user, each to `partitionOf(user)`; returns the schema id. */
export async function produceOrders(
  kafka: Kafka,
  codec: RegistryCodec,
  topic: string,
  orders: readonly ShopOrder[],
  partitions: number,
  chunk = 5_000,
): Promise<number> {
  const { id } = await codec.register(topic, shopOrderSchema());
  const encode = await codec.encoderFor(id);
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    for (let i = 0; i < orders.length; i += chunk) {
      const messages = orders
        .slice(i, i + chunk)
        .map((o) => ({ key: o.user_id, value: encode(o), partition: partitionOf(o.user_id, partitions) }));
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  return id;
}
