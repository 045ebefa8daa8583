/**
 * Flywheel's public API for project folders: what a `flywheel.config.ts` imports as `'flywheel'`.
 * Everything a project declares is plain data checked when Flywheel loads the folder; these exports
 * give it types, and the traffic helpers pace an example's generated events. A producer application
 * reads a project's sources with `projectSources(await loadProject(dir))` for the SDK.
 */
export {
  type CompiledView,
  defineFeatureView,
  type FeatureViewDef,
} from '../features/index.ts';
export { type LoadedProject, loadProject } from './load.ts';
export { projectSources } from './runtime.ts';
export {
  defineProject,
  type ModelDefinitionSpec,
  type ProjectDefinition,
  type ProjectInput,
  type TrafficContext,
  type TrafficGenerator,
} from './schema.ts';
export { createRateBudget, paced } from './traffic.ts';
