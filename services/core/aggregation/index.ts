export {
  AGGREGATION_KINDS,
  type AggregationKind,
  type AggregationOutput,
  type AggregationSpec,
  type Aggregator,
  type AnyAggregator,
  createAggregator,
  type FieldValue,
} from './aggregator.ts';
export { countAggregator, maxAggregator, minAggregator, numeric, sumAggregator } from './basic.ts';
export {
  bucketIndex,
  bucketValue,
  createQuantileAggregator,
  DDSKETCH_RELATIVE_ACCURACY,
  DEFAULT_QUANTILES,
  nearestRankIndex,
  type QuantileSketch,
} from './ddsketch.ts';
export {
  distinctAggregator,
  estimateCardinality,
  HLL_PRECISION,
  HLL_REGISTERS,
  HLL_STANDARD_ERROR,
  hashValue,
} from './hyperloglog.ts';
export { isLater, type LastIR, lastAggregator } from './last.ts';
export {
  type MeanIR,
  type MomentsIR,
  meanAggregator,
  stddevAggregator,
  varianceAggregator,
} from './moments.ts';
export { murmur3x86_32 } from './murmur3.ts';
