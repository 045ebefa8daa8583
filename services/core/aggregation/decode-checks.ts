/** Guards for `decode`: stored tiles come from outside the process, so every shape is checked. */
import { FlywheelError } from '../errors.ts';

export function decodeError(kind: string, message: string, data: unknown): FlywheelError {
  const sample = JSON.stringify(data)?.slice(0, 200);
  return new FlywheelError('FW_DECODE_FAILED', `malformed ${kind} state: ${message}`, {
    details: { kind, sample },
  });
}

export function expectArray(kind: string, data: unknown, lengths: readonly number[]): unknown[] {
  if (!Array.isArray(data) || !lengths.includes(data.length)) {
    throw decodeError(kind, `expected an array of length ${lengths.join(' or ')}`, data);
  }
  return data;
}

export function expectFinite(kind: string, value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw decodeError(kind, `${what} must be a finite number`, value);
  }
  return value;
}

/** A count: a non-negative safe integer. */
export function expectCount(kind: string, value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw decodeError(kind, `${what} must be a non-negative integer`, value);
  }
  return value;
}

export function expectInteger(kind: string, value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw decodeError(kind, `${what} must be an integer in [${min}, ${max}]`, value);
  }
  return value;
}
