import { consoleModule } from '../console/index.ts';
import { featuresModule } from '../features/index.ts';
import { ingestModule } from '../ingest/index.ts';
import type { FlywheelModule } from '../platform/modules.ts';
import type { ProjectRuntime } from '../project/index.ts';
import { servingModule } from '../serving/index.ts';
import { demoModule } from './demo-module.ts';

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
