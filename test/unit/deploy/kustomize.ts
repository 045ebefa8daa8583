import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

/**
 * A tiny kustomize renderer for the subset Flywheel's k8s/ uses, so tests can check what
 * `kubectl apply -k` would send without a kustomize binary (none is on npm).
 *
 * Supported: `resources` (files and directories), `namespace`, `labels` (metadata only),
 * `images`, `replicas`, and `patches` holding JSON 6902 operations with a `target`.
 * Anything else throws, so a kustomization using a feature this renderer would silently ignore
 * fails the test instead of passing it unchecked.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

type Kustomization = {
  namespace?: string;
  resources?: string[];
  labels?: Array<{ pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  replicas?: Array<{ name: string; count: number }>;
  patches?: Array<{ target?: { kind?: string; name?: string }; patch?: string; path?: string }>;
};

type Op = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'labels',
  'images',
  'replicas',
  'patches',
]);
/** Kinds that are not namespaced among those Flywheel might use. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
]);

export function renderKustomization(dir: string): K8sObject[] {
  const file = ['kustomization.yaml', 'kustomization.yml'].map((f) => join(dir, f)).find(existsSync);
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parseYaml(readFileSync(file, 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unknown.length) throw new Error(`${file}: unsupported kustomization fields: ${unknown.join(', ')}`);

  let objects = (k.resources ?? []).flatMap((r) => loadResource(resolve(dir, r)));
  for (const p of k.patches ?? []) objects = applyPatch(objects, p, dir, file);
  for (const o of objects) {
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const l of k.labels ?? []) addLabels(o, l, file);
    for (const r of k.replicas ?? [])
      if (isScalable(o) && o.metadata.name === r.name) spec(o).replicas = r.count;
    for (const img of k.images ?? []) setImages(o, img);
  }
  assertUnique(objects, file);
  return objects;
}

function loadResource(path: string): K8sObject[] {
  if (!existsSync(path)) throw new Error(`resource not found: ${path}`);
  if (statSync(path).isDirectory()) return renderKustomization(path);
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${path}: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as K8sObject | null;
    return obj === null ? [] : [obj];
  });
}

function applyPatch(
  objects: K8sObject[],
  p: NonNullable<Kustomization['patches']>[number],
  dir: string,
  file: string,
) {
  const text = p.patch ?? (p.path ? readFileSync(join(dir, p.path), 'utf8') : undefined);
  const ops = text === undefined ? undefined : parseYaml(text);
  if (!Array.isArray(ops))
    throw new Error(`${file}: only JSON 6902 patches (a list of operations) are supported`);
  if (!p.target) throw new Error(`${file}: a JSON 6902 patch needs a target`);
  const { kind, name } = p.target;
  const hits = objects.filter((o) => (!kind || o.kind === kind) && (!name || o.metadata.name === name));
  if (!hits.length) throw new Error(`${file}: patch target ${JSON.stringify(p.target)} matches nothing`);
  return objects.map((o) => (hits.includes(o) ? (ops as Op[]).reduce(applyOp, o) : o));
}

/** RFC 6902 operations on a copy; `replace`, `remove` and `test` fail on a missing path, like kustomize. */
function applyOp<T>(doc: T, op: Op): T {
  const copy = structuredClone(doc);
  const keys = op.path
    .split('/')
    .slice(1)
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
  const last = keys.pop();
  if (last === undefined) throw new Error(`bad patch path "${op.path}"`);
  let node: unknown = copy;
  for (const key of keys) {
    node = (node as Record<string, unknown>)?.[key];
    if (node === undefined || node === null) throw new Error(`patch path "${op.path}" does not exist`);
  }
  if (Array.isArray(node)) {
    const i = last === '-' ? node.length : Number(last);
    if (op.op !== 'add' && !(i < node.length)) throw new Error(`patch path "${op.path}" does not exist`);
    if (op.op === 'test') assertSame(node[i], op);
    else node.splice(i, op.op === 'add' ? 0 : 1, ...(op.op === 'remove' ? [] : [op.value]));
  } else {
    const obj = node as Record<string, unknown>;
    if (op.op !== 'add' && !(last in obj)) throw new Error(`patch path "${op.path}" does not exist`);
    if (op.op === 'test') assertSame(obj[last], op);
    else if (op.op === 'remove') delete obj[last];
    else obj[last] = op.value;
  }
  return copy;
}

function assertSame(actual: unknown, op: Op): void {
  if (JSON.stringify(actual) !== JSON.stringify(op.value)) throw new Error(`patch test failed at ${op.path}`);
}

function addLabels(o: K8sObject, l: NonNullable<Kustomization['labels']>[number], file: string): void {
  if (l.includeSelectors)
    throw new Error(`${file}: labels.includeSelectors is not supported by the test renderer`);
  o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  const template = (o.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)
    ?.template;
  if (l.includeTemplates && template)
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...l.pairs } };
}

function isScalable(o: K8sObject): boolean {
  return ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind);
}

function spec(o: K8sObject): Record<string, unknown> {
  return o.spec as Record<string, unknown>;
}

/** kustomize `images`: match on the image name without tag or digest. */
function setImages(o: K8sObject, img: NonNullable<Kustomization['images']>[number]): void {
  const pod = (spec(o)?.template as { spec?: Record<string, unknown> } | undefined)?.spec;
  for (const list of ['containers', 'initContainers'] as const) {
    for (const c of (pod?.[list] as Array<{ image?: unknown }> | undefined) ?? []) {
      if (typeof c.image !== 'string') continue;
      const m = /^(.+?)(?::([^:/@]+))?(@.+)?$/.exec(c.image)!;
      if (m[1] !== img.name) continue;
      c.image = `${img.newName ?? m[1]}${img.newTag ? `:${img.newTag}` : m[2] ? `:${m[2]}` : ''}`;
    }
  }
}

function assertUnique(objects: K8sObject[], file: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
    if (seen.has(id)) throw new Error(`${file}: duplicate resource ${id}`);
    seen.add(id);
  }
}
