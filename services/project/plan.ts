import { createHash } from 'node:crypto';
import { compileView, type FeatureViewDef } from '../features/index.ts';
import type { SchemaVerdict } from '../platform/schema-verdicts.ts';
import type { LoadedProject } from './load.ts';
import { viewDefinition } from './validate.ts';

/**
 * What `apply` would change, computed from the loaded project, the recorded history (ClickHouse
 * `project_definitions`), the registry's verdicts and the topics that exist — pure, so every rule
 * below has a unit test without a stack. `plan` prints it; `apply` refuses it when it is blocked and
 * otherwise carries out exactly its changes.
 *
 * Versions: every kind of definition is numbered per name. A view keeps its version while its
 * fingerprint (the engine's, over the whole definition) is unchanged and gets the next one when it
 * changes; the old version keeps being computed and served beside the new one (retainViewVersions).
 * A view that declares `version` is held to it: a changed definition under a recorded version is
 * refused, as the engine refuses it.
 */
export type DefinitionKind = 'schema' | 'source' | 'entity' | 'view' | 'feature_service' | 'model';

export interface RecordedDefinition {
  readonly kind: DefinitionKind;
  readonly name: string;
  readonly version: number;
  readonly fingerprint: string;
  readonly state: 'active' | 'removed';
  /** JSON text of the definition as applied. */
  readonly definition: string;
}

export type { SchemaVerdict };

export type Action = 'create' | 'update' | 'unchanged' | 'remove' | 'refused';

export interface PlanChange {
  readonly kind: DefinitionKind | 'topic';
  readonly name: string;
  readonly action: Action;
  /** The version this definition has after apply (0 for topics). */
  readonly version: number;
  readonly fingerprint: string;
  /** One line a user reads: why this action. */
  readonly detail: string;
  /** What apply records (JSON text); empty for topics. */
  readonly definition: string;
}

export interface Plan {
  readonly project: string;
  readonly changes: readonly PlanChange[];
  /** Reasons apply must refuse (each one line); empty when the plan can be applied. */
  readonly refusals: readonly string[];
  /** The views to compute and serve after apply: current versions and the retained older ones. */
  readonly views: readonly FeatureViewDef[];
}

export interface PlanInputs {
  readonly project: LoadedProject;
  readonly recorded: readonly RecordedDefinition[];
  readonly verdicts: ReadonlyMap<string, SchemaVerdict>;
  readonly topics: ReadonlySet<string>;
}

export function subjectOf(topic: string): string {
  return `${topic}-value`;
}

export function planProject({ project, recorded, verdicts, topics }: PlanInputs): Plan {
  const def = project.definition;
  const changes: PlanChange[] = [];
  const refusals: string[] = [];
  const history = new Histories(recorded);

  for (const source of def.sources) {
    for (const topic of [source.topic, `${source.topic}.dlq`])
      changes.push({
        kind: 'topic',
        name: topic,
        action: topics.has(topic) ? 'unchanged' : 'create',
        version: 0,
        fingerprint: '',
        detail: topics.has(topic) ? 'exists' : `create (dead letters of ${source.name} go to the .dlq)`,
        definition: '',
      });
    const schema = project.schemas.find((s) => s.name === source.name)!.schema;
    const subject = subjectOf(source.topic);
    const verdict = verdicts.get(subject) ?? { state: 'new' };
    const recordedSchema = history.next('schema', subject, schema);
    if (verdict.state === 'incompatible') {
      refusals.push(
        `schema of source ${source.name} (${subject}) is not BACKWARD-compatible with the registered one: ${verdict.reason}; fix: add new fields with defaults and keep the old ones, or publish to a new topic`,
      );
      changes.push({ ...recordedSchema, action: 'refused', detail: `incompatible: ${verdict.reason}` });
    } else if (verdict.state === 'registered') {
      // Registered already (perhaps by a producer): only the history may lack it.
      const detail = `registered as registry version ${verdict.version}`;
      changes.push({
        ...recordedSchema,
        detail: recordedSchema.action === 'unchanged' ? detail : `${detail}; record it`,
      });
    } else {
      const detail =
        verdict.state === 'new'
          ? 'new subject: register'
          : 'changed: BACKWARD-compatible with the registered version; register the next one';
      changes.push({ ...recordedSchema, action: verdict.state === 'new' ? 'create' : 'update', detail });
    }
    changes.push(history.next('source', source.name, source));
  }
  for (const entity of def.entities) changes.push(history.next('entity', entity.name, entity));

  const views: FeatureViewDef[] = [];
  for (const view of def.views) {
    const source = def.sources.find((s) => s.name === view.source)!;
    const recordedVersions = history.versions('view', view.name);
    const latest = recordedVersions.at(-1);
    let version = view.version ?? latest?.version ?? 1;
    let compiled = compileView(viewDefinition(view, source, version));
    const atVersion = recordedVersions.find((r) => r.version === version);
    let action: Action;
    let detail: string;
    if (atVersion && atVersion.fingerprint === compiled.fingerprint) {
      action = 'unchanged';
      detail = `v${version} unchanged (fingerprint ${compiled.fingerprint})`;
    } else if (atVersion && view.version !== undefined) {
      action = 'refused';
      detail = `v${version} is recorded with fingerprint ${atVersion.fingerprint}, the file's is ${compiled.fingerprint}`;
      refusals.push(
        `view ${view.name} declares version ${version}, which is recorded with another definition; fix: raise its version, or drop \`version\` and let apply number it`,
      );
    } else if (view.version !== undefined && latest && view.version < latest.version) {
      action = 'refused';
      detail = `v${version} is older than the recorded v${latest.version}`;
      refusals.push(
        `view ${view.name} declares version ${version}, below the recorded v${latest.version}; fix: use v${latest.version + 1} or more`,
      );
    } else {
      if (atVersion) version = latest!.version + 1;
      compiled = compileView(viewDefinition(view, source, version));
      action = latest ? 'update' : 'create';
      detail = latest
        ? `changed: new version v${version} (fingerprint ${compiled.fingerprint}); v${latest.version} is still computed and served; v${version} starts from the live stream (its history: backfill --view ${view.name} --version ${version}, docs/features.md#backfill)`
        : `new: v${version} (fingerprint ${compiled.fingerprint})`;
    }
    changes.push({
      kind: 'view',
      name: view.name,
      action,
      version,
      fingerprint: compiled.fingerprint,
      detail,
      definition: JSON.stringify(compiled.definition),
    });
    views.push(compiled.definition);
    // Older versions still served: the newest ones before the current, up to retainViewVersions in all.
    if (def.retainViewVersions > 1) {
      const older = recordedVersions.filter((r) => r.version < version && r.state === 'active');
      for (const r of older.slice(-(def.retainViewVersions - 1)))
        views.push(JSON.parse(r.definition) as FeatureViewDef);
    }
  }
  for (const [name, members] of Object.entries(def.featureServices))
    changes.push(history.next('feature_service', name, members));
  for (const model of def.models) changes.push(history.next('model', model.name, model));

  // What the history holds as active but the project no longer declares is removed (recorded, not deleted).
  const declared = new Set(changes.map((c) => `${c.kind}/${c.name}`));
  for (const r of history.latestActive())
    if (!declared.has(`${r.kind}/${r.name}`))
      changes.push({
        kind: r.kind,
        name: r.name,
        action: 'remove',
        version: r.version,
        fingerprint: r.fingerprint,
        detail: r.kind === 'view' ? 'no longer declared: no longer computed or served' : 'no longer declared',
        definition: r.definition,
      });
  return { project: def.name, changes, refusals, views };
}

/** The recorded history by kind and name: versions in order, each with its newest state. */
class Histories {
  private readonly byName = new Map<string, RecordedDefinition[]>();

  constructor(recorded: readonly RecordedDefinition[]) {
    for (const r of recorded) {
      const key = `${r.kind}/${r.name}`;
      const list = this.byName.get(key) ?? [];
      const same = list.findIndex((x) => x.version === r.version);
      // Rows come in applied order: a later row of the same version (a removal) wins.
      if (same >= 0) list[same] = r;
      else list.push(r);
      this.byName.set(key, list);
    }
    for (const list of this.byName.values()) list.sort((a, b) => a.version - b.version);
  }

  versions(kind: DefinitionKind, name: string): readonly RecordedDefinition[] {
    return this.byName.get(`${kind}/${name}`) ?? [];
  }

  latestActive(): RecordedDefinition[] {
    return [...this.byName.values()].map((list) => list.at(-1)!).filter((r) => r.state === 'active');
  }

  /** The change for a kind whose version only counts changes of its fingerprint. */
  next(kind: DefinitionKind, name: string, value: unknown): PlanChange {
    const definition = canonicalJson(value);
    const fingerprint = createHash('sha256').update(definition).digest('hex').slice(0, 16);
    const latest = this.versions(kind, name).at(-1);
    if (latest && latest.fingerprint === fingerprint && latest.state === 'active')
      return {
        kind,
        name,
        action: 'unchanged',
        version: latest.version,
        fingerprint,
        detail: `v${latest.version} unchanged`,
        definition,
      };
    const version = (latest?.version ?? 0) + 1;
    return {
      kind,
      name,
      action: latest ? 'update' : 'create',
      version,
      fingerprint,
      detail: latest ? `changed: v${version} replaces v${latest.version}` : `new: v${version}`,
      definition,
    };
  }
}

/** JSON with keys sorted at every level: the same definition always has the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

/** The plan as `flywheel plan` prints it: one line per change, then the refusals. */
export function formatPlan(plan: Plan): string {
  const mark: Record<Action, string> = {
    create: '+',
    update: '~',
    unchanged: '=',
    remove: '-',
    refused: '!',
  };
  const lines = [`project ${plan.project}`];
  const kindWidth = Math.max(0, ...plan.changes.map((c) => c.kind.length));
  const nameWidth = Math.max(0, ...plan.changes.map((c) => c.name.length));
  for (const c of plan.changes)
    lines.push(`  ${mark[c.action]} ${c.kind.padEnd(kindWidth)}  ${c.name.padEnd(nameWidth)}  ${c.detail}`);
  const counts = (a: Action) => plan.changes.filter((c) => c.action === a).length;
  lines.push(
    `${counts('create')} to create, ${counts('update')} to change, ${counts('remove')} to remove, ${counts('unchanged')} unchanged`,
  );
  for (const r of plan.refusals) lines.push(`refused: ${r}`);
  return lines.join('\n');
}
