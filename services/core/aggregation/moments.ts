/**
 * Mean, variance and standard deviation.
 *
 * mean keeps (n, sum): exact for integer data, merge order only moves float rounding.
 * variance is the POPULATION variance (ClickHouse varPop): m2 / n, not m2 / (n - 1); stddev is
 * sqrt(varPop) (ClickHouse stddevPop). The IR is (n, mean, m2) — Welford's update per value and
 * Chan et al.'s parallel merge across tiles, which stay numerically stable where the textbook
 * sum-of-squares formula cancels catastrophically.
 */
import type { Aggregator } from './aggregator.ts';
import { numeric } from './basic.ts';
import { expectArray, expectCount, expectFinite } from './decode-checks.ts';

export interface MeanIR {
  n: number;
  sum: number;
}

export const meanAggregator: Aggregator<MeanIR, number> = {
  kind: 'mean',
  exact: true,
  init: () => ({ n: 0, sum: 0 }),
  update: (ir, value) => {
    const x = numeric(value);
    if (x !== null) {
      ir.n += 1;
      ir.sum += x;
    }
    return ir;
  },
  merge: (a, b) => {
    a.n += b.n;
    a.sum += b.sum;
    return a;
  },
  finalize: (ir) => (ir.n === 0 ? null : ir.sum / ir.n),
  encode: (ir) => [ir.n, ir.sum],
  decode: (data) => {
    const arr = expectArray('mean', data, [2]);
    return { n: expectCount('mean', arr[0], 'n'), sum: expectFinite('mean', arr[1], 'sum') };
  },
};

export interface MomentsIR {
  n: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
}

function momentsAggregator(kind: 'variance' | 'stddev', fromVarPop: (v: number) => number) {
  const aggregator: Aggregator<MomentsIR, number> = {
    kind,
    exact: true,
    init: () => ({ n: 0, mean: 0, m2: 0 }),
    update: (ir, value) => {
      const x = numeric(value);
      if (x === null) return ir;
      ir.n += 1;
      const delta = x - ir.mean;
      ir.mean += delta / ir.n;
      ir.m2 += delta * (x - ir.mean);
      return ir;
    },
    merge: (a, b) => {
      if (b.n === 0) return a;
      if (a.n === 0) {
        a.n = b.n;
        a.mean = b.mean;
        a.m2 = b.m2;
        return a;
      }
      const n = a.n + b.n;
      const delta = b.mean - a.mean;
      a.mean += (delta * b.n) / n;
      a.m2 += b.m2 + (delta * delta * a.n * b.n) / n;
      a.n = n;
      return a;
    },
    // Rounding can leave m2 a hair below zero for constant data; clamp so stddev is never NaN.
    finalize: (ir) => (ir.n === 0 ? null : fromVarPop(Math.max(0, ir.m2) / ir.n)),
    encode: (ir) => [ir.n, ir.mean, ir.m2],
    decode: (data) => {
      const arr = expectArray(kind, data, [3]);
      return {
        n: expectCount(kind, arr[0], 'n'),
        mean: expectFinite(kind, arr[1], 'mean'),
        m2: expectFinite(kind, arr[2], 'm2'),
      };
    },
  };
  return aggregator;
}

export const varianceAggregator = momentsAggregator('variance', (v) => v);
export const stddevAggregator = momentsAggregator('stddev', Math.sqrt);
