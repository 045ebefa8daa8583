import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { FlywheelError } from './errors.ts';
import { createSubjectVersions } from './subject-versions.ts';

export interface RegisteredSchema {
  readonly id: number;
  readonly subject: string;
}

/**
 * Avro over the Confluent wire format (magic byte, 4-byte schema id, Avro body) through a schema
 * registry. Subjects are `<topic>-value` (TopicNameStrategy); the registry enforces BACKWARD
 * compatibility, so a consumer on the new schema can read everything already in the topic.
 */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: FlywheelError };

interface WireSchema {
  toBuffer(payload: object): Buffer;
  fromBuffer(buffer: Buffer): unknown;
}

export function createRegistryCodec(url: string) {
  const registry = new SchemaRegistry({
    host: url,
    retry: { retries: 3, initialRetryTimeInSecs: 0.1, maxRetryTimeInSecs: 2 },
  });
  const registrations = new Map<string, Promise<RegisteredSchema>>();
  const registerOnce = async (subject: string, text: string, attempt = 0): Promise<RegisteredSchema> => {
    try {
      const { id } = await registry.register({ type: SchemaType.AVRO, schema: text }, { subject });
      return { id, subject };
    } catch (err) {
      // Another process created the subject at the same moment: its rule exists now, so try again.
      if (attempt < 2 && /already exists/i.test((err as Error).message))
        return registerOnce(subject, text, attempt + 1);
      throw toRegistryError(err, subject);
    }
  };
  // Schemas by id, resolved once: the hot paths then encode and decode synchronously with avsc.
  const schemas = new Map<number, WireSchema>();
  const schemaFor = async (id: number): Promise<WireSchema> => {
    let schema = schemas.get(id);
    if (!schema) {
      schema = (await registry.getSchema(id)) as unknown as WireSchema;
      schemas.set(id, schema);
    }
    return schema;
  };

  const subjectVersions = createSubjectVersions(url);

  async function encoderFor(schemaId: number): Promise<(value: object) => Buffer> {
    const schema = await schemaFor(schemaId);
    const header = Buffer.alloc(5);
    header.writeInt32BE(schemaId, 1);
    return (value) => Buffer.concat([header, schema.toBuffer(value)]);
  }
  const topicEncoders = new Map<string, Promise<(value: object) => Buffer>>();

  const codec = {
    registry,
    /**
     * Registers (or finds) the schema under `<topic>-value`. Concurrent calls for the same subject share
     * one request: Apicurio refuses a second concurrent creation of a new subject's compatibility rule.
     */
    register(topic: string, schema: object): Promise<RegisteredSchema> {
      const subject = `${topic}-value`;
      const text = JSON.stringify(schema);
      const key = `${subject}\u0000${text}`;
      let pending = registrations.get(key);
      if (!pending) {
        pending = registerOnce(subject, text);
        registrations.set(key, pending);
        pending.catch(() => registrations.delete(key));
      }
      return pending;
    },
    encode(schemaId: number, value: unknown): Promise<Buffer> {
      return registry.encode(schemaId, value);
    },
    /** A synchronous encoder for one schema id: fetches the schema once, then costs one avsc write. */
    encoderFor,
    /**
     * The encoder of a topic's values in `schema`, registering it under `<topic>-value` on first use and
     * remembering both (a failed registration is tried again next time).
     */
    topicEncoder(topic: string, schema: object): Promise<(value: object) => Buffer> {
      const key = `${topic}\u0000${JSON.stringify(schema)}`;
      let pending = topicEncoders.get(key);
      if (!pending) {
        pending = codec.register(topic, schema).then((r) => encoderFor(r.id));
        topicEncoders.set(key, pending);
        pending.catch(() => topicEncoders.delete(key));
      }
      return pending;
    },
    /**
     * Decodes a batch: unknown schema ids are fetched first (once each), then every record is decoded
     * synchronously. A record that cannot be decoded yields an error result, never a thrown batch.
     */
    async decodeMany<T = Record<string, unknown>>(
      buffers: ReadonlyArray<Buffer | null>,
      options: { topic?: string } = {},
    ): Promise<Array<DecodeResult<T>>> {
      const ids = new Set<number>();
      for (const b of buffers) if (b && b.length >= 5 && b[0] === 0) ids.add(b.readInt32BE(1));
      const subject = options.topic === undefined ? undefined : `${options.topic}-value`;
      // Records of another subject are refused before their schema is even fetched.
      const refused = subject === undefined ? new Map() : await subjectVersions.refusals(subject, ids);
      for (const id of ids) {
        if (schemas.has(id) || refused.has(id)) continue;
        try {
          await schemaFor(id);
        } catch (err) {
          const status = (err as { status?: number }).status;
          if (status === undefined)
            throw new FlywheelError(
              'FW_SCHEMA_REGISTRY_UNAVAILABLE',
              `schema registry at ${url} did not answer: ${(err as Error).message}`,
              { cause: err },
            );
        }
      }
      return buffers.map((b) => {
        const refusal = b && b.length >= 5 && b[0] === 0 ? refused.get(b.readInt32BE(1)) : undefined;
        if (refusal) return { ok: false, error: refusal };
        if (!b || b.length < 5 || b[0] !== 0) {
          return {
            ok: false,
            error: new FlywheelError(
              'FW_DECODE_FAILED',
              'record is not in the schema-registry wire format (magic byte 0 + schema id)',
            ),
          };
        }
        const schema = schemas.get(b.readInt32BE(1));
        if (!schema)
          return {
            ok: false,
            error: new FlywheelError('FW_DECODE_FAILED', `unknown schema id ${b.readInt32BE(1)}`),
          };
        try {
          return { ok: true, value: schema.fromBuffer(b.subarray(5)) as T };
        } catch (err) {
          return {
            ok: false,
            error: new FlywheelError('FW_DECODE_FAILED', `Avro decoding failed: ${(err as Error).message}`),
          };
        }
      });
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
  return codec;
}

export type RegistryCodec = ReturnType<typeof createRegistryCodec>;

function toRegistryError(err: unknown, subject: string): FlywheelError {
  const status = (err as { status?: number }).status;
  const message = (err as Error).message;
  if (status === 409 || /incompatib/i.test(message)) {
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
