/**
 * Which partition owns a key: the Java client's and kafkajs's default partitioner,
 * `(murmur2(keyBytes) & 0x7fffffff) % partitions`. Flywheel's ingest and SDK write with it, an entity's
 * tiles live with the partition it names, and the features processor sends a record that another
 * partitioner put elsewhere (librdkafka's CRC32 default, a custom one) on to this partition.
 *
 * Written with Math.imul (32-bit multiply) rather than kafkajs's Long arithmetic: the processor calls it
 * for every record. A unit test checks it against kafkajs's own implementation.
 */
const M = 0x5bd1e995;
const SEED = 0x9747b28c;

export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The tail's bytes, as Java's switch falls through from case 3 to case 1.
  const tail = length & 3;
  if (tail >= 3) h ^= data[whole + 2]! << 16;
  if (tail >= 2) h ^= data[whole + 1]! << 8;
  if (tail >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Flywheel's producers write `key` to, of a topic with `partitions` partitions. */
export function ownerPartition(key: Uint8Array | string, partitions: number): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}
