import { join } from 'node:path';
import type { ResolvedConfig } from '../platform/config.ts';

export { createArtifactStore, sha256Of } from './artifacts.ts';
export {
  createModelRegistry,
  MODEL_NAME,
  type ModelRegistry,
  type ModelVersion,
  type RegisterOptions,
} from './registry.ts';
export { checkModel, loadSession, type ModelSignature, signatureOf } from './signature.ts';
export { registryTablesDdl } from './tables.ts';

/** Default artifacts folder; in distributed mode pass a shared volume instead (every pod must see it). */
export function defaultArtifactsDir(config: Readonly<ResolvedConfig>): string {
  return join(config.stack.cacheDir, 'artifacts');
}
