import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../services/platform/config.ts';
import { FlywheelError } from '../../services/platform/errors.ts';
import { createLogger } from '../../services/platform/logger.ts';
import { portOpen } from '../../services/platform/stack/probes.ts';
import { createStack, type PartName, type Stack } from '../../services/platform/stack/stack.ts';
import { freePorts } from '../support/ports.ts';

/**
 * The stack manager on real processes. The main stack (default ports) is only ever reused here; every
 * part this file starts runs on free alternate ports with its own temporary run folder, so the state
 * file and the Kafka data of the main stack are never touched. The jar cache (stack.cacheDir) is shared.
 */
const logger = createLogger({ component: 'stack-test' }, 'warn');
const CLI = join(import.meta.dirname, '../../services/platform/stack/cli.ts');
const tempDirs: string[] = [];
const tempStacks: Array<{ stack: Stack; names: PartName[] }> = [];

after(async () => {
  for (const { stack, names } of tempStacks) await stack.down(names).catch(() => undefined);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempRunDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-stack-test-'));
  tempDirs.push(dir);
  return dir;
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    // A plain TCP server that reads and never answers: neither Redis nor Kafka nor HTTP. Reading lets
    // a client's close reach it, so `close()` does not wait for sockets whose data nobody consumed.
    const server = createServer((socket) => socket.on('error', () => undefined).resume());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A stack on alternate ports with its own run folder; `down` of every part runs after the file. */
async function altStack(names: PartName[], extra: Record<string, unknown> = {}) {
  const [redisPort, kafkaPort, kafkaControllerPort, registryPort, registryManagementPort] =
    await freePorts(5);
  const runDir = tempRunDir();
  const config = loadConfig(process.env, {
    stack: {
      runDir,
      redisPort,
      kafkaPort,
      kafkaControllerPort,
      registryPort,
      registryManagementPort,
      ...extra,
    },
  });
  const stack = createStack(config, logger);
  tempStacks.push({ stack, names });
  return { stack, config, runDir };
}

/** Env for the CLI child: the caller's env minus everything that could point it at the main stack. */
async function altEnv(extra: Record<string, string>): Promise<NodeJS.ProcessEnv> {
  const [kafka, controller, registry, management, redis] = await freePorts(5);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.JAVA_HOME;
  delete env.FLYWHEEL_CONFIG;
  return {
    ...env,
    FLYWHEEL_CACHE_DIR: loadConfig(process.env).stack.cacheDir,
    FLYWHEEL_STACK_DIR: tempRunDir(),
    FLYWHEEL_KAFKA_PORT: String(kafka),
    FLYWHEEL_KAFKA_CONTROLLER_PORT: String(controller),
    FLYWHEEL_REGISTRY_PORT: String(registry),
    FLYWHEEL_REGISTRY_MANAGEMENT_PORT: String(management),
    FLYWHEEL_REDIS_PORT: String(redis),
    FLYWHEEL_LOG_LEVEL: 'warn',
    ...extra,
  };
}

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: join(import.meta.dirname, '../..'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Pids of live processes whose command line mentions `needle` (Linux /proc). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

async function assertClosed(ports: readonly number[]): Promise<void> {
  for (const port of ports) assert.equal(await portOpen(port), false, `port ${port} should be closed`);
}

function stateOf(results: Array<{ name: string; state: string }>): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.name, r.state]));
}

describe('stack manager', () => {
  test('up() on the running default stack reuses every part within 5 s', async () => {
    const stack = createStack(loadConfig(process.env), logger);
    const t0 = Date.now();
    const parts = await stack.up();
    const seconds = (Date.now() - t0) / 1000;
    assert.deepEqual(stateOf(parts), { kafka: 'reused', registry: 'reused', redis: 'reused' });
    assert.ok(seconds < 5, `reuse took ${seconds} s`);
  });

  test('redis on alternate ports: start, reuse, stop (port closed), start again, stop', async () => {
    const { stack, config } = await altStack(['redis']);
    const port = config.stack.redisPort;
    assert.deepEqual(stateOf(await stack.up(['redis'])), { redis: 'started' });
    assert.equal(await portOpen(port), true);
    assert.deepEqual(stateOf(await stack.up(['redis'])), { redis: 'reused' });
    assert.deepEqual(await stack.down(['redis']), ['redis']);
    await assertClosed([port]);
    assert.deepEqual(await stack.down(['redis']), [], 'a second down has nothing left to stop');
    assert.deepEqual(stateOf(await stack.up(['redis'])), { redis: 'started' });
    assert.deepEqual(await stack.down(['redis']), ['redis']);
    await assertClosed([port]);
  });

  test('kafka and the registry on alternate ports: start, stop, start, stop', async () => {
    const names: PartName[] = ['kafka', 'registry'];
    const { stack, config, runDir } = await altStack(names);
    const ports = [
      config.stack.kafkaPort,
      config.stack.kafkaControllerPort,
      config.stack.registryPort,
      config.stack.registryManagementPort,
    ];
    for (let round = 1; round <= 2; round++) {
      const parts = await stack.up(names);
      assert.deepEqual(stateOf(parts), { kafka: 'started', registry: 'started' }, `round ${round}`);
      const status = stateOf(await stack.status());
      assert.equal(status.kafka, 'running');
      assert.equal(status.registry, 'running');
      assert.equal(existsSync(join(runDir, 'state.json')), true);
      assert.deepEqual((await stack.down(names)).sort(), names);
      await assertClosed(ports);
    }
    assert.deepEqual(processesMentioning(runDir), [], 'no process of this stack is left');
  });

  test('a busy port fails with FW_STACK_PORT_BUSY naming the part, the port and the setting', async () => {
    const [port] = await freePorts(1);
    const squatter = await listenOn(port!);
    try {
      const cases: Array<{ part: PartName; key: string; setting: string }> = [
        { part: 'redis', key: 'redisPort', setting: 'FLYWHEEL_REDIS_PORT' },
        { part: 'kafka', key: 'kafkaPort', setting: 'FLYWHEEL_KAFKA_PORT' },
        { part: 'registry', key: 'registryManagementPort', setting: 'FLYWHEEL_REGISTRY_MANAGEMENT_PORT' },
      ];
      for (const { part, key, setting } of cases) {
        const { stack } = await altStack([part], { [key]: port });
        await assert.rejects(stack.up([part]), (err: unknown) => {
          assert.ok(err instanceof FlywheelError);
          assert.equal(err.code, 'FW_STACK_PORT_BUSY');
          assert.match(err.message, new RegExp(`^${part} cannot start`));
          assert.ok(err.message.includes(`port ${port}`), err.message);
          assert.ok(err.message.includes(setting), err.message);
          return true;
        });
      }
    } finally {
      await closeServer(squatter);
    }
  });

  test('the CLI without any Java exits 1 with FW_STACK_JAVA_MISSING and a fix', async () => {
    const env = await altEnv({ PATH: '/nonexistent', FLYWHEEL_JVM_DIRS: ',' });
    const { code, stdout, stderr } = await runCli(['up', 'kafka'], env);
    assert.equal(code, 1, stdout + stderr);
    assert.match(stderr, /FW_STACK_JAVA_MISSING/);
    assert.match(stderr, /Kafka/);
    assert.match(stderr, /no Java runtime was found/);
    assert.match(stderr, /Fix: install a JDK 17\+/);
    assert.match(stderr, /FLYWHEEL_JAVA/);
    assert.equal(await portOpen(Number(env.FLYWHEEL_KAFKA_PORT)), false);
  });

  const java17 = '/usr/lib/jvm/java-17-openjdk-amd64/bin/java';
  test(
    'the CLI refuses to run the registry on Java 17: Apicurio 3.3 needs Java 21',
    { skip: existsSync(java17) ? false : `${java17} is not installed` },
    async () => {
      const env = await altEnv({ FLYWHEEL_JAVA: java17 });
      const { code, stdout, stderr } = await runCli(['up', 'registry'], env);
      assert.equal(code, 1, stdout + stderr);
      assert.match(stderr, /FW_STACK_JAVA_MISSING/);
      assert.match(stderr, /Apicurio Registry [\d.]+ needs Java 21 or newer/);
      assert.ok(stderr.includes(`${java17} (Java 17)`), stderr);
      assert.match(stderr, /Fix: install a JDK 21\+/);
      assert.equal(await portOpen(Number(env.FLYWHEEL_REGISTRY_PORT)), false);
    },
  );

  test('a part that is not ready in time fails with FW_STACK_NOT_READY and is stopped', async () => {
    const { stack, config, runDir } = await altStack(['kafka'], { readyTimeoutMs: 1 });
    await assert.rejects(stack.up(['kafka']), (err: unknown) => {
      assert.ok(err instanceof FlywheelError);
      assert.equal(err.code, 'FW_STACK_NOT_READY');
      assert.match(err.message, /^kafka did not become ready within 1 ms \(FLYWHEEL_READY_TIMEOUT_MS\)/);
      assert.ok(err.message.includes(join(runDir, 'logs', 'kafka.log')), err.message);
      return true;
    });
    assert.deepEqual(processesMentioning(runDir), [], 'the started broker was stopped');
    await assertClosed([config.stack.kafkaPort, config.stack.kafkaControllerPort]);
    assert.deepEqual(stateOf(await stack.status()).kafka, 'stopped');
    assert.deepEqual(await stack.down(['kafka']), [], 'the state file forgot it');
  });
});
