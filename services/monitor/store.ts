/**
 * The monitor's ClickHouse adapter: reference profiles in, window reports, drift reports, realised
 * performance and decisions out (tables.ts). Rows carry deterministic keys, so writing one again after
 * a crash replaces it.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { clickHouseTime, runStatements } from '../platform/clickhouse.ts';
import { registryTablesDdl } from '../registry/index.ts';
import { testedFeatures } from './core/compare.ts';
import type { Decision } from './core/controller.ts';
import type { JoinedLabel, RealisedReport, ReferenceProfile, WindowReport } from './core/monitor-core.ts';
import { type ReferenceJson, referenceFromJson, referenceToJson } from './core/reference.ts';
import { monitorTablesDdl } from './tables.ts';

/** Deterministic id of one feature's report for one window (the ml.drift report_id). */
export function driftReportId(model: string, feature: string, windowStart: number): string {
  return `${model}/${feature}/${windowStart}`;
}

export function createMonitorStore(clickhouse: ClickHouseClient, db: string) {
  const REFERENCE_CHOICE = `FROM ${db}.model_reference_profiles FINAL
    WHERE model = {m:String}
    ORDER BY (version = (SELECT argMax(version, set_at) FROM ${db}.model_aliases
                         WHERE model = {m:String} AND alias = 'champion')) DESC, version DESC
    LIMIT 1`;
  const query = async <T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> =>
    (await clickhouse.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<T>();
  const insert = (table: string, values: object[]) =>
    values.length === 0
      ? Promise.resolve()
      : clickhouse.insert({ table: `${db}.${table}`, values, format: 'JSONEachRow' }).then(() => undefined);

  return {
    // The registry's tables too: a reference follows the model's champion alias.
    migrate: () => runStatements(clickhouse, [...registryTablesDdl(db), ...monitorTablesDdl(db)]),

    async saveReference(r: ReferenceProfile): Promise<void> {
      await insert('model_reference_profiles', [
        {
          model: r.model,
          version: r.version,
          reference_id: r.id,
          rows: r.rows,
          metrics: r.metrics,
          profile: JSON.stringify(referenceToJson(r)),
          created_at: clickHouseTime(Date.now()),
        },
      ]);
    },

    /** Labels joined to their predictions (the trainer's spine). */
    async saveLabels(model: string, labels: readonly JoinedLabel[]): Promise<void> {
      await insert(
        'prediction_labels',
        labels.map((l) => ({
          model,
          entity_key: l.entity,
          predicted_at: clickHouseTime(l.predictedAt),
          request_id: l.requestId,
          label: l.label,
          labelled_at: clickHouseTime(l.labelledAt),
        })),
      );
    },

    /** Which reference loadReference would give, as `<version>/<reference id>`: cheap, no profile read. */
    async referenceKey(model: string): Promise<string | null> {
      const rows = await query<{ key: string }>(
        `SELECT concat(toString(version), '/', reference_id) AS key ${REFERENCE_CHOICE}`,
        { m: model },
      );
      return rows[0]?.key ?? null;
    },

    /** The champion's reference when the model has a champion with one, else the newest version's. */
    async loadReference(model: string): Promise<ReferenceProfile | null> {
      const rows = await query<{ profile: string }>(`SELECT profile ${REFERENCE_CHOICE}`, { m: model });
      return rows[0] ? referenceFromJson(JSON.parse(rows[0].profile) as ReferenceJson) : null;
    },

    async saveWindow(r: WindowReport, metric: string, at: number): Promise<void> {
      const drift = r.drift;
      await insert('monitor_windows', [
        {
          model: r.model,
          window_start: clickHouseTime(r.windowStart),
          window_end: clickHouseTime(r.windowEnd),
          model_version: r.version,
          reference_id: r.referenceId,
          rows: r.rows,
          tested: drift ? 1 : 0,
          dataset_drift: drift?.inputs.datasetDrift ? 1 : 0,
          drifted_features: drift ? drift.inputs.features.filter((f) => f.drifted).map((f) => f.feature) : [],
          drifted_share: drift?.inputs.driftedShare ?? 0,
          prediction_drift: drift?.prediction ? (drift.prediction.drifted ? 1 : 0) : null,
          metric,
          estimated: r.estimated?.value ?? null,
          realised_partial: r.realisedPartial?.value ?? null,
          labelled: r.labelled,
          missing: r.missing,
          updated_at: clickHouseTime(at),
        },
      ]);
      if (!drift) return;
      await insert(
        'drift_reports',
        testedFeatures(drift).map((f) => ({
          report_id: driftReportId(r.model, f.feature, r.windowStart),
          model: r.model,
          feature: f.feature,
          test: f.test,
          selection: f.selection,
          statistic: f.statistic,
          p_value: f.pValue,
          adjusted_p_value: f.adjustedPValue,
          effect_size: f.effectSize,
          threshold: f.threshold,
          effect_floor: f.effectFloor,
          drifted: f.drifted ? 1 : 0,
          reason: f.reason,
          reference_id: r.referenceId,
          window_start: clickHouseTime(r.windowStart),
          window_end: clickHouseTime(r.windowEnd),
          reference_size: f.referenceSize,
          live_size: f.currentSize,
          created_at: clickHouseTime(at),
        })),
      );
    },

    saveRealised: (r: RealisedReport, metric: string, at: number) =>
      insert('monitor_performance', [
        {
          model: r.model,
          window_start: clickHouseTime(r.windowStart),
          window_end: clickHouseTime(r.windowEnd),
          metric,
          realised: r.reading?.value ?? null,
          labelled: r.labelled,
          rows: r.rows,
          finalised_at: clickHouseTime(at),
        },
      ]),

    saveDecision: (model: string, d: Decision, at: number) =>
      insert('retrain_decisions', [
        {
          model,
          decided_at: clickHouseTime(at),
          trigger: d.trigger.kind,
          window_end: clickHouseTime(d.trigger.windowEnd),
          action: d.action,
          reason: d.reason,
          run_id: d.action === 'retrain' ? d.request.runId : null,
          detail: d.detail,
          evidence: JSON.stringify(d.action === 'retrain' ? d.request.evidence : d.progress),
        },
      ]),

    /** What `flywheel drift report` and GET /v1/monitor/:model/report show. */
    async report(model: string, windows = 24) {
      const latest = await query<Record<string, unknown>>(
        `SELECT w.*, p.realised, p.labelled AS final_labelled
         FROM (SELECT * FROM ${db}.monitor_windows FINAL WHERE model = {m:String}
               ORDER BY window_start DESC LIMIT {n:UInt32}) AS w
         LEFT JOIN (SELECT * FROM ${db}.monitor_performance FINAL WHERE model = {m:String}) AS p
           ON p.window_start = w.window_start
         ORDER BY w.window_start DESC`,
        { m: model, n: windows },
      );
      const features = await query<Record<string, unknown>>(
        `SELECT feature, window_start, test, statistic, adjusted_p_value, effect_size, threshold, effect_floor,
                drifted, reason, live_size
         FROM ${db}.drift_reports FINAL
         WHERE model = {m:String}
           AND window_start = (SELECT max(window_start) FROM ${db}.drift_reports WHERE model = {m:String})
         ORDER BY drifted DESC, feature`,
        { m: model },
      );
      const decisions = await query<Record<string, unknown>>(
        `SELECT decided_at, trigger, window_end, action, reason, run_id, detail
         FROM ${db}.retrain_decisions FINAL WHERE model = {m:String}
         ORDER BY decided_at DESC LIMIT {n:UInt32}`,
        { m: model, n: windows },
      );
      return { model, windows: latest, features, decisions };
    },
  };
}

export type MonitorStore = ReturnType<typeof createMonitorStore>;
