import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { ResolvedConfig } from './config.ts';
import { FlywheelError } from './errors.ts';

/**
 * ClickHouse through @clickhouse/client in both modes: a server over HTTP when CLICKHOUSE_URL is set,
 * else embedded chDB plugged in through the client's connection hook. libchdb binds one data folder per
 * process, so embedded clients are shared per process (all-in-one services use the same one).
 */
const embedded = new Map<string, Promise<ClickHouseClient>>();

type RawInsert = (params: {
  table: string;
  columns: readonly string[];
  values: Buffer;
  format: 'TabSeparated';
  settings?: Record<string, number>;
}) => Promise<unknown>;
/** chDB's zero-copy insert of embedded clients (a server client has none). */
const rawInserts = new WeakMap<ClickHouseClient, RawInsert>();

export async function createClickHouse(config: Readonly<ResolvedConfig>): Promise<ClickHouseClient> {
  if (config.clickhouse.url) {
    return createClient({
      url: config.clickhouse.url,
      clickhouse_settings: { async_insert: 0, output_format_json_quote_64bit_integers: 0 },
    });
  }
  const path = resolve(config.clickhouse.dataDir);
  let client = embedded.get(path);
  if (!client) {
    client = (async () => {
      mkdirSync(path, { recursive: true });
      // chdb is optional at run time for server deployments: load it only in embedded mode.
      const { createChdbConnection } = await import('chdb/connection');
      const connection = openEmbedded(createChdbConnection, path);
      const shared = createClient({ connection } as never);
      rawInserts.set(shared, (params) => connection.chdb.rawInsert(params));
      // Closing is owned by closeEmbeddedClickHouse: services sharing the client must not close it.
      return shared;
    })();
    embedded.set(path, client);
    // A failed open is not cached: the next caller (a start-up retry) tries again.
    client.catch(() => embedded.delete(path));
  }
  return client;
}

/**
 * libchdb binds one data folder per process: a second process on the folder (a `plan` beside a running
 * `flywheel start`) fails with a lock error, said here in Flywheel's words with the way out.
 */
function openEmbedded<C>(open: (opts: { path: string }) => C, path: string): C {
  try {
    return open({ path });
  } catch (err) {
    const message = (err as Error).message ?? '';
    if (/Cannot lock file|already running|CANNOT_OPEN_FILE|Failed to create connection/.test(message))
      throw new FlywheelError(
        'FW_CLICKHOUSE_UNAVAILABLE',
        `the embedded ClickHouse folder ${path} could not be opened: most often another Flywheel process holds it (a running \`flywheel start\`; libchdb allows one per folder); fix: stop that process first, or set CLICKHOUSE_URL to a ClickHouse server several processes can share`,
        { cause: err },
      );
    throw err;
  }
}

export async function closeEmbeddedClickHouse(): Promise<void> {
  const clients = [...embedded.values()];
  embedded.clear();
  await Promise.all(clients.map(async (c) => (await c).close()));
}

/** A time as ClickHouse's DateTime64(3) text takes it in JSON rows: `YYYY-MM-DD hh:mm:ss.sss` (UTC). */
export function clickHouseTime(at: number | Date): string {
  return new Date(at).toISOString().replace('T', ' ').replace('Z', '');
}

/** Runs a statement list (DDL) in order; ClickHouse's HTTP interface takes one statement per request. */
export async function runStatements(client: ClickHouseClient, statements: readonly string[]): Promise<void> {
  for (const query of statements) await client.command({ query });
}

const TSV_SPECIAL = /[\\\t\n\r]/;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A string as a TabSeparated field: backslash, tab and line breaks escaped (ClickHouse's TSV rules). */
export function tsvField(value: string): string {
  return TSV_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c]!) : value;
}

/**
 * JSON text as a TabSeparated field. JSON never holds a raw tab or line break (they are escaped inside
 * strings), so only its backslashes need doubling; indexOf finds none far faster than a regex scan.
 */
export function tsvJson(json: string): string {
  return json.indexOf('\\') === -1 ? json : json.replaceAll('\\', '\\\\');
}

/**
 * Rows rendered as bytes (UTF-8 text) into one growing buffer: no giant JS string is built, so a bulk
 * insert costs the V8 heap only one short string per row.
 */
export class RowBuffer {
  private buffer = Buffer.allocUnsafe(1 << 16);
  private length = 0;

  write(text: string): void {
    if (this.length + text.length * 3 > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + text.length * 3));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length);
  }

  get byteLength(): number {
    return this.length;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * INSERTs rows already rendered as TabSeparated text. Embedded, the bytes go to chDB's raw insert (no copy
 * into a JS string, parsed by the engine's parallel parser); against a server they are the HTTP body.
 * Rendering rows straight to text skips the client's row objects and per-row JSON, which dominated the
 * cost of the processor's bulk inserts.
 */
export async function insertTsv(
  client: ClickHouseClient,
  table: string,
  columns: readonly string[],
  rows: RowBuffer,
): Promise<void> {
  if (rows.byteLength === 0) return;
  const raw = rawInserts.get(client);
  if (raw) {
    await raw({ table, columns, values: rows.bytes(), format: 'TabSeparated' });
    return;
  }
  await client.insert({
    table,
    columns: columns as [string, ...string[]],
    values: Readable.from([rows.bytes()], { objectMode: false }),
    format: 'TabSeparated',
  });
}
