export {
  type BuildOptions,
  type BuildProgress,
  type BuildResult,
  createTrainingSetBuilder,
  type SpineRow,
  type TrainingSetBuilder,
  type TrainingSetBuilderDeps,
} from './builder.ts';
export { type PitEvent, type PitOptions, type PitValue, pointInTimeValues } from './point-in-time.ts';
export { trainingTablesDdl } from './tables.ts';
