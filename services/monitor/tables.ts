/**
 * The monitor's ClickHouse tables (documented for analysts in docs/monitor.md). Every row has a
 * deterministic key, and every table is a ReplacingMergeTree on it, so a restarted monitor that writes a
 * row again replaces it rather than duplicating it.
 */
export function monitorTablesDdl(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    // One row per model version: the profiles its drift is measured against.
    `CREATE TABLE IF NOT EXISTS ${db}.model_reference_profiles (
      model LowCardinality(String),
      version UInt32,
      reference_id String,
      rows UInt64,
      metrics Map(String, Float64),
      profile String,
      created_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(created_at)
    ORDER BY (model, version)`,
    // One row per closed window, written when it closes: drift, the estimate, the labels landed so far.
    `CREATE TABLE IF NOT EXISTS ${db}.monitor_windows (
      model LowCardinality(String),
      window_start DateTime64(3, 'UTC'),
      window_end DateTime64(3, 'UTC'),
      model_version Nullable(UInt32),
      reference_id String,
      rows UInt64,
      tested UInt8,
      dataset_drift UInt8,
      drifted_features Array(String),
      drifted_share Float64,
      prediction_drift Nullable(UInt8),
      metric LowCardinality(String),
      estimated Nullable(Float64),
      realised_partial Nullable(Float64),
      labelled UInt64,
      missing Map(String, UInt64),
      updated_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(updated_at)
    ORDER BY (model, window_start)`,
    // One row per window once its label delay has passed: the realised performance, final.
    `CREATE TABLE IF NOT EXISTS ${db}.monitor_performance (
      model LowCardinality(String),
      window_start DateTime64(3, 'UTC'),
      window_end DateTime64(3, 'UTC'),
      metric LowCardinality(String),
      realised Nullable(Float64),
      labelled UInt64,
      rows UInt64,
      finalised_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(finalised_at)
    ORDER BY (model, window_start)`,
    // One row per label joined to its prediction: the trainer's spine (entity, the prediction's time,
    // the label). Written again on a replay; the key makes the copy replace the row.
    `CREATE TABLE IF NOT EXISTS ${db}.prediction_labels (
      model LowCardinality(String),
      entity_key String,
      predicted_at DateTime64(3, 'UTC'),
      request_id String,
      label Float64,
      labelled_at DateTime64(3, 'UTC'),
      written_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(written_at)
    PARTITION BY toYYYYMM(predicted_at)
    ORDER BY (model, predicted_at, entity_key, request_id)`,
    // One row per tested feature per window: the ml.drift report.
    `CREATE TABLE IF NOT EXISTS ${db}.drift_reports (
      report_id String,
      model LowCardinality(String),
      feature String,
      test LowCardinality(String),
      selection String,
      statistic Float64,
      p_value Nullable(Float64),
      adjusted_p_value Nullable(Float64),
      effect_size Float64,
      threshold Float64,
      effect_floor Float64,
      drifted UInt8,
      reason LowCardinality(String),
      reference_id String,
      window_start DateTime64(3, 'UTC'),
      window_end DateTime64(3, 'UTC'),
      reference_size UInt64,
      live_size UInt64,
      created_at DateTime64(3, 'UTC')
    ) ENGINE = ReplacingMergeTree(created_at)
    ORDER BY (model, window_start, feature)`,
    // Every decision of the retrain controller, retrain or hold, with its reason and evidence.
    `CREATE TABLE IF NOT EXISTS ${db}.retrain_decisions (
      model LowCardinality(String),
      decided_at DateTime64(3, 'UTC'),
      trigger LowCardinality(String),
      window_end DateTime64(3, 'UTC'),
      action LowCardinality(String),
      reason LowCardinality(String),
      run_id Nullable(String),
      detail String,
      evidence String
    ) ENGINE = ReplacingMergeTree(decided_at)
    ORDER BY (model, window_end, trigger)`,
  ];
}
