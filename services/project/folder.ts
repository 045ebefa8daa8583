import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlywheelError } from '../platform/errors.ts';

/**
 * Which project folder a command works on: `--project DIR`, else FLYWHEEL_PROJECT, else the bundled
 * example that package.json names (`flywheel.bundledProject`), so the README's commands run as they are.
 */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export function projectDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.FLYWHEEL_PROJECT) return resolve(env.FLYWHEEL_PROJECT);
  const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { flywheel?: { bundledProject?: string } };
  const bundled = pkg.flywheel?.bundledProject;
  if (!bundled)
    throw new FlywheelError(
      'FW_CONFIG_INVALID',
      'no --project given and package.json names no bundled project',
    );
  return fileURLToPath(new URL(`../../${bundled}`, import.meta.url));
}
