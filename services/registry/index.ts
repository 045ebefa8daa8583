import { join } from 'node:path';
import type { ResolvedConfig } from '../platform/config.ts';

export { createArtifactStore, sha256Of } from './artifacts.ts';
export {
  createModelEventPublisher,
  failedEvent,
  fromAvro as modelEventFromAvro,
  MODELS_TOPIC,
  type ModelEvent,
  type ModelEventType,
  versionEvent,
} from './model-events.ts';
export { modelsCommand } from './models-cli.ts';
export {
  createPipelineRuns,
  FINAL_STATES,
  type PipelineRuns,
  RUN_STATES,
  type RunState,
  type RunStep,
} from './pipeline-runs.ts';
export {
  type AliasMove,
  type AliasOptions,
  createModelRegistry,
  MODEL_NAME,
  type ModelRegistry,
  type ModelVersion,
  type Provenance,
  type RegisterOptions,
} from './registry.ts';
export { checkModel, loadSession, type ModelSignature, signatureOf } from './signature.ts';
export { registryTablesDdl } from './tables.ts';

/** Default artifacts folder; in distributed mode pass a shared volume instead (every pod must see it). */
export function defaultArtifactsDir(config: Readonly<ResolvedConfig>): string {
  return join(config.stack.cacheDir, 'artifacts');
}
