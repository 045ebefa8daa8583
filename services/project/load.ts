import { existsSync, readFileSync, statSync } from 'node:fs';
import Module, { register } from 'node:module';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { FlywheelError } from '../platform/errors.ts';
import { type ProjectDefinition, ProjectSpec } from './schema.ts';
import { type ProjectIssue, type SchemaRead, validateProject } from './validate.ts';

/**
 * Loads a project folder: imports its `flywheel.config.ts` with the TypeScript loader Flywheel runs
 * under (tsx), parses the export with the strict project schema, reads every source's `.avsc` and
 * checks the references between parts. Any problem fails with FW_PROJECT_INVALID and one line per
 * problem — `<file>: <path>: <what is wrong>; fix: <what to do>` — all problems at once, nothing applied.
 */
export const PROJECT_FILE = 'flywheel.config.ts';

export interface LoadedSource {
  readonly name: string;
  /** Absolute path of the source's `.avsc`. */
  readonly schemaFile: string;
  readonly schema: object;
}

export interface LoadedProject {
  /** Absolute path of the folder. */
  readonly dir: string;
  /** Absolute path of its flywheel.config.ts. */
  readonly file: string;
  readonly definition: ProjectDefinition;
  /** Sources with their parsed Avro schemas, in declaration order. */
  readonly schemas: readonly LoadedSource[];
}

const PUBLIC_API = new URL('./public.ts', import.meta.url).href;
const PUBLIC_SDK = new URL('../sdk/index.ts', import.meta.url).href;
let hookRegistered = false;

/**
 * A project folder outside this package imports `flywheel` too: resolve that specifier to the public
 * API wherever the folder lives (inside the package, Node's self-reference finds it anyway). Both
 * module systems: a folder without `"type": "module"` is compiled to CommonJS by tsx and resolved by
 * require, which the ESM hook does not see. The mapped URL goes on to tsx's own resolver, which knows
 * how to load TypeScript.
 */
function registerFlywheelSpecifier(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  const hook = `export async function resolve(specifier, context, next) {
    if (specifier === 'flywheel') return next(${JSON.stringify(PUBLIC_API)}, context);
    if (specifier === 'flywheel/sdk') return next(${JSON.stringify(PUBLIC_SDK)}, context);
    return next(specifier, context);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  const cjs = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolveFilename = cjs._resolveFilename;
  const mapped: Record<string, string> = {
    flywheel: fileURLToPath(PUBLIC_API),
    'flywheel/sdk': fileURLToPath(PUBLIC_SDK),
  };
  cjs._resolveFilename = function (request: string, ...rest: unknown[]) {
    return resolveFilename.call(this, mapped[request] ?? request, ...rest);
  };
}

export async function loadProject(dir: string): Promise<LoadedProject> {
  const root = resolve(dir);
  const file = join(root, PROJECT_FILE);
  const shown = displayPath(file);
  if (!existsSync(file))
    throw invalid([
      `${shown}: not found; fix: pass the folder that holds ${PROJECT_FILE}, or create one with \`flywheel init ${dir}\``,
    ]);
  const exported = await importConfig(file, shown);
  const parsed = ProjectSpec.safeParse(exported);
  if (!parsed.success) throw invalid(parsed.error.issues.map((issue) => `${shown}: ${zodLine(issue)}`));
  const definition = parsed.data;
  const reads = new Map<string, SchemaRead>();
  for (const source of definition.sources) reads.set(source.name, readSchema(root, source.schema));
  const issues = validateProject(definition, reads);
  if (issues.length) throw invalid(issues.map((i) => `${shown}: ${issueLine(i)}`));
  const schemas = definition.sources.map((s) => {
    const read = reads.get(s.name) as Extract<SchemaRead, { ok: true }>;
    return { name: s.name, schemaFile: resolve(root, s.schema), schema: read.schema };
  });
  return { dir: root, file, definition, schemas };
}

async function importConfig(file: string, shown: string): Promise<unknown> {
  registerFlywheelSpecifier();
  // The file's modification time in the URL: a process that loads a folder again sees its edits.
  const url = `${pathToFileURL(file).href}?v=${statSync(file).mtimeMs}`;
  let mod: { default?: unknown; project?: unknown };
  try {
    mod = (await import(url)) as typeof mod;
  } catch (err) {
    throw invalid([loadFailureLine(err, file, shown)]);
  }
  const exported = mod.default ?? mod.project;
  if (exported === undefined)
    throw invalid([`${shown}: exports no project; fix: \`export default defineProject({ ... })\``]);
  return exported;
}

/** esbuild (inside tsx) reports `<file>:<line>:<col>: ERROR: <text>`; anything else failed while running. */
function loadFailureLine(err: unknown, file: string, shown: string): string {
  const message = (err as Error)?.message ?? String(err);
  const syntax = /^(.*?):(\d+):(\d+): ERROR: (.*)$/m.exec(message);
  if (syntax) {
    const where = syntax[1] === file ? shown : displayPath(syntax[1]!);
    return `${where}:${syntax[2]}:${syntax[3]}: syntax error: ${syntax[4]}; fix: correct the TypeScript at that position`;
  }
  const firstLine = message.split('\n')[0];
  return `${shown}: failed to load: ${firstLine}; fix: make the file run on its own (node --import tsx ${shown})`;
}

/** The largest `.avsc` a project may hold: a schema is a few KiB; anything near this is a mistake. */
export const MAX_SCHEMA_BYTES = 1_048_576;

/**
 * A source's `.avsc`, which must lie inside the project folder (a deployment mounts the folder alone, so
 * a schema outside it would load here and be missing there) and be at most MAX_SCHEMA_BYTES.
 */
function readSchema(root: string, schema: string): SchemaRead {
  const path = resolve(root, schema);
  const file = displayPath(path);
  const inside = relative(root, path);
  if (isAbsolute(schema) || inside.startsWith('..') || isAbsolute(inside))
    return { ok: false, file, error: `${JSON.stringify(schema)} is outside the project folder` };
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_SCHEMA_BYTES)
      return {
        ok: false,
        file,
        error: `${file} is ${size} bytes, over the ${MAX_SCHEMA_BYTES}-byte limit of a schema`,
      };
    text = readFileSync(path, 'utf8');
  } catch {
    return { ok: false, file, error: `cannot read ${file}` };
  }
  try {
    return { ok: true, file, schema: JSON.parse(text) as object };
  } catch (err) {
    return { ok: false, file, error: `${file} is not JSON: ${(err as Error).message}` };
  }
}

function issueLine(issue: ProjectIssue): string {
  return `${issue.path}: ${issue.message}; fix: ${issue.fix}`;
}

function zodLine(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys')
    return `${path || '(project)'}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; fix: remove it or correct its spelling`;
  if (issue.code === 'invalid_type' && issue.input === undefined)
    return `${path}: required (${issue.expected}); fix: add it`;
  return `${path || '(project)'}: ${issue.message}; fix: correct the value`;
}

/** `views[1].aggregations[0].field`: the path as a user would write it in the file. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path)
    out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function invalid(lines: string[]): FlywheelError {
  return new FlywheelError('FW_PROJECT_INVALID', lines.join('\n'), { details: { problems: lines } });
}
