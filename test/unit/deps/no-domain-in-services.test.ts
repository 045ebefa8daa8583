import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadProject } from '../../../services/project/load.ts';

/**
 * The platform knows no domain: the bundled shop example lives in examples/shop as a project like any
 * user's, and no file under services/ may name it — not its folder, project, sources, topics, views,
 * feature services, models, record types or label. The names are read from the example itself, so a
 * name the example gains is checked too.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

test('no file under services/ names the shop example', async () => {
  const project = await loadProject(join(ROOT, 'examples/shop'));
  const def = project.definition;
  const names = new Set<string>([
    'examples/shop',
    def.name,
    ...def.sources.flatMap((s) => [s.name, s.topic]),
    ...def.views.map((v) => v.name),
    ...Object.keys(def.featureServices),
    ...def.models.flatMap((m) => [m.name, m.label.field]),
    ...project.schemas.map((s) => (s.schema as { name: string }).name),
  ]);
  assert.ok(names.size >= 12, `the example's names were read (${[...names].join(', ')})`);
  const escaped = [...names].map((n) => n.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  const pattern = new RegExp(`(?<![A-Za-z0-9_])(${escaped.join('|')})(?![A-Za-z0-9_])`, 'i');
  const hits: string[] = [];
  for (const file of files(join(ROOT, 'services'))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const m = pattern.exec(line);
        if (m) hits.push(`${relative(ROOT, file)}:${i + 1}: "${m[1]}"`);
      });
  }
  assert.deepEqual(hits, []);
});
