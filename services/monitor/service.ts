/**
 * The monitor service: the Kafka, ClickHouse and Redis adapter around one monitor core per model.
 *
 * It reads `predictions.<model>` and the model's outcomes topic, and writes every window report and
 * decision to ClickHouse (store.ts), `ml.drift` (one report per tested feature per window) and
 * `ml.retrain` (the controller's requests). The controller's state is the only state kept: in Redis,
 * after every output. The rest is rebuilt on start by re-reading both topics from far enough back to
 * cover every window still open or waiting for labels (Kafka offsets by timestamp); windows the
 * controller has already seen replay silently, so a restart emits nothing twice.
 *
 * Order of writes per output: Kafka, then ClickHouse, then the state. A crash between them repeats the
 * output on restart with the same ids (run id, report id), never loses it.
 *
 * One monitor process per model set: windows are per model, so a model's partitions must all reach
 * one consumer (the group has one member; a second replica would wait as a standby).
 */
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import { parseDuration } from '../core/windows/duration.ts';
import type { SourceCatalogue } from '../ingest/index.ts';
import type { ResolvedConfig } from '../platform/config.ts';
import { createDeadLetterWriter, type DeadLetter } from '../platform/dead-letter.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createConsumer, createProducer, ensureTopics, subscribeWithRetry } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import type { ModelDefinitionSpec } from '../project/index.ts';
import { MODELS_TOPIC, type ModelEventType, modelEventFromAvro } from '../registry/index.ts';
import type { MonitorSettings } from './config.ts';
import { testedFeatures } from './core/compare.ts';
import {
  type ControllerState,
  initialState,
  type RetrainRequest,
  type RunOutcome,
} from './core/controller.ts';
import {
  createMonitorCore,
  type JoinedLabel,
  labelValue,
  MAX_OPEN_WINDOWS,
  type MonitorCore,
  type MonitorOutput,
  type MonitorSpec,
  type ReferenceProfile,
  scoreOf,
  type WindowReport,
} from './core/monitor-core.ts';
import type { Metric } from './core/performance.ts';
import { createMonitorStore, driftReportId } from './store.ts';

export const DRIFT_TOPIC = 'ml.drift';
export const RETRAIN_TOPIC = 'ml.retrain';

/** The model events that end a retrain run, and how. */
const RUN_OUTCOMES: Partial<Record<ModelEventType, RunOutcome>> = {
  PROMOTED: 'promoted',
  REJECTED: 'rejected',
  FAILED: 'failed',
};
/**
 * Offsets are never committed (the state is the controller's, the rest is re-read), so the group only
 * assigns partitions. Each start joins a group of its own: a shared one would make a new process wait
 * a session timeout for the member of a process that died, and split the topics between two.
 */
const groupId = () => `flywheel-monitor-${process.pid}-${randomBytes(4).toString('hex')}`;

export interface MonitorServiceDeps {
  readonly config: Readonly<ResolvedConfig>;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly kafka: Kafka;
  readonly codec: RegistryCodec;
  readonly clickhouse: ClickHouseClient;
  readonly redis: Redis;
  readonly models: readonly ModelDefinitionSpec[];
  readonly sources: SourceCatalogue;
  readonly settings: MonitorSettings;
}

/** The core's spec from a project's model definition. */
export function monitorSpecFor(model: ModelDefinitionSpec, settings: MonitorSettings): MonitorSpec {
  const m = model.monitoring;
  const metric: Metric = model.gate.metric ?? (model.task === 'regression' ? 'rmse' : 'auc');
  const tests = Object.fromEntries(
    Object.entries(m.features).map(([f, c]) => [
      f,
      {
        ...(c.test ? { test: c.test } : {}),
        ...(c.threshold !== undefined ? { threshold: c.threshold } : {}),
        ...(c.effectFloor !== undefined ? { effectFloor: c.effectFloor } : {}),
      },
    ]),
  );
  return {
    model: model.name,
    task: model.task,
    features: model.features,
    windowMs: parseDuration(m.window),
    latenessMs: parseDuration(m.lateness),
    labelDelayMs: parseDuration(model.label.maxDelay),
    join:
      model.label.join.by === 'request_id'
        ? { by: 'request_id' }
        : { by: 'entity', withinMs: parseDuration(model.label.join.within) },
    metric,
    tests,
    driftShare: m.datasetDriftShare,
    controller: {
      hysteresis: m.hysteresis,
      performanceDrop: m.performanceDrop,
      performanceWindows: m.performanceWindows,
      harmZ: m.harmZ,
      minLabels: m.minLabels,
      minMetricRows: m.minMetricRows,
      cooldownMs: parseDuration(m.cooldown),
    },
    minWindowRows: settings.minWindowRows,
    maxPendingLabels: settings.maxPendingLabels,
  };
}

interface ModelMonitor {
  readonly spec: MonitorSpec;
  readonly definition: ModelDefinitionSpec;
  core: MonitorCore | null;
  /** The last reference looked up, by id, to notice a new champion. */
  referenceKey: string | null;
  /** When the reference was last looked up. */
  checkedAt: number;
}

const asMillis = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

export function createMonitorService(deps: MonitorServiceDeps) {
  const { logger, metrics, settings } = deps;
  const store = createMonitorStore(deps.clickhouse, deps.config.clickhouse.database);
  const monitors = new Map<string, ModelMonitor>(
    deps.models.map((d) => [
      d.name,
      { spec: monitorSpecFor(d, settings), definition: d, core: null, referenceKey: null, checkedAt: 0 },
    ]),
  );
  const outcomeTopics = new Map<string, ModelMonitor[]>();
  for (const m of monitors.values()) {
    const source = deps.sources.get(m.definition.label.source);
    if (!source) throw new FlywheelError('FW_CONFIG_INVALID', `model ${m.spec.model}: unknown label source`);
    outcomeTopics.set(source.topic, [...(outcomeTopics.get(source.topic) ?? []), m]);
  }
  const predictionTopic = (model: string) => `predictions.${model}`;
  const windowsClosed = metrics.counter('flywheel_monitor_windows_total', 'Windows closed, by model.');
  const retrains = metrics.counter(
    'flywheel_monitor_retrain_requests_total',
    'Retrain requests emitted, by model and reason.',
  );
  const records = metrics.counter(
    'flywheel_monitor_records_total',
    'Records read, by model and kind (prediction, outcome, late, unmatched).',
  );
  let consumer: Consumer | null = null;
  let producer: Producer | null = null;
  let tick: NodeJS.Timeout | null = null;
  let caughtUp = false;
  let draining: Promise<void> = Promise.resolve();
  /** Labels joined in the batch being read, written with it (the trainer's spine). */
  const joinedLabels: { model: string; label: JoinedLabel }[] = [];
  /** Models whose open run a model event closed in this batch: their state is saved with it. */
  const runsClosed = new Set<string>();
  const stateKey = (model: string) => `${deps.config.redis.keyPrefix}monitor:{${model}}:controller`;

  async function loadState(model: string): Promise<ControllerState> {
    const text = await deps.redis.get(stateKey(model));
    return text ? (JSON.parse(text) as ControllerState) : initialState(model);
  }

  /**
   * Looks up the model's reference (at most every referenceRefreshMs); a new one (a new champion's)
   * replaces the old from the next window. A reference that cannot be used is logged once and waited
   * out. The first reference of a running monitor rebuilds everything (recover): its windows must start
   * from the replay, not from the middle of one.
   */
  async function refreshReference(m: ModelMonitor, starting: boolean): Promise<void> {
    if (!starting && Date.now() - m.checkedAt < settings.referenceRefreshMs) return;
    m.checkedAt = Date.now();
    const current = await store.referenceKey(m.spec.model);
    if (current !== null && current === m.referenceKey) return;
    const reference = current === null ? null : await store.loadReference(m.spec.model);
    if (!reference) {
      if (m.referenceKey === null) {
        logger.warn('no reference profile yet: predictions are not monitored until one is stored', {
          model: m.spec.model,
          fix: `flywheel drift reference ${m.spec.model} --training-set FILE`,
        });
        m.referenceKey = '';
      }
      return;
    }
    const key = `${reference.version}/${reference.id}`;
    if (key === m.referenceKey) return;
    m.referenceKey = key;
    if (m.core) m.core.setReference(reference);
    else
      m.core = createMonitorCore(m.spec, reference, await loadState(m.spec.model), {
        onLabel: (l) => joinedLabels.push({ model: m.spec.model, label: l }),
      });
    logger.info('monitoring against reference', {
      model: m.spec.model,
      version: reference.version,
      id: reference.id,
    });
  }

  async function emit(
    m: ModelMonitor,
    outputs: readonly MonitorOutput[],
    stateChanged = false,
  ): Promise<void> {
    if (outputs.length === 0 && !stateChanged) return;
    const now = Date.now();
    for (const o of outputs) {
      if (o.kind === 'window') {
        await publishDrift(o.report);
        await store.saveWindow(o.report, m.spec.metric, now);
        windowsClosed.inc({ model: m.spec.model });
      } else {
        await store.saveRealised(o.report, m.spec.metric, now);
      }
      const d = o.decision;
      if (!d) continue;
      if (d.action === 'retrain') {
        await publishRetrain(d.request);
        retrains.inc({ model: m.spec.model, reason: d.reason });
        logger.info('retrain requested', {
          model: m.spec.model,
          runId: d.request.runId,
          reason: d.reason,
          detail: d.detail,
        });
      }
      await store.saveDecision(m.spec.model, d, now);
    }
    await deps.redis.set(stateKey(m.spec.model), JSON.stringify(m.core!.state()));
  }

  async function publishDrift(r: WindowReport): Promise<void> {
    if (!r.drift || !producer) return;
    const encode = await deps.codec.topicEncoder(DRIFT_TOPIC, loadSchemaForTopic(DRIFT_TOPIC));
    const now = Date.now();
    await producer.send({
      topic: DRIFT_TOPIC,
      acks: -1,
      messages: testedFeatures(r.drift).map((f) => ({
        key: r.model,
        value: encode({
          report_id: driftReportId(r.model, f.feature, r.windowStart),
          model: r.model,
          feature: f.feature,
          test: f.test,
          statistic: f.statistic,
          p_value: f.adjustedPValue,
          effect_size: f.effectSize,
          threshold: f.threshold,
          drifted: f.drifted,
          reference_window: r.referenceId,
          live_window_start: r.windowStart,
          live_window_end: r.windowEnd,
          reference_size: f.referenceSize,
          live_size: f.currentSize,
          created_at: now,
        }),
      })),
    });
  }

  async function publishRetrain(request: RetrainRequest): Promise<void> {
    if (!producer) return;
    const encode = await deps.codec.topicEncoder(RETRAIN_TOPIC, loadSchemaForTopic(RETRAIN_TOPIC));
    const definition = monitors.get(request.model)!.definition;
    const span = parseDuration(definition.training.window);
    await producer.send({
      topic: RETRAIN_TOPIC,
      acks: -1,
      messages: [
        {
          key: request.model,
          value: encode({
            run_id: request.runId,
            model: request.model,
            reason: request.reason,
            evidence: request.evidence.features.map((f) => ({
              feature: f.feature,
              test: f.test,
              statistic: f.statistic,
              p_value: f.pValue,
              effect_size: f.effectSize,
            })),
            data_window_start: request.dataWindowEnd - span,
            data_window_end: request.dataWindowEnd,
            source_offsets: request.offsets,
            requested_at: request.requestedAt,
            requested_by: 'retrain-controller',
            details: JSON.stringify(request.evidence),
          }),
        },
      ],
    });
  }

  const invalid = (message: string) => new FlywheelError('FW_EVENT_INVALID', message);

  /** Record counts of the batch being read, added to the counter once a batch, not once a record. */
  const batchCounts = new Map<string, { model: string; kind: string; n: number }>();
  function countRecord(model: string, kind: string): void {
    const key = `${model}\u0000${kind}`;
    const c = batchCounts.get(key);
    if (c) c.n++;
    else batchCounts.set(key, { model, kind, n: 1 });
  }
  function flushCounts(): void {
    for (const { model, kind, n } of batchCounts.values()) records.inc({ model, kind }, n);
    batchCounts.clear();
  }

  /** Reads one prediction into its model's core; a record it cannot take comes back as the reason. */
  function onPrediction(
    model: string,
    v: Record<string, unknown>,
    key: string,
    next: number,
  ): FlywheelError | null {
    const m = monitors.get(model);
    if (!m?.core) return null;
    const predictedAt = asMillis(v.predicted_at);
    if (predictedAt > Date.now() + settings.maxFutureSkewMs) {
      countRecord(model, 'invalid_prediction');
      return new FlywheelError(
        'FW_EVENT_TIME_OUT_OF_BOUNDS',
        `predicted_at ${new Date(predictedAt).toISOString()} is more than ${settings.maxFutureSkewMs} ms ahead of this clock`,
      );
    }
    const result = m.core.addPrediction({
      requestId: String(v.request_id),
      entity: String(v.entity_key),
      features: v.features as Record<string, number | null>,
      score: scoreOf(v.output as number[]),
      predictedAt,
      version: Number(v.model_version),
      position: { key, next },
    });
    countRecord(model, result === 'ok' ? 'prediction' : `${result}_prediction`);
    return result === 'invalid'
      ? invalid(
          `prediction ${String(v.request_id)}: output ${JSON.stringify(v.output)} is not a ${m.spec.task === 'binary_classification' ? 'probability in [0, 1]' : 'finite number'}, or it lies beyond ${MAX_OPEN_WINDOWS} open windows`,
        )
      : null;
  }

  /** Reads one outcome into the cores of the models it labels; the first refusal comes back. */
  function onOutcome(topic: string, v: Record<string, unknown>): FlywheelError | null {
    let refusal: FlywheelError | null = null;
    for (const m of outcomeTopics.get(topic) ?? []) {
      if (!m.core) continue;
      const source = deps.sources.get(m.definition.label.source)!;
      const raw = v[m.definition.label.field];
      if (raw === null || raw === undefined) {
        countRecord(m.spec.model, 'unlabelled_outcome');
        continue;
      }
      const label = labelValue(raw);
      const join = m.definition.label.join;
      const result =
        label === null
          ? 'invalid'
          : m.core.addOutcome({
              ...(join.by === 'request_id' ? { requestId: String(v[join.field]) } : {}),
              entity: String(v[source.keyField]),
              label,
              at: asMillis(v[source.timestampField]),
            });
      countRecord(m.spec.model, result === 'joined' ? 'outcome' : `${result}_outcome`);
      if (result === 'invalid' && !refusal)
        refusal = invalid(
          `label ${m.definition.label.field} = ${JSON.stringify(raw)} is not ${m.spec.task === 'binary_classification' ? '0 or 1' : 'a finite number'} (model ${m.spec.model})`,
        );
    }
    return refusal;
  }

  /**
   * The deployer's answer to a retrain request closes the run it names (promoted, rejected) and the
   * trainer's failure closes it as failed: the controller may then ask again after its cooldown. An
   * event for a run that is not open (a replay, another monitor's) changes nothing.
   */
  function onModelEvent(v: Record<string, unknown>): void {
    const e = modelEventFromAvro(v);
    // A challenger's PROMOTED starts a shadow phase; only the champion's ends the run.
    const outcome =
      e.type === 'PROMOTED' && e.alias !== null && e.alias !== 'champion' ? undefined : RUN_OUTCOMES[e.type];
    const m = monitors.get(e.model);
    if (!outcome || !m?.core || e.runId === null) return;
    if (m.core.runFinished(e.runId, outcome, e.occurredAt)) {
      runsClosed.add(m.spec.model);
      logger.info('retrain run finished', { model: m.spec.model, runId: e.runId, outcome });
    }
  }

  /** Writes what a batch produced besides windows: joined labels, states of runs just closed. */
  async function writeBatchOutputs(): Promise<void> {
    const byModel = new Map<string, JoinedLabel[]>();
    for (const { model, label } of joinedLabels.splice(0))
      byModel.set(model, [...(byModel.get(model) ?? []), label]);
    for (const [model, labels] of byModel) await store.saveLabels(model, labels);
    for (const model of [...runsClosed]) {
      runsClosed.delete(model);
      const m = monitors.get(model);
      if (m?.core) await deps.redis.set(stateKey(model), JSON.stringify(m.core.state()));
    }
  }

  /**
   * Closes and finalises what time allows, for every model, one at a time. An output that cannot be
   * written (Kafka, ClickHouse or Redis away) must not be lost: the cores have moved past it, so they
   * are dropped and rebuilt from the last persisted state by re-reading the topics (recover).
   */
  function drain(): Promise<void> {
    draining = draining
      .catch(() => undefined)
      .then(async () => {
        if (broken) return;
        try {
          for (const m of monitors.values()) {
            if (!m.core) continue;
            const upTo = settings.wallClock && caughtUp ? Date.now() : undefined;
            const expired = m.core.expireOpenRun(Date.now(), settings.runTimeoutMs);
            if (expired)
              logger.warn('retrain run timed out: closed as failed', { model: m.spec.model, runId: expired });
            await emit(m, m.core.advance(Date.now(), upTo), expired !== null);
          }
        } catch (err) {
          // Synchronously, before any later drain runs on cores that have moved past the lost output.
          broken = true;
          throw err;
        }
      });
    draining.catch((err) => recover(err as Error));
    return draining.catch(() => undefined);
  }

  let recovering: Promise<void> | null = null;
  let stopped = false;
  /** Set when an output failed: no core may advance until recover() has rebuilt them. */
  let broken = false;

  /** Starts over from the persisted controller state: the replay re-creates what was not written. */
  function recover(err: Error): void {
    if (recovering || stopped) return;
    logger.error('monitor output failed; rebuilding from the persisted state', { error: err.message });
    recovering = (async () => {
      await halt();
      for (const m of monitors.values()) {
        m.core = null;
        m.referenceKey = null;
      }
      broken = false;
      for (let attempt = 0; !stopped; attempt++) {
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
        try {
          await start();
          return;
        } catch (e) {
          logger.error('monitor restart failed', { error: (e as Error).message, attempt });
          await halt();
        }
      }
    })().finally(() => {
      recovering = null;
    });
  }

  /** Where to re-read from: early enough for every window still open or waiting for labels. */
  function replaySince(): number {
    let back = 0;
    for (const m of monitors.values()) {
      back = Math.max(back, m.spec.windowMs + m.spec.latenessMs + m.spec.labelDelayMs);
    }
    return Date.now() - 2 * back;
  }

  async function start(): Promise<void> {
    await store.migrate();
    const admin = deps.kafka.admin();
    await admin.connect();
    const topics = [...[...monitors.keys()].map(predictionTopic), ...outcomeTopics.keys(), MODELS_TOPIC];
    try {
      await ensureTopics(admin, [
        ...topics.map((topic) => ({ topic, partitions: 1, withDeadLetter: true })),
        { topic: DRIFT_TOPIC, partitions: 1 },
        { topic: RETRAIN_TOPIC, partitions: 1 },
      ]);
      for (const m of monitors.values()) await refreshReference(m, true);
      if (stopped) return;
      const p = createProducer(deps.kafka);
      producer = p;
      await p.connect();
      if (stopped) {
        await p.disconnect();
        return;
      }
      const dlq = createDeadLetterWriter({ producer: p, codec: deps.codec, service: 'monitor' });
      // Where to start, and where the backlog ends: the wall clock closes windows only past it.
      const since = replaySince();
      const starts = new Map<string, number>();
      const ends = new Map<string, number>();
      for (const topic of topics) {
        for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, since))
          starts.set(`${topic}:${p.partition}`, Number(p.offset));
        for (const p of await admin.fetchTopicOffsets(topic))
          ends.set(`${topic}:${p.partition}`, Number(p.high));
      }
      const behind = new Set([...ends].filter(([k, high]) => high > (starts.get(k) ?? 0)).map(([k]) => k));
      caughtUp = behind.size === 0;
      if (stopped) return;
      // A local: stop() may run while this start is still under way, and clears the field.
      const c = createConsumer(deps.kafka, groupId());
      consumer = c;
      // Offsets are never committed, so a rejoin (kafkajs restarts a crashed consumer) would resume
      // from the topics' start: rebuild instead, from the persisted state, as after a restart.
      let joins = 0;
      c.on(c.events.GROUP_JOIN, () => {
        if (++joins > 1) recover(new Error('the consumer rejoined its group'));
      });
      await c.connect();
      await subscribeWithRetry(c, { topics, fromBeginning: true });
      if (stopped) {
        await c.disconnect();
        return;
      }
      await c.run({
        autoCommit: false,
        eachBatch: async ({ batch, heartbeat }) => {
          const decoded = await deps.codec.decodeMany(
            batch.messages.map((msg) => msg.value),
            { topic: batch.topic },
          );
          const letters: DeadLetter[] = [];
          const key = `${batch.topic}:${batch.partition}`;
          const model = batch.topic.startsWith('predictions.')
            ? batch.topic.slice('predictions.'.length)
            : null;
          decoded.forEach((d, i) => {
            const msg = batch.messages[i]!;
            if (d.ok && batch.topic === MODELS_TOPIC) {
              onModelEvent(d.value);
              return;
            }
            const refusal = !d.ok
              ? d.error
              : model
                ? onPrediction(model, d.value, key, Number(msg.offset) + 1)
                : onOutcome(batch.topic, d.value);
            if (refusal) {
              const { topic, partition } = batch;
              letters.push({
                topic,
                partition,
                offset: Number(msg.offset),
                key: msg.key,
                value: msg.value,
                error: refusal,
              });
            }
          });
          flushCounts();
          await dlq.send(letters);
          await writeBatchOutputs();
          const last = batch.messages.at(-1);
          if (last && Number(last.offset) + 1 >= (ends.get(key) ?? 0)) behind.delete(key);
          if (!caughtUp && behind.size === 0) {
            caughtUp = true;
            logger.info('monitor caught up with its topics');
          }
          await heartbeat();
          await drain();
          await heartbeat();
        },
      });
      if (stopped) return;
      for (const [k, offset] of starts) {
        const cut = k.lastIndexOf(':');
        c.seek({
          topic: k.slice(0, cut),
          partition: Number(k.slice(cut + 1)),
          offset: String(offset),
        });
      }
      tick = setInterval(() => {
        void (async () => {
          for (const m of monitors.values()) await refreshReference(m, false);
          await drain();
        })().catch((err) =>
          logger.warn('monitor reference lookup failed', { error: (err as Error).message }),
        );
      }, settings.tickMs);
      tick.unref();
    } finally {
      await admin.disconnect();
    }
  }

  async function halt(): Promise<void> {
    if (tick) clearInterval(tick);
    tick = null;
    const c = consumer;
    consumer = null;
    await c?.disconnect().catch(() => undefined);
    await draining.catch(() => undefined);
    const p = producer;
    producer = null;
    await p?.disconnect().catch(() => undefined);
  }

  async function stop(): Promise<void> {
    stopped = true;
    await recovering;
    await halt();
  }

  return {
    start,
    stop,
    report: (model: string, windows?: number) => {
      if (!monitors.has(model)) throw new FlywheelError('FW_NOT_FOUND', `no monitored model "${model}"`);
      return store.report(model, windows);
    },
    saveReference: (r: ReferenceProfile) => store.saveReference(r),
    /** What the core holds, for /metrics-like inspection and tests. */
    status: () =>
      Object.fromEntries(
        [...monitors].map(([name, m]) => [
          name,
          m.core
            ? {
                reference: m.core.reference().id,
                watermark: m.core.watermark(),
                openWindows: m.core.openWindows(),
                awaitingLabels: m.core.awaitingLabels(),
                pendingLabels: m.core.pendingLabels(),
                counters: m.core.counters(),
                controller: { phase: m.core.state().phase, lastWindowEnd: m.core.state().lastWindowEnd },
              }
            : { reference: null },
        ]),
      ),
    caughtUp: () => caughtUp,
  };
}

export type MonitorService = ReturnType<typeof createMonitorService>;
