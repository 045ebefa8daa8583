import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { FlywheelError } from './errors.ts';

export interface RegisteredSchema {
  readonly id: number;
  readonly subject: string;
}

/**
 * Avro over the Confluent wire format (magic byte, 4-byte schema id, Avro body) through a schema
 * registry. Subjects are `<topic>-value` (TopicNameStrategy); the registry enforces BACKWARD
 * compatibility, so a consumer on the new schema can read everything already in the topic.
 */
export function createRegistryCodec(url: string) {
  const registry = new SchemaRegistry({
    host: url,
    retry: { retries: 3, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 2 },
  });

  return {
    registry,
    async register(topic: string, schema: object): Promise<RegisteredSchema> {
      const subject = `${topic}-value`;
      try {
        const { id } = await registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject },
        );
        return { id, subject };
      } catch (err) {
        throw toRegistryError(err, subject);
      }
    },
    encode(schemaId: number, value: unknown): Promise<Buffer> {
      return registry.encode(schemaId, value);
    },
    async decode<T = Record<string, unknown>>(buffer: Buffer): Promise<T> {
      try {
        return (await registry.decode(buffer)) as T;
      } catch (err) {
        if (err instanceof FlywheelError) throw err;
        const transport =
          (err as { status?: number }).status === undefined &&
          /ECONNREFUSED|timeout|socket/i.test(String(err));
        if (transport)
          throw new FlywheelError(
            'FW_SCHEMA_REGISTRY_UNAVAILABLE',
            `schema registry at ${url} did not answer: ${(err as Error).message}`,
            { cause: err },
          );
        throw new FlywheelError('FW_DECODE_FAILED', `cannot decode record: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
  };
}

export type RegistryCodec = ReturnType<typeof createRegistryCodec>;

function toRegistryError(err: unknown, subject: string): FlywheelError {
  const status = (err as { status?: number }).status;
  const message = (err as Error).message;
  if (status === 409 || /incompatib|compatibility/i.test(message)) {
    return new FlywheelError(
      'FW_SCHEMA_INCOMPATIBLE',
      `schema for subject "${subject}" is not BACKWARD-compatible with the registered versions: ${message}. ` +
        'Add new fields with defaults, or register it under a new topic.',
      { cause: err, details: { subject } },
    );
  }
  if (status === undefined) {
    return new FlywheelError(
      'FW_SCHEMA_REGISTRY_UNAVAILABLE',
      `schema registry did not answer for "${subject}": ${message}`,
      { cause: err },
    );
  }
  return new FlywheelError(
    'FW_BAD_REQUEST',
    `schema registry refused "${subject}" (HTTP ${status}): ${message}`,
    { cause: err },
  );
}
