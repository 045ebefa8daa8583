import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FlywheelError } from '../../errors.ts';
import { findJava } from '../java.ts';
import { ensureMaven, freshDir, isComplete, markComplete, runMaven } from '../maven.ts';
import type { PartContext, StackPart } from '../part.ts';
import { httpOk } from '../probes.ts';
import { spawnDetached } from '../processes.ts';

/** Apicurio Registry 3.x with in-memory storage, serving the Confluent-compatible API at /apis/ccompat/v7. */
export function registryPart(ctx: PartContext): StackPart {
  const { stack } = ctx.config;
  const home = join(ctx.cacheDir, `apicurio-${stack.apicurioVersion}`);
  const javaOpts = { configured: stack.java, jvmDirs: ctx.jvmDirs };
  const base = `http://127.0.0.1:${stack.registryPort}`;
  const minJava = stack.apicurioVersion.startsWith('2.') ? 11 : 21;

  return {
    name: 'registry',
    ports: [stack.registryPort, stack.registryManagementPort],
    portSetting: 'FLYWHEEL_REGISTRY_PORT / FLYWHEEL_REGISTRY_MANAGEMENT_PORT',
    answers: () => httpOk(`${base}/apis/ccompat/v7/subjects`),
    ready: () => httpOk(`${base}/apis/ccompat/v7/subjects`),

    async provision() {
      findJava(minJava, javaOpts, `Apicurio Registry ${stack.apicurioVersion}`);
      if (isComplete(home)) return;
      ensureMaven(stack.maven);
      ctx.logger.info('fetching Apicurio Registry from Maven Central', { version: stack.apicurioVersion });
      freshDir(home);
      const artifact = `io.apicurio:apicurio-registry-app:${stack.apicurioVersion}:tar.gz:all`;
      await runMaven(
        stack.maven,
        ['dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${home}`],
        home,
        artifact,
      );
      const archive = readdirSync(home).find((f) => f.endsWith('.tar.gz'));
      if (!archive)
        throw new FlywheelError('FW_STACK_FETCH_FAILED', `Maven fetched no archive for ${artifact}`);
      const untar = spawnSync('tar', ['xzf', archive], { cwd: home, encoding: 'utf8' });
      if (untar.status !== 0)
        throw new FlywheelError('FW_STACK_FETCH_FAILED', `Unpacking ${archive} failed: ${untar.stderr}`);
      markComplete(home);
    },

    async start() {
      const java = findJava(minJava, javaOpts, `Apicurio Registry ${stack.apicurioVersion}`);
      return spawnDetached(
        java.path,
        [
          '-Xms128m',
          '-Xmx512m',
          '-Dquarkus.http.host=127.0.0.1',
          `-Dquarkus.http.port=${stack.registryPort}`,
          '-Dquarkus.management.host=127.0.0.1',
          `-Dquarkus.management.port=${stack.registryManagementPort}`,
          // The confluent client refuses subjects whose compatibility level is NONE.
          '-Dapicurio.rules.global.compatibility=BACKWARD',
          '-jar',
          'quarkus-run.jar',
        ],
        { cwd: home, logFile: join(ctx.runDir, 'logs', 'registry.log') },
      );
    },
  };
}
