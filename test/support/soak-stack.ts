import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../../services/platform/config.ts';
import type { Logger } from '../../services/platform/logger.ts';
import { readState } from '../../services/platform/stack/processes.ts';
import { createStack } from '../../services/platform/stack/stack.ts';
import { freePorts } from './ports.ts';
import { scratchDir } from './scratch.ts';

/**
 * The fault soak's own Kafka broker and Redis: free ports on 127.0.0.1 and a run dir in a scratch
 * folder, so stopping them never disturbs the shared stack (the schema registry IS the shared one: it
 * is not faulted). Kafka keeps its log folder across a restart and Redis an fsynced append-only file,
 * so a stop is an outage, not a wipe.
 */
export interface SoakStack {
  config: Readonly<ResolvedConfig>;
  runDir: string;
  /** SIGTERM the broker (controlled shutdown), keep it down `downMs`, start it on the same log folder. */
  restartKafka(downMs?: number): Promise<void>;
  /** SIGTERM Redis (it fsyncs its AOF), keep it down for `ms`, start it again from the AOF. */
  redisOutage(ms: number): Promise<void>;
  /** Copies the parts' logs to `dir` (for a report kept after the scratch folder is gone). */
  copyLogs(dir: string): void;
  down(): Promise<void>;
}

export async function startSoakStack(logger: Logger): Promise<SoakStack> {
  const shared = loadConfig(process.env);
  // The shared registry: reused when it answers (started in the shared stack dir when it does not).
  await createStack(shared, logger).up(['registry']);
  const [kafkaPort, kafkaControllerPort, redisPort] = await freePorts(3);
  const runDir = scratchDir('flywheel-soak-stack');
  const config = loadConfig(process.env, {
    stack: { runDir, kafkaPort, kafkaControllerPort, redisPort },
    kafka: { brokers: [`127.0.0.1:${kafkaPort}`] },
    redis: { url: `redis://127.0.0.1:${redisPort}` },
    registry: { url: shared.registry.url },
  });
  const stack = createStack(config, logger, { keepKafkaData: true, redisAppendOnly: true });
  await stack.up(['kafka', 'redis']);
  const stopOnExit = () => {
    // Last resort (a harness killed by an exception it did not survive): the parts are detached.
    for (const pid of stackPids(stack.stateFile)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  process.once('exit', stopOnExit);
  return {
    config,
    runDir,
    async restartKafka(downMs = 0) {
      await stack.down(['kafka']);
      await new Promise((r) => setTimeout(r, downMs));
      await stack.up(['kafka']);
    },
    async redisOutage(ms: number) {
      await stack.down(['redis']);
      await new Promise((r) => setTimeout(r, ms));
      await stack.up(['redis']);
    },
    copyLogs(dir: string) {
      mkdirSync(dir, { recursive: true });
      for (const name of ['kafka.log', 'redis.log']) {
        const file = join(runDir, 'logs', name);
        if (existsSync(file)) copyFileSync(file, join(dir, name));
      }
    },
    async down() {
      await stack.down(['kafka', 'redis']);
      process.removeListener('exit', stopOnExit);
    },
  };
}

/** The pids the soak stack's state file records (read synchronously: this runs in an 'exit' handler). */
function stackPids(stateFile: string): number[] {
  return Object.values(readState(stateFile).parts).map((p) => p.pid);
}
