import { parseDuration } from '../core/windows/duration.ts';
import { type CompiledView, compileView } from '../features/index.ts';
import { createSourceCatalogue, type SourceCatalogue, type SourceDefinition } from '../ingest/index.ts';
import type { LoadedProject } from './load.ts';
import type { Plan } from './plan.ts';
import type { ModelDefinitionSpec, SourceDefinitionSpec, TrafficGenerator } from './schema.ts';
import { viewDefinition } from './validate.ts';

/**
 * What the modules run for a project: its sources as the ingest/SDK catalogue, the views the plan
 * says are computed and served (current versions and the retained older ones), feature services,
 * models and the traffic generator. Each module takes the part it reads.
 */
export interface ProjectRuntime {
  readonly name: string;
  /** Absolute path of the project folder. */
  readonly dir: string;
  readonly views: readonly CompiledView[];
  readonly sources: SourceCatalogue;
  readonly featureServices: Readonly<Record<string, readonly string[]>>;
  readonly models: readonly ModelDefinitionSpec[];
  readonly traffic: TrafficGenerator | undefined;
}

export function projectRuntime(project: LoadedProject, plan: Plan): ProjectRuntime {
  const def = project.definition;
  return {
    name: def.name,
    dir: project.dir,
    views: plan.views.map((v) => compileView(v)),
    sources: projectSources(project),
    featureServices: def.featureServices,
    models: def.models,
    traffic: def.traffic,
  };
}

/** The project's sources with their contracts: what ingest and the producer SDK validate against. */
export function projectSources(project: LoadedProject): SourceCatalogue {
  const byTopic = new Map(
    project.definition.sources.map((s) => [s.topic, project.schemas.find((x) => x.name === s.name)!.schema]),
  );
  return createSourceCatalogue(project.definition.sources.map(sourceDefinition), (topic) =>
    structuredClone(byTopic.get(topic)!),
  );
}

function sourceDefinition(source: SourceDefinitionSpec): SourceDefinition {
  const l = source.limits;
  const limits = {
    ...(l.maxEvents !== undefined ? { maxEvents: l.maxEvents } : {}),
    ...(l.maxEventBytes !== undefined ? { maxEventBytes: l.maxEventBytes } : {}),
    ...(l.maxDepth !== undefined ? { maxDepth: l.maxDepth } : {}),
    ...(l.maxKeyBytes !== undefined ? { maxKeyBytes: l.maxKeyBytes } : {}),
    ...(l.maxFutureSkew !== undefined ? { maxFutureSkewMs: parseDuration(l.maxFutureSkew) } : {}),
    ...(l.minEventTime !== undefined ? { minEventTimeMs: Date.parse(l.minEventTime) } : {}),
  };
  return {
    name: source.name,
    topic: source.topic,
    keyField: source.keyField,
    timestampField: source.timestampField,
    limits,
  };
}

/**
 * The project's views at their declared versions (1 where none is declared), without the history: for
 * commands that cannot open the store the running job holds (`flywheel partitions` needs only topics).
 */
export function projectViewsAsDeclared(project: LoadedProject): CompiledView[] {
  const def = project.definition;
  return def.views.map((view) =>
    compileView(viewDefinition(view, def.sources.find((s) => s.name === view.source)!, view.version ?? 1)),
  );
}
