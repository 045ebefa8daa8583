import type { Admin, Kafka } from 'kafkajs';
import type { Checkpoint } from '../../services/features/engine/partition-state.ts';
import { eventually } from './env.ts';

/** Reads a processor's checkpoints by partition (e.g. `() => features.checkpoints(topic)`). */
export type CheckpointReader = () => Promise<Record<string, Pick<Checkpoint, 'next'>>>;

/**
 * Waits until the features checkpoint covers the topic: every partition's `next` has reached the end
 * offset the topic had when this was called (so everything produced before the call is in the stores).
 * `offsets` is a connected admin, or a Kafka client for which one is connected for the look-up.
 */
export async function waitUntilCovered(opts: {
  offsets: Kafka | Pick<Admin, 'fetchTopicOffsets'>;
  topic: string;
  checkpoints: CheckpointReader;
  timeoutMs?: number;
  what?: string;
}): Promise<void> {
  const ends = await endOffsets(opts.offsets, opts.topic);
  await eventually(
    async () => {
      const cps = await opts.checkpoints();
      return ends.every((e) => (cps[String(e.partition)]?.next ?? 0) >= e.high) ? true : undefined;
    },
    opts.timeoutMs ?? 60_000,
    opts.what ?? `the checkpoint to cover ${opts.topic}`,
  );
}

async function endOffsets(
  source: Kafka | Pick<Admin, 'fetchTopicOffsets'>,
  topic: string,
): Promise<Array<{ partition: number; high: number }>> {
  const read = async (admin: Pick<Admin, 'fetchTopicOffsets'>) =>
    (await admin.fetchTopicOffsets(topic)).map((e) => ({ partition: e.partition, high: Number(e.high) }));
  if ('fetchTopicOffsets' in source) return read(source);
  const admin = source.admin();
  await admin.connect();
  try {
    return await read(admin);
  } finally {
    await admin.disconnect();
  }
}
