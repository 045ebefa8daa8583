import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FlywheelError } from '../errors.ts';

export interface JavaRuntime {
  readonly path: string;
  readonly major: number;
}

/** Reads the major version from `java -version` (17 from "17.0.15", 8 from "1.8.0_392"). */
export function javaMajor(path: string): number | undefined {
  const out = spawnSync(path, ['-version'], { encoding: 'utf8', timeout: 15_000 });
  if (out.error || out.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${out.stderr}${out.stdout}`);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

/**
 * Candidates in order of preference: the configured executable, JAVA_HOME, `java` on PATH, then every
 * JDK under the configured JVM folders (Debian puts them in /usr/lib/jvm). Kafka 3.9 runs on 17, while
 * Apicurio 3.3 is compiled for 21, so each part asks for its own minimum and may get a different JDK.
 */
export function findJava(
  minMajor: number,
  opts: { configured: string; jvmDirs: readonly string[]; env?: NodeJS.ProcessEnv },
  partName: string,
): JavaRuntime {
  const env = opts.env ?? process.env;
  const candidates: string[] = [];
  const explicit = opts.configured !== 'java';
  candidates.push(opts.configured);
  if (!explicit) {
    if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, 'bin', 'java'));
    for (const dir of opts.jvmDirs) {
      if (!existsSync(dir)) continue;
      for (const jdk of readdirSync(dir).sort().reverse()) candidates.push(join(dir, jdk, 'bin', 'java'));
    }
  }
  const seen: string[] = [];
  for (const path of new Set(candidates)) {
    const major = javaMajor(path);
    if (major === undefined) continue;
    if (major >= minMajor) return { path, major };
    seen.push(`${path} (Java ${major})`);
  }
  const found = seen.length ? `found only ${seen.join(', ')}` : 'no Java runtime was found';
  throw new FlywheelError(
    'FW_STACK_JAVA_MISSING',
    `${partName} needs Java ${minMajor} or newer, but ${found}` +
      `${explicit ? ` (FLYWHEEL_JAVA=${opts.configured})` : ' on PATH, in JAVA_HOME or under ' + (opts.jvmDirs.join(', ') || '(no JVM folders)')}. ` +
      `Fix: install a JDK ${minMajor}+ (Debian: apt-get install -y openjdk-${Math.max(17, minMajor)}-jre-headless, or a Temurin JDK) ` +
      'and put it on PATH or set FLYWHEEL_JAVA / JAVA_HOME.',
  );
}
