import { z } from 'zod';
import type { ConfigSection } from '../platform/config.ts';

/** The trainer's own settings: config section `trainer`. A model's window and holdout live in its project. */
export const TrainerSettingsSchema = z.strictObject({
  /** Seed of every random choice training makes: the same data and settings give the same model bytes. */
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(42),
  /** Share of the rows before the holdout (the newest of them) kept for early stopping. */
  validationShare: z.coerce.number().min(0.01).max(0.5).default(0.1),
  /** Fewest rows each split (train, validation, holdout) must have; a run with fewer fails, saying so. */
  minRowsPerSplit: z.coerce.number().int().min(1).default(50),
  /** Most rows a run trains on (held in memory); a larger window fails, saying so. */
  maxTrainingRows: z.coerce.number().int().min(100).max(50_000_000).default(5_000_000),
  /** Recorded with every version; empty (the default): the package version and a hash of the trainer's code. */
  codeVersion: z.string().max(200).default(''),
});

export type TrainerSettings = z.output<typeof TrainerSettingsSchema>;

export const TRAINER_CONFIG: ConfigSection<TrainerSettings> = {
  name: 'trainer',
  schema: TrainerSettingsSchema,
  env: [
    {
      env: 'FLYWHEEL_TRAINER_SEED',
      path: 'trainer.seed',
      description: 'Seed of every random choice training makes.',
    },
    {
      env: 'FLYWHEEL_TRAINER_VALIDATION_SHARE',
      path: 'trainer.validationShare',
      description: 'Share of the pre-holdout rows (the newest) kept for early stopping.',
    },
    {
      env: 'FLYWHEEL_TRAINER_MIN_ROWS_PER_SPLIT',
      path: 'trainer.minRowsPerSplit',
      description: 'Fewest rows each of train, validation and holdout must have.',
    },
    {
      env: 'FLYWHEEL_TRAINER_MAX_TRAINING_ROWS',
      path: 'trainer.maxTrainingRows',
      description: 'Most rows a run trains on; a larger training window fails, saying so.',
    },
    {
      env: 'FLYWHEEL_CODE_VERSION',
      path: 'trainer.codeVersion',
      description: 'Code version recorded with every trained version (default: package version + code hash).',
    },
  ],
};
