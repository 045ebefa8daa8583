import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createAggregator,
  DDSKETCH_RELATIVE_ACCURACY,
  HLL_STANDARD_ERROR,
} from '../../../services/core/aggregation/index.ts';
import { referenceValue } from '../../support/naive-reference.ts';
import { createRng } from '../../support/prng.ts';

describe('approx_distinct accuracy', () => {
  const agg = createAggregator({ kind: 'approx_distinct' });

  it('is within 3 standard errors (~4.9%) at 100k distinct values, duplicates ignored', () => {
    let ir = agg.init();
    for (let i = 0; i < 100_000; i++) ir = agg.update(ir, `user-${i}`, 0);
    for (let i = 0; i < 20_000; i++) ir = agg.update(ir, `user-${i}`, 0);
    const estimate = agg.finalize(ir) as number;
    assert.equal(agg.relativeError, HLL_STANDARD_ERROR);
    assert.ok(Math.abs(estimate / 100_000 - 1) <= 3 * HLL_STANDARD_ERROR, `estimate ${estimate}`);
  });

  it('is within 3 standard errors across the small and mid ranges', () => {
    for (const n of [1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000]) {
      let ir = agg.init();
      for (let i = 0; i < n; i++) ir = agg.update(ir, i * 7919, 0);
      const estimate = agg.finalize(ir) as number;
      assert.ok(Math.abs(estimate / n - 1) <= 3 * HLL_STANDARD_ERROR, `n=${n}: estimate ${estimate}`);
    }
    assert.equal(agg.finalize(agg.init()), 0);
  });
});

describe('approx_quantile accuracy', () => {
  const quantiles = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];
  const agg = createAggregator({ kind: 'approx_quantile', quantiles });
  const rng = createRng(7);
  const distributions: Record<string, () => number> = {
    uniform: () => rng.next() * 1000,
    lognormal: () =>
      Math.exp(3 * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next())),
    'signed with zeros': () => (rng.bool(0.1) ? 0 : (rng.next() - 0.6) * 10 ** rng.int(-6, 9)),
    integers: () => rng.int(-50, 50),
  };

  for (const [name, draw] of Object.entries(distributions)) {
    it(`is within α = ${DDSKETCH_RELATIVE_ACCURACY} of the nearest-rank truth: ${name}`, () => {
      const events = Array.from({ length: 20_000 }, (_, i) => ({ ts: i, value: draw() }));
      const ir = events.reduce((s, e) => agg.update(s, e.value, e.ts), agg.init());
      const estimates = agg.finalize(ir) as number[];
      const truth = referenceValue('approx_quantile', events, 0, events.length, { quantiles }) as number[];
      quantiles.forEach((q, i) => {
        const error = Math.abs(estimates[i]! - truth[i]!);
        assert.ok(
          error <= DDSKETCH_RELATIVE_ACCURACY * Math.abs(truth[i]!) * (1 + 1e-9),
          `q=${q}: ${estimates[i]} vs ${truth[i]}`,
        );
      });
    });
  }
});
