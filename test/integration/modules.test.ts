import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { MODULE_NAMES } from '../../services/flywheel/modules.ts';
import { type CliProcess, flywheelErrors, runCli } from '../support/cli.ts';
import { eventually, testConfig, uniqueName, useStack } from '../support/env.ts';
import { freePorts } from '../support/ports.ts';
import { scratchDir } from '../support/scratch.ts';

/**
 * `flywheel run <module>` is what compose and Kubernetes run: each module, alone, through the real CLI
 * entry point, must listen, become ready against the real stack, and stop cleanly on SIGTERM. A module
 * that cannot start for good (a broker that never comes) must end the process non-zero, not hang.
 */
async function status(url: string): Promise<number | undefined> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return undefined;
  }
}

const config = testConfig();
const children: CliProcess[] = [];

// `run` serves what was applied: one chDB folder, applied once, for every process of this file.
const chdb = scratchDir('flywheel-modules-chdb');
before(async () => {
  await useStack(config);
  const apply = runCli(['apply'], { FLYWHEEL_CHDB_PATH: chdb });
  assert.equal(await apply.exited, 0, apply.stderr());
});
after(() => {
  for (const c of children) c.child.kill('SIGKILL');
});

/** A process of its own: its own ports, chDB folder and Redis prefix, the shared stack. */
async function isolatedEnv(): Promise<Record<string, string>> {
  const [ingest, serving, consolePort] = await freePorts(3);
  return {
    FLYWHEEL_CHDB_PATH: chdb,
    FLYWHEEL_REDIS_PREFIX: `${uniqueName('mod')}:`,
    FLYWHEEL_INGEST_PORT: String(ingest),
    FLYWHEEL_SERVING_PORT: String(serving),
    FLYWHEEL_CONSOLE_PORT: String(consolePort),
    FLYWHEEL_DEMO_RATE: '0',
    FLYWHEEL_STARTUP_INITIAL_DELAY_MS: '20',
    FLYWHEEL_STARTUP_MAX_DELAY_MS: '200',
  };
}

describe('flywheel run <module>', () => {
  for (const name of MODULE_NAMES) {
    test(`${name}: starts alone, answers /readyz, stops cleanly on SIGTERM`, async () => {
      const [port] = await freePorts(1);
      const cli = runCli(['run', name], { ...(await isolatedEnv()), FLYWHEEL_HTTP_PORT: String(port) });
      children.push(cli);
      const ready = await Promise.race([
        eventually(
          async () => ((await status(`http://127.0.0.1:${port}/readyz`)) === 200 ? true : undefined),
          90_000,
          `${name} /readyz`,
        ),
        cli.exited.then((code) => {
          throw new Error(`${name} exited with ${code} before it was ready:\n${cli.stderr()}`);
        }),
      ]);
      assert.equal(ready, true);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok', service: name });
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0, `${name} did not stop cleanly:\n${cli.stderr()}`);
      // kafkajs logs its own retried responses (a coordinator still loading) as errors; Flywheel's own must be none.
      assert.deepEqual(flywheelErrors(cli.stderr()), [], `${name} logged an error`);
    });
  }

  test('two modules in one process, each on its own port', async () => {
    const env = await isolatedEnv();
    const cli = runCli(['run', 'ingest,serving'], env);
    children.push(cli);
    for (const port of [env.FLYWHEEL_INGEST_PORT, env.FLYWHEEL_SERVING_PORT])
      await eventually(
        async () => ((await status(`http://127.0.0.1:${port}/readyz`)) === 200 ? true : undefined),
        90_000,
        `port ${port} ready`,
      );
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0, cli.stderr());
  });

  test('a project that was not applied is refused, naming what is missing and the fix', async () => {
    const cli = runCli(['run', 'features'], {
      ...(await isolatedEnv()),
      FLYWHEEL_CHDB_PATH: scratchDir('flywheel-unapplied'),
    });
    assert.equal(await cli.exited, 1);
    assert.match(
      cli.stderr(),
      /FW_PROJECT_INVALID: project shop in .* is not applied \(.*view user_spend: create.*\); fix: flywheel apply --project /,
    );
  });

  test('a port in use is one line naming the module, the address and the variable that moves it', async () => {
    const env = await isolatedEnv();
    const holder = createServer().listen(Number(env.FLYWHEEL_CONSOLE_PORT), '127.0.0.1');
    await once(holder, 'listening');
    try {
      const cli = runCli(['run', 'console'], env);
      assert.equal(await cli.exited, 1);
      assert.match(
        cli.stderr(),
        new RegExp(
          `FW_PORT_BUSY: console: 127\\.0\\.0\\.1:${env.FLYWHEEL_CONSOLE_PORT} is in use by another program; stop it, or set FLYWHEEL_CONSOLE_PORT`,
        ),
      );
    } finally {
      holder.close();
    }
  });

  test('an unknown module is refused before anything starts, naming the modules there are', async () => {
    const cli = runCli(['run', 'ingest,nosuch'], await isolatedEnv());
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), /FW_NOT_FOUND: unknown module "nosuch"; modules: ingest, features/);
  });

  test('a broker that never comes: not ready meanwhile, then a non-zero exit after the attempts allowed', async () => {
    const [port, deadBroker] = await freePorts(2);
    const cli = runCli(['run', 'ingest'], {
      ...(await isolatedEnv()),
      FLYWHEEL_HTTP_PORT: String(port),
      FLYWHEEL_KAFKA_BROKERS: `127.0.0.1:${deadBroker}`,
      FLYWHEEL_STARTUP_MAX_ATTEMPTS: '2',
    });
    children.push(cli);
    const notReady = await eventually(
      async () => ((await status(`http://127.0.0.1:${port}/readyz`)) === 503 ? true : undefined),
      30_000,
      'readyz 503',
    );
    assert.equal(notReady, true);
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), /ingest failed to start/);
  });
});
