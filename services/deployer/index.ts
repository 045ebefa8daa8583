export { decide, type GateCheck, type GateDecision, type GateSettings, percentile } from './core/gate.ts';
export { measureModel } from './measure.ts';
export { type DeployerProject, deployerModule } from './module.ts';
export { createDeployerService, type DeployerService, type GateOutcome } from './service.ts';
