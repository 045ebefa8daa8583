import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_TILE_WRITES_PER_FLUSH as MAX_TILES,
  MIN_EVENTS_PER_FLUSH as MIN_EVENTS,
  nextFlushSize,
} from '../../../services/features/engine/processor.ts';

const LIMIT = 50_000;

test('a flush that wrote too many tiles shrinks the next one in proportion, not below the minimum', () => {
  assert.equal(nextFlushSize(10_000, 10_000, MAX_TILES * 2, LIMIT), 5_000);
  assert.equal(nextFlushSize(10_000, 10_000, MAX_TILES * 100, LIMIT), MIN_EVENTS);
});

test('a full flush under the tile limit grows the next one, at most doubling, up to the event limit', () => {
  assert.equal(nextFlushSize(4_000, 4_000, MAX_TILES / 10, LIMIT), 8_000);
  assert.equal(nextFlushSize(4_000, 4_000, (MAX_TILES * 4) / 5, LIMIT), 5_000);
  assert.equal(nextFlushSize(40_000, 40_000, 1_000, LIMIT), LIMIT);
});

test('a partial flush (live traffic: fewer records queued than allowed) keeps the size', () => {
  assert.equal(nextFlushSize(20_000, 50, 300, LIMIT), 20_000);
});

test('the size climbs to the event limit when entities share tiles, and settles where tiles scatter', () => {
  const settle = (tilesFor: (events: number) => number) => {
    let size = Math.floor(MAX_TILES / 6);
    for (let flush = 0; flush < 12; flush++) size = nextFlushSize(size, size, tilesFor(size), LIMIT);
    return size;
  };
  // A backlog in event-time order: 2,500 entities, each writing ~6 tiles plus a few as time advances.
  assert.equal(
    settle((events) => Math.round(2_500 * (6 + events / 25_000))),
    LIMIT,
  );
  // Events spread over hours: ~3 new tiles per event. The size settles near the tile limit's worth.
  const scattered = settle((events) => 3 * events);
  assert.ok(scattered >= MAX_TILES / 3 / 2 && scattered <= MAX_TILES / 3, `settled at ${scattered}`);
});
