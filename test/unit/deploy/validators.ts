import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import ts from 'typescript';
import type { K8sObject } from './kustomize.ts';

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- Compose ----------------------------

/**
 * The Compose Specification's JSON schema, as vendored by the `dclint` npm package (a compose linter
 * that keeps it in step with compose-spec; we use only its schema file).
 */
function composeSchema(): Record<string, unknown> {
  const dir = dirname(require.resolve('dclint/package.json'));
  const schema = JSON.parse(readFileSync(join(dir, 'schemas/compose.schema.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  // Its `$schema` is draft-07 spelled as an https URL that Ajv does not know by that name.
  delete schema.$schema;
  return schema;
}

let composeValidator: ReturnType<Ajv['compile']> | undefined;

/**
 * Errors of a parsed compose file: the Compose Specification schema, plus the cross-references that
 * `docker compose config` checks and a schema cannot (depends_on targets, named volumes, host ports).
 */
export function validateCompose(doc: unknown): string[] {
  composeValidator ??= new Ajv({ allErrors: true, strict: false }).compile(composeSchema());
  if (!composeValidator(doc)) {
    return (composeValidator.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }
  const errors: string[] = [];
  const c = doc as { services: Record<string, Service>; volumes?: Record<string, unknown> };
  const hostPorts = new Map<string, string>();
  for (const [name, s] of Object.entries(c.services)) {
    const deps = Array.isArray(s.depends_on)
      ? Object.fromEntries(s.depends_on.map((d) => [d, {}]))
      : (s.depends_on ?? {});
    for (const [dep, { condition }] of Object.entries(deps as Record<string, { condition?: string }>)) {
      const target = c.services[dep];
      if (!target) errors.push(`${name}: depends_on unknown service "${dep}"`);
      else if (condition === 'service_healthy' && !target.healthcheck) {
        errors.push(`${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
      }
    }
    for (const v of s.volumes ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : v.source;
      const named =
        source && !/^[./~]/.test(source) && (typeof v === 'string' ? v.includes(':') : v.type === 'volume');
      if (named && !(c.volumes && source in c.volumes))
        errors.push(`${name}: volume "${source}" is not declared`);
    }
    for (const p of s.ports ?? []) {
      const host = typeof p === 'string' ? p.split(':').slice(0, -1).join(':') : String(p.published ?? '');
      if (!host) continue;
      if (hostPorts.has(host))
        errors.push(`${name}: host port ${host} already published by ${hostPorts.get(host)}`);
      hostPorts.set(host, name);
    }
  }
  return errors;
}

type Service = {
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: unknown;
  volumes?: Array<string | { type?: string; source?: string }>;
  ports?: Array<string | { published?: string | number }>;
};

// ---------------------------------------------------------------- Kubernetes -------------------------

/** kubernetes-models module path of a kind: `apps/v1` + `Deployment` -> `kubernetes-models/apps/v1/Deployment`. */
function modelModule(o: K8sObject): string {
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

/**
 * Errors of rendered Kubernetes objects, in three passes:
 * 1. the OpenAPI JSON schema of each kind (types, required fields, enums, formats), through the
 *    `validate()` of the `kubernetes-models` classes;
 * 2. unknown fields (a misspelt `livenesProbe`), which the OpenAPI schemas allow but
 *    `kubectl apply` rejects since Kubernetes 1.27: each object is type-checked by TypeScript
 *    against the same package's interfaces, whose excess-property check finds them;
 * 3. the few API-server rules a schema cannot state that these manifests could break (`serverRules`).
 */
export async function validateK8s(objects: K8sObject[]): Promise<string[]> {
  const errors: string[] = [];
  const known: K8sObject[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    let Model: new (data: unknown) => { validate(): void };
    try {
      Model = (await import(modelModule(o)))[o.kind];
      if (!Model) throw new Error('not exported');
    } catch {
      errors.push(`${id}: unknown apiVersion/kind ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(o).validate();
      known.push(o);
    } catch (err) {
      errors.push(`${id}: ${(err as Error).message}`);
    }
  }
  return [...errors, ...unknownFields(known), ...known.flatMap(serverRules)];
}

/**
 * Rules the API server enforces beyond the OpenAPI schema. A Job's pod must not restart in place:
 * its restartPolicy must be Never or OnFailure, and the schema's default (Always) is rejected, so a Job
 * that leaves it out fails `kubectl apply` though every field is valid.
 */
function serverRules(o: K8sObject): string[] {
  if (o.apiVersion !== 'batch/v1' || o.kind !== 'Job') return [];
  const policy = (o.spec as { template?: { spec?: { restartPolicy?: string } } } | undefined)?.template?.spec
    ?.restartPolicy;
  return policy === 'Never' || policy === 'OnFailure'
    ? []
    : [
        `${o.kind}/${o.metadata.name}: spec.template.spec.restartPolicy must be Never or OnFailure, not ${policy ?? 'unset (Always)'}`,
      ];
}

/** Type-checks `const r<i>: I<Kind> = <object>` for each object in a virtual file beside this one. */
function unknownFields(objects: K8sObject[]): string[] {
  if (!objects.length) return [];
  const file = join(HERE, '__rendered_manifests__.ts');
  const imports = objects.map((o, i) => `import type { I${o.kind} as T${i} } from '${modelModule(o)}';`);
  const starts: number[] = []; // first line of each object's declaration, to name it in errors
  let line = imports.length;
  const decls = objects.map((o, i) => {
    const text = `export const r${i}: T${i} = ${JSON.stringify(o, null, 1)};`;
    starts.push(line);
    line += text.split('\n').length;
    return text;
  });
  const source = [...imports, ...decls].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest);
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => {
    const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line;
    const i = starts.filter((start) => start <= line).length - 1;
    const o = objects[i];
    return `${o ? `${o.kind}/${o.metadata.name}` : 'manifests'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
