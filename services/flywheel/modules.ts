import { consoleModule } from '../console/index.ts';
import { deployerModule } from '../deployer/index.ts';
import { featuresModule } from '../features/index.ts';
import { ingestModule } from '../ingest/index.ts';
import { monitorModule } from '../monitor/index.ts';
import {
  type ConfigSection,
  ENV_VARS,
  type EnvVar,
  loadConfig,
  type ResolvedConfig,
} from '../platform/config.ts';
import { type AnyModule, moduleSections } from '../platform/modules.ts';
import type { ProjectRuntime } from '../project/index.ts';
import { servingModule } from '../serving/index.ts';
import { trainerModule } from '../trainer/index.ts';
import { demoModule } from './demo-module.ts';

/**
 * Every module Flywheel has, in the order `flywheel start` runs them. Adding a service is adding its
 * module here; `run`, compose, k8s and their tests take their names from this list.
 */
export const MODULES: readonly AnyModule<ProjectRuntime>[] = [
  ingestModule,
  featuresModule,
  servingModule,
  monitorModule,
  trainerModule,
  deployerModule,
  demoModule,
  consoleModule,
];

export const MODULE_NAMES: readonly string[] = MODULES.map((m) => m.name);

/** The modules' own config sections (features, serving, demo, …), validated with the platform's. */
export const MODULE_CONFIG_SECTIONS: readonly ConfigSection[] = moduleSections(MODULES);

/** Every environment variable Flywheel reads: the platform's and each module's. */
export const ALL_ENV_VARS: readonly EnvVar[] = [...ENV_VARS, ...MODULE_CONFIG_SECTIONS.flatMap((s) => s.env)];

/** The whole configuration, every module's section included: all problems reported at once. */
export function loadFlywheelConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Record<string, unknown> = {},
): Readonly<ResolvedConfig> {
  return loadConfig(env, overrides, MODULE_CONFIG_SECTIONS);
}
