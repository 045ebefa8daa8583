import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import type { CompiledView } from '../features/index.ts';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createEventConsumer } from '../platform/event-consumer.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import type { ModelDefinitionSpec } from '../project/index.ts';
import {
  createModelEventPublisher,
  createPipelineRuns,
  MODELS_TOPIC,
  type ModelEvent,
  type ModelRegistry,
} from '../registry/index.ts';
import { createTrainingSetBuilder } from '../training/index.ts';
import { defaultCodeVersion } from './code-version.ts';
import type { TrainerSettings } from './config.ts';
import { createTrainingPipeline, type RunOutcome, type RunRequest } from './pipeline.ts';

export const RETRAIN_TOPIC = 'ml.retrain';

export interface TrainerServiceDeps {
  config: Readonly<ResolvedConfig>;
  logger: Logger;
  metrics: MetricsRegistry;
  kafka: Kafka;
  codec: RegistryCodec;
  clickhouse: ClickHouseClient;
  registry: ModelRegistry;
  views: readonly CompiledView[];
  models: readonly ModelDefinitionSpec[];
  settings: TrainerSettings;
}

/**
 * The trainer (DESIGN's C5): consumes `ml.retrain`, runs each request through the training pipeline
 * one at a time, and announces the result on `ml.models` (TRAINED or FAILED). The consumer group is
 * durable and a request's offset is committed only when its run has ended, so a trainer killed mid-run
 * gets the request again and the run starts over (pipeline.ts says why that is safe).
 */
export function createTrainerService(deps: TrainerServiceDeps) {
  const { logger, metrics } = deps;
  const db = deps.config.clickhouse.database;
  const runs = createPipelineRuns({ clickhouse: deps.clickhouse, db });
  const abort = new AbortController();
  const runsTotal = metrics.counter(
    'flywheel_trainer_runs_total',
    'Retrain runs ended, by model and outcome.',
  );
  const progress = metrics.gauge(
    'flywheel_trainer_progress',
    'Share of the current stage done, by model and stage.',
  );
  let publish: (e: ModelEvent) => Promise<void> = () =>
    Promise.reject(new FlywheelError('FW_KAFKA_UNAVAILABLE', 'the trainer is not connected to Kafka'));
  const pipeline = createTrainingPipeline({
    clickhouse: deps.clickhouse,
    db,
    views: deps.views,
    models: new Map(deps.models.map((m) => [m.name, m])),
    registry: deps.registry,
    runs,
    builder: createTrainingSetBuilder({ clickhouse: deps.clickhouse, db, views: deps.views, logger }),
    publish: (e) => publish(e),
    settings: deps.settings,
    codeVersion: deps.settings.codeVersion || defaultCodeVersion(),
    logger,
    onProgress: (runId, stage, done, total) => {
      const model = runId.slice(0, runId.lastIndexOf('-')) || runId;
      progress.set(total > 0 ? done / total : 0, { model, stage });
    },
    signal: abort.signal,
  });
  let state: 'idle' | 'ready' | 'stopped' = 'idle';
  const consumer = createEventConsumer({
    kafka: deps.kafka,
    codec: deps.codec,
    logger,
    groupId: `${deps.config.kafka.clientId}-trainer`,
    topic: RETRAIN_TOPIC,
    alsoEnsure: [MODELS_TOPIC],
    service: 'trainer',
    handle: async (value) => {
      // Several projects may share the topic: a model this project does not declare is another's.
      if (!deps.models.some((m) => m.name === value.model)) return;
      const outcome = await runRequest(requestFromAvro(value));
      runsTotal.inc({ model: String(value.model), outcome: outcome.kind });
    },
    onFailure: (err) =>
      logger.error('retrain request not handled; it will be retried', { error: err.message }),
  });

  async function runRequest(request: RunRequest): Promise<RunOutcome> {
    await deps.registry.migrate();
    return pipeline.run(request);
  }

  return {
    async start(): Promise<void> {
      await deps.registry.migrate();
      const producer = await consumer.start();
      const publisher = createModelEventPublisher({ producer, codec: deps.codec });
      publish = (e) => publisher.publish(e);
      state = 'ready';
      logger.info('trainer ready', { models: deps.models.map((m) => m.name) });
    },
    ready: () => state === 'ready',
    /** Runs one request now, in this process (a first model, tests); the same path as a Kafka request. */
    run: runRequest,
    /** Stops a run in progress (it is retried from its request on the next start), then disconnects. */
    async stop(): Promise<void> {
      state = 'stopped';
      abort.abort();
      await consumer.stop();
    },
  };
}

export type TrainerService = ReturnType<typeof createTrainerService>;

const millis = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

/** An `ml.retrain` value as a run request; a value that cannot be one is FW_EVENT_INVALID (dead-lettered). */
export function requestFromAvro(v: Record<string, unknown>): RunRequest {
  const runId = String(v.run_id ?? '');
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(runId))
    throw new FlywheelError('FW_EVENT_INVALID', `run id ${JSON.stringify(runId)} is not a valid run id`);
  const start = millis(v.data_window_start);
  const end = millis(v.data_window_end);
  if (!(Number.isFinite(start) && Number.isFinite(end) && start < end))
    throw new FlywheelError('FW_EVENT_INVALID', `run ${runId}: the data window [${start}, ${end}) is empty`);
  let evidence: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(String(v.details || '{}')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      evidence = parsed as Record<string, unknown>;
  } catch {
    evidence = { text: String(v.details) };
  }
  return {
    runId,
    model: String(v.model),
    reason: String(v.reason),
    dataWindowStart: start,
    dataWindowEnd: end,
    sourceOffsets: Object.fromEntries(
      Object.entries((v.source_offsets ?? {}) as Record<string, unknown>).map(([k, n]) => [k, Number(n)]),
    ),
    requestedAt: millis(v.requested_at),
    requestedBy: String(v.requested_by ?? ''),
    evidence: { ...evidence, drift: v.evidence ?? [] },
  };
}
