import { createWriteStream } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { AggregationOutput } from '../core/aggregation/index.ts';
import { LIFETIME } from '../core/windows/duration.ts';
import { type CompiledView, viewsByNameOrId } from '../features/index.ts';
import { runStatements } from '../platform/clickhouse.ts';
import { FlywheelError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { type PitEvent, pointInTimeValues } from './point-in-time.ts';
import { trainingTablesDdl } from './tables.ts';

/**
 * Builds point-in-time-correct training sets in ClickHouse (docs/training-sets.md).
 *
 * The spine (entity, ts, label) — an array or a query — is first stored in `training_spines` with a row
 * number. The builder then pages through it by entity hash (`cityHash64(entity) % pages = k`): per page
 * it loads the page's spine rows and the raw events of those entities from `<db>.events FINAL` (in
 * partition/offset order, restricted to the time range any of the page's windows can reach, plus each
 * entity's newest older event time for freshness/TTL), folds them with `pointInTimeValues` — the same
 * aggregator slots as the stream processor — and inserts the rows into `training_sets`. Memory is bounded
 * by the page, whatever the spine or event table size.
 */
export interface SpineRow {
  entity: string;
  /** Epoch ms. */
  ts: number;
  label?: string | number | boolean | null;
}

export interface BuildProgress {
  page: number;
  pages: number;
  rows: number;
  totalRows: number;
}

export interface BuildOptions {
  setId: string;
  /** Rows, or a query returning `entity`, `ts` (DateTime/DateTime64, or epoch ms as a number) and optionally `label`. */
  spine: readonly SpineRow[] | { query: string };
  /** View names (newest version) or ids (`name:vN`); feature columns are `<as given>.<feature>`. */
  views: readonly string[];
  onProgress?: (p: BuildProgress) => void;
  /** Target spine rows per page. Default 200,000. */
  pageRows?: number;
  /** Target raw events per page. Default 1,000,000. */
  pageEvents?: number;
}

export interface BuildResult {
  setId: string;
  rows: number;
  seconds: number;
  /** Raw events folded (over all pages and topics). */
  events: number;
  pages: number;
  /** Where the time went, in seconds. */
  timings: { spine: number; load: number; fold: number; write: number };
}

export interface TrainingSetBuilderDeps {
  clickhouse: ClickHouseClient;
  db: string;
  views: readonly CompiledView[];
  logger?: Logger;
}

const SET_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const INSERT_CHUNK = 100_000;

export function createTrainingSetBuilder(deps: TrainingSetBuilderDeps) {
  const { clickhouse, db } = deps;
  const byId = viewsByNameOrId(deps.views);
  const log = deps.logger?.child({ component: 'training' });
  let migrated: Promise<void> | undefined;
  const migrate = () => {
    migrated ??= runStatements(clickhouse, trainingTablesDdl(db));
    return migrated;
  };

  async function query<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
    try {
      const rs = await clickhouse.query({ query: sql, query_params: params, format: 'JSONCompactEachRow' });
      return await rs.json<T>();
    } catch (err) {
      throw new FlywheelError(
        'FW_CLICKHOUSE_UNAVAILABLE',
        `training query failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  async function command(sql: string, params: Record<string, unknown> = {}): Promise<void> {
    try {
      await clickhouse.command({ query: sql, query_params: params });
    } catch (err) {
      throw new FlywheelError(
        'FW_CLICKHOUSE_UNAVAILABLE',
        `training command failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  function resolveView(name: string): CompiledView {
    const view = byId.get(name);
    if (!view)
      throw new FlywheelError(
        'FW_NOT_FOUND',
        `unknown feature view "${name}"; known: ${[...byId.keys()].join(', ')}`,
      );
    return view;
  }

  function checkSetId(setId: string): void {
    if (!SET_ID.test(setId))
      throw new FlywheelError(
        'FW_BAD_REQUEST',
        `set id must match ${SET_ID.source}, got ${JSON.stringify(setId)}`,
      );
  }

  async function storeSpine(setId: string, spine: BuildOptions['spine']): Promise<void> {
    for (const table of ['training_spines', 'training_sets']) {
      const [[n] = [0]] = await query<[number]>(
        `SELECT count() FROM ${db}.${table} WHERE set_id = {s:String}`,
        {
          s: setId,
        },
      );
      if (Number(n) > 0)
        await command(
          `ALTER TABLE ${db}.${table} DELETE WHERE set_id = {s:String} SETTINGS mutations_sync = 1`,
          {
            s: setId,
          },
        );
    }
    if (!('query' in spine) || Array.isArray(spine)) {
      const rows = spine as readonly SpineRow[];
      for (const [i, r] of rows.entries())
        if (typeof r.entity !== 'string' || !Number.isSafeInteger(r.ts))
          throw new FlywheelError(
            'FW_BAD_REQUEST',
            `spine row ${i}: needs a string entity and an integer ts (epoch ms)`,
          );
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        await clickhouse.insert({
          table: `${db}.training_spines`,
          values: rows.slice(i, i + INSERT_CHUNK).map((r, j) => ({
            set_id: setId,
            row: i + j,
            entity: r.entity,
            ts: r.ts,
            label: r.label === undefined || r.label === null ? null : String(r.label),
          })),
          format: 'JSONEachRow',
        });
      }
      return;
    }
    const sql = spine.query.trim().replace(/;+\s*$/, '');
    const columns = await query<[string, string]>(`DESCRIBE TABLE (${sql})`);
    const types = new Map(columns.map(([name, type]) => [name, type]));
    const tsType = types.get('ts');
    if (!types.has('entity') || !tsType)
      throw new FlywheelError(
        'FW_BAD_REQUEST',
        `the spine query must return columns entity and ts (and optionally label); it returns ${[...types.keys()].join(', ')}`,
      );
    const ts = /^(Nullable\()?(U?Int|Float|Decimal)/.test(tsType)
      ? `fromUnixTimestamp64Milli(toInt64(ts), 'UTC')`
      : `toDateTime64(ts, 3, 'UTC')`;
    const label = types.has('label') ? 'toNullable(toString(label))' : "CAST(NULL, 'Nullable(String)')";
    await command(
      `INSERT INTO ${db}.training_spines (set_id, row, entity, ts, label)
       SELECT {s:String}, rowNumberInAllBlocks(), toString(entity), ${ts}, ${label} FROM (${sql})`,
      { s: setId },
    );
  }

  async function build(opts: BuildOptions): Promise<BuildResult> {
    const started = performance.now();
    const { setId } = opts;
    checkSetId(setId);
    if (opts.views.length === 0)
      throw new FlywheelError('FW_BAD_REQUEST', 'a training set needs at least one view');
    const views = opts.views.map((name) => ({ name, view: resolveView(name) }));
    await migrate();
    const timings = { spine: 0, load: 0, fold: 0, write: 0 };
    let mark = performance.now();
    const lap = (k: keyof typeof timings) => {
      const now = performance.now();
      timings[k] += (now - mark) / 1000;
      mark = now;
    };
    await storeSpine(setId, opts.spine);
    const [[total = 0] = []] = await query<[number]>(
      `SELECT count() FROM ${db}.training_spines WHERE set_id = {s:String}`,
      { s: setId },
    );
    const totalRows = Number(total);
    // Views by source topic: one event load per topic serves all of its views.
    const topics = new Map<string, Array<{ name: string; view: CompiledView }>>();
    for (const v of views)
      (topics.get(v.view.source.topic) ?? topics.set(v.view.source.topic, []).get(v.view.source.topic)!).push(
        v,
      );
    const lookback = new Map<string, number>();
    for (const [topic, vs] of topics) {
      const windows = vs.flatMap((v) => v.view.features.map((f) => f.windowMs));
      lookback.set(topic, windows.includes(LIFETIME) ? Number.POSITIVE_INFINITY : Math.max(...windows));
    }
    const topicList = [...topics.keys()];
    // Only the fields the views fold are extracted (in ClickHouse), not whole payloads.
    const fieldsOf = new Map<string, string[]>();
    for (const [topic, vs] of topics)
      fieldsOf.set(topic, [
        ...new Set(vs.flatMap((v) => v.view.slots.flatMap((s) => (s.field === undefined ? [] : [s.field])))),
      ]);
    const [[eventCount = 0] = []] = await query<[number]>(
      `SELECT count() FROM ${db}.events WHERE topic IN {topics:Array(String)}`,
      { topics: topicList },
    );
    const pageRows = opts.pageRows ?? 200_000;
    const pageEvents = opts.pageEvents ?? 1_000_000;
    const pages = Math.max(1, Math.ceil(totalRows / pageRows), Math.ceil(Number(eventCount) / pageEvents));
    lap('spine');
    log?.info('training set planned', { setId, rows: totalRows, pages, views: opts.views });

    let rows = 0;
    let events = 0;
    for (let page = 0; page < pages; page++) {
      const pageFilter = `cityHash64(entity) % {n:UInt32} = {k:UInt32}`;
      const params = { s: setId, n: pages, k: page };
      const spine = await query<[number | string, string, number | string, string | null]>(
        `SELECT row, entity, toUnixTimestamp64Milli(ts) AS t, label FROM ${db}.training_spines
         WHERE set_id = {s:String} AND ${pageFilter} ORDER BY entity, t, row`,
        params,
      );
      if (spine.length === 0) continue;
      let minT = Number.POSITIVE_INFINITY;
      let maxT = Number.NEGATIVE_INFINITY;
      for (const r of spine) {
        const t = Number(r[2]);
        if (t < minT) minT = t;
        if (t > maxT) maxT = t;
      }
      const spineEntities = `entity IN (SELECT entity FROM ${db}.training_spines WHERE set_id = {s:String} AND ${pageFilter})`;
      const loaded = new Map<string, { events: Map<string, PitEvent[]>; prior: Map<string, number> }>();
      for (const topic of topicList) {
        const back = lookback.get(topic)!;
        const from = Number.isFinite(back) ? Math.max(0, minT - back) : 0;
        const fields = fieldsOf.get(topic)!;
        const fieldParams = Object.fromEntries(fields.map((f, i) => [`f${i}`, f]));
        const rowsOf = await query<[string, number | string, string[]]>(
          `SELECT entity, toUnixTimestamp64Milli(event_time) AS t, [${fieldsOf
            .get(topic)!
            .map((_, i) => `JSONExtractRaw(payload, {f${i}:String})`)
            .join(', ')}] AS raw FROM ${db}.events FINAL
           WHERE topic = {topic:String} AND ${pageFilter} AND ${spineEntities}
             AND event_time >= fromUnixTimestamp64Milli({from:Int64}) AND event_time <= fromUnixTimestamp64Milli({to:Int64})
           ORDER BY entity, partition, offset`,
          { ...params, ...fieldParams, topic, from, to: maxT },
        );
        const byEntity = new Map<string, PitEvent[]>();
        for (const [entity, t, raw] of rowsOf) {
          let list = byEntity.get(entity);
          if (!list) {
            list = [];
            byEntity.set(entity, list);
          }
          list.push({ eventTime: Number(t), record: parseFields(fields, raw) });
        }
        events += rowsOf.length;
        const prior = new Map<string, number>();
        if (from > 0) {
          const older = await query<[string, number | string]>(
            `SELECT entity, toUnixTimestamp64Milli(max(event_time)) FROM ${db}.events
             WHERE topic = {topic:String} AND ${pageFilter} AND ${spineEntities}
               AND event_time < fromUnixTimestamp64Milli({from:Int64})
             GROUP BY entity`,
            { ...params, topic, from },
          );
          for (const [entity, t] of older) prior.set(entity, Number(t));
        }
        loaded.set(topic, { events: byEntity, prior });
      }
      lap('load');

      const out: Array<Record<string, unknown>> = [];
      for (let i = 0; i < spine.length; ) {
        const entity = spine[i]![1];
        let j = i;
        while (j < spine.length && spine[j]![1] === entity) j++;
        const group = spine.slice(i, j);
        const times = group.map((r) => Number(r[2]));
        const perView = views.map(({ name, view }) => {
          const src = loaded.get(view.source.topic)!;
          const prior = src.prior.get(entity);
          return {
            name,
            values: pointInTimeValues(
              view,
              src.events.get(entity) ?? [],
              times,
              prior === undefined ? {} : { priorLastEventTime: prior },
            ),
          };
        });
        for (const [g, r] of group.entries()) {
          const features: Record<string, number> = {};
          const statuses: Record<string, string> = {};
          const values: Record<string, AggregationOutput | null | string> = {};
          for (const { name, values: vv } of perView) {
            const v = vv[g]!;
            statuses[name] = v.status;
            for (const [f, value] of Object.entries(v.features)) {
              const key = `${name}.${f}`;
              values[key] = value;
              if (typeof value === 'number') features[key] = value;
              else if (Array.isArray(value)) {
                const qs = views.find((x) => x.name === name)?.view;
                const feature = qs?.features.find((x) => x.name === f);
                const slot = feature ? qs?.slots[feature.slot] : undefined;
                for (const [qi, q] of (slot?.quantiles ?? []).entries())
                  features[`${key}.q${q}`] = value[qi]!;
              }
            }
            values[`${name}.__status`] = v.status;
          }
          out.push({
            set_id: setId,
            row: Number(r[0]),
            entity,
            ts: times[g],
            label: r[3],
            features,
            statuses,
            values_json: JSON.stringify(values),
          });
        }
        i = j;
      }
      lap('fold');
      for (let c = 0; c < out.length; c += INSERT_CHUNK)
        await clickhouse.insert({
          table: `${db}.training_sets`,
          values: out.slice(c, c + INSERT_CHUNK),
          format: 'JSONEachRow',
        });
      lap('write');
      rows += out.length;
      opts.onProgress?.({ page, pages, rows, totalRows });
    }
    const seconds = (performance.now() - started) / 1000;
    log?.info('training set built', { setId, rows, events, seconds });
    return { setId, rows, seconds, events, pages, timings };
  }

  /** Rows of a set in spine order as JSON Lines: {entity, ts (epoch ms), label, "<view>.<feature>": value…, "<view>.__status"}. */
  async function exportJsonl(setId: string, path: string, chunkRows = 100_000): Promise<number> {
    checkSetId(setId);
    await migrate();
    const [[maxRow = null] = []] = await query<[number | string | null]>(
      `SELECT max(row) FROM ${db}.training_sets WHERE set_id = {s:String} HAVING count() > 0`,
      { s: setId },
    );
    const out = createWriteStream(path);
    const write = (text: string) =>
      new Promise<void>((ok, fail) => out.write(text, (err) => (err ? fail(err) : ok())));
    let written = 0;
    try {
      const last = maxRow === null ? -1 : Number(maxRow);
      for (let from = 0; from <= last; from += chunkRows) {
        const page = await query<[string, number | string, string | null, string]>(
          `SELECT entity, toUnixTimestamp64Milli(ts), label, values_json FROM ${db}.training_sets FINAL
           WHERE set_id = {s:String} AND row >= {a:UInt64} AND row < {b:UInt64} ORDER BY row`,
          { s: setId, a: from, b: from + chunkRows },
        );
        let text = '';
        for (const [entity, ts, label, json] of page)
          text += `{"entity":${JSON.stringify(entity)},"ts":${Number(ts)},"label":${JSON.stringify(label)}${json.length > 2 ? `,${json.slice(1, -1)}` : ''}}\n`;
        await write(text);
        written += page.length;
      }
    } finally {
      await new Promise<void>((ok) => out.end(ok));
    }
    return written;
  }

  /**
   * Parquet through ClickHouse's file() table function: the file is written by the ClickHouse process,
   * so this works with embedded chDB (same machine) and, with a server, writes into its user_files.
   */
  async function exportParquet(setId: string, path: string): Promise<void> {
    checkSetId(setId);
    await migrate();
    const target = isAbsolute(path) ? path : resolve(path);
    if (/['\\]/.test(target))
      throw new FlywheelError('FW_BAD_REQUEST', `unsupported characters in path ${target}`);
    await command(
      `INSERT INTO FUNCTION file('${target}', 'Parquet')
       SELECT entity, ts, label, features, statuses, values_json FROM ${db}.training_sets FINAL
       WHERE set_id = {s:String} ORDER BY row SETTINGS engine_file_truncate_on_insert = 1`,
      { s: setId },
    );
  }

  return { build, exportJsonl, exportParquet, migrate };
}

export type TrainingSetBuilder = ReturnType<typeof createTrainingSetBuilder>;

/** The record as the views see it: each field's raw JSON parsed (JSONExtractRaw gives '' when absent). */
function parseFields(fields: readonly string[], raw: readonly string[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [i, f] of fields.entries()) {
    const text = raw[i] ?? '';
    if (text === '') continue;
    try {
      record[f] = JSON.parse(text);
    } catch (err) {
      throw new FlywheelError('FW_DECODE_FAILED', `an events row has a malformed ${f} in its payload`, {
        cause: err,
      });
    }
  }
  return record;
}
