import type { ResolvedConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

/** One piece of the local stack (Kafka, the registry, Redis): how to recognise, fetch and start it. */
export interface StackPart {
  readonly name: string;
  /** Every port it binds, the first being the one clients use. */
  readonly ports: readonly number[];
  /** The fix to suggest when one of its ports is taken by something else. */
  readonly portSetting: string;
  /** True when the expected server answers on its port (ours or someone else's: either is reused). */
  answers(): Promise<boolean>;
  /** Fully ready for clients (may be stricter than `answers`). */
  ready(): Promise<boolean>;
  /** Fetches and prepares everything it needs; idempotent and cached. */
  provision(): Promise<void>;
  /** Starts the server detached; returns its pid. */
  start(): Promise<number>;
}

export interface PartContext {
  readonly config: Readonly<ResolvedConfig>;
  readonly logger: Logger;
  /** Absolute folder for downloads, data and logs. */
  readonly cacheDir: string;
  /** Absolute folder for this stack's state, logs and data. */
  readonly runDir: string;
  readonly jvmDirs: readonly string[];
  readonly options: StackOptions;
}

/**
 * How the parts run, beyond the configuration. The defaults are the disposable local stack; a fault
 * harness (bench/soak.ts) that stops and restarts parts asks for data that survives a restart.
 */
export interface StackOptions {
  /** Kafka keeps its log folder across restarts instead of starting empty (default false). */
  readonly keepKafkaData?: boolean;
  /**
   * Redis persists to an append-only file in `<stack dir>/redis`, fsynced on every write, and reloads it
   * on start (default false: in memory only).
   */
  readonly redisAppendOnly?: boolean;
}
