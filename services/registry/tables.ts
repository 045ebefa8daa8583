/**
 * The model registry's and metadata store's ClickHouse tables (documented for analysts in
 * docs/model-registry.md). Aliases are an append-only history whose newest row (argMax by set_at) is the
 * alias's current version; pipeline runs are an append-only log of every step a run took.
 *
 * Grown, never replaced: columns added later come as `ADD COLUMN IF NOT EXISTS`, so a store created by
 * an older Flywheel is brought forward in place and its rows read the new columns' defaults.
 */
export function registryTablesDdl(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    // (model, version) identifies a version: re-inserting the same row after a crash replaces it.
    `CREATE TABLE IF NOT EXISTS ${db}.model_versions (
      model LowCardinality(String),
      version UInt32,
      artifact_sha256 String,
      artifact_uri String,
      format LowCardinality(String) DEFAULT 'onnx',
      input_features Array(String),
      output_names Array(String),
      metrics Map(String, Float64),
      lineage String DEFAULT '{}',
      created_at DateTime64(3, 'UTC') DEFAULT now64(3),
      created_by String DEFAULT ''
    ) ENGINE = ReplacingMergeTree
    ORDER BY (model, version)`,
    ...addColumns(`${db}.model_versions`, [
      // The metadata store (paper's C7): what produced the version, enough to rebuild it.
      "run_id String DEFAULT ''",
      "algorithm LowCardinality(String) DEFAULT ''",
      "parameters String DEFAULT '{}'",
      'feature_views Array(String) DEFAULT []',
      "feature_definition_version String DEFAULT ''",
      "dataset_window_start Nullable(DateTime64(3, 'UTC'))",
      "dataset_window_end Nullable(DateTime64(3, 'UTC'))",
      'dataset_rows Map(String, UInt64) DEFAULT map()',
      'source_offsets Map(String, UInt64) DEFAULT map()',
      "code_version String DEFAULT ''",
      "reference_id String DEFAULT ''",
    ]),
    `CREATE TABLE IF NOT EXISTS ${db}.model_aliases (
      model LowCardinality(String),
      alias LowCardinality(String),
      version UInt32,
      set_at DateTime64(6, 'UTC'),
      reason String DEFAULT '',
      set_by String DEFAULT ''
    ) ENGINE = MergeTree
    ORDER BY (model, alias, set_at)`,
    ...addColumns(`${db}.model_aliases`, ['previous_version Nullable(UInt32)', "run_id String DEFAULT ''"]),
    // One row per step of a pipeline run (requested, training, trained, failed, gated, promoted, …):
    // the run's state is its newest row; the rows before it are its history with their evidence.
    `CREATE TABLE IF NOT EXISTS ${db}.pipeline_runs (
      run_id String,
      model LowCardinality(String),
      state LowCardinality(String),
      at DateTime64(6, 'UTC'),
      version Nullable(UInt32),
      actor LowCardinality(String) DEFAULT '',
      details String DEFAULT '{}'
    ) ENGINE = MergeTree
    ORDER BY (model, run_id, at)`,
  ];
}

function addColumns(table: string, columns: readonly string[]): string[] {
  return columns.map((c) => `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${c}`);
}
