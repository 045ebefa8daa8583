import type { ICustomPartitioner } from 'kafkajs';

/**
 * librdkafka's default partitioner (`consistent_random`): CRC32 of the key modulo the partition count,
 * random for a null key — what Python's confluent-kafka, Go's confluent-kafka-go and other librdkafka
 * clients do unless told `partitioner=murmur2_random`. Tests produce with it to play such a producer.
 */
const TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const crc32Partitioner: ICustomPartitioner =
  () =>
  ({ partitionMetadata, message }) => {
    const n = partitionMetadata.length;
    if (message.key === null || message.key === undefined) return Math.floor(Math.random() * n);
    return crc32(Buffer.isBuffer(message.key) ? message.key : Buffer.from(message.key)) % n;
  };
