/**
 * The model registry's ClickHouse tables (documented for analysts in docs/model-registry.md). Built to
 * grow with continuous training: metrics and lineage columns exist from day one, and aliases are an
 * append-only history whose newest row (argMax by set_at) is the alias's current version.
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
    `CREATE TABLE IF NOT EXISTS ${db}.model_aliases (
      model LowCardinality(String),
      alias LowCardinality(String),
      version UInt32,
      set_at DateTime64(6, 'UTC'),
      reason String DEFAULT '',
      set_by String DEFAULT ''
    ) ENGINE = MergeTree
    ORDER BY (model, alias, set_at)`,
  ];
}
