import { z } from 'zod';
import type { ConfigSection } from '../platform/config.ts';

/** Serving's own settings: config section `serving`. */
export const ServingSettingsSchema = z.strictObject({
  /** Most entities one request may name (413 FW_BATCH_TOO_LARGE above). */
  maxEntities: z.coerce.number().int().min(1).max(10_000).default(100),
  /** Longest entity key, in characters (400 above). */
  maxEntityLength: z.coerce.number().int().min(1).max(65_536).default(256),
  /** How often serving re-reads each model's `champion` alias (a promoted version swaps in within this). */
  modelRefreshMs: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
});

export type ServingSettings = z.output<typeof ServingSettingsSchema>;

export const SERVING_CONFIG: ConfigSection<ServingSettings> = {
  name: 'serving',
  schema: ServingSettingsSchema,
  env: [
    {
      env: 'FLYWHEEL_SERVING_MAX_ENTITIES',
      path: 'serving.maxEntities',
      description: 'Most entities one features or predict request may name (413 above).',
    },
    {
      env: 'FLYWHEEL_SERVING_MAX_ENTITY_LENGTH',
      path: 'serving.maxEntityLength',
      description: 'Longest entity key a serving request may carry, in characters (400 above).',
    },
    {
      env: 'FLYWHEEL_SERVING_MODEL_REFRESH_MS',
      path: 'serving.modelRefreshMs',
      description:
        "How often serving re-reads each model's `champion` alias; a promoted version swaps in within this.",
    },
  ],
};
