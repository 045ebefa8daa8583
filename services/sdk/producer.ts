import { invalidBatchError, validateBatch } from '../core/contracts/batch.ts';
import { toMessages } from '../core/contracts/messages.ts';
import type { SourceCatalogue } from '../core/contracts/sources.ts';
import { withTimeout } from '../core/with-timeout.ts';
import { loadConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createKafka, createProducer } from '../platform/kafka.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';

export {
  createSourceCatalogue,
  type Source,
  type SourceCatalogue,
  type SourceDefinition,
} from '../core/contracts/sources.ts';

/**
 * Source name → the event type its `send` accepts. A project's generated types
 * (`flywheel typegen`, `<project>/generated/events.ts`) export one for its own sources.
 */
export type SourceEventMap = Record<string, object>;

export interface FlywheelProducerOptions {
  readonly brokers: string[];
  readonly registryUrl: string;
  readonly clientId?: string;
  readonly logger?: Logger;
  /**
   * The sources this producer may send to, with their Avro contracts: a project's (`projectSources` of
   * a loaded project) or one built with createSourceCatalogue(definitions, loadSchema).
   */
  readonly sources: SourceCatalogue;
  /** Longest `send` waits for Kafka's acknowledgement before failing with FW_KAFKA_UNAVAILABLE. */
  readonly sendTimeoutMs?: number;
}

export interface SendResult {
  readonly sent: number;
  readonly topic: string;
}

/**
 * The producer SDK: publish straight to Kafka with the same contract the ingest API enforces. Events are
 * validated (FW_EVENT_INVALID lists every field path), encoded as Avro under the schema registered for
 * `<topic>-value` (registered on first use), keyed by the source's entity key and sent with acks=all
 * from an idempotent producer. Topics are not created here: the ingest service or the platform owns them.
 */
export function createFlywheelProducer<Events extends SourceEventMap = Record<string, object>>(
  opts: FlywheelProducerOptions,
) {
  const config = loadConfig(
    {},
    { kafka: { brokers: opts.brokers, clientId: opts.clientId ?? 'flywheel-sdk' } },
  );
  const logger = opts.logger ?? createLogger({ component: 'flywheel-sdk' }, 'warn');
  const kafka = createKafka(config, logger);
  const codec = createRegistryCodec(opts.registryUrl);
  const sources = opts.sources;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 5_000;
  const producer = createProducer(kafka);
  const schemaIds = new Map<string, Promise<number>>();
  let connected: Promise<void> | undefined;

  function schemaId(name: string, topic: string, schema: object): Promise<number> {
    let id = schemaIds.get(name);
    if (!id) {
      id = codec.register(topic, schema).then((r) => r.id);
      id.catch(() => schemaIds.delete(name)); // a failed registration is retried on the next send
      schemaIds.set(name, id);
    }
    return id;
  }

  async function send(source: string, events: unknown): Promise<SendResult> {
    const def = sources.get(source);
    if (!def)
      throw new FlywheelError(
        'FW_NOT_FOUND',
        `unknown source "${source}" (known: ${[...sources.keys()].join(', ')})`,
      );
    const result = validateBatch(Array.isArray(events) ? events : [events], def);
    if (!result.ok) throw invalidBatchError(def.name, result.errors);
    const messages = await toMessages(
      codec,
      await schemaId(def.name, def.topic, def.schema),
      def,
      result.events,
    );
    try {
      connected ??= producer.connect();
      await withTimeout(connected, sendTimeoutMs, 'Kafka connect');
      await withTimeout(
        producer.send({ topic: def.topic, messages, acks: -1, timeout: sendTimeoutMs }),
        sendTimeoutMs,
        'Kafka send',
      );
    } catch (err) {
      connected = undefined;
      throw new FlywheelError(
        'FW_KAFKA_UNAVAILABLE',
        `Kafka did not accept ${messages.length} events: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return { sent: messages.length, topic: def.topic };
  }

  return {
    /** Typed by `Events` (a project's generated SourceEvents); validated at run time by the Avro contract. */
    send: send as <S extends keyof Events & string>(
      source: S,
      events: Events[S] | readonly Events[S][],
    ) => Promise<SendResult>,
    async close(): Promise<void> {
      await producer.disconnect().catch(() => {});
    },
  };
}

export type FlywheelProducer = ReturnType<typeof createFlywheelProducer>;
