/**
 * Event-time tiles and window cover.
 *
 * WINDOW SEMANTICS. With base tile size s, the value of window W at time t covers every event whose
 * tile (at base size s) lies in the W-long span of base tiles that ENDS WITH the tile containing t,
 * i.e. the events with event time in [tileStart(t) + s − W, tileStart(t) + s). W must be a multiple
 * of s. 'lifetime' covers all events with event time < tileStart(t) + s (event times are epoch ms,
 * so its span starts at 0).
 * A window therefore includes the whole current tile — including events later than t inside it — and
 * moves in steps of s; that is what lets a read be a merge of whole tiles.
 *
 * TILES. A tile of resolution r starts at a multiple of r (aligned to the Unix epoch, floor semantics
 * for any t) and covers [start, start + r). Every event goes into one tile per resolution
 * (tilesForEvent); a read merges the fewest tiles that exactly partition the window's span
 * (coverWindow): coarse tiles where a whole one fits, base tiles at the edges.
 *
 * RESOLUTIONS are value objects: the base size s plus the coarser rungs of a fixed ladder that are
 * multiples of s and smaller than the largest finite window (resolutionsFor). A lifetime window adds
 * the lifetime ladder (8, 64, 512, 4096 days) so that its span since the epoch is still ~100-150
 * tiles. Each rung divides the next, so greedy cover is minimal.
 *
 * FIELD NAMES of tiles (Redis hash fields) are `${res}:${start}` with both numbers in base 36:
 * compact, stable and reversible (parseFieldName).
 */
import { FlywheelError } from '../errors.ts';
import { LIFETIME } from './duration.ts';

export interface TileRef {
  /** Tile size in ms. */
  readonly res: number;
  /** Inclusive start in epoch ms; a multiple of res. */
  readonly start: number;
}

export interface Span {
  /** Inclusive. */
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const RESOLUTION_LADDER: readonly number[] = [HOUR, DAY];
export const LIFETIME_LADDER: readonly number[] = [8 * DAY, 64 * DAY, 512 * DAY, 4096 * DAY];

function invalid(message: string): FlywheelError {
  return new FlywheelError('FW_FEATURE_VIEW_INVALID', message);
}

/** Floor modulo: always in [0, m), also for negative t. */
function mod(t: number, m: number): number {
  const r = t % m;
  return r < 0 ? r + m : r;
}

/** Start of the size-`sizeMs` tile containing tMs (floor; exact for any integer t). */
export function tileStart(tMs: number, sizeMs: number): number {
  return tMs - mod(tMs, sizeMs);
}

function checkBase(baseMs: number): void {
  if (!Number.isSafeInteger(baseMs) || baseMs <= 0) {
    throw invalid(`base tile size must be a positive integer of ms, got ${baseMs}`);
  }
}

/** Throws unless W is lifetime or a positive multiple of the base tile size. */
export function validateWindow(baseMs: number, windowMs: number): void {
  checkBase(baseMs);
  if (windowMs === LIFETIME) return;
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0 || windowMs % baseMs !== 0) {
    throw invalid(`window of ${windowMs} ms must be a positive multiple of the ${baseMs} ms base tile`);
  }
}

/** The base size first, then the coarser rungs every window set needs, ascending. */
export function resolutionsFor(baseMs: number, windowsMs: number[]): number[] {
  for (const w of windowsMs) validateWindow(baseMs, w);
  const finite = windowsMs.filter((w) => Number.isFinite(w));
  const largest = windowsMs.includes(LIFETIME) ? LIFETIME : Math.max(0, ...finite);
  const ladder = largest === LIFETIME ? [...RESOLUTION_LADDER, ...LIFETIME_LADDER] : RESOLUTION_LADDER;
  const coarse = ladder.filter((r) => r > baseMs && r % baseMs === 0 && r < largest);
  return [baseMs, ...coarse];
}

/** The event-time span [start, end) that window W covers at time t (see the header). */
export function windowSpan(tMs: number, baseMs: number, windowMs: number): Span {
  validateWindow(baseMs, windowMs);
  const end = tileStart(tMs, baseMs) + baseMs;
  return { start: windowMs === LIFETIME ? 0 : end - windowMs, end };
}

/**
 * The fewest tiles from `resolutions` that exactly partition windowSpan(t, base, W), ascending by
 * start. Greedy: from the span start, take the largest tile that starts there and fits.
 */
export function coverWindow(tMs: number, baseMs: number, windowMs: number, resolutions: number[]): TileRef[] {
  const { start, end } = windowSpan(tMs, baseMs, windowMs);
  for (const r of resolutions) {
    if (!Number.isSafeInteger(r) || r < baseMs || r % baseMs !== 0) {
      throw invalid(`resolution ${r} ms is not a multiple of the ${baseMs} ms base tile`);
    }
  }
  const descending = [...new Set([baseMs, ...resolutions])].sort((a, b) => b - a);
  const tiles: TileRef[] = [];
  let cursor = start;
  while (cursor < end) {
    // The base size always qualifies (cursor and end are multiples of it), so find never fails.
    const res = descending.find((r) => mod(cursor, r) === 0 && cursor + r <= end)!;
    tiles.push({ res, start: cursor });
    cursor += res;
  }
  return tiles;
}

/** The tile at each resolution that contains the event, in the order of `resolutions`. */
export function tilesForEvent(eventTimeMs: number, resolutions: number[]): TileRef[] {
  return resolutions.map((res) => ({ res, start: tileStart(eventTimeMs, res) }));
}

export function fieldName(ref: TileRef): string {
  return `${ref.res.toString(36)}:${ref.start.toString(36)}`;
}

const FIELD = /^[0-9a-z]+:-?[0-9a-z]+$/;

/** Inverse of fieldName; throws on anything fieldName could not have produced. */
export function parseFieldName(name: string): TileRef {
  if (FIELD.test(name)) {
    const [resText, startText] = name.split(':') as [string, string];
    const ref = { res: Number.parseInt(resText, 36), start: Number.parseInt(startText, 36) };
    const valid =
      Number.isSafeInteger(ref.res) &&
      ref.res > 0 &&
      Number.isSafeInteger(ref.start) &&
      mod(ref.start, ref.res) === 0;
    // Round-tripping rejects non-canonical spellings such as leading zeros.
    if (valid && fieldName(ref) === name) return ref;
  }
  throw new FlywheelError(
    'FW_DECODE_FAILED',
    `invalid tile field name ${JSON.stringify(name)}: expected <res36>:<start36>`,
  );
}
