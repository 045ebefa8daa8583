import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { computeMetric, type Metric } from '../monitor/index.ts';
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
  type ModelVersion,
  modelEventFromAvro,
  versionEvent,
} from '../registry/index.ts';
import { loadTrainingData, type TrainingData } from '../trainer/index.ts';
import { type ChampionMeasurement, decide, type GateDecision, type GateSettings } from './core/gate.ts';
import { measureModel } from './measure.ts';

export interface DeployerServiceDeps {
  config: Readonly<ResolvedConfig>;
  logger: Logger;
  metrics: MetricsRegistry;
  kafka: Kafka;
  codec: RegistryCodec;
  clickhouse: ClickHouseClient;
  registry: ModelRegistry;
  models: readonly ModelDefinitionSpec[];
}

export type GateOutcome =
  | { kind: 'promoted' | 'rejected' | 'passed'; decision: GateDecision; version: number }
  | { kind: 'skipped'; state: string };

/**
 * The deployer (DESIGN's C3 and C6): every TRAINED version on `ml.models` goes through the gate
 * (core/gate.ts) on its run's holdout, against the champion scored on the same rows; a version that
 * passes becomes `champion` (an alias move, recorded, and PROMOTED on `ml.models`, which serving
 * follows), one that fails is REJECTED with its reasons. Every check lands in `pipeline_runs`.
 * Idempotent per run: a run already gated is not gated again.
 */
export function createDeployerService(deps: DeployerServiceDeps) {
  const { logger, metrics } = deps;
  const db = deps.config.clickhouse.database;
  const runs = createPipelineRuns({ clickhouse: deps.clickhouse, db });
  const models = new Map(deps.models.map((m) => [m.name, m]));
  const decisions = metrics.counter(
    'flywheel_deployer_decisions_total',
    'Gate decisions, by model and outcome.',
  );
  let publish: (e: ModelEvent) => Promise<void> = () =>
    Promise.reject(new FlywheelError('FW_KAFKA_UNAVAILABLE', 'the deployer is not connected to Kafka'));
  let state: 'idle' | 'ready' | 'stopped' = 'idle';
  const consumer = createEventConsumer({
    kafka: deps.kafka,
    codec: deps.codec,
    logger,
    groupId: `${deps.config.kafka.clientId}-deployer`,
    topic: MODELS_TOPIC,
    service: 'deployer',
    handle: async (value) => {
      const e = modelEventFromAvro(value);
      if (e.type !== 'TRAINED' || !models.has(e.model)) return;
      if (!e.runId)
        throw new FlywheelError('FW_EVENT_INVALID', `TRAINED ${e.model} v${e.version} names no run`);
      await gate(e.model, e.version, e.runId, e.details);
    },
    onFailure: (err) => logger.error('model event not handled; it will be retried', { error: err.message }),
  });

  function settingsOf(d: ModelDefinitionSpec): GateSettings {
    return {
      task: d.task,
      metric: (d.gate.metric ?? (d.task === 'regression' ? 'rmse' : 'auc')) as Metric,
      tolerance: d.gate.tolerance,
      latencyBudgetMs: d.gate.latencyBudgetMs,
    };
  }

  /** Gates the version a run trained; promotes it when it passes and the model promotes on its own. */
  async function gate(
    model: string,
    version: number,
    runId: string,
    details: Record<string, unknown>,
  ): Promise<GateOutcome> {
    const prior = await runs.state(runId);
    if (prior && ['promoted', 'rejected', 'rolled_back', 'gated'].includes(prior.state)) {
      logger.info('run already gated: not gating again', { runId, state: prior.state });
      return { kind: 'skipped', state: prior.state };
    }
    const definition = models.get(model);
    if (!definition) throw new FlywheelError('FW_NOT_FOUND', `the project has no model "${model}"`);
    await runs.record({ runId, model, state: 'gating', version, actor: 'deployer' });
    const challenger = await deps.registry.version(model, version);
    const holdout = await holdoutOf(challenger, details, definition);
    const decision = await evaluate(settingsOf(definition), challenger, holdout);
    const evidence = { checks: decision.checks, reasons: decision.reasons, holdoutRows: holdout.rows };
    decisions.inc({ model, outcome: decision.promote ? 'passed' : 'rejected' });
    if (!decision.promote) {
      await runs.record({ runId, model, state: 'rejected', version, actor: 'deployer', details: evidence });
      await publish(versionEvent('REJECTED', challenger, { runId, details: evidence }));
      logger.warn('challenger rejected', { model, version, reasons: decision.reasons });
      return { kind: 'rejected', decision, version };
    }
    if (!definition.gate.autoPromote) {
      await runs.record({ runId, model, state: 'gated', version, actor: 'deployer', details: evidence });
      return { kind: 'passed', decision, version };
    }
    await promote(challenger, { runId, reason: `run ${runId} passed the gate`, evidence });
    return { kind: 'promoted', decision, version };
  }

  /** Moves champion to the version and tells the loop (serving swaps, the monitor closes the run). */
  async function promote(
    v: ModelVersion,
    o: { runId: string; reason: string; evidence: Record<string, unknown>; setBy?: string },
  ): Promise<void> {
    const move = await deps.registry.setAlias(v.model, 'champion', v.version, {
      reason: o.reason,
      setBy: o.setBy ?? 'deployer',
      runId: o.runId,
    });
    const details = { ...o.evidence, previousVersion: move.previousVersion };
    await runs.record({
      runId: o.runId,
      model: v.model,
      state: 'promoted',
      version: v.version,
      actor: o.setBy ?? 'deployer',
      details,
    });
    await publish(versionEvent('PROMOTED', v, { alias: 'champion', runId: o.runId, details }));
    logger.info('challenger promoted', { model: v.model, version: v.version, from: move.previousVersion });
  }

  async function holdoutOf(
    v: ModelVersion,
    details: Record<string, unknown>,
    definition: ModelDefinitionSpec,
  ): Promise<TrainingData> {
    const setId = typeof details.setId === 'string' ? details.setId : null;
    const from = Number(details.holdoutStart);
    if (!setId || !Number.isFinite(from))
      throw new FlywheelError(
        'FW_EVENT_INVALID',
        `TRAINED ${v.model} v${v.version} names no holdout (setId, holdoutStart)`,
      );
    return loadTrainingData(deps.clickhouse, db, {
      setId,
      features: v.features,
      task: definition.task,
      from,
    });
  }

  async function evaluate(
    s: GateSettings,
    challenger: ModelVersion,
    holdout: TrainingData,
  ): Promise<GateDecision> {
    const measured = await measureModel(
      await deps.registry.read(challenger),
      challenger.features.length,
      holdout,
    );
    return decide(s, measured, holdout.y, await championOn(s, challenger, holdout));
  }

  /** The champion's metric on the challenger's holdout, when it reads the same inputs. */
  async function championOn(
    s: GateSettings,
    challenger: ModelVersion,
    holdout: TrainingData,
  ): Promise<ChampionMeasurement | null> {
    const champion = await deps.registry.resolve(challenger.model, 'champion').catch((err) => {
      if (err instanceof FlywheelError && err.code === 'FW_NOT_FOUND') return null;
      throw err;
    });
    if (!champion || champion.version === challenger.version) return null;
    if (champion.features.join('\n') !== challenger.features.join('\n')) {
      const registered = champion.metrics[s.metric];
      return registered === undefined
        ? null
        : { version: champion.version, metric: registered, sameHoldout: false };
    }
    const m = await measureModel(await deps.registry.read(champion), champion.features.length, holdout);
    const metric = m.loadError ? null : computeMetric(s.metric, holdout.y, m.holdoutOutputs);
    // A champion that cannot be scored any more sets no line: the challenger is judged on its own checks.
    return metric === null || !Number.isFinite(metric)
      ? null
      : { version: champion.version, metric, sameHoldout: true };
  }

  return {
    async start(): Promise<void> {
      await deps.registry.migrate();
      const producer = await consumer.start();
      const publisher = createModelEventPublisher({ producer, codec: deps.codec });
      publish = (e) => publisher.publish(e);
      state = 'ready';
      logger.info('deployer ready', { models: [...models.keys()] });
    },
    ready: () => state === 'ready',
    /** Gates one version now, the same path as a TRAINED event (tests, the CLI). */
    gate,
    promote,
    async stop(): Promise<void> {
      state = 'stopped';
      await consumer.stop();
    },
  };
}

export type DeployerService = ReturnType<typeof createDeployerService>;
