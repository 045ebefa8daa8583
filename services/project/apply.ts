import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createKafka, ensureTopics } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createRegistryCodec } from '../platform/registry-codec.ts';
import { withRetry } from '../platform/retry.ts';
import { type SchemaVerdict, schemaVerdict } from '../platform/schema-verdicts.ts';
import { ensureProjectTables, readHistory, recordChanges } from './history.ts';
import type { LoadedProject } from './load.ts';
import { type Plan, planProject, subjectOf } from './plan.ts';
import { explainBackwardBreak } from './schema-diff.ts';

/**
 * The adapters around the pure plan: read the history from ClickHouse, ask the registry about every
 * source schema and Kafka which topics exist (`planFor`), then carry a plan out (`applyPlan`): schemas
 * registered, topics created, changes recorded — in that order, so a failure part-way leaves at most
 * registered schemas and topics (both idempotent) and no recorded definition that is not real.
 */
export interface ProjectDeps {
  readonly config: Readonly<ResolvedConfig>;
  readonly logger: Logger;
  readonly clickhouse: ClickHouseClient;
}

export async function planFor(project: LoadedProject, deps: ProjectDeps): Promise<Plan> {
  const db = deps.config.clickhouse.database;
  const [recorded, verdicts, topics] = await Promise.all([
    readHistory(deps.clickhouse, db, project.definition.name),
    schemaVerdicts(project, deps.config.registry.url),
    existingTopics(deps),
  ]);
  return planProject({ project, recorded, verdicts, topics });
}

export interface ApplyResult {
  readonly applyId: string;
  readonly recorded: number;
  readonly registered: number;
  readonly topicsCreated: number;
}

export async function applyPlan(project: LoadedProject, plan: Plan, deps: ProjectDeps): Promise<ApplyResult> {
  if (plan.refusals.length)
    throw new FlywheelError(
      plan.changes.some((c) => c.kind === 'schema' && c.action === 'refused')
        ? 'FW_SCHEMA_INCOMPATIBLE'
        : 'FW_PROJECT_INVALID',
      `apply refused, nothing changed: ${plan.refusals.join(' | ')}`,
    );
  const codec = createRegistryCodec(deps.config.registry.url);
  let registered = 0;
  for (const source of project.definition.sources) {
    const change = plan.changes.find((c) => c.kind === 'schema' && c.name === subjectOf(source.topic));
    if (change?.action !== 'create' && change?.action !== 'update') continue;
    await codec.register(source.topic, project.schemas.find((s) => s.name === source.name)!.schema);
    registered++;
  }
  const missing = plan.changes.filter((c) => c.kind === 'topic' && c.action === 'create');
  if (missing.length) await createTopics(project, deps);
  const applyId = randomUUID();
  await ensureProjectTables(deps.clickhouse, deps.config.clickhouse.database);
  await recordChanges(deps.clickhouse, deps.config.clickhouse.database, plan.project, applyId, plan.changes);
  const recorded = plan.changes.filter(
    (c) => c.kind !== 'topic' && ['create', 'update', 'remove'].includes(c.action),
  ).length;
  deps.logger.info('project applied', {
    project: plan.project,
    applyId,
    recorded,
    registered,
    topics: missing.length,
  });
  return { applyId, recorded, registered, topicsCreated: missing.length };
}

async function schemaVerdicts(
  project: LoadedProject,
  registryUrl: string,
): Promise<Map<string, SchemaVerdict>> {
  const entries = await Promise.all(
    project.definition.sources.map(async (source) => {
      const subject = subjectOf(source.topic);
      const schema = project.schemas.find((s) => s.name === source.name)!.schema;
      return [subject, await schemaVerdict(registryUrl, subject, schema, explainBackwardBreak)] as const;
    }),
  );
  return new Map(entries);
}

async function existingTopics(deps: ProjectDeps): Promise<Set<string>> {
  const admin = createKafka(deps.config, deps.logger, 'project').admin();
  try {
    await withRetry(() => admin.connect(), { retries: 2, initialDelayMs: 200, maxDelayMs: 1_000 });
    return new Set(await admin.listTopics());
  } catch (err) {
    throw new FlywheelError(
      'FW_KAFKA_UNAVAILABLE',
      `Kafka did not list its topics: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function createTopics(project: LoadedProject, deps: ProjectDeps): Promise<void> {
  const admin = createKafka(deps.config, deps.logger, 'project').admin();
  try {
    await admin.connect();
    await ensureTopics(
      admin,
      project.definition.sources.map((s) => ({
        topic: s.topic,
        partitions: deps.config.kafka.defaultPartitions,
        withDeadLetter: true,
      })),
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The plan as the history alone says it, without asking the registry or Kafka: what a module of a
 * deployment (`flywheel run`) runs. Its changes are what has not been applied yet.
 */
export async function servedPlan(
  project: LoadedProject,
  deps: Pick<ProjectDeps, 'config' | 'clickhouse'>,
): Promise<Plan> {
  const db = deps.config.clickhouse.database;
  const recorded = await readHistory(deps.clickhouse, db, project.definition.name);
  const verdicts = new Map<string, SchemaVerdict>(
    project.definition.sources.map((s) => [subjectOf(s.topic), { state: 'registered', version: 0 }]),
  );
  const topics = new Set(project.definition.sources.flatMap((s) => [s.topic, `${s.topic}.dlq`]));
  return planProject({ project, recorded, verdicts, topics });
}
