/**
 * The training-set tables (documented in docs/training-sets.md).
 *
 * `training_spines` holds each set's spine (entity, ts, label) with a row number, so that the builder can
 * page through any spine — an array or a query — by entity hash with bounded memory.
 * `training_sets` holds one row per spine row: numeric feature values in `features` (Map, for SQL),
 * every value (strings of `last`, quantile arrays, nulls) and the per-view status in `values_json` (the
 * exact form JSON Lines export writes). Both are ReplacingMergeTree on (set_id, row): rebuilding a set
 * under the same id replaces its rows.
 */
export function trainingTablesDdl(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.training_spines (
      set_id String,
      row UInt64,
      entity String,
      ts DateTime64(3, 'UTC'),
      label Nullable(String)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (set_id, row)`,
    `CREATE TABLE IF NOT EXISTS ${db}.training_sets (
      set_id String,
      row UInt64,
      entity String,
      ts DateTime64(3, 'UTC'),
      label Nullable(String),
      features Map(String, Float64),
      statuses Map(String, LowCardinality(String)),
      values_json String CODEC(ZSTD(1)),
      created_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(created_at)
    ORDER BY (set_id, row)`,
  ];
}
