import { type ErrorCode, FlywheelError } from '../errors.ts';
import { entityKeyProblem, eventTimeProblem } from './event-bounds.ts';
import { contractIssues, describeIssues, formatPath } from './issues.ts';
import type { Source, SourceLimits } from './sources.ts';

/**
 * The pure heart of ingest: body shape, limits, hostile-input checks and contract validation. No I/O.
 * It lives in core so the ingest service and the producer SDK validate with one implementation.
 *
 * Body: one event object, `{ "events": [ ... ] }`, or a bare array of events. Batches are
 * all-or-nothing: if any event is invalid, nothing is written and every error is listed (by index and
 * field path), so a caller never has to work out which half of a batch landed.
 */
export interface EventError {
  readonly index: number;
  /** Field path inside the event (`amount`, `items[2].sku`); empty for the event itself. */
  readonly path: string;
  readonly message: string;
  /** Set where the error has a code of its own (bounds); contract errors are FW_EVENT_INVALID. */
  readonly code?: ErrorCode;
}

export type BatchResult =
  | { readonly ok: true; readonly events: Record<string, unknown>[] }
  | { readonly ok: false; readonly errors: EventError[] };

/** Keys that poison prototypes when a naive merge copies them; no Avro field may be named so. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The events a body carries; throws FW_BAD_REQUEST for a body that is none of the three shapes. */
export function eventsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (body && typeof body === 'object') {
    const keys = Object.keys(body);
    if (keys.length === 1 && keys[0] === 'events') {
      const events = (body as { events: unknown }).events;
      if (!Array.isArray(events)) throw new FlywheelError('FW_BAD_REQUEST', '"events" must be an array');
      return events;
    }
    return [body];
  }
  throw new FlywheelError(
    'FW_BAD_REQUEST',
    'body must be an event object, {"events": [...]} or an array of events',
  );
}

/** Validates a request body against a source; limit breaches throw (413), contract breaches return. */
export function validateBatch(
  body: unknown,
  source: Pick<Source, 'name' | 'contract' | 'limits' | 'keyField' | 'timestampField'>,
  receivedAt: number = Date.now(),
): BatchResult {
  const raw = eventsOf(body);
  const { limits } = source;
  if (raw.length === 0) throw new FlywheelError('FW_BAD_REQUEST', 'the batch holds no events');
  if (raw.length > limits.maxEvents)
    throw new FlywheelError(
      'FW_BATCH_TOO_LARGE',
      `batch of ${raw.length} events exceeds the limit of ${limits.maxEvents} for source "${source.name}"`,
      { details: { count: raw.length, limit: limits.maxEvents } },
    );
  const errors: EventError[] = [];
  const events: Record<string, unknown>[] = [];
  for (const [index, event] of raw.entries()) {
    const hostile = inspect(event, limits);
    if (hostile) {
      errors.push({ index, ...hostile });
      continue;
    }
    const bytes = Buffer.byteLength(JSON.stringify(event));
    if (bytes > limits.maxEventBytes)
      throw new FlywheelError(
        'FW_PAYLOAD_TOO_LARGE',
        `event ${index} is ${bytes} bytes; the limit for source "${source.name}" is ${limits.maxEventBytes}`,
        { details: { index, bytes, limit: limits.maxEventBytes } },
      );
    const parsed = source.contract.safeParse(event);
    if (!parsed.success) {
      for (const issue of contractIssues(parsed.error)) errors.push({ index, ...issue });
      continue;
    }
    const fields = parsed.data as Record<string, unknown>;
    const bounded = boundsIssue(fields, source, receivedAt);
    if (bounded) errors.push({ index, ...bounded });
    else events.push(fields);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, events };
}

/**
 * The bounds the contract cannot say: the entity key's limits and the event time's window around the
 * receiving clock (event-bounds.ts; the features processor checks the same for records
 * written straight to Kafka).
 */
function boundsIssue(
  fields: Record<string, unknown>,
  source: Pick<Source, 'limits' | 'keyField' | 'timestampField'>,
  receivedAt: number,
): { path: string; message: string; code: ErrorCode } | undefined {
  const { limits } = source;
  const key = fields[source.keyField];
  const keyProblem = entityKeyProblem(typeof key === 'number' ? String(key) : key, limits);
  if (keyProblem) return { path: source.keyField, message: keyProblem, code: 'FW_ENTITY_KEY_INVALID' };
  const timeProblem = eventTimeProblem(fields[source.timestampField] as number, receivedAt, {
    maxFutureSkewMs: limits.maxFutureSkewMs,
    minEventTimeMs: limits.minEventTimeMs,
  });
  if (timeProblem)
    return { path: source.timestampField, message: timeProblem, code: 'FW_EVENT_TIME_OUT_OF_BOUNDS' };
  return undefined;
}

/** A 400 carrying every error; its message shows the first few as `events[3].amount: ...`. */
export function invalidBatchError(source: string, errors: readonly EventError[]): FlywheelError {
  const shown = errors.slice(0, 5).map((e) => ({ path: eventPath(e), message: e.message }));
  const more = errors.length > shown.length ? ` (and ${errors.length - shown.length} more)` : '';
  // One kind of error throughout (say, every event's time out of bounds) answers with its own code.
  const codes = new Set(errors.map((e) => e.code ?? 'FW_EVENT_INVALID'));
  return new FlywheelError(
    codes.size === 1 ? [...codes][0]! : 'FW_EVENT_INVALID',
    `batch rejected, nothing written: ${describeIssues(shown)}${more}`,
    { details: { source, errors } },
  );
}

/**
 * Walks an event iteratively (no recursion, so depth cannot blow the stack) and stops at the first
 * forbidden key or at nesting deeper than the limit. Runs before JSON.stringify and zod, which recurse.
 */
function inspect(event: unknown, limits: SourceLimits): { path: string; message: string } | undefined {
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value: event, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (!value || typeof value !== 'object') continue;
    if (path.length >= limits.maxDepth)
      return { path: formatPath(path), message: `nested deeper than ${limits.maxDepth} levels` };
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) stack.push({ value: v, path: [...path, i] });
    } else
      for (const key of Object.keys(value)) {
        if (FORBIDDEN_KEYS.has(key))
          return { path: formatPath([...path, key]), message: `forbidden field name "${key}"` };
        stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
      }
  }
  return undefined;
}

/** `{ index: 3, path: 'amount' }` → `events[3].amount`. */
export function eventPath(error: Pick<EventError, 'index' | 'path'>): string {
  const head = formatPath(['events', error.index]);
  if (!error.path) return head;
  return error.path.startsWith('[') ? head + error.path : `${head}.${error.path}`;
}
