export { driftCommand, MAX_REFERENCE_ROWS } from './cli.ts';
export { MONITOR_CONFIG, type MonitorSettings } from './config.ts';
export { compareProfileSets, compareProfiles, type ProfileSet, type WindowDrift } from './core/compare.ts';
export { type ControllerState, type Decision, initialState, type RunOutcome } from './core/controller.ts';
export {
  createMonitorCore,
  type JoinedLabel,
  type MonitorCore,
  type MonitorOutput,
  type MonitorSpec,
  type OutcomeInput,
  type PredictionInput,
  type ReferenceProfile,
  scoreOf,
} from './core/monitor-core.ts';
export {
  computeMetric,
  HIGHER_IS_BETTER,
  type Metric,
  metricsFor,
} from './core/performance.ts';
export {
  buildReferenceProfile,
  type ReferenceInput,
  referenceFromJson,
  referenceToJson,
} from './core/reference.ts';
export { type MonitorProject, monitorModule } from './module.ts';
export { registerMonitorRoutes } from './routes.ts';
export {
  createMonitorService,
  DRIFT_TOPIC,
  type MonitorService,
  monitorSpecFor,
  RETRAIN_TOPIC,
} from './service.ts';
export { createMonitorStore } from './store.ts';
export { monitorTablesDdl } from './tables.ts';
