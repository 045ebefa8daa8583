import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FlywheelError } from './errors.ts';

/**
 * The one configuration of Flywheel: defaults < JSON file (FLYWHEEL_CONFIG) < environment variables.
 * Validated once at start-up and frozen. The platform's sections (log, startup, stack, kafka, registry,
 * redis, clickhouse, http) are declared here; a module declares its own section (schema and
 * environment variables) beside its code as a ConfigSection, and `loadConfig` validates the platform's
 * and every module's section in one pass, reporting all problems together. ENV_VARS plus the modules'
 * tables are every environment variable there is (README's configuration table is generated from them).
 */
const port = z.coerce.number().int().min(1).max(65_535);

const StackSchema = z.object({
  cacheDir: z.string().min(1).default('.cache'),
  /** Run-time folder of the local stack (state file, logs, Kafka data); default <cacheDir>/stack. */
  runDir: z.string().min(1).optional(),
  kafkaVersion: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .default('3.9.2'),
  apicurioVersion: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .default('3.3.3'),
  kafkaPort: port.default(19092),
  kafkaControllerPort: port.default(19093),
  registryPort: port.default(18081),
  registryManagementPort: port.default(19001),
  redisPort: port.default(16379),
  readyTimeoutMs: z.coerce.number().int().positive().default(120_000),
  java: z.string().default('java'),
  maven: z.string().default('mvn'),
  /** Folders searched for JDKs when the Java on PATH is too old for a part (Apicurio 3.3 needs 21). */
  jvmDirs: z.array(z.string()).default(['/usr/lib/jvm']),
});

const StartupSchema = z.object({
  /** First delay of the start-up backoff (full jitter, doubling). Tests set a few ms. */
  initialDelayMs: z.coerce.number().int().min(0).default(200),
  maxDelayMs: z.coerce.number().int().min(0).default(5_000),
  /** Attempts before a module gives up starting; 0 = until it is stopped (a server waits for Kafka). */
  maxAttempts: z.coerce.number().int().min(0).default(0),
});

const LogSchema = z.object({
  level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

export const ConfigSchema = z.object({
  log: LogSchema.default(LogSchema.parse({})),
  startup: StartupSchema.default(StartupSchema.parse({})),
  stack: StackSchema.default(StackSchema.parse({})),
  kafka: z
    .object({
      brokers: z.array(z.string().min(1)).min(1).optional(),
      clientId: z.string().default('flywheel'),
      /** Topics are created with this many partitions when they do not exist yet. */
      defaultPartitions: z.coerce.number().int().positive().default(4),
    })
    .default({ clientId: 'flywheel', defaultPartitions: 4 }),
  registry: z.object({ url: z.string().url().optional() }).default({}),
  redis: z
    .object({ url: z.string().optional(), keyPrefix: z.string().default('fw:') })
    .default({ keyPrefix: 'fw:' }),
  clickhouse: z
    .object({
      /** A ClickHouse server's HTTP URL; unset means embedded chDB at `dataDir`. */
      url: z.string().url().optional(),
      dataDir: z.string().optional(),
      database: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
        .default('flywheel'),
    })
    .default({ database: 'flywheel' }),
  http: z
    .object({
      host: z.string().default('127.0.0.1'),
      /** In `flywheel run <service>` mode: the one port this process serves (health, metrics, its API). */
      port: port.optional(),
      ingestPort: port.default(8700),
      servingPort: port.default(8701),
      consolePort: port.default(8702),
      featuresPort: port.default(8703),
      demoPort: port.default(8704),
      monitorPort: port.default(8705),
      trainerPort: port.default(8706),
      deployerPort: port.default(8707),
      maxBodyBytes: z.coerce.number().int().positive().default(1_048_576),
    })
    .default({
      host: '127.0.0.1',
      ingestPort: 8700,
      servingPort: 8701,
      consolePort: 8702,
      featuresPort: 8703,
      demoPort: 8704,
      monitorPort: 8705,
      trainerPort: 8706,
      deployerPort: 8707,
      maxBodyBytes: 1_048_576,
    }),
});

export type FlywheelConfig = z.infer<typeof ConfigSchema>;

/** Resolved addresses: the config with every derived default filled in. */
export interface ResolvedConfig extends FlywheelConfig {
  kafka: FlywheelConfig['kafka'] & { brokers: string[] };
  registry: { url: string };
  redis: FlywheelConfig['redis'] & { url: string };
  clickhouse: FlywheelConfig['clickhouse'] & { dataDir: string };
  /** The modules' own sections, by section name, as loadConfig was given them. */
  sections: Readonly<Record<string, unknown>>;
}

/** One environment variable: where it lands in the config (`section.key`) and what it means. */
export interface EnvVar {
  readonly env: string;
  readonly path: string;
  readonly description: string;
  /** Comma-separated list. */
  readonly list?: boolean;
}

/**
 * A module's own configuration: the section `name` of the config file, its schema (every key with its
 * default) and its environment variables (paths `name.key`).
 */
export interface ConfigSection<S = unknown> {
  readonly name: string;
  readonly schema: z.ZodType<S, unknown>;
  readonly env: readonly EnvVar[];
}

export const ENV_VARS: readonly EnvVar[] = [
  {
    env: 'FLYWHEEL_LOG_LEVEL',
    path: 'log.level',
    description: 'Least level logged: debug, info, warn, error or silent.',
  },
  {
    env: 'FLYWHEEL_STARTUP_INITIAL_DELAY_MS',
    path: 'startup.initialDelayMs',
    description: 'First delay of the one start-up retry policy (full-jitter exponential backoff).',
  },
  {
    env: 'FLYWHEEL_STARTUP_MAX_DELAY_MS',
    path: 'startup.maxDelayMs',
    description: 'Largest delay between start-up attempts.',
  },
  {
    env: 'FLYWHEEL_STARTUP_MAX_ATTEMPTS',
    path: 'startup.maxAttempts',
    description: 'Start-up attempts before a module gives up; 0 keeps trying until it is stopped.',
  },
  {
    env: 'FLYWHEEL_CACHE_DIR',
    path: 'stack.cacheDir',
    description: 'Folder for downloaded jars, stack data and logs (ignored by git).',
  },
  {
    env: 'FLYWHEEL_STACK_DIR',
    path: 'stack.runDir',
    description: 'Run-time folder of the local stack: state, logs, Kafka data (default <cache>/stack).',
  },
  {
    env: 'FLYWHEEL_KAFKA_VERSION',
    path: 'stack.kafkaVersion',
    description: 'Apache Kafka version the stack manager runs (3.9.x default; 4.x supported).',
  },
  {
    env: 'FLYWHEEL_APICURIO_VERSION',
    path: 'stack.apicurioVersion',
    description: 'Apicurio Registry version the stack manager runs.',
  },
  { env: 'FLYWHEEL_KAFKA_PORT', path: 'stack.kafkaPort', description: 'Local Kafka broker port.' },
  {
    env: 'FLYWHEEL_KAFKA_CONTROLLER_PORT',
    path: 'stack.kafkaControllerPort',
    description: 'Local KRaft controller port.',
  },
  {
    env: 'FLYWHEEL_REGISTRY_PORT',
    path: 'stack.registryPort',
    description: 'Local schema registry HTTP port.',
  },
  {
    env: 'FLYWHEEL_REGISTRY_MANAGEMENT_PORT',
    path: 'stack.registryManagementPort',
    description: 'Local registry management (health) port.',
  },
  { env: 'FLYWHEEL_REDIS_PORT', path: 'stack.redisPort', description: 'Local Redis port.' },
  {
    env: 'FLYWHEEL_READY_TIMEOUT_MS',
    path: 'stack.readyTimeoutMs',
    description: 'How long a stack part may take to become ready.',
  },
  {
    env: 'FLYWHEEL_JAVA',
    path: 'stack.java',
    description: 'Java 17+ executable used for Kafka and the registry.',
  },
  {
    env: 'FLYWHEEL_JVM_DIRS',
    path: 'stack.jvmDirs',
    list: true,
    description: 'Comma-separated folders searched for JDKs (default /usr/lib/jvm).',
  },
  { env: 'FLYWHEEL_MAVEN', path: 'stack.maven', description: 'Maven executable used to fetch jars.' },
  {
    env: 'FLYWHEEL_KAFKA_BROKERS',
    path: 'kafka.brokers',
    list: true,
    description: 'Comma-separated Kafka bootstrap servers (default: the local stack).',
  },
  { env: 'FLYWHEEL_KAFKA_CLIENT_ID', path: 'kafka.clientId', description: 'Kafka client id prefix.' },
  {
    env: 'FLYWHEEL_KAFKA_PARTITIONS',
    path: 'kafka.defaultPartitions',
    description: 'Partitions for topics Flywheel creates.',
  },
  {
    env: 'FLYWHEEL_REGISTRY_URL',
    path: 'registry.url',
    description: 'Confluent-compatible schema registry URL (default: local Apicurio ccompat API).',
  },
  { env: 'FLYWHEEL_REDIS_URL', path: 'redis.url', description: 'Redis URL (default: the local stack).' },
  {
    env: 'FLYWHEEL_REDIS_PREFIX',
    path: 'redis.keyPrefix',
    description: 'Prefix of every Redis key Flywheel writes.',
  },
  {
    env: 'CLICKHOUSE_URL',
    path: 'clickhouse.url',
    description: 'ClickHouse server HTTP URL; unset = embedded chDB.',
  },
  {
    env: 'FLYWHEEL_CHDB_PATH',
    path: 'clickhouse.dataDir',
    description: 'Data folder of the embedded chDB store.',
  },
  {
    env: 'FLYWHEEL_CLICKHOUSE_DATABASE',
    path: 'clickhouse.database',
    description: 'ClickHouse database holding Flywheel tables.',
  },
  { env: 'FLYWHEEL_HTTP_HOST', path: 'http.host', description: 'Address the HTTP servers bind.' },
  {
    env: 'FLYWHEEL_HTTP_PORT',
    path: 'http.port',
    description: 'Port of a one-module process (`flywheel run <module>`); overrides its default.',
  },
  { env: 'FLYWHEEL_INGEST_PORT', path: 'http.ingestPort', description: 'Ingest API port.' },
  { env: 'FLYWHEEL_SERVING_PORT', path: 'http.servingPort', description: 'Serving API port.' },
  { env: 'FLYWHEEL_CONSOLE_PORT', path: 'http.consolePort', description: 'Console port.' },
  {
    env: 'FLYWHEEL_FEATURES_PORT',
    path: 'http.featuresPort',
    description: "Features processor's health and metrics port.",
  },
  { env: 'FLYWHEEL_DEMO_PORT', path: 'http.demoPort', description: "Traffic generator's health port." },
  {
    env: 'FLYWHEEL_MONITOR_PORT',
    path: 'http.monitorPort',
    description: "Monitor's port: drift reports as JSON.",
  },
  {
    env: 'FLYWHEEL_TRAINER_PORT',
    path: 'http.trainerPort',
    description: "Trainer's health and metrics port.",
  },
  {
    env: 'FLYWHEEL_DEPLOYER_PORT',
    path: 'http.deployerPort',
    description: "Deployer's health and metrics port.",
  },
  {
    env: 'FLYWHEEL_MAX_BODY_BYTES',
    path: 'http.maxBodyBytes',
    description: 'Largest accepted HTTP request body (413 above).',
  },
];

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Record<string, unknown> = {},
  sections: readonly ConfigSection[] = [],
): Readonly<ResolvedConfig> {
  const table = [...ENV_VARS, ...sections.flatMap((s) => s.env)];
  const raw: Record<string, unknown> = env.FLYWHEEL_CONFIG ? readConfigFile(env.FLYWHEEL_CONFIG) : {};
  for (const { env: name, path, list } of table) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setPath(
      raw,
      path,
      list
        ? value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : value,
    );
  }
  deepMerge(raw, overrides);
  const problems: string[] = [];
  const describe = (issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]) => {
    for (const i of issues) {
      const path = [...prefix, ...i.path].join('.');
      const envName = table.find((v) => v.path === path)?.env;
      problems.push(`  - ${path}${envName ? ` (${envName})` : ''}: ${i.message}`);
    }
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) describe(parsed.error.issues, []);
  const settings: Record<string, unknown> = {};
  for (const section of sections) {
    const result = section.schema.safeParse(raw[section.name] ?? {});
    if (result.success) settings[section.name] = result.data;
    else describe(result.error.issues, [section.name]);
  }
  if (!parsed.success || problems.length)
    throw new FlywheelError('FW_CONFIG_INVALID', `Invalid Flywheel configuration:\n${problems.join('\n')}`);
  return deepFreeze({ ...resolve(parsed.data), sections: settings });
}

/**
 * A module's settings: from the config when it was loaded with the module's section, else the section
 * read on its own from the environment and the config file (a test or tool that loaded only the
 * platform's config still honours `FLYWHEEL_FEATURES_*`).
 */
export function sectionSettings<S>(config: Readonly<ResolvedConfig>, section: ConfigSection<S>): S {
  if (section.name in config.sections) return config.sections[section.name] as S;
  return loadConfig(process.env, {}, [section]).sections[section.name] as S;
}

function resolve(c: FlywheelConfig): Omit<ResolvedConfig, 'sections'> {
  return {
    ...c,
    kafka: { ...c.kafka, brokers: c.kafka.brokers ?? [`127.0.0.1:${c.stack.kafkaPort}`] },
    registry: { url: c.registry.url ?? `http://127.0.0.1:${c.stack.registryPort}/apis/ccompat/v7` },
    redis: { ...c.redis, url: c.redis.url ?? `redis://127.0.0.1:${c.stack.redisPort}` },
    clickhouse: { ...c.clickhouse, dataDir: c.clickhouse.dataDir ?? `${c.stack.cacheDir}/chdb` },
  };
}

function readConfigFile(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new FlywheelError(
      'FW_CONFIG_INVALID',
      `Cannot read FLYWHEEL_CONFIG file ${path}: ${(err as Error).message}`,
    );
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      target[k] ??= {};
      deepMerge(target[k] as Record<string, unknown>, v as Record<string, unknown>);
    } else target[k] = v;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
