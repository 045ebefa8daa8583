/**
 * The `consistency_reports` table (documented in docs/consistency.md): one row per monitor run.
 * ReplacingMergeTree on run_id, so a retried insert of the same run replaces rather than duplicates.
 */
export function consistencyTablesDdl(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.consistency_reports (
      run_id String,
      started_at DateTime64(3, 'UTC'),
      finished_at DateTime64(3, 'UTC'),
      since Nullable(DateTime64(3, 'UTC')),
      model String,
      sampled UInt32,
      compared UInt64,
      mismatches UInt64,
      mismatch_rate Float64,
      compared_exact UInt64,
      mismatches_exact UInt64,
      skipped UInt64,
      compared_by_view Map(String, UInt64),
      mismatches_by_view Map(String, UInt64),
      examples_json String
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(started_at)
    ORDER BY (started_at, run_id)`,
  ];
}
