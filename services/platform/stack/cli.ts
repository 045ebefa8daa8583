import { loadConfig } from '../config.ts';
import { FlywheelError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { createStack, PART_NAMES, type PartName } from './stack.ts';

/**
 * `npm run stack -- up|down|status [part,…]`. Human lines go to stderr; the last stdout line is a JSON
 * summary so scripts (the test runner, the benchmarks) can read what was started.
 */
async function main(argv: string[]): Promise<number> {
  const [command = 'status', list] = argv;
  const names = (list ? list.split(',').filter(Boolean) : [...PART_NAMES]) as PartName[];
  const unknown = names.filter((n) => !PART_NAMES.includes(n));
  if (unknown.length)
    throw new FlywheelError(
      'FW_BAD_REQUEST',
      `unknown stack part(s): ${unknown.join(', ')}; known: ${PART_NAMES.join(', ')}`,
    );
  const config = loadConfig();
  const stack = createStack(config, createLogger({ component: 'stack' }));
  if (command === 'up') {
    let interrupted = false;
    const onSignal = async () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write('interrupted: stopping what this call started\n');
      await stack.down(names);
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const t0 = Date.now();
    const parts = await stack.up(names);
    for (const p of parts)
      process.stderr.write(
        `${p.name.padEnd(9)} ${p.state.padEnd(8)} ports ${p.ports.join(',')}${p.pid ? ` pid ${p.pid}` : ''}\n`,
      );
    const started = parts.filter((p) => p.state === 'started').map((p) => p.name);
    console.log(
      JSON.stringify({
        started,
        reused: parts.filter((p) => p.state === 'reused').map((p) => p.name),
        seconds: (Date.now() - t0) / 1000,
      }),
    );
    return 0;
  }
  if (command === 'down') {
    const stopped = await stack.down(names);
    process.stderr.write(
      stopped.length
        ? `stopped ${stopped.join(', ')}\n`
        : 'nothing to stop (no part was started by the stack manager)\n',
    );
    console.log(JSON.stringify({ stopped }));
    return 0;
  }
  if (command === 'status') {
    const parts = await stack.status();
    for (const p of parts)
      process.stderr.write(`${p.name.padEnd(9)} ${p.state.padEnd(8)} ports ${p.ports.join(',')}\n`);
    console.log(JSON.stringify(Object.fromEntries(parts.map((p) => [p.name, p.state]))));
    return parts.every((p) => p.state === 'running') ? 0 : 3;
  }
  throw new FlywheelError('FW_BAD_REQUEST', `unknown command "${command}"; use up, down or status`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const code = err instanceof FlywheelError ? err.code : 'FW_INTERNAL';
    process.stderr.write(`stack: ${code}: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
