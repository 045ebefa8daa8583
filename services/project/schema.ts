import { z } from 'zod';
import { parseDuration } from '../core/windows/duration.ts';
import { AggregationDefSchema } from '../features/index.ts';

/**
 * What a project folder declares in its `flywheel.config.ts`: sources (topic, key, event time, lateness,
 * limits, the Avro file), entities, feature views over those sources, feature services, and models
 * (task, inputs, label, training window, gate, monitoring). Every object is strict: a misspelt key is
 * an error naming its path, not a setting silently ignored. Cross-references (a view's source, a model's
 * inputs) are checked after parsing, in validate.ts, where the `.avsc` files are known too.
 */
const name = z
  .string()
  .regex(/^[a-z][a-z0-9_-]*$/, 'use lower case letters, digits, "_" and "-", starting with a letter');
const viewName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'use lower case letters, digits and "_"');
const duration = z.string().superRefine((text, ctx) => {
  try {
    parseDuration(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const SourceLimitsSpec = z.strictObject({
  /** Most events one ingest request may carry (default 1,000). */
  maxEvents: z.number().int().positive().max(100_000).optional(),
  /** Largest single event as JSON bytes (default 64 KiB); also the largest record the features fold. */
  maxEventBytes: z
    .number()
    .int()
    .positive()
    .max(16 * 1_048_576)
    .optional(),
  /** Deepest nesting of objects and arrays inside one event (default 32). */
  maxDepth: z.number().int().positive().max(256).optional(),
  /** Longest entity key in UTF-8 bytes (default 256). */
  maxKeyBytes: z.number().int().positive().max(1_048_576).optional(),
  /** Furthest an event time may be ahead of the receiver's clock (default 5m). */
  maxFutureSkew: duration.optional(),
  /** Earliest plausible event time, ISO-8601 with offset (default 2000-01-01T00:00:00Z). */
  minEventTime: z.iso.datetime({ offset: true }).optional(),
});

export const SourceSpec = z.strictObject({
  name,
  description: z.string().default(''),
  /** Kafka topic the source's events go to. */
  topic: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a Kafka topic name: letters, digits, ".", "_", "-"'),
  /** The `.avsc` file of the events, relative to the project folder. */
  schema: z.string().min(1),
  /** Field whose value keys the Kafka message: the entity features are grouped by. */
  keyField: z.string().min(1),
  /** Event-time field (Avro long, logicalType timestamp-millis). */
  timestampField: z.string().min(1),
  /** Events older than a partition's newest event time minus this are late: dead-lettered, counted. */
  allowedLateness: duration.default('5m'),
  limits: SourceLimitsSpec.default({}),
});

export const EntitySpec = z.strictObject({
  name,
  description: z.string().default(''),
  /** The key field that identifies the entity in every source that carries it. */
  key: z.string().min(1),
});

export const ViewSpec = z.strictObject({
  name: viewName,
  /** Omitted: `apply` numbers versions itself (1, then the next one each time the definition changes). */
  version: z.number().int().positive().optional(),
  description: z.string().default(''),
  /** The source's name (not its topic). */
  source: z.string().min(1),
  /** The entity's name; its key must be the source's key field. */
  entity: z.string().min(1),
  tile: duration.default('1m'),
  ttl: duration.default('7d'),
  aggregations: z.array(AggregationDefSchema.strict()).min(1),
});

const LabelJoin = z.discriminatedUnion('by', [
  /** The outcome carries the prediction's request id in `field`. */
  z.strictObject({ by: z.literal('request_id'), field: z.string().min(1) }),
  /** The outcome labels its entity's newest prediction at or before the outcome's event time, within `within`. */
  z.strictObject({ by: z.literal('entity'), within: duration.default('1h') }),
]);

export const ModelTask = z.enum(['binary_classification', 'regression']);

/** A monitored input's drift settings; anything left out follows docs/drift-statistics.md. */
const MonitoredFeature = z.strictObject({
  /** Numbers are numerical unless they stand for categories (codes, levels). */
  type: z.enum(['numerical', 'categorical']).optional(),
  test: z.enum(['ks', 'wasserstein', 'jensenshannon', 'psi', 'chisquare', 'ztest']).optional(),
  /** α for a p-value test, the line for a distance. */
  threshold: z.number().positive().optional(),
  /** The smallest effect size called drift. */
  effectFloor: z.number().min(0).optional(),
});

export const ModelSpec = z.strictObject({
  name,
  description: z.string().default(''),
  task: ModelTask,
  algorithm: z.enum(['logistic_regression', 'gradient_boosted_trees']).default('gradient_boosted_trees'),
  /** Input features as `<view>.<feature>` (e.g. `account_stats.amount_sum_1h`). */
  features: z.array(z.string().regex(/^[a-z][a-z0-9_]*\.[a-z0-9_]+$/, 'write <view>.<feature>')).min(1),
  label: z.strictObject({
    /** The outcomes source the labels arrive on. */
    source: z.string().min(1),
    /** The label field in that source: boolean or 0/1 for classification, a number for regression. */
    field: z.string().min(1),
    join: LabelJoin,
    /** How late a label may arrive after its prediction; windows are partial until it has passed. */
    maxDelay: duration.default('1d'),
  }),
  training: z
    .strictObject({
      /** How far back a training set reaches from the retrain time. */
      window: duration.default('7d'),
      /** The newest part of the window, kept out of training to compare challenger and champion. */
      holdout: duration.default('1d'),
    })
    .default({ window: '7d', holdout: '1d' }),
  gate: z
    .strictObject({
      /** Holdout metric the deployer compares (default: auc for classification, rmse for regression). */
      metric: z.enum(['auc', 'accuracy', 'log_loss', 'mae', 'rmse']).optional(),
      /** A challenger passes when its metric is no worse than the champion's by more than this. */
      tolerance: z.number().min(0).max(1).default(0.01),
      /** The p99 of one-row predictions a challenger must keep to, in milliseconds. */
      latencyBudgetMs: z.number().positive().max(10_000).default(10),
      /** Promote on its own after training (false: the gate's verdict is recorded, a person promotes). */
      autoPromote: z.boolean().default(true),
      /**
       * A shadow phase after the holdout gate: for this long serving scores the challenger beside the
       * champion on live traffic, and the deployer promotes only if, on the labelled shadow rows, it is
       * no worse than the champion by more than the tolerance. Absent: no shadow phase.
       */
      shadow: duration.optional(),
      /** Labelled shadow rows the comparison needs; fewer at the end of the phase reject the challenger. */
      shadowMinLabels: z.number().int().min(1).default(200),
    })
    .default({ tolerance: 0.01, latencyBudgetMs: 10, autoPromote: true, shadowMinLabels: 200 }),
  monitoring: z
    .strictObject({
      /** Tumbling window of the live profiles and realised performance. */
      window: duration.default('1h'),
      /** How long after a window's end its predictions may still arrive before it closes. */
      lateness: duration.default('1m'),
      /** Per-input drift settings by `<view>.<feature>` (or `prediction`): type, test, threshold, floor. */
      features: z.record(z.string(), MonitoredFeature).default({}),
      /** Dataset drift: the share of drifted inputs at or above this. */
      datasetDriftShare: z.number().min(0).max(1).default(0.5),
      /** Consecutive drifted windows before drift proposes a retrain. */
      hysteresis: z.number().int().min(1).max(100).default(3),
      /** A drop of the gate metric by this much (absolute) confirms drift as harmful. */
      performanceDrop: z.number().positive().default(0.05),
      /** Consecutive windows of realised harm that retrain without input drift (concept drift). */
      performanceWindows: z.number().int().min(1).max(100).default(2),
      /** A drop is harm only when it is also this many standard errors of the window's figure. */
      harmZ: z.number().min(0).max(10).default(3),
      /** Labelled rows needed since the last retrain request before another. */
      minLabels: z.number().int().min(0).default(1000),
      /** A window's metric (realised or estimated) on fewer rows than this is not read as evidence. */
      minMetricRows: z.number().int().min(1).default(200),
      /** Least time between two retrains of the model. */
      cooldown: duration.default('6h'),
    })
    .default({
      window: '1h',
      lateness: '1m',
      features: {},
      datasetDriftShare: 0.5,
      hysteresis: 3,
      performanceDrop: 0.05,
      performanceWindows: 2,
      harmZ: 3,
      minLabels: 1000,
      minMetricRows: 200,
      cooldown: '6h',
    }),
});

/** Live traffic for the all-in-one job (`demo` module): sends events through the producer it is given. */
export type TrafficGenerator = (ctx: TrafficContext) => { stop(): Promise<void> | void };

export interface TrafficContext {
  /** Sends events of a project source (validated against its contract, keyed by its key field). */
  send(source: string, events: readonly object[]): Promise<unknown>;
  /** Events per second asked for (config `demo.rate`); the generator keeps to it. */
  readonly ratePerSecond: number;
  /** How many distinct entities to spread events over (config `demo.users`). */
  readonly entities: number;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
  /** Remembers an entity key the generator just sent, for the console's "try this one" link. */
  readonly noteEntity: (key: string) => void;
}

export const ProjectSpec = z.strictObject({
  name,
  description: z.string().default(''),
  sources: z.array(SourceSpec).min(1),
  entities: z.array(EntitySpec).default([]),
  views: z.array(ViewSpec).default([]),
  /** Named groups of views that serving reads together (`POST /v1/features` with featureService). */
  featureServices: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), z.array(viewName).min(1)).default({}),
  models: z.array(ModelSpec).default([]),
  /** How many versions of each view are computed and served: the newest and the ones before it. */
  retainViewVersions: z.number().int().min(1).max(10).default(2),
  traffic: z
    .custom<TrafficGenerator>((v) => typeof v === 'function', 'a function (ctx) => { stop() }')
    .optional(),
});

/** What `defineProject` accepts (defaults optional). */
export type ProjectInput = z.input<typeof ProjectSpec>;
/** A parsed project, defaults filled in. */
export type ProjectDefinition = z.output<typeof ProjectSpec>;
export type SourceDefinitionSpec = z.output<typeof SourceSpec>;
export type ViewDefinitionSpec = z.output<typeof ViewSpec>;
export type ModelDefinitionSpec = z.output<typeof ModelSpec>;

/**
 * Declares a project. Returns its argument: validation happens when Flywheel loads the folder, where
 * an error can name the file and the `.avsc` files are read; the function exists for the types.
 */
export function defineProject<const P extends ProjectInput>(project: P): P {
  return project;
}
