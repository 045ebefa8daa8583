import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Temporary folders for tests and benchmarks (chDB data, artifacts, output files), removed when the
 * process exits: a benchmark's chDB folder holds hundreds of MB, and hundreds of runs fill a disk.
 */
const created = new Set<string>();

process.once('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  created.add(dir);
  return dir;
}
