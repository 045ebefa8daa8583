/**
 * Flywheel's coded errors: the catalogue and FlywheelError live in services/core/errors.ts (core may
 * import nothing from the platform); this module re-exports them and adds the retry classification.
 */
import { FlywheelError } from '../core/errors.ts';

export { ERROR_CATALOGUE, type ErrorCode, type ErrorSpec, FlywheelError } from '../core/errors.ts';

export function isRetriable(err: unknown): boolean {
  if (err instanceof FlywheelError) return err.retriable;
  // kafkajs and ioredis errors carry their own flags; unknown errors are not retried blindly.
  const flagged = err as { retriable?: unknown } | null;
  return typeof flagged?.retriable === 'boolean' ? flagged.retriable : false;
}
