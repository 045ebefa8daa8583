import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { FlywheelError } from '../platform/errors.ts';
import { PROJECT_FILE } from './load.ts';
import { renderSourceTypes } from './typegen.ts';
import { GENERATED_TYPES_FILE } from './types-file.ts';

/**
 * `flywheel init <dir>`: a starter project that plans, applies and runs unchanged — a website's page
 * views keyed by visitor, a late "converted" label, one view, one model, and a traffic generator — for
 * a user to rename and reshape into their own domain. Topics are prefixed with the project's name so
 * two starters never share one.
 */
export function initProject(dir: string): string[] {
  const root = resolve(dir);
  if (existsSync(join(root, PROJECT_FILE)))
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      `${join(dir, PROJECT_FILE)} exists already; fix: choose a new or empty folder`,
    );
  const name = projectName(root);
  const files: Record<string, string> = {
    [PROJECT_FILE]: configFile(name),
    'schemas/page-view.avsc': `${JSON.stringify(PAGE_VIEW, null, 2)}\n`,
    'schemas/conversion.avsc': `${JSON.stringify(CONVERSION, null, 2)}\n`,
    'traffic.ts': TRAFFIC,
    [GENERATED_TYPES_FILE]: renderSourceTypes([
      { name: 'page_views', schema: PAGE_VIEW },
      { name: 'conversions', schema: CONVERSION },
    ]),
    'README.md': readme(name),
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return Object.keys(files);
}

/** The folder's name as a project name: lower case, letters, digits, `-` and `_`, starting with a letter. */
function projectName(root: string): string {
  const cleaned = basename(root)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z]+/, '');
  return cleaned || 'project';
}

const PAGE_VIEW = {
  type: 'record',
  name: 'PageView',
  namespace: 'dev.flywheel.starter',
  doc: 'One page view of a website, keyed by visitor.',
  fields: [
    { name: 'event_id', type: 'string', doc: 'Unique id of the view.' },
    { name: 'visitor_id', type: 'string', doc: 'The visitor (entity key).' },
    { name: 'page', type: 'string', doc: 'Path of the page viewed.' },
    { name: 'dwell_ms', type: 'double', doc: 'Time spent on the page, ms.' },
    {
      name: 'referrer',
      type: ['null', 'string'],
      default: null,
      doc: 'Where the visitor came from, if known.',
    },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'When the page was viewed.' },
  ],
};

const CONVERSION = {
  type: 'record',
  name: 'Conversion',
  namespace: 'dev.flywheel.starter',
  doc: 'Whether a visit led to a sign-up: a label that arrives after the visit.',
  fields: [
    { name: 'event_id', type: 'string', doc: 'event_id of the page view being labelled.' },
    { name: 'visitor_id', type: 'string', doc: 'The visitor, as on the page view.' },
    { name: 'converted', type: 'boolean', doc: 'Label: true when the visitor signed up.' },
    {
      name: 'ts',
      type: { type: 'long', logicalType: 'timestamp-millis' },
      doc: 'When the outcome happened.',
    },
  ],
};

function configFile(name: string): string {
  return `import { defineProject } from 'flywheel';
import { traffic } from './traffic.ts';

const windows = ['10m', '1h', '1d'];

export default defineProject({
  name: '${name}',
  description: 'A starter project: page views of a website and late sign-up labels.',
  sources: [
    {
      name: 'page_views',
      topic: '${name}.page_views',
      schema: 'schemas/page-view.avsc',
      keyField: 'visitor_id',
      timestampField: 'ts',
      allowedLateness: '5m',
      limits: { maxEvents: 1000, maxEventBytes: 16384 },
    },
    {
      name: 'conversions',
      topic: '${name}.conversions',
      schema: 'schemas/conversion.avsc',
      keyField: 'visitor_id',
      timestampField: 'ts',
    },
  ],
  entities: [{ name: 'visitor', key: 'visitor_id' }],
  views: [
    {
      name: 'visitor_activity',
      description: 'How much and how long a visitor browses.',
      source: 'page_views',
      entity: 'visitor',
      aggregations: [
        { name: 'views', kind: 'count', windows },
        { name: 'dwell_mean', kind: 'mean', field: 'dwell_ms', windows },
        { name: 'pages', kind: 'approx_distinct', field: 'page', windows },
        { name: 'last_page', kind: 'last', field: 'page', windows },
      ],
    },
  ],
  models: [
    {
      name: 'conversion',
      task: 'binary_classification',
      features: ['visitor_activity.views_1h', 'visitor_activity.dwell_mean_1h', 'visitor_activity.pages_1d'],
      label: { source: 'conversions', field: 'converted', join: { by: 'request_id', field: 'event_id' }, maxDelay: '1h' },
    },
  ],
  traffic,
});
`;
}

const TRAFFIC = `import { paced, type TrafficGenerator } from 'flywheel';

const PAGES = ['/', '/pricing', '/docs', '/blog', '/signup'];

/** Page views at the asked rate (event time = now) and a sign-up label for some of them. */
export const traffic: TrafficGenerator = (ctx) => {
  let seq = 0;
  return paced(ctx, async (n, now) => {
    const views = Array.from({ length: n }, () => ({
      event_id: \`view-\${now}-\${seq++}\`,
      visitor_id: \`v\${Math.floor(Math.random() * ctx.entities)}\`,
      page: PAGES[Math.floor(Math.random() * PAGES.length)]!,
      dwell_ms: Math.round(Math.random() * 60_000),
      referrer: Math.random() < 0.5 ? null : 'search',
      ts: now,
    }));
    await ctx.send('page_views', views);
    ctx.noteEntity(views.at(-1)!.visitor_id);
    const labels = views
      .filter((v) => v.page === '/signup')
      .map((v) => ({ event_id: v.event_id, visitor_id: v.visitor_id, converted: Math.random() < 0.4, ts: v.ts }));
    if (labels.length) await ctx.send('conversions', labels);
  });
};
`;

function readme(name: string): string {
  return `# ${name}

A Flywheel project. \`flywheel.config.ts\` declares the sources (each with its Avro schema under
\`schemas/\`), the entities, the feature views, and the models; \`traffic.ts\` generates live events for
\`flywheel start\`. \`generated/events.ts\` holds the TypeScript types of the events, made from the
\`.avsc\` files by \`flywheel typegen --project .\` (run it after changing a schema).

    flywheel plan  --project .   # what apply would change; changes nothing
    flywheel apply --project .   # register schemas, create topics, record the definitions
    flywheel start --project .   # everything in one process, with this project's traffic
`;
}
