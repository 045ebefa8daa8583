import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BAD_PROJECTS, configText, folder } from '../support/bad-projects.ts';
import { type CliProcess, cli, flywheelErrors, runCli } from '../support/cli.ts';
import { eventually, testConfig, uniqueName, useStack } from '../support/env.ts';
import { freePorts } from '../support/ports.ts';
import { scratchDir } from '../support/scratch.ts';

/**
 * A project folder as a new user drives it, through the real `flywheel` command against the real
 * stack: `init`, `plan`, `apply`, `start --project`, an event over HTTP, its features served — for the
 * starter and for the rides example (integer keys, enums, nullable fields). Then the two changes a
 * team makes: a schema change the registry must refuse, and a changed view that gets a new version
 * while the old one is still served.
 */
const EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url));
const config = testConfig();
const running: CliProcess[] = [];

before(() => useStack(config));
after(() => {
  for (const r of running) r.child.kill('SIGKILL');
});

interface Env extends Record<string, string> {
  FLYWHEEL_INGEST_PORT: string;
  FLYWHEEL_SERVING_PORT: string;
  FLYWHEEL_CONSOLE_PORT: string;
}

/** Ports, chDB folder and Redis prefix of one project's processes; the stack is shared. */
async function projectEnv(): Promise<Env> {
  const [ingest, serving, consolePort, features, demo, monitor] = await freePorts(6);
  return {
    FLYWHEEL_CHDB_PATH: scratchDir('flywheel-project-chdb'),
    FLYWHEEL_REDIS_PREFIX: `${uniqueName('proj')}:`,
    FLYWHEEL_INGEST_PORT: String(ingest),
    FLYWHEEL_SERVING_PORT: String(serving),
    FLYWHEEL_CONSOLE_PORT: String(consolePort),
    FLYWHEEL_FEATURES_PORT: String(features),
    FLYWHEEL_DEMO_PORT: String(demo),
    FLYWHEEL_MONITOR_PORT: String(monitor),
    FLYWHEEL_DEMO_RATE: '0',
    FLYWHEEL_STARTUP_INITIAL_DELAY_MS: '20',
    FLYWHEEL_STARTUP_MAX_DELAY_MS: '500',
  };
}

async function ready(port: string): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

/**
 * `flywheel start --project dir`, resolved once ingest and serving answer /readyz. Killed when the test
 * ends, so a failed test leaves no job holding the chDB folder of the next.
 */
async function start(t: TestContext, dir: string, env: Env): Promise<CliProcess> {
  const job = runCli(['start', '--project', dir], env);
  running.push(job);
  t.after(() => {
    job.child.kill('SIGKILL');
  });
  await Promise.race([
    eventually(
      async () =>
        (await ready(env.FLYWHEEL_INGEST_PORT)) && (await ready(env.FLYWHEEL_SERVING_PORT))
          ? true
          : undefined,
      120_000,
      `flywheel start --project ${dir}`,
    ).catch((err: Error) => {
      // What the job said is the only clue to why it is not ready.
      throw new Error(`${err.message}\n${job.stderr().slice(-4000)}`);
    }),
    job.exited.then((code) => {
      throw new Error(`start exited with ${code}:\n${job.stdout()}\n${job.stderr()}`);
    }),
  ]);
  return job;
}

async function stop(job: CliProcess): Promise<void> {
  if (job.child.exitCode !== null || job.child.signalCode !== null) return;
  job.child.kill('SIGTERM');
  assert.equal(await job.exited, 0, `start did not stop cleanly:\n${job.stderr()}`);
  assert.deepEqual(flywheelErrors(job.stderr()), [], 'Flywheel logged an error');
}

async function post(port: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The features of `entity` in `view` once the processor has folded `until` into them. */
async function servedFeatures(
  env: Env,
  entity: string,
  view: string,
  until: (features: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  return eventually(
    async () => {
      const res = await post(env.FLYWHEEL_SERVING_PORT, '/v1/features', {
        entities: [entity],
        views: [view],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const answer = res.body.entities[0].views[0];
      return answer.status === 'ok' && until(answer.features) ? answer.features : undefined;
    },
    60_000,
    `features of ${entity} in ${view}`,
  );
}

/** A copy of an example with topics of its own, so earlier runs' events do not count. */
function copyExample(name: string): { dir: string; tag: string } {
  const dir = join(scratchDir(`flywheel-${name}`), name);
  cpSync(join(EXAMPLES, name), dir, { recursive: true });
  const tag = uniqueName('t');
  const file = join(dir, 'flywheel.config.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/topic: '([a-z.]+)'/g, `topic: '$1.${tag}'`));
  return { dir, tag };
}

describe('a project folder, as a new user drives it', () => {
  const starter = join(scratchDir('flywheel-init'), uniqueName('shopfront'));
  let env: Env;

  test('init writes a starter; plan lists what apply would create and changes nothing', async () => {
    env = await projectEnv();
    const init = await cli(['init', starter], env);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /flywheel\.config\.ts/);
    for (let round = 0; round < 2; round++) {
      const plan = await cli(['plan', '--project', starter], env);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, /\+ view\s+visitor_activity\s+new: v1 \(fingerprint [0-9a-f]{16}\)/);
      assert.match(plan.stdout, /\+ schema\s+\S+\.page_views-value\s+new subject: register/);
      assert.match(plan.stdout, /\+ model\s+conversion\s+new: v1/);
    }
    assert.equal(await historyTables(env), 0, 'plan created nothing, not even the history table');
  });

  test('apply registers, creates and records; a second plan says unchanged', async () => {
    const apply = await cli(['apply', '--project', starter], env);
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(
      apply.stdout,
      /applied [0-9a-f-]{36}: \d+ definitions recorded, 2 schemas registered, 4 topics created/,
    );
    const plan = await cli(['plan', '--project', starter], env);
    assert.match(plan.stdout, /0 to create, 0 to change, 0 to remove, \d+ unchanged/);
  });

  test('start --project serves the project: an event over HTTP, then its features', async (t) => {
    const job = await start(t, starter, env);
    const ts = Date.now();
    const sent = await post(env.FLYWHEEL_INGEST_PORT, '/v1/events/page_views', {
      events: [
        { event_id: 'pv-1', visitor_id: 'visitor-a', page: '/pricing', dwell_ms: 1500, ts },
        { event_id: 'pv-2', visitor_id: 'visitor-a', page: '/signup', dwell_ms: 500, ts: ts + 1 },
      ],
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.accepted, 2);
    const features = await servedFeatures(env, 'visitor-a', 'visitor_activity', (f) => f.views_1h === 2);
    assert.equal(features.dwell_mean_1h, 1000);
    assert.equal(features.pages_1h, 2);
    assert.equal(features.last_page_1h, '/signup');
    await stop(job);
  });

  test('plan and apply refuse a BACKWARD-incompatible schema change; nothing is registered or recorded', async () => {
    const schemaFile = join(starter, 'schemas/page-view.avsc');
    const original = readFileSync(schemaFile, 'utf8');
    const schema = JSON.parse(original);
    schema.fields.push({
      name: 'session_id',
      type: 'string',
      doc: 'A new required field, without a default.',
    });
    writeFileSync(schemaFile, JSON.stringify(schema, null, 2));
    const subject = `${starter.split('/').pop()}.page_views-value`;
    const versionsBefore = await registryVersions(subject);
    const historyBefore = await definitionCount(env);

    const plan = await cli(['plan', '--project', starter], env);
    assert.equal(plan.code, 1, `plan of a refused change exits 1:\n${plan.stdout}\n${plan.stderr}`);
    assert.match(plan.stdout, /! schema\s+\S+page_views-value\s+incompatible: .*session_id/);
    assert.match(plan.stdout, /refused: schema of source page_views .* is not BACKWARD-compatible/);

    const apply = await cli(['apply', '--project', starter], env);
    assert.notEqual(apply.code, 0);
    const errorLines = apply.stderr
      .trim()
      .split('\n')
      .filter((l) => l.includes('apply refused'));
    assert.equal(errorLines.length, 1, apply.stderr);
    assert.match(errorLines[0]!, /apply refused, nothing changed: .*BACKWARD.*session_id/);
    assert.deepEqual(await registryVersions(subject), versionsBefore);
    assert.equal(await definitionCount(env), historyBefore);
    writeFileSync(schemaFile, original);
  });

  test('a changed view gets its next version; the old version is still computed and served', async (t) => {
    const file = join(starter, 'flywheel.config.ts');
    const source = readFileSync(file, 'utf8');
    const changed = source.replace(
      "{ name: 'views', kind: 'count', windows },",
      "{ name: 'views', kind: 'count', windows },\n        { name: 'dwell_max', kind: 'max', field: 'dwell_ms', windows },",
    );
    assert.notEqual(changed, source, 'the starter has the view this test edits');
    writeFileSync(file, changed);
    const plan = await cli(['plan', '--project', starter], env);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(
      plan.stdout,
      /~ view\s+visitor_activity\s+changed: new version v2 \(fingerprint [0-9a-f]+\); v1 is still computed and served/,
    );
    const apply = await cli(['apply', '--project', starter], env);
    assert.equal(apply.code, 0, apply.stderr);

    const job = await start(t, starter, env);
    const listed = await (await fetch(`http://127.0.0.1:${env.FLYWHEEL_SERVING_PORT}/v1/views`)).json();
    const ids = (listed as { views: { id: string }[] }).views.map((v) => v.id);
    assert.ok(ids.includes('visitor_activity:v1') && ids.includes('visitor_activity:v2'), ids.join(', '));
    await post(env.FLYWHEEL_INGEST_PORT, '/v1/events/page_views', {
      events: [{ event_id: 'pv-3', visitor_id: 'visitor-b', page: '/', dwell_ms: 900, ts: Date.now() }],
    });
    const v1 = await servedFeatures(env, 'visitor-b', 'visitor_activity:v1', (f) => f.views_1h === 1);
    assert.equal('dwell_max_1h' in v1, false);
    const v2 = await servedFeatures(env, 'visitor-b', 'visitor_activity:v2', (f) => f.views_1h === 1);
    assert.equal(v2.dwell_max_1h, 900);
    // visitor-a's events arrived before v2 existed: v1 still has them.
    const old = await servedFeatures(env, 'visitor-a', 'visitor_activity:v1', (f) => f.views_1h === 2);
    assert.equal(old.last_page_1h, '/signup');
    // …and v2 starts from the live stream: its history is a backfill away (docs/projects.md).
    const fresh = await post(env.FLYWHEEL_SERVING_PORT, '/v1/features', {
      entities: ['visitor-a'],
      views: ['visitor_activity:v2'],
    });
    assert.equal(fresh.body.entities[0].views[0].status, 'missing');
    await stop(job);
  });

  test('the rides example: an integer key, enums and nullable fields, planned, applied and served', async (t) => {
    const rides = copyExample('rides');
    const ridesEnv = await projectEnv();
    const apply = await cli(['apply', '--project', rides.dir], ridesEnv);
    assert.equal(apply.code, 0, apply.stderr);
    assert.match(apply.stdout, /\+ view\s+driver_quality\s+new: v1/);
    const job = await start(t, rides.dir, ridesEnv);
    const driver = 1_000_000 + Math.floor(Math.random() * 1_000_000);
    const now = Date.now();
    const ride = (id: string, extra: Record<string, unknown>) => ({
      ride_id: id,
      driver_id: driver,
      city: 'hamburg',
      vehicle: 'bike',
      distance_km: 4,
      fare_eur: 11,
      ts: new Date(now - 1_000).toISOString(),
      ...extra,
    });
    const sent = await post(ridesEnv.FLYWHEEL_INGEST_PORT, '/v1/events/rides', {
      events: [
        ride('r-1', { tip_eur: 2, rating: 4 }),
        ride('r-2', { tip_eur: null, distance_km: 6, vehicle: 'van', ts: now }),
      ],
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const bad = await post(ridesEnv.FLYWHEEL_INGEST_PORT, '/v1/events/rides', {
      events: [ride('r-3', { city: 'paris' })],
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.match(
      JSON.stringify(bad.body),
      /city.*expected one of berlin, hamburg, munich, cologne, got \\"paris\\"/,
    );

    const trips = await servedFeatures(ridesEnv, String(driver), 'driver_trips', (f) => f.rides_1h === 2);
    assert.equal(trips.distance_sum_1h, 10);
    assert.equal(trips.distance_mean_1h, 5);
    const quality = await servedFeatures(
      ridesEnv,
      String(driver),
      'driver_quality',
      (f) => f.rating_mean_1h !== null,
    );
    assert.equal(quality.rating_mean_1h, 4, 'a missing rating is left out of the mean');
    assert.equal(quality.tip_sum_1h, 2, 'a null tip adds nothing');
    assert.equal(quality.last_vehicle_1h, 'van');
    assert.equal(quality.cities_1h, 1);
    await stop(job);
  });
});

describe('a bad project folder stops every command before anything changes', () => {
  for (const [name, edit, expected] of BAD_PROJECTS)
    test(`${name}: plan and apply exit non-zero with one line naming file and path; nothing applied`, async () => {
      const env = await projectEnv();
      const prefix = uniqueName('bad');
      const dir = folder(
        configText((p) => {
          edit(p);
          p.topicPrefix = prefix;
        }),
      );
      for (const command of ['plan', 'apply']) {
        const run = await cli([command, '--project', dir], env);
        assert.notEqual(run.code, 0, `${command} accepted a bad project:\n${run.stdout}`);
        const lines = run.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `${command}: one line\n${run.stderr}`);
        assert.match(lines[0]!, /FW_PROJECT_INVALID/);
        assert.ok(lines[0]!.includes(join(dir, 'flywheel.config.ts')), `names the file: ${lines[0]}`);
        assert.match(lines[0]!, expected);
      }
      assert.equal(await registryVersions(`${prefix}.readings-value`), 404, 'no schema registered');
      assert.equal(await historyTables(env), 0, 'no definition recorded: the history table was never made');
    });
});

/** 1 once an apply has made the definition history table, else 0 (read with `flywheel sql`). */
async function historyTables(env: Record<string, string>): Promise<number> {
  const out = await cli(
    [
      'sql',
      "SELECT count() AS n FROM system.tables WHERE database = 'flywheel' AND name = 'project_definitions'",
    ],
    env,
  );
  assert.equal(out.code, 0, out.stderr);
  return Number(JSON.parse(out.stdout.trim().split('\n').pop()!).n);
}

async function registryVersions(subject: string): Promise<unknown> {
  const res = await fetch(`${config.registry.url}/subjects/${encodeURIComponent(subject)}/versions`);
  return res.ok ? res.json() : res.status;
}

/** Rows of the definition history, read with `flywheel sql` (no console runs on the env's port). */
async function definitionCount(env: Env): Promise<number> {
  const out = await cli(['sql', 'SELECT count() AS n FROM flywheel.project_definitions'], env);
  assert.equal(out.code, 0, out.stderr);
  return Number(JSON.parse(out.stdout.trim().split('\n').pop()!).n);
}
