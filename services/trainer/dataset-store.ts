import type { ClickHouseClient } from '@clickhouse/client';
import { clickHouseTime } from '../platform/clickhouse.ts';
import { DatasetError, type TrainingData } from './core/dataset.ts';
import type { TrainTask } from './core/matrix.ts';

/**
 * The trainer's reads of the offline store: the spine of a run (labels the monitor joined to their
 * predictions), a built training set as a TrainingData, and the source offsets its data is complete to.
 */

/**
 * The labelled predictions of the window, as known when the run was requested: a label that lands later
 * belongs to the next run, so re-running the same run reads the same rows (and trains the same model).
 * Ordered, so the set's row numbers — and everything after — are the same on every run.
 */
export function labelSpineQuery(
  db: string,
  run: { model: string; start: number; end: number; knownAt: number },
): string {
  const t = (ms: number) => `toDateTime64('${clickHouseTime(ms)}', 3, 'UTC')`;
  const model = run.model.replace(/[^A-Za-z0-9_-]/g, '');
  return `SELECT entity_key AS entity, predicted_at AS ts, label FROM ${db}.prediction_labels FINAL
    WHERE model = '${model}' AND predicted_at >= ${t(run.start)} AND predicted_at < ${t(run.end)}
      AND labelled_at <= ${t(run.knownAt)}
    ORDER BY predicted_at, entity_key, request_id`;
}

/** Most rows a run trains on: the matrix is held in memory (rows × inputs × 4 bytes, twice). */
export const MAX_TRAINING_ROWS = 5_000_000;

/**
 * A built set's rows (optionally only those at or after `from`) in time order, imputed as serving
 * imputes. A row without a label is left out: the spine may hold outcomes whose label was null.
 */
export async function loadTrainingData(
  clickhouse: ClickHouseClient,
  db: string,
  opts: { setId: string; features: readonly string[]; task: TrainTask; from?: number; maxRows?: number },
): Promise<TrainingData> {
  const maxRows = opts.maxRows ?? MAX_TRAINING_ROWS;
  const rs = await clickhouse.query({
    query: `SELECT toUnixTimestamp64Milli(ts) AS t, label, features FROM ${db}.training_sets FINAL
      WHERE set_id = {s:String} AND label IS NOT NULL AND ts >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
      ORDER BY ts, row LIMIT {limit:UInt64}`,
    query_params: { s: opts.setId, from: opts.from ?? 0, limit: maxRows + 1 },
    format: 'JSONCompactEachRow',
  });
  const rows = await rs.json<[number | string, string, Record<string, number>]>();
  if (rows.length > maxRows)
    throw new DatasetError(
      `training set ${opts.setId} has more than ${maxRows} rows; shorten training.window`,
    );
  return toTrainingData(rows, opts.features, opts.task);
}

function toTrainingData(
  rows: readonly [number | string, string, Record<string, number>][],
  features: readonly string[],
  task: TrainTask,
): TrainingData {
  const cols = features.length;
  const ts = new Float64Array(rows.length);
  const x = new Float32Array(rows.length * cols);
  const missing = new Uint8Array(rows.length * cols);
  const y = new Float64Array(rows.length);
  rows.forEach(([t, label, values], r) => {
    ts[r] = Number(t);
    y[r] = labelNumber(label, task);
    for (let c = 0; c < cols; c++) {
      const v = values[features[c]!];
      if (typeof v === 'number' && Number.isFinite(v)) x[r * cols + c] = v;
      else missing[r * cols + c] = 1;
    }
  });
  return { features, rows: rows.length, ts, x, missing, y };
}

/** Labels as the spine stores them (text): 0/1 or true/false for a classifier, a number otherwise. */
function labelNumber(label: string, task: TrainTask): number {
  if (label === 'true') return 1;
  if (label === 'false') return 0;
  const n = Number(label);
  if (label.trim() === '' || !Number.isFinite(n) || (task === 'binary_classification' && n !== 0 && n !== 1))
    throw new DatasetError(
      `label ${JSON.stringify(label)} is not ${task === 'regression' ? 'a number' : '0 or 1'}`,
    );
  return n;
}

/** The next offset of every partition of the topics, over the events before `end`: what the data is complete to. */
export async function eventOffsets(
  clickhouse: ClickHouseClient,
  db: string,
  topics: readonly string[],
  end: number,
): Promise<Record<string, number>> {
  if (topics.length === 0) return {};
  const rs = await clickhouse.query({
    query: `SELECT topic, partition, max(offset) + 1 AS next FROM ${db}.events
      WHERE topic IN {topics:Array(String)} AND event_time < fromUnixTimestamp64Milli({end:Int64}, 'UTC')
      GROUP BY topic, partition ORDER BY topic, partition`,
    query_params: { topics, end },
    format: 'JSONEachRow',
  });
  const out: Record<string, number> = {};
  for (const r of await rs.json<{ topic: string; partition: number; next: number | string }>())
    out[`${r.topic}:${r.partition}`] = Number(r.next);
  return out;
}
