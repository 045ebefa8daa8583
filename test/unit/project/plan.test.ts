import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileView } from '../../../services/features/definition.ts';
import type { LoadedProject } from '../../../services/project/load.ts';
import {
  formatPlan,
  type Plan,
  type PlanInputs,
  planProject,
  type RecordedDefinition,
  type SchemaVerdict,
} from '../../../services/project/plan.ts';
import { type ProjectInput, ProjectSpec } from '../../../services/project/schema.ts';

/**
 * The plan is pure: the project, the recorded history, the registry's verdicts and the topics that
 * exist go in; the changes, refusals and the views to serve come out. Expected versions and actions are
 * written out by hand for each history.
 */
const SCHEMA = {
  type: 'record',
  name: 'Ride',
  fields: [
    { name: 'driver_id', type: 'long' },
    { name: 'fare', type: 'double' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

/** A project input whose views are there to edit (the schema makes them optional). */
type EditableProject = ProjectInput & { views: NonNullable<ProjectInput['views']> };

function project(edit: (p: EditableProject) => void = () => {}): LoadedProject {
  const input: EditableProject = {
    name: 'rides',
    sources: [
      { name: 'rides', topic: 't.rides', schema: 'rides.avsc', keyField: 'driver_id', timestampField: 'ts' },
    ],
    entities: [{ name: 'driver', key: 'driver_id' }],
    views: [
      {
        name: 'driver_fares',
        source: 'rides',
        entity: 'driver',
        aggregations: [{ name: 'fare_sum', kind: 'sum', field: 'fare', windows: ['1h'] }],
      },
    ],
    models: [],
  };
  edit(input);
  return {
    dir: '/p',
    file: '/p/flywheel.config.ts',
    definition: ProjectSpec.parse(input),
    schemas: [{ name: 'rides', schemaFile: '/p/rides.avsc', schema: SCHEMA }],
  };
}

function inputs(p: LoadedProject, recorded: RecordedDefinition[] = [], verdict?: SchemaVerdict): PlanInputs {
  return {
    project: p,
    recorded,
    verdicts: new Map(verdict ? [['t.rides-value', verdict]] : []),
    topics: new Set(),
  };
}

/** What apply records for a plan: its creations, changes and removals. */
function recordedBy(plan: Plan): RecordedDefinition[] {
  return plan.changes
    .filter((c) => c.kind !== 'topic' && ['create', 'update', 'remove'].includes(c.action))
    .map((c) => ({
      kind: c.kind as RecordedDefinition['kind'],
      name: c.name,
      version: c.version,
      fingerprint: c.fingerprint,
      state: c.action === 'remove' ? 'removed' : 'active',
      definition: c.definition,
    }));
}

const change = (plan: Plan, kind: string, name: string) => {
  const found = plan.changes.find((c) => c.kind === kind && c.name === name);
  assert.ok(found, `${kind} ${name} is in the plan`);
  return found;
};

describe('planProject', () => {
  test('a first plan creates everything at version 1', () => {
    const plan = planProject(inputs(project()));
    assert.deepEqual(
      plan.changes.map((c) => [c.kind, c.name, c.action, c.version]),
      [
        ['topic', 't.rides', 'create', 0],
        ['topic', 't.rides.dlq', 'create', 0],
        ['schema', 't.rides-value', 'create', 1],
        ['source', 'rides', 'create', 1],
        ['entity', 'driver', 'create', 1],
        ['view', 'driver_fares', 'create', 1],
      ],
    );
    assert.deepEqual(plan.refusals, []);
    assert.deepEqual(
      plan.views.map((v) => `${v.name}:v${v.version}`),
      ['driver_fares:v1'],
    );
  });

  test('after applying, the same project is unchanged throughout', () => {
    const first = planProject(inputs(project()));
    const again = planProject({
      ...inputs(project(), recordedBy(first), { state: 'registered', version: 1 }),
      topics: new Set(['t.rides', 't.rides.dlq']),
    });
    assert.deepEqual(
      again.changes.filter((c) => c.action !== 'unchanged').map((c) => `${c.kind} ${c.name}`),
      [],
    );
  });

  test("a changed view gets the next version; the old one is still served, with the engine's fingerprints", () => {
    const first = planProject(inputs(project()));
    const changed = project((p) => {
      p.views[0]!.aggregations.push({ name: 'rides', kind: 'count', windows: ['1h'] });
    });
    const plan = planProject(inputs(changed, recordedBy(first), { state: 'registered', version: 1 }));
    const view = change(plan, 'view', 'driver_fares');
    assert.equal(view.action, 'update');
    assert.equal(view.version, 2);
    assert.match(view.detail, /new version v2 .*v1 is still computed and served/);
    assert.deepEqual(
      plan.views.map((v) => `${v.name}:v${v.version}`),
      ['driver_fares:v2', 'driver_fares:v1'],
    );
    // the recorded fingerprint is the engine's for the definition it will run
    assert.equal(view.fingerprint, compileView(plan.views[0]!).fingerprint);
    assert.equal(plan.views[1]!.aggregations.length, 1, 'v1 is served as it was recorded');

    const retainOne = planProject(
      inputs(
        project((p) => {
          p.views[0]!.aggregations.push({ name: 'rides', kind: 'count', windows: ['1h'] });
          p.retainViewVersions = 1;
        }),
        recordedBy(first),
      ),
    );
    assert.deepEqual(
      retainOne.views.map((v) => v.version),
      [2],
    );
  });

  test('three changes later, only the newest two versions are served by default', () => {
    let recorded: RecordedDefinition[] = [];
    for (const windows of [['1h'], ['1h', '1d'], ['10m', '1h', '1d']]) {
      const p = project((x) => {
        const [aggregation] = x.views[0]!.aggregations;
        aggregation!.windows = windows;
      });
      recorded = [...recorded, ...recordedBy(planProject(inputs(p, recorded)))];
    }
    const plan = planProject(
      inputs(
        project((x) => {
          const [aggregation] = x.views[0]!.aggregations;
          aggregation!.windows = ['10m', '1h', '1d'];
        }),
        recorded,
      ),
    );
    assert.equal(change(plan, 'view', 'driver_fares').action, 'unchanged');
    assert.deepEqual(
      plan.views.map((v) => v.version),
      [3, 2],
    );
  });

  test('a declared version whose definition changed is refused, as the engine refuses it', () => {
    const first = planProject(
      inputs(
        project((p) => {
          p.views[0]!.version = 1;
        }),
      ),
    );
    const plan = planProject(
      inputs(
        project((p) => {
          p.views[0]!.version = 1;
          p.views[0]!.tile = '5m';
        }),
        recordedBy(first),
      ),
    );
    assert.equal(change(plan, 'view', 'driver_fares').action, 'refused');
    assert.equal(plan.refusals.length, 1);
    assert.match(
      plan.refusals[0]!,
      /view driver_fares declares version 1, which is recorded with another definition; fix:/,
    );
  });

  test("an incompatible schema is refused with the registry's verdict and the reason", () => {
    const plan = planProject(
      inputs(project(), [], { state: 'incompatible', reason: 'adds field "city" without a default' }),
    );
    assert.equal(change(plan, 'schema', 't.rides-value').action, 'refused');
    assert.deepEqual(plan.refusals, [
      'schema of source rides (t.rides-value) is not BACKWARD-compatible with the registered one: adds field "city" without a default; fix: add new fields with defaults and keep the old ones, or publish to a new topic',
    ]);
    assert.match(formatPlan(plan), /^refused: schema of source rides/m);
  });

  test('a compatible schema change is an update; a view no longer declared is removed', () => {
    const first = planProject(inputs(project()));
    const plan = planProject(
      inputs(
        project((p) => {
          p.views = [];
        }),
        recordedBy(first),
        { state: 'compatible' },
      ),
    );
    assert.equal(change(plan, 'schema', 't.rides-value').action, 'update');
    const removed = change(plan, 'view', 'driver_fares');
    assert.equal(removed.action, 'remove');
    assert.deepEqual(plan.views, []);
    // once the removal is recorded, the view is gone from later plans
    const later = planProject(
      inputs(
        project((p) => {
          p.views = [];
        }),
        [...recordedBy(first), ...recordedBy(plan)],
      ),
    );
    assert.equal(
      later.changes.some((c) => c.kind === 'view'),
      false,
    );
  });

  test('formatPlan prints one line per change and the totals', () => {
    const text = formatPlan(planProject(inputs(project())));
    assert.match(text, /^project rides$/m);
    assert.match(text, /^ {2}\+ view +driver_fares +new: v1 \(fingerprint [0-9a-f]{16}\)$/m);
    assert.match(text, /^6 to create, 0 to change, 0 to remove, 0 unchanged$/m);
  });
});
