import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { closeEmbeddedClickHouse, createClickHouse } from '../platform/clickhouse.ts';
import { loadConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { defaultArtifactsDir } from './index.ts';
import { createModelRegistry } from './registry.ts';

/**
 * `node --import tsx services/registry/cli.ts <command>` (the `flywheel` CLI will mount it):
 *   register <model> <file.onnx> --features a,b,c [--alias champion] [--reason text] [--artifacts dir]
 *   list <model>
 *   alias <model> <alias> <version> [--reason text]
 * Prints one JSON object on stdout. In embedded mode it opens the chDB folder itself, so run it while
 * no server process holds the same folder (or point CLICKHOUSE_URL at a server).
 */
const USAGE =
  'usage: registry register <model> <file.onnx> --features a,b,c [--alias champion] | list <model> | alias <model> <alias> <version>';

export async function runRegistryCli(argv: string[]): Promise<unknown> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      features: { type: 'string' },
      alias: { type: 'string' },
      reason: { type: 'string', default: 'set from the registry CLI' },
      artifacts: { type: 'string' },
    },
  });
  const [command, model, ...rest] = positionals;
  if (!command || !model) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
  const config = loadConfig();
  const registry = createModelRegistry({
    clickhouse: await createClickHouse(config),
    db: config.clickhouse.database,
    artifactsDir: values.artifacts ?? defaultArtifactsDir(config),
  });
  await registry.migrate();
  switch (command) {
    case 'register': {
      if (!rest[0] || !values.features) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
      const registered = await registry.register(model, await readFile(rest[0]), {
        features: values.features.split(',').map((f) => f.trim()),
        createdBy: process.env.USER ?? 'cli',
      });
      if (values.alias) await registry.setAlias(model, values.alias, registered.version, values.reason);
      return { ...registered, alias: values.alias ?? null };
    }
    case 'list':
      return { model, versions: await registry.list(model) };
    case 'alias': {
      const [alias, version] = rest;
      if (!alias || !/^\d+$/.test(version ?? '')) throw new FlywheelError('FW_BAD_REQUEST', USAGE);
      await registry.setAlias(model, alias, Number(version), values.reason);
      return { model, alias, version: Number(version) };
    }
    default:
      throw new FlywheelError('FW_BAD_REQUEST', `unknown command "${command}"; ${USAGE}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runRegistryCli(process.argv.slice(2))
    .then(
      (out) => {
        console.log(JSON.stringify(out));
        return 0;
      },
      (err: unknown) => {
        const code = err instanceof FlywheelError ? err.code : 'FW_INTERNAL';
        process.stderr.write(`registry: ${code}: ${(err as Error).message}\n`);
        return 1;
      },
    )
    .then(async (code) => {
      await closeEmbeddedClickHouse();
      process.exit(code);
    });
}
