import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { ResolvedConfig } from './config.ts';

/**
 * ClickHouse through @clickhouse/client in both modes: a server over HTTP when CLICKHOUSE_URL is set,
 * else embedded chDB plugged in through the client's connection hook. libchdb binds one data folder per
 * process, so embedded clients are shared per process (all-in-one services use the same one).
 */
const embedded = new Map<string, Promise<ClickHouseClient>>();

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
      const shared = createClient({ connection: createChdbConnection({ path }) } as never);
      // Closing is owned by closeEmbeddedClickHouse: services sharing the client must not close it.
      return shared;
    })();
    embedded.set(path, client);
  }
  return client;
}

export async function closeEmbeddedClickHouse(): Promise<void> {
  const clients = [...embedded.values()];
  embedded.clear();
  await Promise.all(clients.map(async (c) => (await c).close()));
}

/** Runs a statement list (DDL) in order; ClickHouse's HTTP interface takes one statement per request. */
export async function runStatements(client: ClickHouseClient, statements: readonly string[]): Promise<void> {
  for (const query of statements) await client.command({ query });
}
