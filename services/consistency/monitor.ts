import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { type CompiledView, viewsByNameOrId } from '../features/index.ts';
import { clickHouseTime, runStatements } from '../platform/clickhouse.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import { createTrainingSetBuilder } from '../training/index.ts';
import {
  emptyTally,
  type LoggedPrediction,
  type Mismatch,
  type ResolvedInput,
  resolveInput,
  tallyPrediction,
} from './compare.ts';
import { consistencyTablesDdl } from './tables.ts';

/**
 * The consistency monitor (docs/consistency.md): samples logged predictions from ClickHouse
 * `predictions`, builds a point-in-time training set over their (entity_key, predicted_at) with the
 * training builder (the spine is the sample), compares every served input with its PIT value
 * (compare.ts), exports the mismatch rate as metrics and writes one row per run to
 * `consistency_reports`.
 */
export interface ConsistencyMonitorDeps {
  clickhouse: ClickHouseClient;
  db: string;
  views: readonly CompiledView[];
  metrics: MetricsRegistry;
  logger: Logger;
  /** Training-set id the monitor builds into (each run replaces the previous). Default `consistency-monitor`. */
  setId?: string;
}

export interface RunOptions {
  /** Only predictions with predicted_at ≥ this (epoch ms). */
  sinceMs?: number;
  /** How many logged predictions to sample (uniformly, `ORDER BY rand()`). */
  sample: number;
  /** Only this model's predictions. */
  model?: string;
}

export interface ConsistencyReport {
  runId: string;
  startedAt: number;
  finishedAt: number;
  sampled: number;
  /** Feature values compared (PIT status ok, or served where the PIT says not ok). */
  compared: number;
  mismatches: number;
  /** mismatches / compared (0 when nothing was compared). */
  mismatchRate: number;
  exact: { compared: number; mismatches: number };
  approx: { compared: number; mismatches: number };
  skipped: number;
  byView: Record<string, { compared: number; mismatches: number }>;
  /** The first 10 mismatches. */
  examples: Mismatch[];
}

const MAX_SAMPLE = 1_000_000;

export function createConsistencyMonitor(deps: ConsistencyMonitorDeps) {
  const { clickhouse, db, logger } = deps;
  const log = logger.child({ component: 'consistency' });
  const setId = deps.setId ?? 'consistency-monitor';
  const builder = createTrainingSetBuilder({ clickhouse, db, views: deps.views, logger: log });
  const byId = viewsByNameOrId(deps.views);
  const rateGauge = deps.metrics.gauge(
    'flywheel_consistency_mismatch_rate',
    'Served vs point-in-time feature mismatches / compared, in the last consistency run (overall and by view).',
  );
  const comparedTotal = deps.metrics.counter(
    'flywheel_consistency_compared_total',
    'Served feature values compared with their point-in-time values, by view.',
  );
  const mismatchTotal = deps.metrics.counter(
    'flywheel_consistency_mismatches_total',
    'Served feature values that differ from their point-in-time values, by view.',
  );
  let migrated: Promise<void> | undefined;
  const migrate = () => {
    migrated ??= runStatements(clickhouse, consistencyTablesDdl(db)).catch((err) => {
      migrated = undefined;
      throw err;
    });
    return migrated;
  };

  async function query<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
    try {
      const rs = await clickhouse.query({ query: sql, query_params: params, format: 'JSONEachRow' });
      return await rs.json<T>();
    } catch (err) {
      throw new FlywheelError(
        'FW_CLICKHOUSE_UNAVAILABLE',
        `consistency query failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async function sample(opts: RunOptions): Promise<LoggedPrediction[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { n: opts.sample };
    if (opts.sinceMs !== undefined) {
      where.push('predicted_at >= fromUnixTimestamp64Milli({since:Int64})');
      params.since = opts.sinceMs;
    }
    if (opts.model !== undefined) {
      where.push('model = {model:String}');
      params.model = opts.model;
    }
    const rows = await query<{
      request_id: string;
      entity_key: string;
      t: string | number;
      features: Record<string, number | null>;
    }>(
      `SELECT request_id, entity_key, toUnixTimestamp64Milli(predicted_at) AS t, features
       FROM ${db}.predictions FINAL ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY rand() LIMIT {n:UInt32}`,
      params,
    );
    return rows.map((r) => ({
      request_id: r.request_id,
      entity: r.entity_key,
      predicted_at: Number(r.t),
      features: r.features,
    }));
  }

  async function runOnce(opts: RunOptions): Promise<ConsistencyReport> {
    if (!Number.isInteger(opts.sample) || opts.sample < 1 || opts.sample > MAX_SAMPLE)
      throw new FlywheelError('FW_BAD_REQUEST', `sample must be an integer in [1, ${MAX_SAMPLE}]`);
    const startedAt = Date.now();
    const runId = randomUUID();
    await migrate();
    const predictions = await sample(opts);
    // The inputs named by the sample, resolved against the monitor's views.
    const inputs = new Map<string, ResolvedInput>();
    const unknown = new Set<string>();
    for (const p of predictions)
      for (const name of Object.keys(p.features)) {
        if (inputs.has(name) || unknown.has(name)) continue;
        const r = resolveInput(name, (v) => byId.get(v));
        if (r) inputs.set(name, r);
        else unknown.add(name);
      }
    if (unknown.size > 0)
      log.warn('logged inputs unknown to the monitor views are skipped', { inputs: [...unknown] });
    const viewParts = [...new Set([...inputs.values()].map((i) => i.view))];
    const tally = emptyTally();
    if (predictions.length > 0 && viewParts.length > 0) {
      await builder.build({
        setId,
        spine: predictions.map((p) => ({ entity: p.entity, ts: p.predicted_at })),
        views: viewParts,
      });
      const rows = await query<{ row: string | number; values_json: string }>(
        `SELECT row, values_json FROM ${db}.training_sets FINAL WHERE set_id = {s:String} ORDER BY row`,
        { s: setId },
      );
      const values = new Array<Record<string, unknown> | undefined>(predictions.length);
      for (const r of rows) values[Number(r.row)] = JSON.parse(r.values_json) as Record<string, unknown>;
      for (const [i, p] of predictions.entries()) {
        const v = values[i];
        if (!v) throw new FlywheelError('FW_INTERNAL', `training set ${setId} lacks spine row ${i}`);
        tallyPrediction(tally, p, v, inputs);
      }
    } else {
      for (const p of predictions) tally.skipped += Object.keys(p.features).length;
    }
    const finishedAt = Date.now();
    const report: ConsistencyReport = {
      runId,
      startedAt,
      finishedAt,
      sampled: predictions.length,
      compared: tally.compared,
      mismatches: tally.mismatches,
      mismatchRate: tally.compared === 0 ? 0 : tally.mismatches / tally.compared,
      exact: { ...tally.byExactness.exact },
      approx: { ...tally.byExactness.approx },
      skipped: tally.skipped,
      byView: Object.fromEntries(tally.byView),
      examples: tally.examples,
    };
    rateGauge.set(report.mismatchRate);
    for (const [view, v] of tally.byView) {
      comparedTotal.inc({ view }, v.compared);
      mismatchTotal.inc({ view }, v.mismatches);
      rateGauge.set(v.compared === 0 ? 0 : v.mismatches / v.compared, { view });
    }
    await write(report, opts);
    const level = report.mismatches > 0 ? 'warn' : 'info';
    log[level]('consistency run', {
      runId,
      sampled: report.sampled,
      compared: report.compared,
      mismatches: report.mismatches,
      mismatchRate: report.mismatchRate,
    });
    return report;
  }

  async function write(r: ConsistencyReport, opts: RunOptions): Promise<void> {
    const ts = clickHouseTime;
    const byView = Object.entries(r.byView);
    await clickhouse.insert({
      table: `${db}.consistency_reports`,
      format: 'JSONEachRow',
      values: [
        {
          run_id: r.runId,
          started_at: ts(r.startedAt),
          finished_at: ts(r.finishedAt),
          since: opts.sinceMs === undefined ? null : ts(opts.sinceMs),
          model: opts.model ?? '',
          sampled: r.sampled,
          compared: r.compared,
          mismatches: r.mismatches,
          mismatch_rate: r.mismatchRate,
          compared_exact: r.exact.compared,
          mismatches_exact: r.exact.mismatches,
          skipped: r.skipped,
          compared_by_view: Object.fromEntries(byView.map(([k, v]) => [k, v.compared])),
          mismatches_by_view: Object.fromEntries(byView.map(([k, v]) => [k, v.mismatches])),
          examples_json: JSON.stringify(r.examples),
        },
      ],
    });
  }

  /**
   * Runs `runOnce` now and then every `intervalMs` after the previous run ends (never two at once).
   * `opts.sinceMs` is ignored: each run samples the predictions logged since the previous run started
   * (the first one: since `intervalMs` ago). A failed run is logged and the loop goes on.
   */
  function runEvery(
    intervalMs: number,
    opts: Omit<RunOptions, 'sinceMs'>,
    onReport?: (r: ConsistencyReport) => void,
  ) {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;
    let since = Date.now() - intervalMs;
    const tick = () => {
      running = (async () => {
        const started = Date.now();
        try {
          const report = await runOnce({ ...opts, sinceMs: since });
          since = started;
          onReport?.(report);
        } catch (err) {
          log.error('consistency run failed', { err });
        }
      })().finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
    };
    tick();
    return {
      /** Stops the loop and waits for a run in progress. */
      async stop(): Promise<void> {
        stopped = true;
        clearTimeout(timer);
        await running;
      },
    };
  }

  return { runOnce, runEvery, migrate };
}

export type ConsistencyMonitor = ReturnType<typeof createConsistencyMonitor>;
