import { runSoak, SOAK_DEFAULTS } from '../test/support/soak.ts';
import { HOSTILE_CLASSES } from '../test/support/soak-hostile.ts';
import { progress } from './support/stats.ts';

/**
 * `npm run bench -- soak [--events 1000000] [--kills 20] [--rate 4000*] [--kafka-restarts 1]
 *   [--kafka-down-s 0] [--redis-outages 1] [--redis-outage-s 30] [--clickhouse-faults 1]
 *   [--clickhouse-fault-s 10] [--hostile-each 3] [--hostile all|none|not_avro,truncated_avro,…]
 *   [--users 10000] [--seed 2027] [--settle-s 600] [--logs DIR]`
 * The fault soak (test/support/soak.ts): events produced at a steady rate to a Kafka and a Redis of its
 * own while the features processor is SIGKILLed at random points, the broker restarted, Redis stopped
 * and ClickHouse made to refuse tile inserts, with hostile records mixed in; then the faulted run must
 * equal an uninterrupted reference run over the same topic, count every record of the log exactly once
 * and dead-letter exactly the hostile records. Prints one JSON object; exits 1 when a check failed.
 * `--logs DIR` keeps the workers' and the stack's logs (the evidence for a failure). *The rate
 * defaults to 4,000 events/s but at most events / 120 s, so short runs still produce for two minutes.
 */
export async function run(args: string[]): Promise<Record<string, unknown>> {
  const flags = parseFlags(args);
  const num = (name: string, fallback: number, min = 0) => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min) throw new Error(`--${name} needs a number >= ${min}, got "${raw}"`);
    return v;
  };
  const hostile = flags.get('hostile');
  const events = num('events', SOAK_DEFAULTS.events, 1);
  // Production lasts at least ~2 minutes, so the faults (a 30 s Redis outage among them) happen while
  // events are produced: 4,000 events/s, slower for short runs.
  const rate = num('rate', Math.min(SOAK_DEFAULTS.rate, Math.max(100, Math.round(events / 120))), 1);
  const result = await runSoak({
    ...SOAK_DEFAULTS,
    events,
    rate,
    kills: num('kills', SOAK_DEFAULTS.kills),
    kafkaRestarts: num('kafka-restarts', SOAK_DEFAULTS.kafkaRestarts),
    kafkaDownMs: num('kafka-down-s', SOAK_DEFAULTS.kafkaDownMs / 1000) * 1000,
    redisOutages: num('redis-outages', SOAK_DEFAULTS.redisOutages),
    redisOutageMs: num('redis-outage-s', SOAK_DEFAULTS.redisOutageMs / 1000) * 1000,
    clickhouseFaults: num('clickhouse-faults', SOAK_DEFAULTS.clickhouseFaults),
    clickhouseFaultMs: num('clickhouse-fault-s', SOAK_DEFAULTS.clickhouseFaultMs / 1000) * 1000,
    hostileEach: num('hostile-each', SOAK_DEFAULTS.hostileEach),
    hostileClasses:
      hostile === undefined || hostile === 'all'
        ? SOAK_DEFAULTS.hostileClasses
        : hostile === 'none'
          ? []
          : hostile.split(',').filter(Boolean),
    users: num('users', SOAK_DEFAULTS.users, 1),
    seed: num('seed', SOAK_DEFAULTS.seed),
    settleTimeoutMs: num('settle-s', SOAK_DEFAULTS.settleTimeoutMs / 1000, 1) * 1000,
    ...(flags.has('logs') ? { logDir: flags.get('logs')! } : {}),
    progress,
  });
  if (result.ok !== true) {
    progress(`soak FAILED: ${(result.failures as string[]).join('; ')}`);
    process.exitCode = 1;
  }
  return result;
}

function parseFlags(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else out.set(a.slice(2), args[++i] ?? '');
  }
  const known = new Set([
    'events',
    'rate',
    'kills',
    'kafka-restarts',
    'kafka-down-s',
    'redis-outages',
    'redis-outage-s',
    'clickhouse-faults',
    'clickhouse-fault-s',
    'hostile-each',
    'hostile',
    'users',
    'seed',
    'settle-s',
    'logs',
  ]);
  for (const k of out.keys())
    if (!known.has(k))
      throw new Error(
        `unknown flag --${k}; hostile classes: ${HOSTILE_CLASSES.map((c) => c.name).join(',')}`,
      );
  return out;
}
