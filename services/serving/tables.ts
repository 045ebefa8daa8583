/**
 * The `predictions` table (documented in docs/serving.md): one row per prediction served, the same
 * fields as the Avro record on `predictions.<model>`. Ordered by (model, entity_key, predicted_at,
 * request_id) — the monitor joins late outcomes by entity and time — and a ReplacingMergeTree on that
 * key, so a batch re-sent after a failed insert replaces rather than duplicates.
 */
export function predictionTablesDdl(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.predictions (
      request_id String,
      model LowCardinality(String),
      model_version UInt32,
      entity_key String,
      features Map(String, Nullable(Float64)),
      feature_freshness_ms Map(String, Int64),
      output Array(Float64),
      label Nullable(String),
      predicted_at DateTime64(3, 'UTC'),
      latency_micros UInt64
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(predicted_at)
    ORDER BY (model, entity_key, predicted_at, request_id)`,
    // The challenger's output beside the champion's for each prediction of a shadow phase.
    `CREATE TABLE IF NOT EXISTS ${db}.shadow_predictions (
      request_id String,
      model LowCardinality(String),
      entity_key String,
      champion_version UInt32,
      challenger_version UInt32,
      champion_output Array(Float64),
      challenger_output Array(Float64),
      predicted_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(predicted_at)
    ORDER BY (model, challenger_version, predicted_at, entity_key, request_id)`,
  ];
}
