import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The code version a trained model records when none is configured: the package version and a hash of
 * the sources that decide what a model is (the trainer's core and the ONNX writers). It changes exactly
 * when a retrain on the same data could give other bytes, and needs no git checkout at run time.
 */
export function defaultCodeVersion(): string {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const h = createHash('sha256');
  for (const dir of ['services/trainer/core', 'services/core/onnx']) {
    for (const file of readdirSync(join(root, dir)).sort()) {
      if (!file.endsWith('.ts')) continue;
      h.update(`${dir}/${file}\n`).update(readFileSync(join(root, dir, file)));
    }
  }
  return `${pkg.version}+${h.digest('hex').slice(0, 12)}`;
}
