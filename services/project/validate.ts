import { compileView, type FeatureViewDef } from '../features/index.ts';
import type { ProjectDefinition, SourceDefinitionSpec, ViewDefinitionSpec } from './schema.ts';

/**
 * The checks zod cannot make on one object: references between a project's parts and the `.avsc` files
 * they point at. Pure: the loader reads the files and passes their parsed schemas in. Every problem is
 * one ProjectIssue with the path inside the config file and the fix, so a user sees all of them at once.
 */
export interface ProjectIssue {
  /** Path inside the project file, e.g. `views[1].source`. */
  readonly path: string;
  readonly message: string;
  readonly fix: string;
}

interface AvroField {
  name: string;
  type: unknown;
}

/** A source's schema as the loader read it: its fields, or why it could not be read. */
export type SchemaRead =
  | { ok: true; file: string; schema: object }
  | { ok: false; file: string; error: string };

export function validateProject(
  project: ProjectDefinition,
  schemas: ReadonlyMap<string, SchemaRead>,
): ProjectIssue[] {
  const issues: ProjectIssue[] = [];
  const add = (path: string, message: string, fix: string) => issues.push({ path, message, fix });
  const sources = new Map<string, { spec: SourceDefinitionSpec; fields: AvroField[] | undefined }>();
  // A part that is wrong itself makes its dependants fail too; report only its own problem.
  const brokenSources = new Set<string>();
  const brokenViews = new Set<string>();

  project.sources.forEach((source, i) => {
    const at = `sources[${i}]`;
    if (sources.has(source.name))
      add(`${at}.name`, `a second source named "${source.name}"`, 'give every source its own name');
    if (project.sources.findIndex((s) => s.topic === source.topic) !== i)
      add(
        `${at}.topic`,
        `topic "${source.topic}" is used by another source`,
        'give every source its own topic',
      );
    const before = issues.length;
    const read = schemas.get(source.name);
    let fields: AvroField[] | undefined;
    if (!read || !read.ok) {
      add(
        `${at}.schema`,
        read?.error ?? `no schema read for "${source.name}"`,
        'point schema at a readable Avro record (.avsc) relative to the project folder',
      );
    } else {
      fields = recordFields(read.schema);
      if (!fields)
        add(
          `${at}.schema`,
          `${read.file} is not an Avro record`,
          'the schema must be {"type":"record", "fields": [...]}',
        );
      else checkSourceFields(source, read.file, fields, at, add);
    }
    sources.set(source.name, { spec: source, fields });
    if (issues.length > before) brokenSources.add(source.name);
  });

  const entities = new Map<string, string>();
  project.entities.forEach((entity, i) => {
    if (entities.has(entity.name))
      add(`entities[${i}].name`, `a second entity named "${entity.name}"`, 'give every entity its own name');
    entities.set(entity.name, entity.key);
  });

  const produced = new Set<string>();
  const viewNames = new Set<string>();
  project.views.forEach((view, i) => {
    const at = `views[${i}]`;
    if (viewNames.has(view.name))
      add(
        `${at}.name`,
        `a second view named "${view.name}"`,
        'give every view its own name (a changed view keeps its name; apply versions it)',
      );
    viewNames.add(view.name);
    const source = sources.get(view.source);
    const before = issues.length;
    checkView();
    if (issues.length > before || brokenSources.has(view.source)) brokenViews.add(view.name);
    function checkView(): void {
      if (brokenSources.has(view.source)) return;
      if (!source) {
        add(
          `${at}.source`,
          `unknown source "${view.source}"`,
          `name one of the project's sources (${[...sources.keys()].join(', ')})`,
        );
        return;
      }
      const key = entities.get(view.entity);
      if (key === undefined) {
        add(
          `${at}.entity`,
          `unknown entity "${view.entity}"`,
          entities.size
            ? `name one of the project's entities (${[...entities.keys()].join(', ')})`
            : `declare it under entities: [{ name: '${view.entity}', key: '${source.spec.keyField}' }]`,
        );
        return;
      }
      if (key !== source.spec.keyField) {
        add(
          `${at}.entity`,
          `entity "${view.entity}" is keyed by "${key}" but source "${source.spec.name}" by "${source.spec.keyField}"`,
          "use an entity whose key is the source's key field (or re-key the topic)",
        );
        return;
      }
      view.aggregations.forEach((agg, j) => {
        if (agg.field !== undefined && source.fields && !source.fields.some((f) => f.name === agg.field))
          add(
            `${at}.aggregations[${j}].field`,
            `"${agg.field}" is not a field of source "${source.spec.name}"`,
            `use one of ${source.fields.map((f) => f.name).join(', ')}`,
          );
      });
      try {
        const compiled = compileView(viewDefinition(view, source.spec, view.version ?? 1));
        for (const f of compiled.features) produced.add(`${view.name}.${f.name}`);
      } catch (err) {
        add(at, (err as Error).message.replaceAll('\n', ' '), 'fix the view as the message says');
      }
    }
  });

  for (const [service, views] of Object.entries(project.featureServices))
    views.forEach((v, j) => {
      if (!viewNames.has(v))
        add(
          `featureServices.${service}[${j}]`,
          `unknown view "${v}"`,
          `name one of the project's views (${[...viewNames].join(', ')})`,
        );
    });

  const modelNames = new Set<string>();
  project.models.forEach((model, i) => {
    const at = `models[${i}]`;
    if (modelNames.has(model.name))
      add(`${at}.name`, `a second model named "${model.name}"`, 'give every model its own name');
    modelNames.add(model.name);
    model.features.forEach((feature, j) => {
      const view = feature.slice(0, feature.indexOf('.'));
      if (!produced.has(feature) && !brokenViews.has(view))
        add(
          `${at}.features[${j}]`,
          `no view produces "${feature}"`,
          viewNames.has(view)
            ? `view ${view} has ${[...produced]
                .filter((p) => p.startsWith(`${view}.`))
                .map((p) => p.slice(view.length + 1))
                .join(', ')}`
            : `name a feature as <view>.<feature> of the project's views (${[...viewNames].join(', ')})`,
        );
    });
    const label = sources.get(model.label.source);
    if (!label) {
      add(
        `${at}.label.source`,
        `unknown source "${model.label.source}"`,
        `name the outcomes source among ${[...sources.keys()].join(', ')}, or declare it under sources`,
      );
    } else if (label.fields) {
      const field = label.fields.find((f) => f.name === model.label.field);
      if (!field)
        add(
          `${at}.label.field`,
          `"${model.label.field}" is not a field of source "${label.spec.name}"`,
          `use one of ${label.fields.map((f) => f.name).join(', ')}`,
        );
      else if (!labelTypeFits(model.task, field.type))
        add(
          `${at}.label.field`,
          `"${model.label.field}" is ${JSON.stringify(field.type)}, not a ${model.task === 'regression' ? 'number' : 'boolean or int'}`,
          model.task === 'regression'
            ? 'a regression label must be an int, long, float or double'
            : 'a binary label must be a boolean or an int (0/1)',
        );
      if (
        model.label.join.by === 'request_id' &&
        !label.fields.some((f) => f.name === (model.label.join as { field: string }).field)
      )
        add(
          `${at}.label.join.field`,
          `"${model.label.join.field}" is not a field of source "${label.spec.name}"`,
          `use the field that carries the prediction's request id (${label.fields.map((f) => f.name).join(', ')})`,
        );
    }
    const metric = model.gate.metric;
    if (metric && (model.task === 'regression') !== ['mae', 'rmse'].includes(metric))
      add(
        `${at}.gate.metric`,
        `metric ${metric} does not fit task ${model.task}`,
        model.task === 'regression' ? 'use mae or rmse' : 'use auc, accuracy or log_loss',
      );
  });
  return issues;
}

/**
 * A project view as the feature engine's definition at `version`. The source carries only what the
 * project set (no defaults added), so a view's fingerprint is the same whether it was declared in a
 * project or with defineFeatureView directly.
 */
export function viewDefinition(
  view: ViewDefinitionSpec,
  source: SourceDefinitionSpec,
  version: number,
): FeatureViewDef {
  const limits = source.limits;
  return {
    name: view.name,
    version,
    description: view.description,
    source: {
      topic: source.topic,
      keyField: source.keyField,
      timestampField: source.timestampField,
      allowedLateness: source.allowedLateness,
      ...(limits.maxFutureSkew !== undefined ? { maxFutureSkew: limits.maxFutureSkew } : {}),
      ...(limits.minEventTime !== undefined ? { minEventTime: limits.minEventTime } : {}),
      ...(limits.maxKeyBytes !== undefined ? { maxKeyBytes: limits.maxKeyBytes } : {}),
      ...(limits.maxEventBytes !== undefined ? { maxRecordBytes: limits.maxEventBytes } : {}),
    },
    entity: source.keyField,
    tile: view.tile,
    ttl: view.ttl,
    aggregations: view.aggregations,
  };
}

function recordFields(schema: object): AvroField[] | undefined {
  const s = schema as { type?: unknown; fields?: unknown };
  return s.type === 'record' && Array.isArray(s.fields) ? (s.fields as AvroField[]) : undefined;
}

function checkSourceFields(
  source: SourceDefinitionSpec,
  file: string,
  fields: AvroField[],
  at: string,
  add: (path: string, message: string, fix: string) => void,
): void {
  const names = fields.map((f) => f.name).join(', ');
  const key = fields.find((f) => f.name === source.keyField);
  if (!key)
    add(
      `${at}.keyField`,
      `"${source.keyField}" is not a field of ${file}`,
      `use one of ${names}, or add the field to the schema`,
    );
  else if (!['string', 'int', 'long'].includes(String(key.type)))
    add(
      `${at}.keyField`,
      `"${source.keyField}" is ${JSON.stringify(key.type)} in ${file}`,
      'a key field must be a required string, int or long (not nullable)',
    );
  const time = fields.find((f) => f.name === source.timestampField);
  const spec = time?.type as { type?: unknown; logicalType?: unknown } | undefined;
  if (!time)
    add(
      `${at}.timestampField`,
      `"${source.timestampField}" is not a field of ${file}`,
      `use one of ${names}, or add the field to the schema`,
    );
  else if (spec?.type !== 'long' || spec.logicalType !== 'timestamp-millis')
    add(
      `${at}.timestampField`,
      `"${source.timestampField}" is ${JSON.stringify(time.type)} in ${file}`,
      'the event-time field must be {"type":"long","logicalType":"timestamp-millis"}',
    );
}

function labelTypeFits(task: string, type: unknown): boolean {
  const t = Array.isArray(type) ? type.filter((x) => x !== 'null') : [type];
  if (t.length !== 1) return false;
  const base = String(t[0]);
  return task === 'regression'
    ? ['int', 'long', 'float', 'double'].includes(base)
    : ['boolean', 'int'].includes(base);
}
