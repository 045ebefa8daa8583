import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The dependency rules between the parts of the repo, checked on every import of every .ts file under
 * services/ and schemas/: static imports (`import type` included), `export … from`, side-effect imports,
 * dynamic `import()` and `typeof import()` types, as ts.preProcessFile reads them (comments and strings
 * are not imports).
 *
 *   core      services/core/** imports only services/core/**, node: built-ins and npm packages: the pure
 *             libraries know nothing of the platform or of any service.
 *   domain    services/** imports nothing from examples/**: a project is loaded by path at run time,
 *             never compiled into Flywheel (no-domain-in-services.test.ts also checks names).
 *   platform  services/platform/** imports no contract table (schemas/catalog.ts) and no service but core.
 *   sdk       services/sdk/** imports only services/sdk/**, services/core/** and services/platform/**, so it
 *             can be published as the package producers install. The platform is allowed: it is
 *             infrastructure (config, Kafka, registry codec, logger) the package would bundle; the
 *             services are not.
 *   index     a file of services/<A>/ that imports services/<B>/ (B ≠ A, B neither core nor platform)
 *             imports exactly services/<B>/index.ts, the service's public surface. services/flywheel/,
 *             the composition root, is held to the same rule.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCANNED = ['services', 'schemas'];

type Rule = 'domain' | 'core' | 'platform' | 'sdk' | 'index';

interface Violation {
  /** Repo-relative path of the importing file, with forward slashes. */
  readonly file: string;
  /** The specifier as written. */
  readonly import: string;
  readonly rule: Rule;
}

/** Every module specifier a TypeScript file names. */
function specifiersOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** `services/<name>/…` → name; undefined for anything else. */
function serviceOf(path: string): string | undefined {
  const [top, name, ...rest] = path.split('/');
  return top === 'services' && name !== undefined && rest.length > 0 ? name : undefined;
}

const under = (path: string, folder: string) => path.startsWith(`${folder}/`);

/** The rules one import breaks (file and target are repo-relative; target undefined for packages). */
function brokenRules(file: string, target: string | undefined): Rule[] {
  const from = serviceOf(file);
  if (from === undefined || target === undefined) return []; // node: built-ins and npm packages
  const to = serviceOf(target);
  const broken: Rule[] = [];
  if (under(file, 'services') && under(target, 'examples')) broken.push('domain');
  if (from === 'core' && to !== 'core') broken.push('core');
  if (
    from === 'platform' &&
    (target === 'schemas/catalog.ts' || (to !== undefined && to !== 'platform' && to !== 'core'))
  )
    broken.push('platform');
  if (from === 'sdk' && to !== 'sdk' && to !== 'core' && to !== 'platform') broken.push('sdk');
  if (
    to !== undefined &&
    to !== from &&
    to !== 'core' &&
    to !== 'platform' &&
    target !== `services/${to}/index.ts`
  )
    broken.push('index');
  return broken;
}

/** Checks a set of files (repo-relative path → source text); relative specifiers resolve against the file. */
function checkImports(files: ReadonlyMap<string, string>): Violation[] {
  const violations: Violation[] = [];
  for (const [file, text] of files) {
    for (const specifier of specifiersOf(text)) {
      const target = specifier.startsWith('.') ? posix.join(posix.dirname(file), specifier) : undefined;
      for (const rule of brokenRules(file, target)) violations.push({ file, import: specifier, rule });
    }
  }
  return violations;
}

function formatViolation(v: Violation): string {
  return `${v.file} → ${v.import} (${v.rule})`;
}

function repoFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        files.set(relative(ROOT, path).split(sep).join('/'), readFileSync(path, 'utf8'));
      }
    }
  };
  for (const folder of SCANNED) walk(join(ROOT, folder));
  return files;
}

/**
 * Known violations, skipped until their files are rewritten; empty this list as they are fixed. An entry
 * that no longer matches a violation fails the test, so it cannot go stale. Every target named here is
 * already exported from its service's index.ts.
 */
const KNOWN_VIOLATIONS: ReadonlyArray<{ readonly file: string; readonly import: string }> = [];

test('services/ and schemas/ keep the dependency rules', () => {
  const files = repoFiles();
  assert.ok(
    files.has('services/core/errors.ts') && files.has('schemas/catalog.ts'),
    'the scan found the repo',
  );
  const violations = checkImports(files);
  const known = (v: Violation) => KNOWN_VIOLATIONS.some((k) => k.file === v.file && k.import === v.import);
  const unexpected = violations.filter((v) => !known(v)).map(formatViolation);
  assert.deepEqual(unexpected, [], `imports that break the dependency rules:\n${unexpected.join('\n')}`);
  const stale = KNOWN_VIOLATIONS.filter(
    (k) => !violations.some((v) => v.file === k.file && v.import === k.import),
  );
  assert.deepEqual(stale, [], 'KNOWN_VIOLATIONS lists imports that no longer break a rule: remove them');
});

test('the checker finds every kind of import and every rule on a fixture', () => {
  const fixture = new Map<string, string>([
    [
      'services/core/windows/w.ts',
      [
        "import { z } from 'zod';",
        "import { readFileSync } from 'node:fs';",
        "import { tile } from './tiles.ts';",
        "import { a } from '../aggregation/index.ts';",
        "import type { FlywheelError } from '../../platform/errors.ts';",
        '// import { x } from "../../ingest/index.ts"; (a comment is no import)',
        'const s = "import(\'../../ingest/index.ts\')";',
      ].join('\n'),
    ],
    [
      'services/platform/p.ts',
      [
        "import { loadSchemaFile } from '../../schemas/catalog.ts';",
        "export * from '../../examples/shop/views.ts';",
        "import { FlywheelError } from '../core/errors.ts';",
        "const m = await import('../features/index.ts');",
      ].join('\n'),
    ],
    [
      'services/sdk/producer.ts',
      [
        "import { validateBatch } from '../core/contracts/batch.ts';",
        "import { createKafka } from '../platform/kafka.ts';",
        "import { toMessages } from '../ingest/index.ts';",
        "export { withTimeout } from '../ingest/with-timeout.ts';",
        "import type { Schema } from '../../schemas/catalog.ts';",
      ].join('\n'),
    ],
    [
      'services/serving/s.ts',
      [
        "import { type CompiledView, createOnlineReader } from '../features/index.ts';",
        'import type {\n  ViewStatus,\n} from "../features/online-reader.ts";',
        "type R = typeof import('../registry/registry.ts');",
        "import { loadSchemaForTopic } from '../../schemas/catalog.ts';",
        "import { models } from './models.ts';",
      ].join('\n'),
    ],
    ['services/flywheel/cli.ts', "const { run } = await import('../features/repair.ts');"],
  ]);
  assert.deepEqual(checkImports(fixture).map(formatViolation), [
    'services/core/windows/w.ts → ../../platform/errors.ts (core)',
    'services/platform/p.ts → ../../schemas/catalog.ts (platform)',
    'services/platform/p.ts → ../../examples/shop/views.ts (domain)',
    'services/platform/p.ts → ../features/index.ts (platform)',
    'services/sdk/producer.ts → ../ingest/index.ts (sdk)',
    'services/sdk/producer.ts → ../ingest/with-timeout.ts (sdk)',
    'services/sdk/producer.ts → ../ingest/with-timeout.ts (index)',
    'services/sdk/producer.ts → ../../schemas/catalog.ts (sdk)',
    'services/serving/s.ts → ../features/online-reader.ts (index)',
    'services/serving/s.ts → ../registry/registry.ts (index)',
    'services/flywheel/cli.ts → ../features/repair.ts (index)',
  ]);
});
