import type { Kafka, Message, Producer } from 'kafkajs';
import { createProducer } from '../../services/platform/kafka.ts';
import type { RegistryCodec } from '../../services/platform/registry-codec.ts';
import { createRng } from './prng.ts';
import { partitionOf, type ShopOrder, shopOrderSchema } from './shop-events.ts';
import { foreignSchema, HOSTILE_HEADER, type HostileClass, type HostileContext } from './soak-hostile.ts';

/**
 * The soak's load: `events` seeded shop orders at a steady `rate`, each produced with event time = the
 * moment it is generated (never in the future, never late: event times only grow, and each partition
 * gets its records in send order), keyed by user and sent to `partitionOf(user)`. Hostile records are
 * mixed in after the good events named in `hostile`. Sends are sequential through kafkajs's idempotent
 * producer; a send that fails (the broker is restarting) is retried with the same records until it
 * succeeds, and the time lost is made up afterwards so the average rate holds. Whatever retries do to
 * the log, the harness reads back what it actually holds.
 */
export interface SoakProducerOptions {
  kafka: Kafka;
  codec: RegistryCodec;
  topic: string;
  partitions: number;
  events: number;
  rate: number;
  users: number;
  seed: number;
  /** Hostile records, each injected right after good event `at` (sorted by `at`). */
  hostile: ReadonlyArray<{ at: number; cls: HostileClass }>;
  progress(message: string): void;
}

export interface ProducerStats {
  sent: number;
  hostile_sent: number;
  sends: number;
  send_errors: number;
  first_send_error?: string;
  max_send_ms: number;
  seconds: number;
}

const CATEGORIES = ['grocery', 'fashion', 'electronics', 'travel', 'games', 'home'];
const COUNTRIES = ['DE', 'FR', 'NL', 'PL', 'ES', 'IT', 'US'];
const DEVICES = ['ios', 'android', 'web', null];
const MAX_RECORDS_PER_SEND = 10_000;
const TICK_MS = 20;

export async function prepareSchemas(codec: RegistryCodec, topic: string) {
  const { id } = await codec.register(topic, shopOrderSchema());
  const { id: foreignId } = await codec.register(`${topic}.foreign`, foreignSchema(shopOrderSchema()));
  const encode = await codec.encoderFor(id);
  const encodeForeignRaw = await codec.encoderFor(foreignId);
  return {
    schemaId: id,
    foreignSchemaId: foreignId,
    encode,
    encodeForeign: (o: ShopOrder) => encodeForeignRaw({ ...o, soak_note: 'foreign' }),
  };
}

export function startProducer(opts: SoakProducerOptions): {
  done: Promise<ProducerStats>;
  stop(): void;
} {
  let stopped = false;
  const done = (async (): Promise<ProducerStats> => {
    const schemas = await prepareSchemas(opts.codec, opts.topic);
    const ctx: HostileContext = {
      partitions: opts.partitions,
      encode: schemas.encode,
      encodeForeign: schemas.encodeForeign,
      // Apicurio numbers schemas from 1: this one is never registered.
      unknownSchemaId: 2_000_000_000 + (opts.seed % 1_000),
    };
    const rng = createRng(opts.seed);
    const hostileRng = createRng(opts.seed + 1);
    const order = (eventId: string, ts: number, user: string, r = rng): ShopOrder => ({
      event_id: eventId,
      user_id: user,
      merchant_id: `m${r.int(0, 199)}`,
      amount: r.int(1, 40_000) / 4,
      currency: 'EUR',
      category: r.pick(CATEGORIES),
      device: r.pick(DEVICES),
      country: r.pick(COUNTRIES),
      ts,
    });
    const stats: ProducerStats = {
      sent: 0,
      hostile_sent: 0,
      sends: 0,
      send_errors: 0,
      max_send_ms: 0,
      seconds: 0,
    };
    let producer: Producer = createProducer(opts.kafka);
    await producer.connect();
    const send = async (messages: Message[]) => {
      for (let attempt = 1; ; attempt++) {
        const t = Date.now();
        try {
          await producer.send({ topic: opts.topic, messages, acks: -1 });
          stats.sends++;
          stats.max_send_ms = Math.max(stats.max_send_ms, Date.now() - t);
          return;
        } catch (err) {
          if (stopped) throw err;
          stats.send_errors++;
          const message = (err as Error).message;
          stats.first_send_error ??= message;
          if (attempt === 1 || attempt % 10 === 0)
            opts.progress(`producer: send of ${messages.length} failed (attempt ${attempt}): ${message}`);
          await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * attempt)));
          if (attempt % 5 === 0) {
            // A producer that keeps failing is replaced (its idempotence state may be stale).
            await producer.disconnect().catch(() => undefined);
            producer = createProducer(opts.kafka);
            await producer.connect().catch(() => undefined);
          }
        }
      }
    };
    const t0 = Date.now();
    let i = 0;
    let h = 0;
    let lastTs = 0;
    let hostileEntity = 0;
    let lastReport = t0;
    try {
      while (i < opts.events && !stopped) {
        const due = Math.min(opts.events, Math.floor(((Date.now() - t0) / 1000) * opts.rate));
        if (due <= i) {
          await new Promise((r) => setTimeout(r, TICK_MS));
          continue;
        }
        const end = Math.min(due, i + MAX_RECORDS_PER_SEND);
        const messages: Message[] = [];
        for (; i < end; i++) {
          lastTs = Math.max(lastTs, Date.now());
          const o = order(`s${opts.seed}-${i}`, lastTs, `u${rng.int(0, opts.users - 1)}`);
          messages.push({
            key: o.user_id,
            value: schemas.encode(o),
            partition: partitionOf(o.user_id, opts.partitions),
          });
          while (h < opts.hostile.length && opts.hostile[h]!.at === i) {
            const { cls } = opts.hostile[h++]!;
            const base = order(`h${opts.seed}-${h}`, lastTs, `x${hostileEntity++}`, hostileRng);
            const r = cls.build(ctx, base);
            const headers = { [HOSTILE_HEADER]: cls.name };
            messages.push({ key: r.key, value: r.value, partition: r.partition, headers });
            stats.hostile_sent++;
          }
        }
        await send(messages);
        stats.sent = i;
        if (Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          opts.progress(`producer: ${i} of ${opts.events} events sent`);
        }
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    stats.seconds = (Date.now() - t0) / 1000;
    return stats;
  })();
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}
