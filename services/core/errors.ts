/**
 * The one catalogue of Flywheel's coded errors. It lives in core, which imports nothing outside core, so
 * the pure libraries (aggregations, windows, contracts) can throw coded errors; services/platform/errors.ts
 * re-exports it for everything else. Every error a user can see has a stable code, an HTTP
 * status (for the APIs) and a `retriable` flag (for the retry helper and for consumers deciding between
 * "retry" and "dead-letter"). docs/errors.md lists every code; a unit test keeps the two in step.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly retriable: boolean;
  readonly summary: string;
}

export const ERROR_CATALOGUE = {
  FW_CONFIG_INVALID: { status: 500, retriable: false, summary: 'The configuration failed validation.' },
  FW_STACK_JAVA_MISSING: {
    status: 500,
    retriable: false,
    summary: 'Java 17+ is needed for Kafka and the registry.',
  },
  FW_STACK_MAVEN_MISSING: {
    status: 500,
    retriable: false,
    summary: 'Maven is needed to fetch the Kafka and registry jars.',
  },
  FW_STACK_FETCH_FAILED: {
    status: 500,
    retriable: true,
    summary: 'Fetching a stack part from Maven Central failed.',
  },
  FW_STACK_PORT_BUSY: {
    status: 500,
    retriable: false,
    summary: 'A stack port is taken by something that is not the expected part.',
  },
  FW_PORT_BUSY: {
    status: 500,
    retriable: false,
    summary: "A module's HTTP port is taken by another program.",
  },
  FW_STACK_NOT_READY: {
    status: 500,
    retriable: false,
    summary: 'A stack part started but never became ready.',
  },
  FW_STACK_REDIS_MISSING: { status: 500, retriable: false, summary: 'redis-server is not installed.' },
  FW_SCHEMA_INCOMPATIBLE: {
    status: 409,
    retriable: false,
    summary: "A schema change breaks the subject's compatibility rule.",
  },
  FW_SCHEMA_REGISTRY_UNAVAILABLE: {
    status: 503,
    retriable: true,
    summary: 'The schema registry did not answer.',
  },
  FW_DECODE_FAILED: {
    status: 400,
    retriable: false,
    summary: 'A record could not be decoded with its schema.',
  },
  FW_EVENT_INVALID: {
    status: 400,
    retriable: false,
    summary: 'An event does not match its source contract.',
  },
  FW_EVENT_LATE: {
    status: 400,
    retriable: false,
    summary: "An event arrived after its source's allowed lateness.",
  },
  FW_EVENT_TIME_OUT_OF_BOUNDS: {
    status: 400,
    retriable: false,
    summary:
      "An event time lies before the source's earliest plausible time or too far ahead of the receiving clock.",
  },
  FW_ENTITY_KEY_INVALID: {
    status: 400,
    retriable: false,
    summary: 'An entity key is empty, too long or holds control characters.',
  },
  FW_KEY_MISMATCH: {
    status: 400,
    retriable: false,
    summary: "A Kafka record's key is missing or differs from the entity key in its value.",
  },
  FW_SCHEMA_SUBJECT_MISMATCH: {
    status: 400,
    retriable: false,
    summary: "A record is written with a schema that is not a registered version of its topic's subject.",
  },
  FW_PARTITION_MISMATCH: {
    status: 400,
    retriable: false,
    summary: 'A record rerouted to the partition owning its entity still landed on another one.',
  },
  FW_PAYLOAD_TOO_LARGE: {
    status: 413,
    retriable: false,
    summary: 'A request body or record exceeds its size limit.',
  },
  FW_BATCH_TOO_LARGE: {
    status: 413,
    retriable: false,
    summary: 'A request holds more items than its limit.',
  },
  FW_BAD_REQUEST: { status: 400, retriable: false, summary: 'The request is malformed.' },
  FW_NOT_FOUND: {
    status: 404,
    retriable: false,
    summary: 'The named source, view, model or route does not exist.',
  },
  FW_KAFKA_UNAVAILABLE: { status: 503, retriable: true, summary: 'Kafka did not accept the write in time.' },
  FW_REDIS_UNAVAILABLE: { status: 503, retriable: true, summary: 'Redis did not answer in time.' },
  FW_CLICKHOUSE_UNAVAILABLE: { status: 503, retriable: true, summary: 'ClickHouse did not answer in time.' },
  FW_FENCED: {
    status: 409,
    retriable: false,
    summary: 'A newer owner holds this partition; this writer was fenced off.',
  },
  FW_FEATURE_VIEW_INVALID: {
    status: 400,
    retriable: false,
    summary: 'A feature view definition is invalid.',
  },
  FW_PROJECT_INVALID: {
    status: 400,
    retriable: false,
    summary: 'A project folder is invalid.',
  },
  FW_INTERNAL: { status: 500, retriable: false, summary: 'An unexpected internal error.' },
  FW_MODEL_INVALID: {
    status: 400,
    retriable: false,
    summary: 'A model artifact cannot be loaded or does not fit its registered features.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class FlywheelError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlywheelError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.retriable = ERROR_CATALOGUE[code].retriable;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}
