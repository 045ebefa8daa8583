export {
  approxBound,
  compareFeature,
  type Mismatch,
  type MismatchReason,
  type Outcome,
  resolveInput,
  tallyPrediction,
} from './compare.ts';
export {
  type ConsistencyMonitor,
  type ConsistencyReport,
  createConsistencyMonitor,
  type RunOptions,
} from './monitor.ts';
export { consistencyTablesDdl } from './tables.ts';
