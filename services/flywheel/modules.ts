import { consoleModule } from '../console/index.ts';
import { type CompiledView, featuresModule } from '../features/index.ts';
import { ingestModule, type SourceCatalogue } from '../ingest/index.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import { servingModule } from '../serving/index.ts';
import { demoModule } from './demo-module.ts';

/** Everything a module may take from the user's project; each module declares the part it reads. */
export interface ProjectRuntime {
  readonly views: readonly CompiledView[];
  readonly sources?: SourceCatalogue;
  readonly featureServices?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Every module Flywheel has, in the order `flywheel start` runs them. Adding a service is adding its
 * module here; `run`, compose, k8s and their tests take their names from this list.
 */
export const MODULES: readonly FlywheelModule<ProjectRuntime>[] = [
  ingestModule,
  featuresModule,
  servingModule,
  demoModule,
  consoleModule,
];

export const MODULE_NAMES: readonly string[] = MODULES.map((m) => m.name);
