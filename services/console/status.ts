import type { ClickHouseClient } from '@clickhouse/client';
import type { CompiledView } from '../features/definition.ts';
import type { OnlineReader } from '../features/online-reader.ts';
import type { FeaturesService } from '../features/service.ts';
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
/** Reads that reach outside the store: files (INTO OUTFILE, file()), the network and other engines. */
const OUTSIDE =
  /\binto\s+outfile\b|\b(file|url|s3|hdfs|remote|remoteSecure|mysql|postgresql|executable)\s*\(/i;

/** The read-only query endpoint for analysts: one statement, read-only settings, bounded result. */
export async function runReadOnlyQuery(
  clickhouse: ClickHouseClient,
  sql: string,
  maxRows = 10_000,
): Promise<unknown[]> {
  if (
    typeof sql !== 'string' ||
    !READ_ONLY.test(sql) ||
    OUTSIDE.test(sql) ||
    sql.replace(/;\s*$/, '').includes(';')
  ) {
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      'only one read-only statement (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) is allowed',
    );
  }
  const rs = await clickhouse.query({
    query: sql.replace(/;\s*$/, ''),
    format: 'JSONEachRow',
    clickhouse_settings: { readonly: '2', max_result_rows: String(maxRows), result_overflow_mode: 'break' },
  });
  return rs.json();
}
