import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ALL_ENV_VARS as ENV_VARS, MODULE_NAMES } from '../../../services/flywheel/modules.ts';
import { type K8sObject, renderKustomization } from './kustomize.ts';
import { validateCompose, validateK8s } from './validators.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/**
 * The modules deployed one per container: every module but the bundled example's demo traffic. Taken
 * from the module list, so a file that runs a module Flywheel does not have fails here.
 */
const SERVICES = MODULE_NAMES.filter((m) => m !== 'demo');
/** Public ports fixed by the product: ingest, serving, console. */
const PUBLIC_PORTS: Record<string, number> = { ingest: 8700, serving: 8701, console: 8702 };
/**
 * Environment variables the deploy files may set: Flywheel's config table plus a few read outside it.
 * FLYWHEEL_HTTP_PORT is the port of the process's own HTTP server (health, metrics).
 */
// NODE_OPTIONS is read by Node itself (the features service's heap setting); FLYWHEEL_PROJECT (the
// project folder) by services/project/folder.ts.
const KNOWN_ENV = new Set([
  ...ENV_VARS.map((v) => v.env),
  'FLYWHEEL_HTTP_PORT',
  'FLYWHEEL_PROJECT',
  'NODE_ENV',
  'NODE_OPTIONS',
]);
/** The engines every Flywheel container waits for in compose. */
const ENGINES = ['kafka', 'registry', 'redis', 'clickhouse'];

type ComposeService = {
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  image?: string;
  build?: unknown;
  restart?: string;
  healthcheck?: { disable?: boolean; test?: unknown };
  depends_on?: Record<string, { condition?: string }>;
};
type Compose = {
  services: Record<string, ComposeService>;
  [key: string]: unknown;
};
type Container = {
  name: string;
  image: unknown;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  envFrom?: unknown[];
  resources?: { requests?: object; limits?: object };
};
type PodSpec = { containers: Container[]; restartPolicy?: string };
type Deployment = K8sObject & {
  spec: { replicas?: number; template: { spec: PodSpec } };
};
type Job = K8sObject & { spec: { backoffLimit?: number; template: { spec: PodSpec } } };

function loadCompose(): Compose {
  // Compose resolves YAML merge keys (`<<: *anchor`); YAML 1.2 parsers only do so when asked.
  const doc = parseDocument(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
  assert.deepEqual(doc.errors, [], 'docker-compose.yml is not valid YAML');
  return doc.toJS() as Compose;
}

const render = (overlay: string) => renderKustomization(join(ROOT, 'k8s', overlay));
const deployments = (objects: K8sObject[]) => objects.filter((o): o is Deployment => o.kind === 'Deployment');
const jobs = (objects: K8sObject[]) => objects.filter((o): o is Job => o.kind === 'Job');
const container = (d: Deployment | Job) => d.spec.template.spec.containers[0]!;

/**
 * Why compose could start a module before the project is applied: `run` refuses a project that was
 * never applied, so every `run` service must wait for the one-shot `apply` to exit 0.
 */
function applyOrderErrors(c: Compose): string[] {
  return Object.entries(c.services)
    .filter(([, s]) => s.command?.[0] === 'run')
    .filter(([, s]) => s.depends_on?.apply?.condition !== 'service_completed_successfully')
    .map(([name, s]) => `${name}: waits for apply with ${s.depends_on?.apply?.condition ?? 'nothing'}`);
}

describe('docker-compose.yml', () => {
  it('conforms to the Compose Specification', () => {
    assert.deepEqual(validateCompose(loadCompose()), []);
  });

  it('runs each Flywheel service from the one image with `run <service>` and known env vars', () => {
    const { services } = loadCompose();
    for (const name of SERVICES) {
      const s = services[name];
      assert.ok(s, `service ${name} missing`);
      assert.deepEqual(s.command, ['run', name]);
      const unknown = Object.keys(s.environment ?? {}).filter((k) => !KNOWN_ENV.has(k));
      assert.deepEqual(unknown, [], `${name}: env vars Flywheel does not read`);
      if (PUBLIC_PORTS[name]) {
        assert.equal(s.environment?.FLYWHEEL_HTTP_PORT, String(PUBLIC_PORTS[name]));
        assert.ok(
          s.ports?.includes(`${PUBLIC_PORTS[name]}:${PUBLIC_PORTS[name]}`),
          `${name} publishes its port`,
        );
      }
    }
  });

  it('applies the project once, from the same image, after the engines and before every module', () => {
    const { services } = loadCompose();
    const apply = services.apply;
    assert.ok(apply, 'service apply missing');
    assert.deepEqual(apply.command, ['apply']);
    assert.equal(apply.restart, 'no', 'a one-shot must not be restarted');
    assert.equal(apply.image, services.ingest?.image);
    assert.deepEqual(apply.build, services.ingest?.build);
    // It exits: a readiness check (the image's HEALTHCHECK included) would only ever report it unhealthy.
    assert.ok(!apply.healthcheck || apply.healthcheck.disable === true, 'apply has no healthcheck');
    for (const engine of ENGINES)
      assert.equal(apply.depends_on?.[engine]?.condition, 'service_healthy', `apply waits for ${engine}`);
    assert.deepEqual(
      Object.keys(apply.environment ?? {}).filter((k) => !KNOWN_ENV.has(k)),
      [],
      'apply: env vars Flywheel does not read',
    );
    // The same engines as the modules it prepares for.
    for (const k of ['FLYWHEEL_KAFKA_BROKERS', 'FLYWHEEL_REGISTRY_URL', 'CLICKHOUSE_URL'])
      assert.equal(apply.environment?.[k], services.ingest?.environment?.[k], k);
    assert.deepEqual(applyOrderErrors(loadCompose()), []);
    for (const name of SERVICES)
      for (const engine of ENGINES)
        assert.equal(
          services[name]?.depends_on?.[engine]?.condition,
          'service_healthy',
          `${name} waits for ${engine}`,
        );
  });

  it('runs only modules that exist', () => {
    const named = Object.values(loadCompose().services)
      .map((s) => s.command)
      .filter((c): c is string[] => c?.[0] === 'run')
      .flatMap((c) => c[1]!.split(','));
    assert.deepEqual(
      named.filter((m) => !MODULE_NAMES.includes(m)),
      [],
      'docker-compose.yml runs modules Flywheel does not have',
    );
  });

  describe('catches typos (negative controls)', () => {
    const mutations: Record<string, (c: Compose) => void> = {
      'misspelt top-level key `servics`': (c) => {
        c.servics = c.services;
        delete (c as Partial<Compose>).services;
      },
      'image as a number': (c) => {
        (c.services.redis as Record<string, unknown>).image = 7.2;
      },
      'unknown service key `helthcheck`': (c) => {
        (c.services.redis as Record<string, unknown>).helthcheck = { test: ['CMD', 'true'] };
      },
      'bad depends_on condition': (c) => {
        (c.services.ingest as Record<string, unknown>).depends_on = { kafka: { condition: 'service_ready' } };
      },
      'depends_on a service that does not exist': (c) => {
        (c.services.ingest as Record<string, unknown>).depends_on = {
          kafak: { condition: 'service_started' },
        };
      },
      'a healthy-wait on a service without a healthcheck': (c) => {
        delete (c.services.redis as Record<string, unknown>).healthcheck;
      },
      'an undeclared named volume': (c) => {
        delete (c.volumes as Record<string, unknown>)['redis-data'];
      },
    };
    for (const [what, mutate] of Object.entries(mutations)) {
      it(`rejects ${what}`, () => {
        const c = loadCompose();
        mutate(c);
        assert.notDeepEqual(validateCompose(c), [], `${what} was not caught`);
      });
    }

    // Valid compose, wrong order: the check of the apply step must see these, the schema cannot.
    const dependsOn = (c: Compose, name: string) => {
      const deps = c.services[name]?.depends_on;
      assert.ok(deps, `${name} has depends_on`);
      return deps;
    };
    const ordering: Record<string, (c: Compose) => void> = {
      'a module that no longer waits for apply': (c) => {
        delete dependsOn(c, 'features').apply;
      },
      'a module that waits only for apply to start': (c) => {
        dependsOn(c, 'serving').apply = { condition: 'service_started' };
      },
    };
    for (const [what, mutate] of Object.entries(ordering)) {
      it(`rejects ${what}`, () => {
        const c = loadCompose();
        mutate(c);
        assert.deepEqual(validateCompose(c), [], 'the mutation keeps the file valid');
        assert.equal(applyOrderErrors(c).length, 1, `${what} was not caught`);
      });
    }
  });
});

describe('k8s manifests', () => {
  for (const overlay of ['base', 'overlays/dev']) {
    it(`${overlay} renders to objects valid against the Kubernetes schemas, unknown fields included`, async () => {
      assert.deepEqual(await validateK8s(render(overlay)), []);
    });
  }

  it('base deploys every service with probes, resources and `run <service>`, in the flywheel namespace', () => {
    const objects = render('base');
    const byName = new Map(deployments(objects).map((d) => [d.metadata.name, d]));
    assert.deepEqual([...byName.keys()].sort(), [...SERVICES].sort());
    for (const [name, d] of byName) {
      const c = container(d);
      assert.equal(d.metadata.namespace, 'flywheel');
      assert.deepEqual(c.args, ['run', name]);
      assert.equal(c.image, 'flywheel:0.1.0');
      const probes = c as unknown as Record<string, { httpGet?: { path: string } }>;
      assert.equal(probes.readinessProbe?.httpGet?.path, '/readyz', name);
      assert.equal(probes.livenessProbe?.httpGet?.path, '/healthz', name);
      const res = (c as unknown as { resources?: { requests?: object; limits?: object } }).resources;
      assert.ok(res?.requests && res.limits, `${name} has requests and limits`);
      if (PUBLIC_PORTS[name])
        assert.equal(c.env?.find((e) => e.name === 'FLYWHEEL_HTTP_PORT')?.value, String(PUBLIC_PORTS[name]));
      assert.ok(
        objects.some((o) => o.kind === 'Service' && o.metadata.name === name),
        `${name} has a Service`,
      );
    }
    // The HPA owns serving's replica count; a fixed count in the Deployment would fight it.
    assert.equal(byName.get('serving')?.spec.replicas, undefined);
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler');
    assert.equal(hpa?.apiVersion, 'autoscaling/v2');
    const config = objects.find((o) => o.kind === 'ConfigMap') as
      | { data: Record<string, string> }
      | undefined;
    assert.deepEqual(
      Object.keys(config?.data ?? {}).filter((k) => !KNOWN_ENV.has(k)),
      [],
      'ConfigMap sets env vars Flywheel does not read',
    );
  });

  it('base applies the project with the Job flywheel-apply, from the same image and ConfigMap', () => {
    const objects = render('base');
    const all = jobs(objects);
    assert.deepEqual(
      all.map((j) => j.metadata.name),
      ['flywheel-apply'],
    );
    const job = all[0]!;
    const c = container(job);
    assert.equal(job.apiVersion, 'batch/v1');
    assert.equal(job.metadata.namespace, 'flywheel');
    assert.deepEqual(c.args, ['apply']);
    assert.equal(c.image, 'flywheel:0.1.0');
    assert.ok(Number.isInteger(job.spec.backoffLimit), 'the Job sets backoffLimit');
    assert.ok(c.resources?.requests && c.resources.limits, 'the Job has requests and limits');
    assert.ok(['Never', 'OnFailure'].includes(job.spec.template.spec.restartPolicy ?? ''));
    // The same environment as every Deployment: it must apply the project they run, to their engines.
    for (const d of deployments(objects)) assert.deepEqual(c.envFrom, container(d).envFrom, d.metadata.name);
    assert.ok(
      (c.envFrom as Array<{ configMapRef?: { name: string } }>).some(
        (e) => e.configMapRef?.name === 'flywheel-config',
      ),
    );
  });

  it('dev overlay runs one replica of everything from the dev image', () => {
    const objects = render('overlays/dev');
    for (const d of deployments(objects)) {
      assert.equal(d.spec.replicas, 1, d.metadata.name);
      assert.equal(container(d).image, 'flywheel:dev');
    }
    // The Job too: apply and the Deployments must run the same build.
    const job = jobs(objects).find((j) => j.metadata.name === 'flywheel-apply');
    assert.ok(job, 'dev overlay keeps the flywheel-apply Job');
    assert.equal(container(job).image, 'flywheel:dev');
    assert.equal((job.spec as Record<string, unknown>).replicas, undefined, 'a Job has no replicas');
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler') as unknown as {
      spec: { minReplicas: number };
    };
    assert.equal(hpa.spec.minReplicas, 1);
  });

  describe('catches typos (negative controls)', () => {
    const serving = () =>
      structuredClone(deployments(render('base')).find((d) => d.metadata.name === 'serving')!);
    const podSpec = (d: Deployment) => d.spec.template.spec as unknown as Record<string, unknown>;
    const applyJob = () =>
      structuredClone(jobs(render('base')).find((j) => j.metadata.name === 'flywheel-apply')!);
    const mutations: Record<string, () => K8sObject> = {
      'replicas: "two"': () => {
        const d = serving();
        (d.spec as Record<string, unknown>).replicas = 'two';
        return d;
      },
      'misspelt `containres`': () => {
        const d = serving();
        podSpec(d).containres = podSpec(d).containers;
        delete podSpec(d).containers;
        return d;
      },
      'image as a number': () => {
        const d = serving();
        container(d).image = 42;
        return d;
      },
      'misspelt optional field `livenesProbe`': () => {
        const d = serving();
        const c = container(d) as unknown as Record<string, unknown>;
        c.livenesProbe = c.livenessProbe;
        delete c.livenessProbe;
        return d;
      },
      'unknown kind `Deploymnet`': () => ({ ...serving(), kind: 'Deploymnet' }),
      'Job backoffLimit: "four"': () => {
        const j = applyJob();
        (j.spec as Record<string, unknown>).backoffLimit = 'four';
        return j;
      },
      'misspelt Job field `backofLimit`': () => {
        const j = applyJob();
        const spec = j.spec as Record<string, unknown>;
        spec.backofLimit = spec.backoffLimit;
        delete spec.backoffLimit;
        return j;
      },
      'a Job without restartPolicy (the API server refuses the default, Always)': () => {
        const j = applyJob();
        delete j.spec.template.spec.restartPolicy;
        return j;
      },
      'HPA on the removed autoscaling/v2beta1 metric shape': () => {
        const hpa = structuredClone(render('base').find((o) => o.kind === 'HorizontalPodAutoscaler')!);
        (hpa.spec as { metrics: unknown[] }).metrics = [
          { type: 'Resource', resource: { name: 'cpu', targetAverageUtilization: 70 } },
        ];
        return hpa;
      },
    };
    for (const [what, mutate] of Object.entries(mutations)) {
      it(`rejects ${what}`, async () => {
        assert.notDeepEqual(await validateK8s([mutate()]), [], `${what} was not caught`);
      });
    }

    it('the renderer refuses kustomization features it would silently ignore', () => {
      assert.throws(
        () => renderKustomization(join(ROOT, 'test/unit/deploy/fixtures/unsupported')),
        /unsupported/,
      );
    });
  });
});
