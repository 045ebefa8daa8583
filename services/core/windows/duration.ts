/**
 * Window and tile durations as written in feature definitions: a positive integer and a unit
 * ('500ms', '30s', '10m', '1h', '24h', '7d', '2w'), or 'lifetime'. Parsed to milliseconds;
 * lifetime is LIFETIME (= Infinity), so "is W finite" is Number.isFinite(W) and W compares above
 * every real window without a special case.
 */
import { FlywheelError } from '../errors.ts';

export const LIFETIME = Number.POSITIVE_INFINITY;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;
const PATTERN = /^([1-9][0-9]*)(ms|s|m|h|d|w)$/;
const EXPECTED = `expected a positive integer with a unit (${Object.keys(UNIT_MS).join(', ')}), e.g. "30s", "10m", "24h", "7d", or "lifetime"`;

export function parseDuration(text: string): number {
  if (text === 'lifetime') return LIFETIME;
  const match = typeof text === 'string' ? PATTERN.exec(text) : null;
  if (match === null) {
    throw new FlywheelError(
      'FW_FEATURE_VIEW_INVALID',
      `invalid duration ${JSON.stringify(text)}: ${EXPECTED}`,
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as Unit];
  if (!Number.isSafeInteger(ms)) {
    throw new FlywheelError('FW_FEATURE_VIEW_INVALID', `duration ${JSON.stringify(text)} is too long`);
  }
  return ms;
}

/**
 * Canonical text for a duration: the largest unit up to days that divides it ('1d' not '24h'; '7d'
 * not '1w', since day counts are how window features are usually named).
 */
export function formatDuration(ms: number): string {
  if (ms === LIFETIME) return 'lifetime';
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new FlywheelError(
      'FW_FEATURE_VIEW_INVALID',
      `cannot format duration ${ms}: not a positive integer of ms`,
    );
  }
  const units = (Object.entries(UNIT_MS) as [Unit, number][])
    .filter(([u]) => u !== 'w')
    .sort((a, b) => b[1] - a[1]);
  const [unit, size] = units.find(([, size]) => ms % size === 0)!;
  return `${ms / size}${unit}`;
}
