/**
 * The bounds every source's events must keep, whoever wrote them (ingest, the SDK, any Kafka client):
 * an event time between a plausible minimum and a little ahead of the receiving clock, and an entity
 * key that is non-empty, short and free of control characters. One event in the year 5138 would
 * otherwise move its partition's watermark there and make every later event of the partition late.
 *
 * Pure: the checks return a reason (what is wrong, with the value and the bound) or undefined; the
 * callers turn it into an HTTP 400 or a dead letter with their own error codes.
 */
export interface EventBounds {
  /** Furthest an event time may lie ahead of the clock that receives it, in ms. */
  readonly maxFutureSkewMs: number;
  /** Earliest plausible event time, epoch ms. */
  readonly minEventTimeMs: number;
}

export interface KeyLimits {
  /** Longest entity key, in UTF-8 bytes. */
  readonly maxKeyBytes: number;
}

/**
 * Five minutes ahead covers producers whose clocks drift (NTP keeps them within seconds) and batching
 * delays, and is the same as the default allowed lateness, so a bad clock cannot push the watermark
 * further than one lateness window.
 */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** 2000-01-01T00:00:00Z: older than any real stream, newer than the epoch-0 and -1 of missing clocks. */
export const DEFAULT_MIN_EVENT_TIME_MS = Date.UTC(2000, 0, 1);
/** Redis keys and Kafka keys are both cheap at this size; a 60 KB "user id" is a bug or an attack. */
export const DEFAULT_MAX_KEY_BYTES = 256;

export const DEFAULT_EVENT_BOUNDS: EventBounds = Object.freeze({
  maxFutureSkewMs: DEFAULT_MAX_FUTURE_SKEW_MS,
  minEventTimeMs: DEFAULT_MIN_EVENT_TIME_MS,
});

export const DEFAULT_KEY_LIMITS: KeyLimits = Object.freeze({ maxKeyBytes: DEFAULT_MAX_KEY_BYTES });

/**
 * Why an event time is out of bounds, or undefined. `receivedAt` is the clock of whoever receives the
 * event: the ingest server's, or for a Kafka record the earlier of its timestamp and the processor's.
 */
export function eventTimeProblem(
  eventTime: number,
  receivedAt: number,
  bounds: EventBounds,
): string | undefined {
  if (!Number.isFinite(eventTime)) return `not a finite epoch-milliseconds time (${eventTime})`;
  if (eventTime < bounds.minEventTimeMs)
    return `${eventTime} (${iso(eventTime)}) is before the earliest plausible event time ${bounds.minEventTimeMs} (${iso(bounds.minEventTimeMs)})`;
  const ahead = eventTime - receivedAt;
  if (ahead > bounds.maxFutureSkewMs)
    return `${eventTime} (${iso(eventTime)}) is ${ahead} ms ahead of the receiving clock (${receivedAt}); the source allows at most ${bounds.maxFutureSkewMs} ms`;
  return undefined;
}

/** Control characters (C0, DEL, C1): invisible in logs and SQL, and never part of a real id. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why an entity key is unusable, or undefined. */
export function entityKeyProblem(key: unknown, limits: KeyLimits): string | undefined {
  if (typeof key !== 'string') return `must be a string (got ${key === null ? 'null' : typeof key})`;
  if (key.length === 0) return 'must not be empty';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > limits.maxKeyBytes) return `is ${bytes} bytes; the limit is ${limits.maxKeyBytes}`;
  const control = CONTROL.exec(key);
  if (control)
    return `contains the control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} at index ${control.index}`;
  return undefined;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? 'not a date' : d.toISOString();
}
