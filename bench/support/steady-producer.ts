import { parentPort, Worker, workerData } from 'node:worker_threads';
import { loadConfig } from '../../services/platform/config.ts';
import { createKafka, createProducer } from '../../services/platform/kafka.ts';
import { createLogger } from '../../services/platform/logger.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { generateOrders, partitionOf, shopOrderSchema } from '../../test/support/shop-events.ts';

/**
 * The load generator of the freshness benchmark, on its own thread (like wrk beside a server): shop
 * orders at a steady rate with event time = the moment each tick is produced, so the processor being
 * measured does not also pay for producing its input.
 */
interface Job {
  topic: string;
  partitions: number;
  rate: number;
  /** Produce from now until this epoch ms. */
  until: number;
}

export function produceSteadily(job: Job): Promise<{ sent: number }> {
  // Node 20 applies --import hooks to a worker only after its entry loads: register tsx, then import.
  const entry = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(entry, { eval: true, workerData: job });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function main(job: Job): Promise<void> {
  const config = loadConfig(process.env);
  const kafka = createKafka(config, createLogger({ component: 'bench-producer' }, 'warn'));
  const codec = createRegistryCodec(config.registry.url);
  const { id } = await codec.register(job.topic, shopOrderSchema());
  const encode = await codec.encoderFor(id);
  const producer = createProducer(kafka);
  await producer.connect();
  const template = generateOrders({
    count: 20_000,
    users: 10_000,
    start: 0,
    spanMs: 1,
    jitterMs: 0,
    lateFraction: 0,
    lateByMs: 0,
    seed: 2,
  });
  const tick = 20;
  const perTick = Math.round((job.rate * tick) / 1000);
  const pending: Array<Promise<unknown>> = [];
  let sent = 0;
  let next = Date.now();
  while (Date.now() < job.until) {
    const now = Date.now();
    const messages = [];
    for (let i = 0; i < perTick; i++) {
      const o = { ...template[(sent + i) % template.length]!, ts: now };
      messages.push({ key: o.user_id, value: encode(o), partition: partitionOf(o.user_id, job.partitions) });
    }
    pending.push(producer.send({ topic: job.topic, messages, acks: -1 }));
    sent += perTick;
    next += tick;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  await Promise.all(pending);
  await producer.disconnect();
  parentPort!.postMessage({ sent });
}

if (parentPort && workerData?.topic) await main(workerData as Job);
