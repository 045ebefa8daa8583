import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AGGREGATION_KINDS,
  type AnyAggregator,
  createAggregator,
  type FieldValue,
  murmur3x86_32,
} from '../../../services/core/aggregation/index.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';

function fold(agg: AnyAggregator, values: FieldValue[]): unknown {
  return values.reduce((ir, v, i) => agg.update(ir, v, 1000 + i), agg.init());
}

function value(kind: Parameters<typeof createAggregator>[0]['kind'], values: FieldValue[]): unknown {
  const agg = createAggregator({ kind });
  return agg.finalize(fold(agg, values));
}

/** Through JSON and back: the stored form must survive a real round trip. */
function roundTrip(agg: AnyAggregator, ir: unknown): unknown {
  return agg.decode(JSON.parse(JSON.stringify(agg.encode(ir))));
}

const isDecodeError = (e: unknown) => e instanceof FlywheelError && e.code === 'FW_DECODE_FAILED';

describe('exact aggregators', () => {
  it('count counts non-null values of any type and is 0 when empty', () => {
    assert.equal(value('count', []), 0);
    assert.equal(value('count', [1, null, 'a', 0, null]), 3);
  });

  it('sum, min, max ignore nulls and non-numbers, and are null when empty', () => {
    const xs: FieldValue[] = [3, null, -2, 'x', 10, Number.NaN, Number.POSITIVE_INFINITY];
    assert.equal(value('sum', xs), 11);
    assert.equal(value('min', xs), -2);
    assert.equal(value('max', xs), 10);
    for (const kind of ['sum', 'min', 'max', 'mean', 'variance', 'stddev', 'last'] as const) {
      assert.equal(value(kind, []), null, kind);
      assert.equal(value(kind, [null, null]), null, kind);
    }
  });

  it('mean, variance (population) and stddev', () => {
    const xs: FieldValue[] = [2, 4, 4, 4, null, 5, 5, 7, 9];
    assert.equal(value('mean', xs), 5);
    assert.equal(value('variance', xs), 4);
    assert.equal(value('stddev', xs), 2);
    assert.equal(value('variance', [42]), 0);
  });

  it('last keeps the latest event time, whatever the arrival order', () => {
    const agg = createAggregator({ kind: 'last' });
    let ir = agg.init();
    ir = agg.update(ir, 'late', 300);
    ir = agg.update(ir, 'early', 100);
    ir = agg.update(ir, null, 999);
    assert.equal(agg.finalize(ir), 'late');
  });

  it('last breaks event-time ties by the larger string form, then number over string', () => {
    const agg = createAggregator({ kind: 'last' });
    const tie = (a: FieldValue, b: FieldValue) => [
      agg.finalize(agg.update(agg.update(agg.init(), a, 5), b, 5)),
      agg.finalize(agg.update(agg.update(agg.init(), b, 5), a, 5)),
    ];
    assert.deepEqual(tie('a', 'b'), ['b', 'b']);
    assert.deepEqual(tie(10, 9), [9, 9]);
    assert.deepEqual(tie(1, '1'), [1, 1]);
  });

  it('merge never mutates its second argument', () => {
    for (const kind of AGGREGATION_KINDS) {
      const agg = createAggregator({ kind });
      const b = fold(agg, [5, 7, 'q', 1.5]);
      const before = JSON.stringify(agg.encode(b));
      const merged = agg.merge(fold(agg, [1, 2]), b);
      agg.update(merged, 100, 1e6); // a result aliased to b would leak this into b
      assert.equal(JSON.stringify(agg.encode(b)), before, kind);
      const fromEmpty = agg.merge(agg.init(), b);
      agg.update(fromEmpty, 1000, 2e6);
      assert.equal(JSON.stringify(agg.encode(b)), before, `${kind} (empty a)`);
    }
  });
});

describe('encode / decode', () => {
  const samples: FieldValue[][] = [[], [null], [1], [3, -1.25, 'x', 0, 0, 7e10, null, -3]];

  it('round-trips every kind, empty and non-empty, through JSON', () => {
    for (const kind of AGGREGATION_KINDS) {
      const agg = createAggregator({ kind });
      for (const values of samples) {
        const ir = fold(agg, values);
        const back = roundTrip(agg, ir);
        assert.deepEqual(agg.encode(back), agg.encode(ir), `${kind} ${JSON.stringify(values)}`);
        assert.deepEqual(agg.finalize(back), agg.finalize(ir), kind);
      }
    }
  });

  it('approx_distinct switches from sparse pairs to dense base64 and back', () => {
    const agg = createAggregator({ kind: 'approx_distinct' });
    const few = fold(agg, ['a', 'b', 'c']);
    assert.ok(Array.isArray(agg.encode(few)));
    const many = fold(
      agg,
      Array.from({ length: 5000 }, (_, i) => `user-${i}`),
    );
    const dense = agg.encode(many);
    assert.equal(typeof dense, 'string');
    assert.deepEqual(agg.decode(dense), many);
  });

  it('rejects malformed data with FW_DECODE_FAILED', () => {
    const cases: [string, unknown][] = [
      ['count', -1],
      ['count', 1.5],
      ['count', '3'],
      ['sum', 5],
      ['sum', [1, 2]],
      ['sum', ['1']],
      ['min', [null]],
      ['mean', [1]],
      ['mean', [-1, 2]],
      ['variance', [2, 1, 'x']],
      ['last', [1]],
      ['last', ['t', 1]],
      ['last', [1, null]],
      ['approx_distinct', 'not base64!'],
      ['approx_distinct', 'AAAA'],
      ['approx_distinct', [[4096, 1]]],
      ['approx_distinct', [[0, 99]]],
      ['approx_distinct', [[0]]],
      ['approx_distinct', { 0: 1 }],
      ['approx_quantile', [1, 2]],
      ['approx_quantile', [0, 5, 1, [[1, 1]], []]],
      ['approx_quantile', [0, 1, 1, [[1, 0]], []]],
      ['approx_quantile', [0, 1, 1, [[1.5, 1]], []]],
      [
        'approx_quantile',
        [
          0,
          1,
          1,
          [
            [1, 1],
            [1, 2],
          ],
          [],
        ],
      ],
      ['approx_quantile', [0, 1, 1, [], []]],
      ['approx_quantile', null],
    ];
    for (const [kind, data] of cases) {
      const agg = createAggregator({ kind: kind as 'count' });
      assert.throws(() => agg.decode(data), isDecodeError, `${kind} ${JSON.stringify(data)}`);
    }
  });
});

describe('createAggregator', () => {
  it('marks sketches as approximate and exposes their error bound', () => {
    for (const kind of AGGREGATION_KINDS) {
      const agg = createAggregator({ kind });
      assert.equal(agg.kind, kind);
      assert.equal(agg.exact, !kind.startsWith('approx_'));
      assert.equal(agg.relativeError === undefined, agg.exact, kind);
    }
  });

  it('reports the requested quantiles, default [0.5, 0.9, 0.99]', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    const agg = createAggregator({ kind: 'approx_quantile', quantiles: [0, 0.25, 1] });
    const [q0, q25, q100] = agg.finalize(fold(agg, xs)) as number[];
    assert.equal(q0, 1); // min and max are exact
    assert.equal(q100, 100);
    assert.ok(Math.abs(q25! - 25) <= 25 * 0.01 + 1e-9);
    const byDefault = createAggregator({ kind: 'approx_quantile' });
    assert.equal((byDefault.finalize(fold(byDefault, xs)) as number[]).length, 3);
  });

  it('rejects unknown kinds and bad quantiles with FW_FEATURE_VIEW_INVALID', () => {
    const invalid = (e: unknown) => e instanceof FlywheelError && e.code === 'FW_FEATURE_VIEW_INVALID';
    assert.throws(() => createAggregator({ kind: 'median' as 'count' }), invalid);
    assert.throws(() => createAggregator({ kind: 'toString' as 'count' }), invalid);
    assert.throws(() => createAggregator({ kind: 'approx_quantile', quantiles: [] }), invalid);
    assert.throws(() => createAggregator({ kind: 'approx_quantile', quantiles: [1.5] }), invalid);
    assert.throws(() => createAggregator({ kind: 'sum', quantiles: [0.5] }), invalid);
  });
});

describe('murmur3x86_32', () => {
  it('matches the reference vectors', () => {
    const utf8 = (s: string) => new TextEncoder().encode(s);
    assert.equal(murmur3x86_32(utf8(''), 0), 0);
    assert.equal(murmur3x86_32(utf8(''), 1), 0x514e28b7);
    assert.equal(murmur3x86_32(utf8('The quick brown fox jumps over the lazy dog'), 0), 0x2e4ff723);
    assert.equal(murmur3x86_32(utf8('Hello, world!'), 1234), 0xfaf6cdb3);
    assert.equal(murmur3x86_32(utf8('abc'), 0), 0xb3dd93fa);
  });
});
