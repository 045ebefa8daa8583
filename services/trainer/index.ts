export { TRAINER_CONFIG, type TrainerSettings } from './config.ts';
export {
  checkLabels,
  columnWithMissing,
  DatasetError,
  type Range,
  type Splits,
  slice,
  splitByTime,
  type TrainingData,
} from './core/dataset.ts';
export { type GbdtModel, predictGbdt } from './core/gbdt.ts';
export { type LinearModel, predictLinear } from './core/linear.ts';
export type { FeatureMatrix, TrainTask } from './core/matrix.ts';
export { type Algorithm, runTrainJob, type TrainJob, type TrainResult } from './core/train-job.ts';
export { loadTrainingData } from './dataset-store.ts';
export { type TrainerProject, trainerModule } from './module.ts';
export { ONNX_TOLERANCE, type RunOutcome, type RunRequest } from './pipeline.ts';
export { createTrainerService, RETRAIN_TOPIC, requestFromAvro, type TrainerService } from './service.ts';
