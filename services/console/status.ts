import type { ClickHouseClient } from '@clickhouse/client';
import type { CompiledView, FeaturesService, OnlineReader } from '../features/index.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';

/**
 * What the console shows, gathered from the running modules: throughput and outcomes from the metrics,
 * per-partition checkpoints (watermark state, late and invalid counts) from Redis, a live feature
 * vector of a recent entity, and row counts of the analysts' tables.
 */
export function createStatusProvider(deps: {
  metrics: MetricsRegistry;
  features: FeaturesService;
  reader: OnlineReader;
  views: readonly CompiledView[];
  clickhouse: ClickHouseClient;
  db: string;
  recentEntity: () => string | undefined;
}) {
  let last = { at: Date.now(), accepted: 0 };
  return async function status() {
    const accepted = deps.metrics
      .counter('flywheel_features_events_total', '')
      .get({ topic: deps.views[0]!.source.topic, outcome: 'accepted' });
    const now = Date.now();
    const rate = ((accepted - last.accepted) * 1000) / Math.max(1, now - last.at);
    last = { at: now, accepted };
    const topics = [...new Set(deps.views.map((v) => v.source.topic))];
    const checkpoints = Object.fromEntries(
      await Promise.all(topics.map(async (t) => [t, await deps.features.checkpoints(t)] as const)),
    );
    const entity = deps.recentEntity();
    const vector = entity
      ? (
          await deps.reader.read(
            [entity],
            deps.views.map((v) => v.id),
          )
        )[0]
      : undefined;
    const counts = await (
      await deps.clickhouse.query({
        query: `SELECT (SELECT count() FROM ${deps.db}.events) AS events, (SELECT count() FROM ${deps.db}.feature_tiles) AS tiles`,
        format: 'JSONEachRow',
      })
    ).json<{ events: number; tiles: number }>();
    return {
      at: new Date(now).toISOString(),
      features: { accepted, events_per_s: Math.round(rate), checkpoints },
      sample: vector ?? null,
      clickhouse: counts[0] ?? null,
    };
  };
}

const READ_ONLY = /^\s*(select|with|show|describe|desc|explain)\b/i;
/**
 * Refused anywhere in the text: reads that reach outside the store (INTO OUTFILE, file(), the network,
 * other engines) and SETTINGS clauses. No settings are passed either: the embedded store keeps settings
 * for its whole session, so a per-query `readonly` would turn every service's writes read-only.
 */
const REFUSED =
  /\binto\s+outfile\b|\bsettings\b|\b(file|url|s3|hdfs|remote|remoteSecure|mysql|postgresql|executable|input)\s*\(/i;

/** The read-only query endpoint for analysts: one reading statement, at most `maxRows` rows back. */
export async function runReadOnlyQuery(
  clickhouse: ClickHouseClient,
  sql: string,
  maxRows = 10_000,
): Promise<unknown[]> {
  const statement = typeof sql === 'string' ? sql.trim().replace(/;\s*$/, '') : '';
  if (!READ_ONLY.test(statement) || REFUSED.test(statement) || statement.includes(';')) {
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      'only one reading statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) without SETTINGS, files or remote sources is allowed',
    );
  }
  // SELECTs are wrapped so the row cap holds whatever the query asks; the others return small results.
  const query = /^\s*(select|with)\b/i.test(statement)
    ? `SELECT * FROM (${statement}) LIMIT ${maxRows}`
    : statement;
  const rs = await clickhouse.query({ query, format: 'JSONEachRow' });
  return rs.json();
}
