/**
 * The project service: loading a project folder, planning and applying it, and what the modules run
 * for it. Project files import the narrower public API (public.ts, the package's `flywheel` export).
 */

export { type ApplyResult, applyPlan, type ProjectDeps, planFor, servedPlan } from './apply.ts';
export { projectDir } from './folder.ts';
export { projectTablesDdl } from './history.ts';
export { initProject } from './init.ts';
export { PROJECT_FILE } from './load.ts';
export { formatPlan, type Plan, type PlanChange, planProject, type RecordedDefinition } from './plan.ts';
export * from './public.ts';
export { type ProjectRuntime, projectRuntime, projectViewsAsDeclared } from './runtime.ts';
export { checkGeneratedTypes, renderSourceTypes, type SourceSchema } from './typegen.ts';
export { GENERATED_TYPES_FILE, writeProjectTypes } from './types-file.ts';
