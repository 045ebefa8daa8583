import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { parseDuration } from '../core/windows/duration.ts';
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
import {
  type ChampionMeasurement,
  decide,
  type GateDecision,
  type GateSettings,
  shadowDecision,
} from './core/gate.ts';
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
  | { kind: 'promoted' | 'rejected' | 'passed' | 'shadowing'; decision: GateDecision; version: number }
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
  const shadows = new Map<string, NodeJS.Timeout>();
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
    if (prior && ['promoted', 'rejected', 'rolled_back', 'gated', 'shadowing'].includes(prior.state)) {
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
    if (definition.gate.shadow) {
      await startShadow(challenger, runId, evidence, parseDuration(definition.gate.shadow));
      return { kind: 'shadowing', decision, version };
    }
    await promote(challenger, { runId, reason: `run ${runId} passed the gate`, evidence });
    return { kind: 'promoted', decision, version };
  }

  /**
   * The shadow phase: `challenger` → the version (serving scores it beside the champion, answering with
   * the champion), a `shadowing` step with its end, and PROMOTED for the challenger alias so serving
   * follows at once. The decision comes at the end (finishShadow), also after a restart (resume).
   */
  async function startShadow(
    v: ModelVersion,
    runId: string,
    evidence: Record<string, unknown>,
    spanMs: number,
  ) {
    const since = Date.now();
    const until = since + spanMs;
    await deps.registry.setAlias(v.model, 'challenger', v.version, {
      reason: `shadow of run ${runId}`,
      setBy: 'deployer',
      runId,
    });
    await runs.record({
      runId,
      model: v.model,
      state: 'shadowing',
      version: v.version,
      actor: 'deployer',
      details: { ...evidence, since, until },
    });
    await publish(versionEvent('PROMOTED', v, { alias: 'challenger', runId, details: { since, until } }));
    logger.info('challenger in shadow', {
      model: v.model,
      version: v.version,
      until: new Date(until).toISOString(),
    });
    schedule({ model: v.model, version: v.version, runId, since, until, evidence });
  }

  function schedule(s: ShadowRun): void {
    const t = setTimeout(
      () => {
        shadows.delete(s.runId);
        void finishShadow(s).catch((err) => {
          logger.error('shadow decision failed; retrying in a minute', { runId: s.runId, err });
          schedule({ ...s, until: Date.now() + 60_000 });
        });
      },
      Math.max(0, s.until - Date.now()),
    );
    t.unref();
    shadows.set(s.runId, t);
  }

  /** The decision on the shadow rows: the challenger against the champion on the same labelled predictions. */
  async function finishShadow(s: ShadowRun): Promise<void> {
    if ((await runs.state(s.runId))?.state !== 'shadowing') return;
    const definition = models.get(s.model)!;
    const settings = settingsOf(definition);
    const rows = await shadowRows(s);
    const v = await deps.registry.version(s.model, s.version);
    const result = shadowDecision(settings, rows, definition.gate.shadowMinLabels);
    const evidence = { ...s.evidence, shadow: result };
    await deps.registry.unsetAlias(s.model, 'challenger', {
      reason: `shadow of run ${s.runId} ended`,
      setBy: 'deployer',
      runId: s.runId,
    });
    if (result.promote) {
      await promote(v, {
        runId: s.runId,
        reason: `run ${s.runId} passed the gate and its shadow phase`,
        evidence,
      });
      return;
    }
    await runs.record({
      runId: s.runId,
      model: s.model,
      state: 'rejected',
      version: s.version,
      actor: 'deployer',
      details: evidence,
    });
    await publish(versionEvent('REJECTED', v, { runId: s.runId, details: evidence }));
    logger.warn('challenger rejected after its shadow phase', {
      model: s.model,
      version: s.version,
      reason: result.reason,
    });
  }

  /** Labelled shadow predictions: the label, the champion's score and the challenger's, on the same rows. */
  async function shadowRows(
    s: ShadowRun,
  ): Promise<{ labels: number[]; champion: number[]; challenger: number[] }> {
    const rs = await deps.clickhouse.query({
      query: `SELECT l.label AS label, s.champion_output[1] AS champion, s.challenger_output[1] AS challenger
        FROM ${db}.shadow_predictions AS s FINAL
        INNER JOIN (SELECT entity_key, predicted_at, label FROM ${db}.prediction_labels FINAL WHERE model = {m:String}) AS l
          ON l.entity_key = s.entity_key AND l.predicted_at = s.predicted_at
        WHERE s.model = {m:String} AND s.challenger_version = {v:UInt32}
          AND s.predicted_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
          AND s.predicted_at < fromUnixTimestamp64Milli({until:Int64}, 'UTC')
        ORDER BY s.predicted_at, s.entity_key`,
      query_params: { m: s.model, v: s.version, since: s.since, until: s.until },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ label: number; champion: number; challenger: number }>();
    return {
      labels: rows.map((r) => Number(r.label)),
      champion: rows.map((r) => Number(r.champion)),
      challenger: rows.map((r) => Number(r.challenger)),
    };
  }

  /** Shadow phases left open by a previous deployer: their decisions are rescheduled (overdue ones now). */
  async function resumeShadows(): Promise<void> {
    for (const model of models.keys()) {
      for (const step of await runs.latest(model, 50)) {
        if (step.state !== 'shadowing' || shadows.has(step.runId)) continue;
        const d = step.details as { since?: number; until?: number };
        if (typeof d.since !== 'number' || typeof d.until !== 'number' || step.version === null) continue;
        schedule({
          model,
          version: step.version,
          runId: step.runId,
          since: d.since,
          until: d.until,
          evidence: step.details,
        });
      }
    }
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
      await resumeShadows();
      state = 'ready';
      logger.info('deployer ready', { models: [...models.keys()] });
    },
    ready: () => state === 'ready',
    /** Gates one version now, the same path as a TRAINED event (tests, the CLI). */
    gate,
    promote,
    /** Ends a shadow phase now (tests; an operator's early decision). */
    finishShadowNow: async (runId: string) => {
      const step = await runs.state(runId);
      const d = step?.details as { since?: number; until?: number } | undefined;
      if (!step || step.state !== 'shadowing' || step.version === null || typeof d?.since !== 'number')
        return;
      clearTimeout(shadows.get(runId));
      shadows.delete(runId);
      await finishShadow({
        model: step.model,
        version: step.version,
        runId,
        since: d.since,
        until: Date.now(),
        evidence: step.details,
      });
    },
    async stop(): Promise<void> {
      state = 'stopped';
      for (const t of shadows.values()) clearTimeout(t);
      shadows.clear();
      await consumer.stop();
    },
  };
}

export type DeployerService = ReturnType<typeof createDeployerService>;

interface ShadowRun {
  model: string;
  version: number;
  runId: string;
  since: number;
  until: number;
  evidence: Record<string, unknown>;
}
