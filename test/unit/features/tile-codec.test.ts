import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTile, emptyTile, encodeTile } from '../../../services/features/engine/tile-codec.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { createRng } from '../../support/prng.ts';
import { everyKindView } from './fixtures.ts';

const view = everyKindView();

function randomTile(seed: number) {
  const rng = createRng(seed);
  const tile = emptyTile(view);
  const n = rng.int(0, 300);
  for (let i = 0; i < n; i++) {
    const amount = rng.bool(0.1) ? null : (rng.next() - 0.3) * 10 ** rng.int(-3, 6);
    const cat = rng.bool(0.1) ? null : rng.pick(['a', 'b', 'ünï', '9', '10', '']);
    for (const slot of view.slots) {
      const value = slot.field === undefined ? 1 : slot.field === 'amount' ? amount : cat;
      tile.irs[slot.index] = slot.aggregator.update(tile.irs[slot.index], value, 1_000 + rng.int(0, 60_000));
    }
    tile.lastOffset = i;
  }
  return tile;
}

test('encode/decode round-trips every kind, bit for bit, and keeps folding identically', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const tile = randomTile(seed);
    const text = encodeTile(view, tile);
    const back = decodeTile(view, text);
    assert.equal(back.lastOffset, tile.lastOffset);
    assert.equal(encodeTile(view, back), text, `seed ${seed}`);
    for (const slot of view.slots)
      assert.deepEqual(
        slot.aggregator.finalize(back.irs[slot.index]),
        slot.aggregator.finalize(tile.irs[slot.index]),
      );
    // Continuing from the decoded copy equals continuing from the original.
    for (const slot of view.slots) {
      const v = slot.field === undefined ? 1 : slot.field === 'amount' ? 12.5 : 'z';
      back.irs[slot.index] = slot.aggregator.update(back.irs[slot.index], v, 99_999);
      tile.irs[slot.index] = slot.aggregator.update(tile.irs[slot.index], v, 99_999);
    }
    assert.equal(encodeTile(view, back), encodeTile(view, tile));
  }
});

test('an empty tile encodes with lastOffset -1 and decodes to empty states', () => {
  const text = encodeTile(view, emptyTile(view));
  assert.match(text, /^\[-1,/);
  const back = decodeTile(view, text);
  assert.equal(back.lastOffset, -1);
  for (const slot of view.slots) {
    const out = slot.aggregator.finalize(back.irs[slot.index]);
    assert.ok(out === null || out === 0, `${slot.kind}: ${out}`);
  }
});

test('malformed stored tiles are refused with a readable error', () => {
  const good = JSON.parse(encodeTile(view, randomTile(1))) as unknown[];
  const cases: Array<[string, RegExp]> = [
    ['not json', /JSON|Unexpected/],
    ['{}', /stored tile of orders:v1 has no slots, expected 10/],
    ['[]', /has -1 slots|expected 10/],
    [JSON.stringify(good.slice(0, -1)), /has 9 slots, expected 10/],
    [JSON.stringify([...good, []]), /has 11 slots, expected 10/],
    [JSON.stringify(['7', ...good.slice(1)]), /expected 10/],
  ];
  for (const [text, message] of cases) assert.throws(() => decodeTile(view, text), message, text);
  // A slot whose state has the wrong shape: the aggregator's own coded decode error.
  const badCount = [...good];
  badCount[1] = -3;
  assert.throws(
    () => decodeTile(view, JSON.stringify(badCount)),
    (err: unknown) =>
      err instanceof FlywheelError && err.code === 'FW_DECODE_FAILED' && /count/.test(err.message),
  );
  const badSum = [...good];
  badSum[2] = ['x'];
  assert.throws(
    () => decodeTile(view, JSON.stringify(badSum)),
    (err: unknown) =>
      err instanceof FlywheelError && err.code === 'FW_DECODE_FAILED' && /sum/.test(err.message),
  );
});

test('the text fast path renders exactly what JSON of encode() gives, for every kind and sketch form', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const tile = randomTile(seed);
    const slow = JSON.stringify([
      tile.lastOffset,
      ...view.slots.map((s) => s.aggregator.encode(tile.irs[s.index])),
    ]);
    assert.equal(encodeTile(view, tile), slow, `seed ${seed}`);
  }
  // Dense HyperLogLog (thousands of distinct values) and many quantile buckets.
  const big = emptyTile(view);
  for (let i = 0; i < 20_000; i++)
    for (const slot of view.slots) {
      const value = slot.field === undefined ? 1 : slot.field === 'amount' ? (i % 997) - 300.5 : `v${i}`;
      big.irs[slot.index] = slot.aggregator.update(big.irs[slot.index], value, i);
    }
  const slow = JSON.stringify([
    big.lastOffset,
    ...view.slots.map((s) => s.aggregator.encode(big.irs[s.index])),
  ]);
  assert.equal(encodeTile(view, big), slow);
});
