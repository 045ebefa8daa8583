import { join, resolve as resolvePath } from 'node:path';
import type { ResolvedConfig } from '../config.ts';
import { FlywheelError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { sleep } from '../retry.ts';
import type { PartContext, StackOptions, StackPart } from './part.ts';
import { kafkaPart } from './parts/kafka.ts';
import { redisPart } from './parts/redis.ts';
import { registryPart } from './parts/registry.ts';
import { portOpen } from './probes.ts';
import { isAlive, readState, stopProcess, tailFile, writeState } from './processes.ts';

export const PART_NAMES = ['kafka', 'registry', 'redis'] as const;
export type PartName = (typeof PART_NAMES)[number];

export interface PartStatus {
  name: string;
  state: 'started' | 'reused' | 'running' | 'stopped';
  pid?: number;
  ports: readonly number[];
  seconds?: number;
}

/**
 * The local stack manager: starts on 127.0.0.1 whatever is not already answering, waits until each part
 * is ready, and remembers (in a state file) what it started so that `down` stops exactly that and no
 * more. Parts run detached, so a second test run or `npm start` reuses a stack that is up.
 */
export function createStack(config: Readonly<ResolvedConfig>, logger: Logger, options: StackOptions = {}) {
  const cacheDir = resolvePath(config.stack.cacheDir);
  const runDir = resolvePath(config.stack.runDir ?? join(cacheDir, 'stack'));
  const stateFile = join(runDir, 'state.json');
  const ctx: PartContext = { config, logger, cacheDir, runDir, jvmDirs: config.stack.jvmDirs, options };
  const parts: Record<PartName, StackPart> = {
    kafka: kafkaPart(ctx),
    registry: registryPart(ctx),
    redis: redisPart(ctx),
  };
  const logOf = (name: string) => join(runDir, 'logs', `${name}.log`);

  async function waitReady(part: StackPart, pid: number): Promise<void> {
    const deadline = Date.now() + config.stack.readyTimeoutMs;
    while (Date.now() < deadline) {
      if (await part.ready()) return;
      if (!isAlive(pid)) {
        throw new FlywheelError(
          'FW_STACK_NOT_READY',
          `${part.name} exited while starting. Last lines of ${logOf(part.name)}:\n${tailFile(logOf(part.name))}`,
        );
      }
      await sleep(200);
    }
    throw new FlywheelError(
      'FW_STACK_NOT_READY',
      `${part.name} did not become ready within ${config.stack.readyTimeoutMs} ms (FLYWHEEL_READY_TIMEOUT_MS). ` +
        `Last lines of ${logOf(part.name)}:\n${tailFile(logOf(part.name))}`,
    );
  }

  async function upOne(name: PartName): Promise<PartStatus> {
    const part = parts[name];
    const t0 = Date.now();
    const known = readState(stateFile).parts[name];
    if (await part.answers())
      return { name, state: 'reused', ports: part.ports, ...(known ? { pid: known.pid } : {}) };
    if (known && isAlive(known.pid)) {
      await waitReady(part, known.pid); // started by an earlier `up` that has not finished starting
      return { name, state: 'reused', pid: known.pid, ports: part.ports };
    }
    for (const port of part.ports) {
      if (await portOpen(port)) {
        throw new FlywheelError(
          'FW_STACK_PORT_BUSY',
          `${name} cannot start: port ${port} on 127.0.0.1 is in use by another program that is not ${name}. ` +
            `Fix: stop that program, or choose other ports with ${part.portSetting}.`,
          { details: { part: name, port } },
        );
      }
    }
    await part.provision();
    const pid = await part.start();
    const state = readState(stateFile);
    state.parts[name] = { pid, startedAt: new Date().toISOString(), ports: [...part.ports] };
    writeState(stateFile, state);
    try {
      await waitReady(part, pid);
    } catch (err) {
      await stopOne(name);
      throw err;
    }
    const seconds = (Date.now() - t0) / 1000;
    logger.info('stack part ready', { part: name, pid, seconds });
    return { name, state: 'started', pid, ports: part.ports, seconds };
  }

  async function stopOne(name: string): Promise<boolean> {
    const state = readState(stateFile);
    const entry = state.parts[name];
    if (!entry) return false;
    await stopProcess(entry.pid);
    delete state.parts[name];
    writeState(stateFile, state);
    return true;
  }

  return {
    parts,
    stateFile,
    /** Starts what is missing; on any failure stops what this call started and rethrows. */
    async up(names: readonly PartName[] = PART_NAMES): Promise<PartStatus[]> {
      const results = await Promise.allSettled(names.map((n) => upOne(n)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0) {
        for (const r of results)
          if (r.status === 'fulfilled' && r.value.state === 'started') await stopOne(r.value.name);
        throw failed[0]!.reason;
      }
      return results.map((r) => (r as PromiseFulfilledResult<PartStatus>).value);
    },
    /** Stops the parts this stack manager started (all, or the named ones); never touches others. */
    async down(names: readonly string[] = PART_NAMES): Promise<string[]> {
      const stopped: string[] = [];
      await Promise.all(names.map(async (n) => (await stopOne(n)) && stopped.push(n)));
      return stopped;
    },
    async status(): Promise<PartStatus[]> {
      const state = readState(stateFile);
      return Promise.all(
        PART_NAMES.map(async (name) => {
          const entry = state.parts[name];
          const running = await parts[name].answers();
          return {
            name,
            state: running ? 'running' : 'stopped',
            ports: parts[name].ports,
            ...(entry ? { pid: entry.pid } : {}),
          } as PartStatus;
        }),
      );
    },
  };
}

export type Stack = ReturnType<typeof createStack>;
