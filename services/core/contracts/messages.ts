import type { Source } from './sources.ts';

/** What building messages needs of the registry codec (services/platform/registry-codec.ts has it). */
export interface MessageEncoder {
  encode(schemaId: number, value: unknown): Promise<Buffer>;
}

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
  codec: MessageEncoder,
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
