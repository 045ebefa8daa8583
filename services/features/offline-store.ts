import type { ClickHouseClient } from '@clickhouse/client';
import { insertTsv, RowBuffer, runStatements, tsvField, tsvJson } from '../platform/clickhouse.ts';
import type { CompiledView } from './definition.ts';
import type { SourceEvent, TileWrite } from './engine/partition-state.ts';

/**
 * The offline store's feature tables (documented for analysts in docs/feature-tables.md). Both are
 * ReplacingMergeTree tables whose sorting key identifies a row exactly, so re-inserting after a crash
 * replaces rather than duplicates: `events` by (topic, entity, event_time, partition, offset), `feature_tiles`
 * by (view, entity, resolution, tile start) keeping the row with the highest last_offset. Read with
 * FINAL (or argMax) for exact results before background merges have run.
 */
export function featureTablesDdl(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.events (
      topic LowCardinality(String),
      partition UInt32,
      offset UInt64,
      entity String,
      event_time DateTime64(3, 'UTC'),
      payload String CODEC(ZSTD(1)),
      ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(event_time)
    ORDER BY (topic, entity, event_time, partition, offset)`,
    `CREATE TABLE IF NOT EXISTS ${db}.feature_tiles (
      view LowCardinality(String),
      view_version UInt32,
      entity String,
      resolution_ms UInt64,
      tile_start DateTime64(3, 'UTC'),
      state String CODEC(ZSTD(1)),
      last_offset UInt64,
      partition UInt32,
      updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(last_offset)
    ORDER BY (view, view_version, entity, resolution_ms, tile_start)`,
    `CREATE TABLE IF NOT EXISTS ${db}.feature_views (
      view LowCardinality(String),
      view_version UInt32,
      fingerprint String,
      definition String,
      registered_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree
    ORDER BY (view, view_version, fingerprint)`,
  ];
}

export function createOfflineStore(client: ClickHouseClient, db: string) {
  return {
    client,
    db,
    async migrate(): Promise<void> {
      await runStatements(client, featureTablesDdl(db));
    },
    async registerView(view: CompiledView): Promise<void> {
      await client.insert({
        table: `${db}.feature_views`,
        values: [
          {
            view: view.name,
            view_version: view.version,
            fingerprint: view.fingerprint,
            definition: JSON.stringify(view.definition),
          },
        ],
        format: 'JSONEachRow',
      });
    },
    /** Fingerprints already registered for a view version (a different one means the definition changed). */
    async fingerprints(view: CompiledView): Promise<string[]> {
      const rs = await client.query({
        query: `SELECT DISTINCT fingerprint FROM ${db}.feature_views WHERE view = {v:String} AND view_version = {n:UInt32}`,
        query_params: { v: view.name, n: view.version },
        format: 'JSONEachRow',
      });
      return (await rs.json<{ fingerprint: string }>()).map((r) => r.fingerprint);
    },
    async insertEvents(topic: string, partition: number, events: readonly SourceEvent[]): Promise<void> {
      const rows = new RowBuffer();
      renderEvents(rows, topic, partition, events);
      await insertTsv(client, `${db}.events`, EVENT_COLUMNS, rows);
    },
    async insertTiles(partition: number, tiles: readonly TileWrite[]): Promise<void> {
      const rows = new RowBuffer();
      renderTiles(rows, partition, tiles);
      await insertTsv(client, `${db}.feature_tiles`, TILE_COLUMNS, rows);
    },
    /** Rows already rendered with renderEvents / renderTiles, in one INSERT per table. */
    async insertRendered(events: RowBuffer, tiles: RowBuffer): Promise<void> {
      await Promise.all([
        insertTsv(client, `${db}.events`, EVENT_COLUMNS, events),
        insertTsv(client, `${db}.feature_tiles`, TILE_COLUMNS, tiles),
      ]);
    },
  };
}

/** Appends raw-event rows (TabSeparated, the `events` table's insert columns) to `rows`. */
export function renderEvents(
  rows: RowBuffer,
  topic: string,
  partition: number,
  events: readonly SourceEvent[],
): void {
  const t = tsvField(topic);
  for (const e of events) {
    rows.write(
      `${t}\t${partition}\t${e.offset}\t${tsvField(e.entity)}\t${dateTime64(e.eventTime)}\t${tsvJson(payloadJson(e.record))}\n`,
    );
  }
}

/** Appends tile rows (TabSeparated, the `feature_tiles` table's insert columns) to `rows`. */
export function renderTiles(rows: RowBuffer, partition: number, tiles: readonly TileWrite[]): void {
  for (const t of tiles) {
    rows.write(
      `${t.view.name}\t${t.view.version}\t${tsvField(t.entity)}\t${t.ref.res}\t${dateTime64(t.ref.start)}\t${tsvJson(t.encoded)}\t${t.lastOffset}\t${partition}\n`,
    );
  }
}

/**
 * Epoch ms as DateTime64(3) text: seconds with three decimals. ClickHouse reads a bare integer by its
 * digit count, so epoch ms had to have 13 digits (after September 2001): 12 digits failed the insert.
 */
export function dateTime64(ms: number): string {
  const seconds = Math.floor(ms / 1_000);
  return `${seconds}.${String(ms - seconds * 1_000).padStart(3, '0')}`;
}

const EVENT_COLUMNS = ['topic', 'partition', 'offset', 'entity', 'event_time', 'payload'];
const TILE_COLUMNS = [
  'view',
  'view_version',
  'entity',
  'resolution_ms',
  'tile_start',
  'state',
  'last_offset',
  'partition',
];

/** The record as JSON; 64-bit integers a decoder may give as bigint are written as strings. */
function payloadJson(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(record);
  } catch {
    return JSON.stringify(record, bigintSafe);
  }
}

export type OfflineStore = ReturnType<typeof createOfflineStore>;

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
