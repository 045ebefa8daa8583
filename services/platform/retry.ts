import { isRetriable } from './errors.ts';

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
