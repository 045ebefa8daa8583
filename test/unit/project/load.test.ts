import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { shopViews } from '../../../examples/shop/views.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { loadProject } from '../../../services/project/load.ts';
import { projectViewsAsDeclared } from '../../../services/project/runtime.ts';

/**
 * Loading a project folder: a valid one loads (the bundled shop example compiles to exactly the views
 * the engine has always run), and each kind of broken file fails with one line that names the file,
 * the path inside it and the fix — before anything is contacted.
 */
const ORDER = {
  type: 'record',
  name: 'Reading',
  fields: [
    { name: 'sensor_id', type: 'long' },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['temp', 'humidity'] } },
    { name: 'value', type: ['null', 'double'], default: null },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};
const OUTCOME = {
  type: 'record',
  name: 'Failure',
  fields: [
    { name: 'sensor_id', type: 'long' },
    { name: 'hours_to_failure', type: 'double' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

/** A valid project, as text, with named slots each test breaks one at a time. */
function configText(edit: (parts: Record<string, string>) => void = () => {}): string {
  const parts: Record<string, string> = {
    keyField: "'sensor_id'",
    viewSource: "'readings'",
    viewName2: "'sensor_kinds'",
    extra: '',
    feature: "'sensor_stats.value_mean_1h'",
    labelSource: "'failures'",
    trailer: '',
  };
  edit(parts);
  return `import { defineProject } from 'flywheel';
export default defineProject({
  name: 'sensors',
  sources: [
    { name: 'readings', topic: 't.readings', schema: 'readings.avsc', keyField: ${parts.keyField}, timestampField: 'ts'${parts.extra} },
    { name: 'failures', topic: 't.failures', schema: 'failures.avsc', keyField: 'sensor_id', timestampField: 'ts' },
  ],
  entities: [{ name: 'sensor', key: 'sensor_id' }],
  views: [
    { name: 'sensor_stats', source: ${parts.viewSource}, entity: 'sensor', aggregations: [{ name: 'value_mean', kind: 'mean', field: 'value', windows: ['1h'] }] },
    { name: ${parts.viewName2}, source: 'readings', entity: 'sensor', aggregations: [{ name: 'last_kind', kind: 'last', field: 'kind', windows: ['1h'] }] },
  ],
  models: [
    { name: 'ttf', task: 'regression', features: [${parts.feature}], label: { source: ${parts.labelSource}, field: 'hours_to_failure', join: { by: 'entity', within: '1h' } } },
  ],
})${parts.trailer};
`;
}

function folder(config: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-project-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'flywheel.config.ts'), config);
  writeFileSync(join(dir, 'readings.avsc'), JSON.stringify(ORDER));
  writeFileSync(join(dir, 'failures.avsc'), JSON.stringify(OUTCOME));
  return dir;
}

async function problems(config: string): Promise<string[]> {
  const dir = folder(config);
  const err = await loadProject(dir).then(
    () => assert.fail('the project loaded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof FlywheelError && err.code === 'FW_PROJECT_INVALID', String(err));
  const lines = err.message.split('\n');
  for (const line of lines) {
    assert.ok(line.includes(join(dir, 'flywheel.config.ts')), `names the file: ${line}`);
    assert.match(line, /fix: \S/, `says the fix: ${line}`);
  }
  return lines;
}

describe('loading a project folder', () => {
  test('a valid project loads, outside the package too (the flywheel import resolves)', async () => {
    const project = await loadProject(folder(configText()));
    assert.equal(project.definition.name, 'sensors');
    assert.deepEqual(
      project.definition.views.map((v) => v.name),
      ['sensor_stats', 'sensor_kinds'],
    );
    assert.equal(project.definition.models[0]!.gate.tolerance, 0.01, 'defaults are filled in');
  });

  test("the bundled shop example compiles to the engine's shop views, fingerprint for fingerprint", async () => {
    const dir = fileURLToPath(new URL('../../../examples/shop', import.meta.url));
    const views = projectViewsAsDeclared(await loadProject(dir));
    assert.deepEqual(
      views.map((v) => [v.id, v.fingerprint]),
      shopViews().map((v) => [v.id, v.fingerprint]),
    );
  });

  const cases: Array<[string, (p: Record<string, string>) => void, RegExp]> = [
    [
      'a syntax error',
      (p) => {
        p.trailer = ' }}';
      },
      /flywheel\.config\.ts:\d+:\d+: syntax error: /,
    ],
    [
      'an unknown field',
      (p) => {
        p.extra = ", lateness: '5m'";
      },
      /sources\[0\]: unknown field "lateness"/,
    ],
    [
      'a view on an unknown source',
      (p) => {
        p.viewSource = "'reading'";
      },
      /views\[0\]\.source: unknown source "reading"/,
    ],
    [
      'two views with one name',
      (p) => {
        p.viewName2 = "'sensor_stats'";
      },
      /views\[1\]\.name: a second view named "sensor_stats"/,
    ],
    [
      'a key field the schema lacks',
      (p) => {
        p.keyField = "'device_id'";
      },
      /sources\[0\]\.keyField: "device_id" is not a field of .*readings\.avsc/,
    ],
    [
      'a model input no view produces',
      (p) => {
        p.feature = "'sensor_stats.value_max_1h'";
      },
      /models\[0\]\.features\[0\]: no view produces "sensor_stats\.value_max_1h"/,
    ],
    [
      'a label source that does not exist',
      (p) => {
        p.labelSource = "'outages'";
      },
      /models\[0\]\.label\.source: unknown source "outages"/,
    ],
  ];
  for (const [name, edit, expected] of cases)
    test(`${name}: one line naming file, path and fix`, async () => {
      const lines = await problems(configText(edit));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, expected);
    });

  test('several problems are reported together, one line each', async () => {
    const lines = await problems(
      configText((p) => {
        p.viewSource = "'nope'";
        p.labelSource = "'outages'";
      }),
    );
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines.join('\n'), /views\[0\]\.source/);
    assert.match(lines.join('\n'), /models\[0\]\.label\.source/);
    // the model input of the broken view is not reported again: the view is the one problem
    assert.doesNotMatch(lines.join('\n'), /models\[0\]\.features/);
  });

  test('a folder without flywheel.config.ts says how to make one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flywheel-empty-'));
    await assert.rejects(loadProject(dir), (err: unknown) => {
      assert.ok(err instanceof FlywheelError && err.code === 'FW_PROJECT_INVALID');
      assert.match(err.message, /flywheel\.config\.ts: not found; fix: .*flywheel init/);
      return true;
    });
  });
});
