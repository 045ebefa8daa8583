import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LoadedProject } from './load.ts';
import { checkGeneratedTypes, renderSourceTypes } from './typegen.ts';

/**
 * `<project>/generated/events.ts`: the TypeScript types of the project's sources, generated from its
 * `.avsc` files, for the producer SDK (`createFlywheelProducer<SourceEvents>`). `check` compares
 * instead of writing, so a test (and CI) fails when a schema changed and the types were not regenerated.
 */
export const GENERATED_TYPES_FILE = 'generated/events.ts';

export function writeProjectTypes(
  project: LoadedProject,
  opts: { check: boolean },
): { ok: true; file: string } | { ok: false; file: string; message: string } {
  const file = join(project.dir, GENERATED_TYPES_FILE);
  const text = renderSourceTypes(project.schemas.map((s) => ({ name: s.name, schema: s.schema })));
  if (opts.check) {
    const result = checkGeneratedTypes(text, file);
    return result.ok ? { ok: true, file } : { ok: false, file, message: result.message };
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return { ok: true, file };
}
