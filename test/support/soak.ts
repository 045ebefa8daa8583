import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { shopViews } from '../../examples/shop/views.ts';
import { createKafka } from '../../services/platform/kafka.ts';
import { createLogger } from '../../services/platform/logger.ts';
import { createRedis } from '../../services/platform/redis.ts';
import { createRegistryCodec } from '../../services/platform/registry-codec.ts';
import { createRng, type Rng } from './prng.ts';
import { scratchDir } from './scratch.ts';
import { createShopTopic } from './shop-events.ts';
import { HOSTILE_CLASSES, type HostileClass, hostileClass } from './soak-hostile.ts';
import { type ProducerStats, startProducer } from './soak-producer.ts';
import { type SoakStack, startSoakStack } from './soak-stack.ts';
import {
  checkDeadLetters,
  compareClickHouse,
  compareCounts,
  compareRedis,
  readDeadLetters,
  readDigest,
  readLog,
  redisContents,
} from './soak-verify.ts';

/**
 * The fault soak ("outages and kills lose nothing"): shop orders are produced at a steady rate to the
 * soak's own Kafka while a features processor (test/support/features-worker.ts, a child process)
 * consumes them into the soak's own Redis and its chDB folder; meanwhile the processor is SIGKILLed at
 * random points and restarted, the broker is restarted, Redis is stopped for a while, and ClickHouse
 * refuses tile inserts for a while (a real constraint violation), and hostile records are mixed into the
 * stream. Afterwards an uninterrupted reference run consumes the same topic, and the faulted run's Redis
 * and ClickHouse must equal it exactly, every good record in the log must be counted exactly once, and
 * the dead letters must be exactly the hostile records. bench/soak.ts and
 * test/integration/features-soak.test.ts run this with large and small parameters.
 */
export interface SoakOptions {
  /** Good events produced. */
  events: number;
  /** Events per second while producing. */
  rate: number;
  /** SIGKILLs of the faulted processor, at random points. */
  kills: number;
  kafkaRestarts: number;
  /** How long the broker stays down in a restart before it is started again (0: at once). */
  kafkaDownMs: number;
  redisOutages: number;
  redisOutageMs: number;
  clickhouseFaults: number;
  clickhouseFaultMs: number;
  /** Hostile records per class. */
  hostileEach: number;
  /** Hostile classes (names in soak-hostile.ts); default all. */
  hostileClasses: readonly string[];
  partitions: number;
  users: number;
  seed: number;
  /** How long the processor may take to reach zero lag once production and faults are over. */
  settleTimeoutMs: number;
  /** Kafka session timeout of the workers (how long a SIGKILLed one holds its partitions). */
  sessionTimeoutMs: number;
  /** Keep the workers' and the stack's logs here (they are in a scratch folder otherwise). */
  logDir?: string;
  progress(message: string): void;
}

export const SOAK_DEFAULTS: Omit<SoakOptions, 'progress'> = {
  events: 1_000_000,
  rate: 4_000,
  kills: 20,
  kafkaRestarts: 1,
  kafkaDownMs: 0,
  redisOutages: 1,
  redisOutageMs: 30_000,
  clickhouseFaults: 1,
  clickhouseFaultMs: 10_000,
  hostileEach: 3,
  hostileClasses: HOSTILE_CLASSES.map((c) => c.name),
  partitions: 4,
  users: 10_000,
  seed: 2027,
  settleTimeoutMs: 600_000,
  sessionTimeoutMs: 6_000,
};

interface Run {
  name: string;
  group: string;
  prefix: string;
  chdbDir: string;
}

interface Worker {
  n: number;
  run: Run;
  mode: 'run' | 'digest';
  child: ChildProcess;
  spawnedAt: number;
  logFile: string;
  /** Set when the harness signals it: its exit is then not a crash. */
  stoppedBy?: 'SIGKILL' | 'SIGTERM';
  exit?: { code: number | null; signal: string | null; at: number };
  exited: Promise<void>;
  ready: Promise<boolean>;
}

export interface Fault {
  kind: 'kafka-restart' | 'redis-outage' | 'clickhouse-fault';
  start_s: number;
  end_s: number;
  seconds: number;
}

interface LagSample {
  t: number;
  lag: number;
  high: number[];
  committed: number[];
  /** The faulted run's checkpoint (Redis) per partition, when Redis answered. */
  next?: number[];
}

/** Worker crashes after which the soak stops restarting workers: a crash loop, not a transient. */
const MAX_CRASHES = 10;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

export async function runSoak(opts: SoakOptions): Promise<Record<string, unknown>> {
  const t0Wall = Date.now();
  const progress = opts.progress;
  const rng = createRng(opts.seed);
  const id = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const topic = `soak.${id}`;
  const classes = opts.hostileClasses.map(hostileClass);
  const logger = createLogger({ component: 'soak' }, 'warn');
  // The harness's Kafka client sees every outage it causes: its connection errors are no news.
  const quiet = createLogger({ component: 'soak' }, 'silent');
  const logDir = opts.logDir ?? scratchDir('flywheel-soak-logs');
  mkdirSync(logDir, { recursive: true });
  const workers: Worker[] = [];
  const live = new Set<Worker>();
  let stack: SoakStack | undefined;
  let kafka: Kafka | undefined;
  let admin: Admin | undefined;
  let redis: ReturnType<typeof createRedis> | undefined;
  let producerStop: (() => void) | undefined;
  /** Production start: the origin of every `_s` time in the report. */
  let t0 = Date.now();
  /** Set when the soak ends early (a fault could not be injected, a harness error): spawn nothing more. */
  let aborted = false;

  const onSignal = () => {
    for (const w of live) w.child.kill('SIGKILL');
    void stack?.down().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    progress(`starting the soak's own Kafka and Redis`);
    stack = await startSoakStack(logger);
    const config = stack.config;
    progress(
      `soak stack: kafka ${config.kafka.brokers[0]}, redis ${config.redis.url}, registry ${config.registry.url}; topic ${topic}`,
    );
    kafka = createKafka(config, quiet, 'soak');
    // The harness's own reads must fail fast while Redis is down, not queue for half a minute.
    redis = createRedis(config.redis.url, { failFast: true, name: 'soak-harness' });
    const codec = createRegistryCodec(config.registry.url);
    await createShopTopic(kafka, topic, opts.partitions);
    admin = kafka.admin();
    await admin.connect();
    const views = shopViews(topic);
    const countView = views.find((v) => v.name === 'user_activity')!;

    const newRun = (name: string): Run => ({
      name,
      group: `soak-${name}`,
      prefix: `fws-${id}-${name}:`,
      chdbDir: scratchDir(`flywheel-soak-${name}`),
    });

    // ---- workers ----------------------------------------------------------------------------------
    let spawned = 0;
    const spawnWorker = (run: Run, mode: 'run' | 'digest', dumpFile = ''): Worker => {
      const n = ++spawned;
      const logFile = join(logDir, `worker-${String(n).padStart(3, '0')}-${run.name}-${mode}.log`);
      const fd = openSync(logFile, 'a');
      const child = fork(join(import.meta.dirname, 'features-worker.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          FLYWHEEL_KAFKA_BROKERS: config.kafka.brokers.join(','),
          FLYWHEEL_REDIS_URL: config.redis.url,
          FLYWHEEL_REGISTRY_URL: config.registry.url,
          FLYWHEEL_REDIS_PREFIX: run.prefix,
          FLYWHEEL_CHDB_PATH: run.chdbDir,
          FLYWHEEL_FEATURES_SESSION_TIMEOUT_MS: String(opts.sessionTimeoutMs),
          WORKER_MODE: mode,
          WORKER_TOPIC: topic,
          WORKER_GROUP: run.group,
          WORKER_DUMP_FILE: dumpFile,
          WORKER_LOG_LEVEL: 'info',
          WORKER_LOG_COMMITS: '1',
        },
        stdio: ['ignore', fd, fd, 'ipc'],
      });
      closeSync(fd);
      let resolveExit: () => void = () => undefined;
      const w: Worker = {
        n,
        run,
        mode,
        child,
        spawnedAt: Date.now(),
        logFile,
        exited: new Promise<void>((r) => {
          resolveExit = r;
        }),
        ready: new Promise<boolean>((resolve) => {
          child.on('message', (m) => {
            if (m === 'ready') resolve(true);
          });
          child.once('exit', () => resolve(false));
        }),
      };
      child.once('exit', (code, signal) => {
        w.exit = { code, signal, at: Date.now() };
        live.delete(w);
        resolveExit();
      });
      workers.push(w);
      live.add(w);
      return w;
    };
    const stopHangs: Array<{ worker: number; run: string; after_ms: number }> = [];
    /** Signals a worker and waits for it to exit (SIGKILL after `graceMs`, reported as a hang). */
    const stopWorker = async (w: Worker, signal: 'SIGKILL' | 'SIGTERM', graceMs = 60_000) => {
      if (w.exit) return;
      w.stoppedBy = signal;
      w.child.kill(signal);
      const t = setTimeout(() => {
        if (!w.exit) {
          stopHangs.push({ worker: w.n, run: w.run.name, after_ms: graceMs });
          w.child.kill('SIGKILL');
        }
      }, graceMs);
      await w.exited;
      clearTimeout(t);
    };

    // Crashes: a worker that exits without the harness having signalled it. It is restarted (the soak
    // goes on), and reported with the end of its log.
    const crashes: Array<Record<string, unknown>> = [];
    let current: Worker | undefined;
    let phase: 'faulted' | 'stopping' | 'reference' | 'done' = 'faulted';
    const supervise = (run: Run): Worker => {
      const w = spawnWorker(run, 'run');
      current = w;
      w.child.once('exit', (code, signal) => {
        if (w.stoppedBy) return;
        crashes.push({
          run: run.name,
          worker: w.n,
          code,
          signal,
          at_s: round((Date.now() - t0) / 1000),
          uptime_s: round((Date.now() - w.spawnedAt) / 1000),
          log_tail: tail(w.logFile, 6),
        });
        progress(`CRASH: worker ${w.n} (${run.name}) exited by itself (code ${code}, signal ${signal})`);
        const keepGoing = run.name === 'faulted' ? phase === 'faulted' : phase === 'reference';
        if (keepGoing && !aborted && current === w && crashes.length < MAX_CRASHES) {
          setTimeout(() => {
            if (current === w && !aborted) supervise(run);
          }, 1_000);
        }
      });
      return w;
    };

    // ---- observations -----------------------------------------------------------------------------
    const checkpointNext = async (run: Run): Promise<number[] | undefined> => {
      try {
        const all = await redis!.hgetall(`${run.prefix}cp:${run.group}:${topic}`);
        const next: number[] = Array.from({ length: opts.partitions }, () => 0);
        for (const [p, v] of Object.entries(all)) next[Number(p)] = (JSON.parse(v) as { next: number }).next;
        return next;
      } catch {
        return undefined;
      }
    };
    const lagOf = async (run: Run): Promise<LagSample | undefined> => {
      try {
        const ends = await admin!.fetchTopicOffsets(topic);
        const [offsets] = await admin!.fetchOffsets({ groupId: run.group, topics: [topic] });
        const high: number[] = [];
        const committed: number[] = [];
        for (const e of ends) high[e.partition] = Number(e.high);
        for (const c of offsets!.partitions) committed[c.partition] = Math.max(0, Number(c.offset));
        const lag = high.reduce((s, h, p) => s + Math.max(0, h - (committed[p] ?? 0)), 0);
        return { t: Date.now(), lag, high, committed };
      } catch {
        return undefined;
      }
    };
    const caughtUp = async (run: Run): Promise<LagSample | undefined> => {
      const s = await lagOf(run);
      if (!s || s.lag > 0) return undefined;
      const next = await checkpointNext(run);
      if (!next || next.some((n, p) => n < s.high[p]!)) return undefined;
      return s;
    };

    // ---- the faulted run --------------------------------------------------------------------------
    const faulted = newRun('faulted');
    const durationMs = (opts.events / opts.rate) * 1000;
    const first = supervise(faulted);
    await first.ready;
    t0 = Date.now();
    const at = (ms: number) => round((ms - t0) / 1000);
    const hostile = scheduleHostile(rng, classes, opts.hostileEach, opts.events);
    progress(
      `producing ${opts.events} events at ${opts.rate}/s (~${Math.round(durationMs / 1000)} s) with ${hostile.length} hostile records; ` +
        `${opts.kills} kills, ${opts.kafkaRestarts} broker restart(s), ${opts.redisOutages} Redis outage(s) of ${opts.redisOutageMs / 1000} s, ` +
        `${opts.clickhouseFaults} ClickHouse fault(s) of ${opts.clickhouseFaultMs / 1000} s`,
    );
    const producer = startProducer({
      kafka,
      codec,
      topic,
      partitions: opts.partitions,
      events: opts.events,
      rate: opts.rate,
      users: opts.users,
      seed: opts.seed,
      hostile,
      progress,
    });
    producerStop = producer.stop;
    let producerStats: ProducerStats | undefined;
    let producedAt: number | undefined;
    const producing = producer.done.then((s) => {
      producerStats = s;
      producedAt = Date.now();
      progress(`producer done: ${s.sent} events, ${s.hostile_sent} hostile, ${s.send_errors} failed sends`);
      return s;
    });

    // Lag, sampled twice a second until the run is over.
    const samples: LagSample[] = [];
    let monitoring = true;
    const monitor = (async () => {
      let lastReport = Date.now();
      while (monitoring) {
        const s = await lagOf(faulted);
        if (s) {
          const next = await checkpointNext(faulted);
          if (next) s.next = next;
          samples.push(s);
        }
        if (s && Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          progress(
            `lag ${s.lag} at ${at(s.t)} s (committed ${s.committed.join(',')} of ${s.high.join(',')})`,
          );
        }
        await sleep(500);
      }
    })();

    // Faults one after another at random moments of their share of the production time.
    const faults: Fault[] = [];
    // Every random choice is drawn here, up front, so a seed always gives the same schedule.
    const plan: Array<{ kind: Fault['kind']; atMs: number }> = [];
    const windows = (kind: Fault['kind'], count: number, from: number, to: number) => {
      for (let i = 0; i < count; i++) {
        const span = (to - from) / count;
        plan.push({ kind, atMs: (from + i * span + rng.next() * span) * durationMs });
      }
    };
    windows('kafka-restart', opts.kafkaRestarts, 0.12, 0.35);
    windows('redis-outage', opts.redisOutages, 0.38, 0.6);
    windows('clickhouse-fault', opts.clickhouseFaults, 0.62, 0.85);
    const clickhouseCommand = async (on: boolean) => {
      // To whichever worker is current; a worker killed meanwhile passes it on to its successor.
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (Date.now() > deadline || aborted) throw new Error('no worker took the command within 120 s');
        const w = current!;
        if (!(await w.ready)) {
          await sleep(200);
          continue;
        }
        const ack = new Promise<{ ok: boolean; error?: string } | undefined>((resolve) => {
          const onMessage = (m: { ack?: string; on?: boolean; ok: boolean; error?: string }) => {
            if (m?.ack === 'clickhouse-fault' && m.on === on) {
              w.child.off('message', onMessage);
              resolve(m);
            }
          };
          w.child.on('message', onMessage);
          void w.exited.then(() => resolve(undefined));
        });
        try {
          w.child.send({ cmd: 'clickhouse-fault', on });
        } catch {
          await sleep(200);
          continue;
        }
        const answer = await ack;
        if (answer?.ok) return;
        if (answer)
          throw new Error(`worker ${w.n} could not ${on ? 'add' : 'drop'} the constraint: ${answer.error}`);
        await sleep(200);
      }
    };
    const faulting = (async () => {
      for (const p of plan) {
        await sleep(t0 + p.atMs - Date.now());
        const start = Date.now();
        const fault: Fault = { kind: p.kind, start_s: at(start), end_s: 0, seconds: 0 };
        progress(`fault: ${p.kind} at ${at(start)} s`);
        try {
          if (p.kind === 'kafka-restart') await stack!.restartKafka(opts.kafkaDownMs);
          else if (p.kind === 'redis-outage') await stack!.redisOutage(opts.redisOutageMs);
          else {
            await clickhouseCommand(true);
            await sleep(opts.clickhouseFaultMs);
            await clickhouseCommand(false);
          }
        } catch (err) {
          // A fault the harness could not inject (or undo) makes the run meaningless: stop here.
          aborted = true;
          throw new Error(`could not inject ${p.kind}: ${(err as Error).message}`, { cause: err });
        }
        fault.end_s = at(Date.now());
        fault.seconds = round(fault.end_s - fault.start_s);
        faults.push(fault);
        progress(`fault: ${p.kind} over at ${fault.end_s} s (${fault.seconds} s)`);
      }
    })();

    // Kills at random moments over the production time; each waits until the worker it kills has
    // committed something (so it dies mid-work, not while starting), but not past the next kill's time
    // (nor 30 s): a worker that cannot commit (Redis is down) is killed all the same, and kills stay
    // in the production window whatever the processor does.
    const killTimes = killSchedule(rng, opts.kills, 0.04 * durationMs, 0.96 * durationMs);
    const killJitters = killTimes.map(() => rng.int(0, 1_500));
    const killPoints: Array<{
      at_s: number;
      worker: number;
      uptime_s: number;
      waited_for_progress: boolean;
    }> = [];
    let lastKillEnd = 0;
    const killing = (async () => {
      for (const [i, kt] of killTimes.entries()) {
        await sleep(t0 + kt - Date.now());
        const w = current!;
        const before = await checkpointNext(faulted);
        const nextKill = t0 + (killTimes[i + 1] ?? durationMs);
        const deadline = Math.min(Date.now() + 30_000, Math.max(Date.now() + 1_000, nextKill));
        let progressed = false;
        while (Date.now() < deadline && current === w && !w.exit) {
          const now = await checkpointNext(faulted);
          if (before && now && now.some((n, p) => n > before[p]!)) {
            progressed = true;
            break;
          }
          await sleep(100);
        }
        await sleep(killJitters[i]!);
        if (aborted) return;
        if (current !== w || w.exit) continue; // it crashed meanwhile: the crash is reported
        killPoints.push({
          at_s: at(Date.now()),
          worker: w.n,
          uptime_s: round((Date.now() - w.spawnedAt) / 1000),
          waited_for_progress: progressed,
        });
        await stopWorker(w, 'SIGKILL');
        supervise(faulted);
        lastKillEnd = Date.now();
        progress(`kill ${killPoints.length}/${opts.kills}: worker ${w.n} at ${at(Date.now())} s`);
      }
    })();

    await Promise.all([producing, faulting, killing]);
    const faultsOverAt = Math.max(lastKillEnd, ...faults.map((f) => t0 + f.end_s * 1000), producedAt ?? 0);
    const lastFaultEnd = Math.max(lastKillEnd, ...faults.map((f) => t0 + f.end_s * 1000));
    progress(`production and faults over at ${at(faultsOverAt)} s; waiting for zero lag`);
    let zeroLagAt: number | undefined;
    const settleDeadline = Date.now() + opts.settleTimeoutMs;
    let lastCommitted = -1;
    let lastAdvance = Date.now();
    const stalls: Array<{ from_s: number; seconds: number; lag: number }> = [];
    while (Date.now() < settleDeadline && crashes.length < MAX_CRASHES) {
      const s = await caughtUp(faulted);
      if (s) {
        samples.push(s);
        zeroLagAt = s.t;
        break;
      }
      const l = samples.at(-1);
      const committed = l ? l.committed.reduce((a, b) => a + b, 0) : -1;
      if (committed !== lastCommitted) {
        if (Date.now() - lastAdvance > 60_000)
          stalls.push({
            from_s: at(lastAdvance),
            seconds: round((Date.now() - lastAdvance) / 1000),
            lag: l!.lag,
          });
        lastCommitted = committed;
        lastAdvance = Date.now();
      }
      await sleep(500);
    }
    if (zeroLagAt === undefined && Date.now() - lastAdvance > 60_000)
      stalls.push({
        from_s: at(lastAdvance),
        seconds: round((Date.now() - lastAdvance) / 1000),
        lag: samples.at(-1)?.lag ?? -1,
      });
    monitoring = false;
    await monitor;
    phase = 'stopping';
    progress(
      zeroLagAt
        ? `zero lag at ${at(zeroLagAt)} s`
        : `NO zero lag within ${opts.settleTimeoutMs / 1000} s (lag ${samples.at(-1)?.lag})`,
    );
    if (current) await stopWorker(current, 'SIGTERM');

    // ---- what the log holds, and the faulted run's dead letters -------------------------------------
    progress('reading the topic back');
    const log = await readLog(kafka, codec, topic);
    const dlqFaulted = await readDeadLetters(kafka, topic);
    const deadLetters = checkDeadLetters(topic, log, dlqFaulted.letters);

    // ---- the reference: one uninterrupted run over the same topic ----------------------------------
    progress('reference run');
    phase = 'reference';
    const reference = newRun('reference');
    const refStart = Date.now();
    const refWorker = supervise(reference);
    let refDone: number | undefined;
    while (Date.now() < refStart + opts.settleTimeoutMs && crashes.length < MAX_CRASHES) {
      if (await caughtUp(reference)) {
        refDone = Date.now();
        break;
      }
      await sleep(500);
    }
    phase = 'done';
    if (current) await stopWorker(current, 'SIGTERM');
    const referenceInterrupted = current !== refWorker;
    const dlqReference = await readDeadLetters(kafka, topic, dlqFaulted.end);
    const referenceDeadLetters = checkDeadLetters(topic, log, dlqReference.letters);

    // ---- contents ---------------------------------------------------------------------------------
    progress('comparing Redis and ClickHouse');
    const redisF = await redisContents(redis, faulted.prefix, faulted.group, topic, countView);
    const redisR = await redisContents(redis, reference.prefix, reference.group, topic, countView);
    const redisCmp = compareRedis(redisF, redisR);
    const digest = async (run: Run) => {
      const file = join(scratchDir('flywheel-soak-digest'), 'digest');
      const w = spawnWorker(run, 'digest', file);
      await w.exited;
      if (w.exit?.code !== 0) throw new Error(`digest of ${run.name} failed: ${tail(w.logFile, 5)}`);
      return readDigest(file);
    };
    const chF = await digest(faulted);
    const chR = await digest(reference);
    const chCmp = compareClickHouse(chF, chR, log);
    const countsVsLog = compareCounts(redisF.counts, log.entityCounts);
    const countsVsRef = compareCounts(redisF.counts, redisR.counts);
    const refVsLog = compareCounts(redisR.counts, log.entityCounts);
    const accepted = Object.values(redisF.checkpoints).reduce((s, c) => s + (c.accepted as number), 0);

    const lost = Math.max(
      countsVsLog.lost,
      countsVsRef.lost,
      chCmp.events_missing_vs_log,
      chCmp.events_missing,
    );
    const doubled = Math.max(countsVsLog.doubled, countsVsRef.doubled, chCmp.events_extra);
    const contentsMatch = redisCmp.equal && chCmp.equal;
    const maxLag = samples.reduce((m, s) => Math.max(m, s.lag), 0);
    // Recovery: from the end of the last fault to zero lag; and to when the backlog the faults left
    // behind (the log's end at that moment) was committed, which is the same unless production went on.
    const atFaultEnd = samples.find((s) => s.t >= lastFaultEnd);
    const backlogDone = atFaultEnd
      ? samples.find((s) => s.t >= atFaultEnd.t && s.committed.every((c, p) => c >= atFaultEnd.high[p]!))
      : undefined;
    const partitionStalls = partitionStallsOf(samples, opts.partitions, 10_000).map((st) => ({
      partition: st.partition,
      from_s: at(st.from),
      seconds: round((st.to - st.from) / 1000),
      at_offset: st.offset,
      kills_meanwhile: killPoints.filter((k) => k.at_s >= at(st.from) && k.at_s <= at(st.to)).length,
      faults_meanwhile: faults
        .filter((f) => f.start_s <= at(st.to) && f.end_s >= at(st.from))
        .map((f) => f.kind),
    }));
    const killed = killPoints.length;
    const failures: string[] = [];
    if (lost > 0) failures.push(`lost ${lost}`);
    if (doubled > 0) failures.push(`doubled ${doubled}`);
    if (!redisCmp.equal) failures.push('Redis differs from the reference');
    if (!chCmp.equal) failures.push('ClickHouse differs from the reference');
    if (crashes.length > 0) failures.push(`${crashes.length} worker crash(es)`);
    if (zeroLagAt === undefined) failures.push('lag never reached zero');
    if (refDone === undefined) failures.push('the reference run never finished');
    if (referenceInterrupted) failures.push('the reference run was interrupted (its worker crashed)');
    if (!deadLetters.exact)
      failures.push(
        `dead letters not exact (failing: ${deadLetters.failing_classes.join(', ') || 'none'}; unexpected: ${JSON.stringify(deadLetters.unexpected)})`,
      );
    if (!referenceDeadLetters.exact) failures.push('the reference run dead-lettered other records');
    if (log.copies > 0)
      failures.push(`${log.copies} records rerouted, though all are on their owner partition`);
    if (log.unexplained > 0)
      failures.push(`${log.unexplained} records in the log are neither good nor hostile`);
    if (killed < opts.kills) failures.push(`only ${killed} of ${opts.kills} kills done`);
    if (stopHangs.length > 0) failures.push(`${stopHangs.length} worker(s) did not stop on SIGTERM`);

    return {
      ok: failures.length === 0,
      failures,
      events: opts.events,
      log_records: log.high.reduce((a, b) => a + b, 0),
      log_good_records: log.goodRecords,
      log_duplicate_events: log.duplicateEventIds,
      log_unexplained_records: log.unexplained,
      log_rerouted_copies: log.copies,
      rate: opts.rate,
      kills: killed,
      kill_points_s: killPoints.map((k) => k.at_s),
      kills_without_progress: killPoints.filter((k) => !k.waited_for_progress).length,
      outages: faults,
      crashes,
      stalls,
      partition_stalls: partitionStalls,
      stop_hangs: stopHangs,
      lost,
      doubled,
      lost_doubled_detail: {
        redis_counts_vs_log: pick(countsVsLog),
        redis_counts_vs_reference: pick(countsVsRef),
        reference_counts_vs_log: pick(refVsLog),
        clickhouse_events_missing_vs_log: chCmp.events_missing_vs_log,
        checkpoint_accepted: accepted,
      },
      contents_match: contentsMatch,
      redis: redisCmp,
      clickhouse: chCmp,
      dead_letters: deadLetters.unique,
      dead_letters_raw: deadLetters.raw,
      dead_letters_expected: log.hostile.length,
      dead_letters_exact: deadLetters.exact,
      hostile_records: log.hostile.slice(0, 100).map((h) => `${h.cls}@${h.partition}/${h.offset}`),
      dead_letter_classes: deadLetters.classes,
      hostile_passing: deadLetters.passing_classes,
      hostile_failing: deadLetters.failing_classes,
      unexpected_dead_letters: deadLetters.unexpected,
      unexpected_dead_letter_examples: deadLetters.unexpected_examples,
      reference_dead_letters_exact: referenceDeadLetters.exact,
      max_lag: maxLag,
      recovery_s: zeroLagAt !== undefined ? round((zeroLagAt - lastFaultEnd) / 1000) : null,
      backlog_recovery_s: backlogDone ? round((backlogDone.t - lastFaultEnd) / 1000) : null,
      last_fault_end_s: at(lastFaultEnd),
      production_end_s: producedAt ? at(producedAt) : null,
      zero_lag_s: zeroLagAt !== undefined ? at(zeroLagAt) : null,
      reference_s: refDone ? round((refDone - refStart) / 1000) : null,
      producer: producerStats,
      workers: workers.filter((w) => w.run.name === 'faulted' && w.mode === 'run').length,
      worker_log: summariseLogs(workers.filter((w) => w.run.name === 'faulted').map((w) => w.logFile)),
      reference_worker_log: summariseLogs(
        workers.filter((w) => w.run.name === 'reference').map((w) => w.logFile),
      ),
      log_dir: opts.logDir ?? null,
      seconds: round((Date.now() - t0Wall) / 1000),
    };
  } finally {
    aborted = true;
    producerStop?.();
    for (const w of live) w.child.kill('SIGKILL');
    await admin?.disconnect().catch(() => undefined);
    redis?.disconnect();
    if (stack) {
      await stack.down().catch(() => undefined);
      if (opts.logDir) stack.copyLogs(opts.logDir);
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/**
 * Spans of at least `minMs` in which a partition's checkpoint did not move although the log held
 * records past it: the partition made no progress (whatever the others did).
 */
function partitionStallsOf(samples: readonly LagSample[], partitions: number, minMs: number) {
  const out: Array<{ partition: number; from: number; to: number; offset: number }> = [];
  for (let p = 0; p < partitions; p++) {
    let since: { t: number; next: number } | undefined;
    const close = (t: number) => {
      if (since && t - since.t >= minMs) out.push({ partition: p, from: since.t, to: t, offset: since.next });
    };
    for (const s of samples) {
      const next = s.next?.[p];
      if (next === undefined) continue;
      if (!since || next !== since.next) {
        close(s.t);
        since = { t: s.t, next };
      }
      if (next >= s.high[p]!) since = { t: s.t, next };
    }
    if (since) close(samples.at(-1)!.t);
  }
  return out.sort((a, b) => b.to - b.from - (a.to - a.from));
}

/**
 * `count` random moments in [from, to), at least `gap` apart where the window allows: a restarted
 * processor needs ~10 s (start-up, the group waiting out the killed member's session, the ClickHouse
 * replay, the first flush) before it commits again, and kills closer than that only kill start-ups.
 */
export function killSchedule(rng: Rng, count: number, from: number, to: number): number[] {
  const gap = Math.min(12_000, (0.8 * (to - from)) / Math.max(1, count));
  const slack = to - from - gap * count;
  const u = Array.from({ length: count }, () => rng.next() * slack).sort((a, b) => a - b);
  return u.map((x, i) => from + x + i * gap);
}

/** Hostile records spread over the stream: `each` of every class after random good events. */
function scheduleHostile(rng: Rng, classes: readonly HostileClass[], each: number, events: number) {
  const out: Array<{ at: number; cls: HostileClass }> = [];
  for (const cls of classes)
    for (let i = 0; i < each; i++) out.push({ at: rng.int(Math.floor(events * 0.02), events - 1), cls });
  return out.sort((a, b) => a.at - b.at);
}

function pick(c: ReturnType<typeof compareCounts>) {
  return {
    lost: c.lost,
    doubled: c.doubled,
    unexpected_entities: c.unexpected_entities,
    unexpected_events: c.unexpected_events,
    examples: c.examples,
  };
}

function tail(file: string, lines: number): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

/** Warnings and errors of the workers' logs, counted by message, with the first of each as evidence. */
function summariseLogs(files: readonly string[]) {
  const byMessage = new Map<string, { count: number; first: string }>();
  let infoClaims = 0;
  let replays = 0;
  for (const file of files) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let entry: { level?: string; msg?: string; err?: { message?: string } };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        entry = { level: 'raw', msg: line.slice(0, 200) };
      }
      if (entry.msg === 'partition claimed') infoClaims++;
      if (entry.msg === 'replayed records into ClickHouse after a restart') replays++;
      if (entry.level === 'info' || entry.level === 'debug') continue;
      const key = `${entry.level}: ${String(entry.msg).replace(/\d+/g, 'N').slice(0, 160)}`;
      const e = byMessage.get(key) ?? { count: 0, first: line.slice(0, 600) };
      e.count++;
      byMessage.set(key, e);
    }
  }
  return {
    partitions_claimed: infoClaims,
    clickhouse_replays: replays,
    messages: [...byMessage.entries()]
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, 25)
      .map(([message, { count, first }]) => ({ message, count, first })),
  };
}
