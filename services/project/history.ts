import type { ClickHouseClient } from '@clickhouse/client';
import { clickHouseTime, runStatements } from '../platform/clickhouse.ts';
import type { DefinitionKind, PlanChange, RecordedDefinition } from './plan.ts';

/**
 * Every definition a project ever applied, in ClickHouse: one row per change, never overwritten (a
 * plain MergeTree, no replacing engine), so the history of a view, a schema or a model can be read
 * back — which version was live when, with which fingerprint and definition (docs/projects.md).
 */
export function projectTablesDdl(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.project_definitions (
      project LowCardinality(String),
      kind LowCardinality(String),
      name String,
      version UInt32,
      fingerprint String,
      state LowCardinality(String),
      definition String,
      apply_id String,
      applied_at DateTime64(3, 'UTC')
    ) ENGINE = MergeTree
    ORDER BY (project, kind, name, version, applied_at)`,
  ];
}

export async function ensureProjectTables(clickhouse: ClickHouseClient, db: string): Promise<void> {
  await runStatements(clickhouse, projectTablesDdl(db));
}

/** The project's rows in the order they were applied; none before the first apply made the table. */
export async function readHistory(
  clickhouse: ClickHouseClient,
  db: string,
  project: string,
): Promise<RecordedDefinition[]> {
  // Reading must not create the table: `plan` changes nothing, and `run` must see "not applied".
  const exists = await clickhouse.query({
    query: `SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = 'project_definitions'`,
    query_params: { db },
    format: 'JSONEachRow',
  });
  const [{ n } = { n: 0 }] = await exists.json<{ n: number | string }>();
  if (Number(n) === 0) return [];
  const result = await clickhouse.query({
    query: `SELECT kind, name, version, fingerprint, state, definition FROM ${db}.project_definitions
      WHERE project = {project:String} ORDER BY applied_at, kind, name, version`,
    query_params: { project },
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    kind: DefinitionKind;
    name: string;
    version: number;
    fingerprint: string;
    state: 'active' | 'removed';
    definition: string;
  }>();
  return rows.map((r) => ({ ...r, version: Number(r.version) }));
}

/** Appends the changes of one apply (creations, new versions, removals) under one apply id. */
export async function recordChanges(
  clickhouse: ClickHouseClient,
  db: string,
  project: string,
  applyId: string,
  changes: readonly PlanChange[],
  at = new Date(),
): Promise<void> {
  const rows = changes
    .filter(
      (c) => c.kind !== 'topic' && (c.action === 'create' || c.action === 'update' || c.action === 'remove'),
    )
    .map((c) => ({
      project,
      kind: c.kind,
      name: c.name,
      version: c.version,
      fingerprint: c.fingerprint,
      state: c.action === 'remove' ? 'removed' : 'active',
      definition: c.definition,
      apply_id: applyId,
      applied_at: clickHouseTime(at),
    }));
  if (rows.length === 0) return;
  await clickhouse.insert({ table: `${db}.project_definitions`, values: rows, format: 'JSONEachRow' });
}
