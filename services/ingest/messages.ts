import type { RegistryCodec } from '../platform/registry-codec.ts';
import type { Source } from './sources.ts';

export interface KeyedMessage {
  readonly key: string;
  readonly value: Buffer;
}

/**
 * Validated events → Kafka messages: Avro in the Confluent wire format under the source's registered
 * schema id, keyed by the source's entity key so one entity's events stay in one partition, in order.
 * Shared by the ingest service and the SDK so both write byte-identical records.
 */
export function toMessages(
  codec: Pick<RegistryCodec, 'encode'>,
  schemaId: number,
  source: Pick<Source, 'keyField'>,
  events: readonly Record<string, unknown>[],
): Promise<KeyedMessage[]> {
  return Promise.all(
    events.map(async (event) => ({
      key: String(event[source.keyField]),
      value: await codec.encode(schemaId, event),
    })),
  );
}
