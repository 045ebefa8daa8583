import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FlywheelError } from '../services/platform/errors.ts';

/**
 * `npm run bench -- <name> [args…]` runs `bench/<name>.ts`, a module exporting
 * `run(args): Promise<Record<string, unknown>>`. Progress goes to stderr; the result is ONE JSON object
 * on the last stdout line, so scripts can `tail -n 1` it.
 */
export interface BenchModule {
  run(args: string[]): Promise<Record<string, unknown>>;
  /** Node flags the measured service runs with in production (the runner restarts itself with them). */
  nodeOptions?: readonly string[];
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const file = name && /^[a-z0-9][a-z0-9-]*$/.test(name) ? join(import.meta.dirname, `${name}.ts`) : '';
  if (!file || name === 'run' || !existsSync(file)) {
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      `unknown benchmark "${name ?? ''}". Usage: npm run bench -- <name> [--runs N]; <name> is a file bench/<name>.ts`,
    );
  }
  const mod = (await import(pathToFileURL(file).href)) as Partial<BenchModule>;
  if (typeof mod.run !== 'function')
    throw new FlywheelError('FW_BAD_REQUEST', `bench/${name}.ts does not export run(args)`);
  const missing = (mod.nodeOptions ?? []).filter((flag) => !process.execArgv.includes(flag));
  if (missing.length > 0) {
    // V8 heap flags only take effect at start-up: run again with them.
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, ...missing, import.meta.filename, ...argv],
      {
        stdio: 'inherit',
      },
    );
    return child.status ?? 1;
  }
  const started = new Date().toISOString();
  const result = await mod.run(args);
  console.log(JSON.stringify({ bench: name, started, ...result }));
  // A benchmark whose checks failed (bench/soak.ts) sets process.exitCode: exit with it, after the JSON.
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

main(process.argv.slice(2)).then(
  // Kafka clients and timers may keep the loop alive after the result is out: exit explicitly.
  (code) => process.exit(code),
  (err: unknown) => {
    const code = err instanceof FlywheelError ? err.code : 'FW_INTERNAL';
    process.stderr.write(`bench: ${code}: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
