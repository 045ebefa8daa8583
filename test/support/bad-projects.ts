import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A valid project folder (sensor readings keyed by a long id, a failure label) as text with named
 * slots, and the broken versions every entry point must refuse with one line naming the file, the
 * path inside it and the fix: the loader's unit test and the CLI's integration test share them.
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
export function configText(edit: (parts: Record<string, string>) => void = () => {}): string {
  const parts: Record<string, string> = {
    keyField: "'sensor_id'",
    viewSource: "'readings'",
    viewName2: "'sensor_kinds'",
    extra: '',
    feature: "'sensor_stats.value_mean_1h'",
    labelSource: "'failures'",
    trailer: '',
    topicPrefix: 't',
  };
  edit(parts);
  return `import { defineProject } from 'flywheel';
export default defineProject({
  name: 'sensors',
  sources: [
    { name: 'readings', topic: '${parts.topicPrefix}.readings', schema: 'readings.avsc', keyField: ${parts.keyField}, timestampField: 'ts'${parts.extra} },
    { name: 'failures', topic: '${parts.topicPrefix}.failures', schema: 'failures.avsc', keyField: 'sensor_id', timestampField: 'ts' },
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

export function folder(config: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-project-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'flywheel.config.ts'), config);
  writeFileSync(join(dir, 'readings.avsc'), JSON.stringify(ORDER));
  writeFileSync(join(dir, 'failures.avsc'), JSON.stringify(OUTCOME));
  return dir;
}

export const BAD_PROJECTS: ReadonlyArray<[string, (p: Record<string, string>) => void, RegExp]> = [
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
