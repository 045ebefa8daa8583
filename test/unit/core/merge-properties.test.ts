/**
 * Property tests on seeded random streams: folding tiles and merging them in any grouping and order
 * gives the same IR as folding the raw events directly — bit for bit where the merge is exactly
 * associative (everything but float sums/means and the variance moments), within 1e-9 otherwise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AggregationKind,
  type AnyAggregator,
  createAggregator,
  type FieldValue,
} from '../../../services/core/aggregation/index.ts';
import { type RawEvent, referenceValue } from '../../support/naive-reference.ts';
import { createRng, type Rng } from '../../support/prng.ts';
import { assertClose } from './assert-close.ts';

const SEEDS = Array.from({ length: 60 }, (_, i) => 1000 + i);

type ValueGen = (rng: Rng) => FieldValue;
const integers: ValueGen = (rng) => (rng.bool(0.1) ? null : rng.int(-1000, 1000));
const floats: ValueGen = (rng) => (rng.bool(0.1) ? null : (rng.next() - 0.5) * 2000);
const mixed: ValueGen = (rng) =>
  rng.bool(0.1)
    ? null
    : rng.bool(0.5)
      ? `s${rng.int(0, 60)}`
      : rng.bool(0.5)
        ? rng.int(0, 60)
        : rng.next() * 10;

interface Case {
  kind: AggregationKind;
  values: ValueGen;
  /** 0 = IRs must encode identically; otherwise the relative tolerance on finalized values. */
  tolerance: number;
}

const CASES: Case[] = [
  { kind: 'count', values: mixed, tolerance: 0 },
  { kind: 'sum', values: integers, tolerance: 0 },
  { kind: 'sum', values: floats, tolerance: 1e-9 },
  { kind: 'min', values: floats, tolerance: 0 },
  { kind: 'max', values: floats, tolerance: 0 },
  { kind: 'mean', values: integers, tolerance: 0 },
  { kind: 'mean', values: floats, tolerance: 1e-9 },
  { kind: 'variance', values: floats, tolerance: 1e-9 },
  { kind: 'stddev', values: integers, tolerance: 1e-9 },
  { kind: 'last', values: mixed, tolerance: 0 },
  { kind: 'approx_distinct', values: mixed, tolerance: 0 },
  { kind: 'approx_quantile', values: floats, tolerance: 0 },
];

function stream(rng: Rng, values: ValueGen): RawEvent[] {
  const n = rng.int(0, 300);
  // A narrow time range makes event-time ties common, which is where `last` could go wrong.
  return Array.from({ length: n }, () => ({ ts: rng.int(0, 50), value: values(rng) }));
}

function fold(agg: AnyAggregator, events: RawEvent[]): unknown {
  return events.reduce((ir, e) => agg.update(ir, e.value, e.ts), agg.init());
}

function clone(agg: AnyAggregator, ir: unknown): unknown {
  return agg.decode(JSON.parse(JSON.stringify(agg.encode(ir))));
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Splits events into random tiles (shuffled inside), then merges random pairs until one is left. */
function foldInTiles(rng: Rng, agg: AnyAggregator, events: RawEvent[]): unknown {
  const tiles: RawEvent[][] = Array.from({ length: rng.int(1, 10) }, () => []);
  for (const e of events) rng.pick(tiles).push(e);
  const irs = tiles.map((t) => fold(agg, shuffle(rng, t)));
  while (irs.length > 1) {
    const i = rng.int(0, irs.length - 1);
    const [b] = irs.splice(i, 1);
    const j = rng.int(0, irs.length - 1);
    const before = JSON.stringify(agg.encode(b));
    irs[j] = agg.merge(irs[j], b);
    assert.equal(JSON.stringify(agg.encode(b)), before, 'merge mutated its second argument');
  }
  return irs[0];
}

function label(c: Case, seed: number): string {
  return `${c.kind}/${c.values.name} seed ${seed}`;
}

describe('merging tiles equals folding the raw events', () => {
  for (const c of CASES) {
    it(`${c.kind} over ${c.values.name}`, () => {
      const agg = createAggregator({ kind: c.kind });
      for (const seed of SEEDS) {
        const rng = createRng(seed);
        const events = stream(rng, c.values);
        const direct = fold(agg, events);
        const tiled = foldInTiles(rng, agg, events);
        if (c.tolerance === 0) assert.deepEqual(agg.encode(tiled), agg.encode(direct), label(c, seed));
        assertClose(agg.finalize(tiled), agg.finalize(direct), c.tolerance || 0, label(c, seed));
        if (agg.exact) {
          const truth = referenceValue(c.kind, events, 0, 51);
          assertClose(agg.finalize(direct), truth, c.tolerance || 1e-12, `${label(c, seed)} vs reference`);
        }
      }
    });
  }
});

describe('merge algebra', () => {
  for (const c of CASES) {
    it(`${c.kind} over ${c.values.name}: associative and commutative`, () => {
      const agg = createAggregator({ kind: c.kind });
      for (const seed of SEEDS) {
        const rng = createRng(seed);
        const [a, b, c3] = [0, 1, 2].map(() => fold(agg, stream(rng, c.values)));
        const left = agg.merge(agg.merge(clone(agg, a), clone(agg, b)), clone(agg, c3));
        const right = agg.merge(clone(agg, a), agg.merge(clone(agg, b), clone(agg, c3)));
        const ab = agg.merge(clone(agg, a), clone(agg, b));
        const ba = agg.merge(clone(agg, b), clone(agg, a));
        const identity = agg.merge(clone(agg, a), agg.init());
        if (c.tolerance === 0) {
          assert.deepEqual(agg.encode(left), agg.encode(right), `associative ${label(c, seed)}`);
          assert.deepEqual(agg.encode(ab), agg.encode(ba), `commutative ${label(c, seed)}`);
        }
        assertClose(agg.finalize(left), agg.finalize(right), c.tolerance, `associative ${label(c, seed)}`);
        assertClose(agg.finalize(ab), agg.finalize(ba), c.tolerance, `commutative ${label(c, seed)}`);
        assert.deepEqual(agg.encode(identity), agg.encode(a), `init is the identity ${label(c, seed)}`);
      }
    });
  }
});
