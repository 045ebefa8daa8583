import { FlywheelError, isRetriable } from './errors.ts';
import type { Logger } from './logger.ts';

export interface RetryOptions {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Decides whether an error is worth another attempt; the first non-retriable error ends the loop. */
  retriable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 5, initialDelayMs: 100, maxDelayMs: 5_000 };

/** Exponential backoff with full jitter (the AWS architecture blog's variant): spreads retry storms. */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: Partial<RetryOptions> = {},
): Promise<T> {
  const opts = { ...DEFAULT_RETRY, ...options };
  const retriable = opts.retriable ?? isRetriable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= opts.retries || !retriable(err)) throw err;
      const ceiling = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** attempt);
      const delayMs = Math.round(Math.random() * ceiling);
      opts.onRetry?.(err, attempt + 1, delayMs);
      await sleep(delayMs);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The one start-up retry policy of every module (config section `startup`). */
export interface StartupPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Attempts before giving up; 0 = keep trying until the module is stopped. */
  maxAttempts: number;
}

/**
 * Start-up faults a later attempt may fix: coded errors say so themselves; client errors of Kafka,
 * Redis, the registry or the network are transport trouble while a dependency is still coming up.
 * Anything else (a TypeError, a bad definition) is a bug no retry fixes.
 */
export function startupRetriable(err: unknown): boolean {
  if (err instanceof FlywheelError) return err.retriable;
  const e = err as { name?: unknown; code?: unknown; cause?: unknown } | null;
  if (typeof e?.name === 'string' && /^(KafkaJS|Redis|ReplyError|MaxRetriesPerRequest)/.test(e.name))
    return true;
  if (
    typeof e?.code === 'string' &&
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|UND_ERR)/.test(e.code)
  )
    return true;
  if (e?.cause && e.cause !== err) return startupRetriable(e.cause);
  return isRetriable(err);
}

/** Thrown (never retried) when a module is stopped while its start is still retrying. */
export class StartCancelled extends Error {}

/** Runs a module's `start` under the start-up policy: full-jitter backoff, retriable faults only. */
export function retryStartup<T>(
  start: () => Promise<T>,
  opts: { policy: StartupPolicy; logger: Logger; what: string; stopped?: () => boolean },
): Promise<T> {
  const { policy, logger, what } = opts;
  return withRetry(
    async () => {
      if (opts.stopped?.()) throw new StartCancelled(`${what} stopped before it started`);
      return start();
    },
    {
      retries: policy.maxAttempts === 0 ? Number.POSITIVE_INFINITY : policy.maxAttempts - 1,
      initialDelayMs: policy.initialDelayMs,
      maxDelayMs: policy.maxDelayMs,
      retriable: (err) => !(err instanceof StartCancelled) && !opts.stopped?.() && startupRetriable(err),
      onRetry: (err, attempt, delayMs) =>
        logger.warn(`${what} cannot start yet; retrying`, { err, attempt, delayMs }),
    },
  );
}
