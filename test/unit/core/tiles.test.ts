import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AggregationKind, createAggregator } from '../../../services/core/aggregation/index.ts';
import {
  coverWindow,
  DAY,
  fieldName,
  HOUR,
  LIFETIME,
  MINUTE,
  parseDuration,
  parseFieldName,
  resolutionsFor,
  type TileRef,
  tileStart,
  tilesForEvent,
  windowSpan,
} from '../../../services/core/windows/index.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { type RawEvent, referenceValue } from '../../support/naive-reference.ts';
import { createRng } from '../../support/prng.ts';
import { assertClose } from './assert-close.ts';

const T0 = Date.UTC(2025, 2, 14, 9, 26, 53, 589);

/** Checks that tiles are aligned, in order, gap-free, non-overlapping and exactly fill [start, end). */
function assertPartition(tiles: TileRef[], start: number, end: number, message: string): void {
  let cursor = start;
  for (const tile of tiles) {
    assert.equal(tile.start, cursor, `${message}: gap or overlap at ${cursor}`);
    assert.equal(tileStart(tile.start, tile.res), tile.start, `${message}: misaligned tile`);
    cursor += tile.res;
  }
  assert.equal(cursor, Math.max(start, end), `${message}: union ends at ${cursor}, not ${end}`);
}

describe('tileStart', () => {
  it('floors to the tile for any t, including negatives and exact boundaries', () => {
    assert.equal(tileStart(0, MINUTE), 0);
    assert.equal(tileStart(59_999, MINUTE), 0);
    assert.equal(tileStart(60_000, MINUTE), 60_000);
    assert.equal(tileStart(T0, HOUR), Date.UTC(2025, 2, 14, 9));
    assert.equal(tileStart(-1, MINUTE), -60_000);
    assert.equal(tileStart(-60_000, MINUTE), -60_000);
  });
});

describe('resolutionsFor', () => {
  it('adds the ladder rungs that are multiples of the base and below the largest finite window', () => {
    assert.deepEqual(resolutionsFor(MINUTE, [10 * MINUTE, HOUR]), [MINUTE]);
    assert.deepEqual(resolutionsFor(MINUTE, [10 * MINUTE, 24 * HOUR]), [MINUTE, HOUR]);
    assert.deepEqual(resolutionsFor(MINUTE, [7 * DAY]), [MINUTE, HOUR, DAY]);
    assert.deepEqual(resolutionsFor(HOUR, [7 * DAY]), [HOUR, DAY]);
    assert.deepEqual(resolutionsFor(7 * MINUTE, [7 * 300 * MINUTE]), [7 * MINUTE]);
    assert.deepEqual(resolutionsFor(MINUTE, [HOUR, LIFETIME]), [
      MINUTE,
      HOUR,
      DAY,
      8 * DAY,
      64 * DAY,
      512 * DAY,
      4096 * DAY,
    ]);
  });

  it('rejects windows that are not multiples of the base', () => {
    assert.throws(() => resolutionsFor(MINUTE, [90_000]), FlywheelError);
    assert.throws(() => resolutionsFor(0, [HOUR]), FlywheelError);
    assert.throws(() => windowSpan(T0, MINUTE, 0), FlywheelError);
  });
});

describe('windowSpan and coverWindow', () => {
  it('spans the W-long run of base tiles ending with the tile containing t', () => {
    const end = Date.UTC(2025, 2, 14, 9, 27);
    assert.deepEqual(windowSpan(T0, MINUTE, HOUR), { start: end - HOUR, end });
    assert.deepEqual(windowSpan(T0, MINUTE, LIFETIME), { start: 0, end });
  });

  it('covers 24h at 1m base with at most 141 tiles', () => {
    const tiles = coverWindow(T0, MINUTE, 24 * HOUR, [MINUTE, HOUR]);
    const { start, end } = windowSpan(T0, MINUTE, 24 * HOUR);
    assertPartition(tiles, start, end, '24h');
    assert.ok(tiles.length <= 141, `${tiles.length} tiles`);
    assert.equal(tiles.filter((t) => t.res === HOUR).length, 23);
  });

  it('covers lifetime since the epoch in a bounded number of tiles', () => {
    const resolutions = resolutionsFor(MINUTE, [LIFETIME]);
    const tiles = coverWindow(T0, MINUTE, LIFETIME, resolutions);
    assertPartition(tiles, 0, windowSpan(T0, MINUTE, LIFETIME).end, 'lifetime');
    assert.ok(tiles.length <= 160, `${tiles.length} tiles`);
  });

  it('exactly partitions the span for random t, bases, windows and resolutions', () => {
    const rng = createRng(42);
    const bases = [1_000, 30_000, MINUTE, 5 * MINUTE, HOUR];
    for (let i = 0; i < 3000; i++) {
      const base = rng.pick(bases);
      const window = rng.bool(0.1) ? LIFETIME : base * rng.int(1, 3000);
      const t = rng.bool(0.2) ? rng.int(-10 * DAY, 10 * DAY) : T0 + rng.int(-400 * DAY, 400 * DAY);
      const resolutions = resolutionsFor(base, [window, base * rng.int(1, 50)]);
      const tiles = coverWindow(t, base, window, resolutions);
      const { start, end } = windowSpan(t, base, window);
      assertPartition(tiles, start, end, `t=${t} base=${base} W=${window}`);
      for (const tile of tiles) {
        assert.ok(resolutions.includes(tile.res));
        // Minimal: no tile sits inside a coarser aligned tile that would itself fit in the span.
        for (const coarse of resolutions.filter((r) => r > tile.res)) {
          const s = tileStart(tile.start, coarse);
          assert.ok(
            !(s >= start && s + coarse <= end),
            `tile ${fieldName(tile)} should be part of a ${coarse} ms tile`,
          );
        }
      }
      // Each instant in the span falls in exactly one tile; outside the span, in none.
      for (const probe of [start - 1, start, end - 1, end, rng.int(start, end - 1)]) {
        const owners = tiles.filter((tile) => probe >= tile.start && probe < tile.start + tile.res).length;
        assert.equal(owners, probe >= start && probe < end ? 1 : 0, `probe ${probe}`);
      }
    }
  });

  it('rejects resolutions that are not multiples of the base', () => {
    assert.throws(() => coverWindow(T0, MINUTE, HOUR, [MINUTE, 90_000]), FlywheelError);
  });
});

describe('tile refs', () => {
  it('tilesForEvent returns the containing tile at each resolution', () => {
    assert.deepEqual(tilesForEvent(T0, [MINUTE, HOUR]), [
      { res: MINUTE, start: Date.UTC(2025, 2, 14, 9, 26) },
      { res: HOUR, start: Date.UTC(2025, 2, 14, 9) },
    ]);
  });

  it('field names are compact base-36 and round-trip', () => {
    const ref = { res: MINUTE, start: Date.UTC(2025, 2, 14, 9, 26) };
    assert.equal(fieldName(ref), `${MINUTE.toString(36)}:${ref.start.toString(36)}`);
    assert.deepEqual(parseFieldName(fieldName(ref)), ref);
    assert.deepEqual(parseFieldName(fieldName({ res: HOUR, start: -HOUR })), { res: HOUR, start: -HOUR });
    for (const bad of ['', 'abc', '1ba0:', ':1', '1ba0:7', '01ba0:0', '1BA0:0', '0:0', '1ba0:1ba0:0']) {
      assert.throws(() => parseFieldName(bad), FlywheelError, bad);
    }
  });
});

describe('windowed tile merge equals the naive reference', () => {
  const kinds: AggregationKind[] = [
    'count',
    'sum',
    'mean',
    'min',
    'max',
    'last',
    'variance',
    'stddev',
    'approx_distinct',
    'approx_quantile',
  ];
  const rng = createRng(2024);
  const base = MINUTE;
  const windows = ['5m', '1h', '24h', '2d', 'lifetime'].map(parseDuration);
  const resolutions = resolutionsFor(base, windows);
  const events: RawEvent[] = Array.from({ length: 3000 }, () => ({
    ts: T0 + rng.int(-3 * DAY, 1 * DAY),
    value: rng.bool(0.05) ? null : rng.bool(0.5) ? rng.int(-100, 100) : rng.next() * 100,
  }));

  for (const kind of kinds) {
    it(kind, () => {
      const agg = createAggregator({ kind });
      // What the stream processor does: fold each event into its tile at every resolution.
      const tiles = new Map<string, unknown>();
      for (const e of events) {
        for (const ref of tilesForEvent(e.ts, resolutions)) {
          const name = fieldName(ref);
          tiles.set(name, agg.update(tiles.has(name) ? tiles.get(name) : agg.init(), e.value, e.ts));
        }
      }
      for (let i = 0; i < 25; i++) {
        const t = T0 + rng.int(-3 * DAY, 2 * DAY);
        for (const w of windows) {
          // What a read does: merge the covering tiles (absent ones are empty), then finalize.
          const ir = coverWindow(t, base, w, resolutions).reduce((acc, ref) => {
            const tile = tiles.get(fieldName(ref));
            return tile === undefined ? acc : agg.merge(acc, tile);
          }, agg.init());
          const { start, end } = windowSpan(t, base, w);
          const message = `${kind} t=${t} W=${w}`;
          if (agg.exact) {
            assertClose(agg.finalize(ir), referenceValue(kind, events, start, end), 1e-9, message);
          } else {
            // Sketches: the tiled sketch is bit-identical to one built from the window's raw events.
            const inWindow = events.filter((e) => e.ts >= start && e.ts < end);
            const direct = inWindow.reduce((s, e) => agg.update(s, e.value, e.ts), agg.init());
            assert.deepEqual(agg.encode(ir), agg.encode(direct), message);
          }
        }
      }
    });
  }
});
