import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { shopViews } from '../../../examples/shop/views.ts';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { loadProject, MAX_SCHEMA_BYTES } from '../../../services/project/load.ts';
import { projectViewsAsDeclared } from '../../../services/project/runtime.ts';
import { BAD_PROJECTS, configText, folder } from '../../support/bad-projects.ts';

/**
 * Loading a project folder: a valid one loads (the bundled shop example compiles to exactly the views
 * the engine has always run), and each kind of broken file fails with one line that names the file,
 * the path inside it and the fix — before anything is contacted.
 */
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

  for (const [name, edit, expected] of BAD_PROJECTS)
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

  test('a schema outside the folder, oversized or not JSON is one line each', async () => {
    const cases: Array<[(dir: string) => string, RegExp]> = [
      [
        () => "'../readings.avsc'",
        /sources\[0\]\.schema: "\.\.\/readings\.avsc" is outside the project folder; fix: /,
      ],
      [() => "'/etc/hostname'", /sources\[0\]\.schema: "\/etc\/hostname" is outside the project folder/],
      [
        (dir) => {
          writeFileSync(
            join(dir, 'huge.avsc'),
            `{"type":"record","name":"R","doc":"${'x'.repeat(MAX_SCHEMA_BYTES)}","fields":[]}`,
          );
          return "'huge.avsc'";
        },
        /huge\.avsc is \d+ bytes, over the 1048576-byte limit of a schema/,
      ],
      [
        (dir) => {
          writeFileSync(join(dir, 'broken.avsc'), '{"type": "record", ');
          return "'broken.avsc'";
        },
        /broken\.avsc is not JSON: /,
      ],
    ];
    for (const [schema, expected] of cases) {
      const dir = folder(configText());
      const config = configText().replace("schema: 'readings.avsc'", `schema: ${schema(dir)}`);
      writeFileSync(join(dir, 'flywheel.config.ts'), config);
      const err = await loadProject(dir).then(
        () => assert.fail('the project loaded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof FlywheelError && err.code === 'FW_PROJECT_INVALID', String(err));
      const lines = err.message.split('\n');
      assert.equal(lines.length, 1, err.message);
      assert.match(lines[0]!, expected);
    }
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
