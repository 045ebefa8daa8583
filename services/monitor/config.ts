import { z } from 'zod';
import type { ConfigSection } from '../platform/config.ts';

/** The monitor's own settings: config section `monitor`. A model's drift settings live in its project. */
export const MonitorSettingsSchema = z.strictObject({
  /** Predictions held for late labels across a model's open windows; beyond it they cannot be labelled (counted). */
  maxPendingLabels: z.coerce.number().int().min(1_000).max(50_000_000).default(2_000_000),
  /** A window with fewer predictions is reported but not tested. */
  minWindowRows: z.coerce.number().int().min(1).default(100),
  /** How often windows are closed and readings finalised. */
  tickMs: z.coerce.number().int().min(50).max(60_000).default(1_000),
  /**
   * Close windows by the wall clock too when traffic is quiet (a window ends even if no later prediction
   * comes). Off for replays of recorded time, where the data's own times are the only clock.
   */
  wallClock: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(true),
  /** How often a model's reference profile is looked up again (a new champion's takes over). */
  referenceRefreshMs: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  /** A prediction made further ahead of this clock is refused (dead-lettered): it would close every window. */
  maxFutureSkewMs: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  /** A retrain run open this long without an answer is closed as failed, so it cannot hold the model forever. */
  runTimeoutMs: z.coerce.number().int().min(60_000).default(86_400_000),
});

export type MonitorSettings = z.output<typeof MonitorSettingsSchema>;

export const MONITOR_CONFIG: ConfigSection<MonitorSettings> = {
  name: 'monitor',
  schema: MonitorSettingsSchema,
  env: [
    {
      env: 'FLYWHEEL_MONITOR_MAX_PENDING_LABELS',
      path: 'monitor.maxPendingLabels',
      description:
        'Predictions a model holds for late labels; beyond it new ones cannot be labelled (counted).',
    },
    {
      env: 'FLYWHEEL_MONITOR_MIN_WINDOW_ROWS',
      path: 'monitor.minWindowRows',
      description: 'A window with fewer predictions is reported but not tested for drift.',
    },
    {
      env: 'FLYWHEEL_MONITOR_TICK_MS',
      path: 'monitor.tickMs',
      description: 'How often the monitor closes windows and finalises late-label readings.',
    },
    {
      env: 'FLYWHEEL_MONITOR_WALL_CLOCK',
      path: 'monitor.wallClock',
      description:
        'Close windows by the wall clock when traffic is quiet (false: only by the data’s own times).',
    },
    {
      env: 'FLYWHEEL_MONITOR_MAX_FUTURE_SKEW_MS',
      path: 'monitor.maxFutureSkewMs',
      description:
        'A prediction made further ahead of the monitor’s clock is dead-lettered (it would close every window).',
    },
    {
      env: 'FLYWHEEL_MONITOR_RUN_TIMEOUT_MS',
      path: 'monitor.runTimeoutMs',
      description: 'A retrain run open this long without an answer is closed as failed.',
    },
    {
      env: 'FLYWHEEL_MONITOR_REFERENCE_REFRESH_MS',
      path: 'monitor.referenceRefreshMs',
      description: "How often a model's reference profile (its champion's) is looked up again.",
    },
  ],
};
