import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlywheelError } from '../errors.ts';

/**
 * Everything the local stack downloads comes from Maven Central through Maven itself, so its local
 * repository (~/.m2) is the shared download cache and our cache folder only holds what is unpacked.
 * A `.complete` marker makes a half-finished fetch (Ctrl-C, network fault) redo itself next time.
 */
export function ensureMaven(maven: string): void {
  const out = spawnSync(maven, ['-v'], { encoding: 'utf8', timeout: 30_000 });
  if (out.error || out.status !== 0) {
    throw new FlywheelError(
      'FW_STACK_MAVEN_MISSING',
      `Maven (${maven}) is needed once to fetch the Kafka and Apicurio jars from Maven Central, but it did not run. ` +
        'Fix: apt-get install -y maven (or set FLYWHEEL_MAVEN to its path).',
    );
  }
}

export async function runMaven(maven: string, args: string[], cwd: string, what: string): Promise<void> {
  const child = spawn(maven, ['-B', '-q', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    throw new FlywheelError(
      'FW_STACK_FETCH_FAILED',
      `Fetching ${what} with Maven failed (exit ${code}):\n${output.slice(-2_000)}`,
    );
  }
}

export function isComplete(dir: string): boolean {
  return existsSync(join(dir, '.complete'));
}

export function markComplete(dir: string): void {
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
}

export function freshDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

/** A packaging=pom project whose only job is `dependency:copy-dependencies` into `libs/`. */
export function jarsPom(
  artifactId: string,
  deps: ReadonlyArray<[group: string, artifact: string, version: string]>,
): string {
  const items = deps
    .map(
      ([g, a, v]) =>
        `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`,
    )
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.flywheel.stack</groupId><artifactId>${artifactId}</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
${items}
  </dependencies>
</project>
`;
}
