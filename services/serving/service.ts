import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import * as ort from 'onnxruntime-node';
import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import { type CompiledView, createOnlineReader, type EntityVector } from '../features/index.ts';
import { runStatements } from '../platform/clickhouse.ts';
import type { ResolvedConfig } from '../platform/config.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createProducer, ensureTopics } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import { retryStartup, StartCancelled } from '../platform/retry.ts';
import { MODEL_NAME, MODELS_TOPIC, type ModelRegistry } from '../registry/index.ts';
import { createModelFollower } from './model-follower.ts';
import { buildInputs, planInputs } from './model-inputs.ts';
import { createModelCache, type LoadedModel } from './models.ts';
import { createPredictionLog, type PredictionLogOptions, type PredictionRecord } from './prediction-log.ts';
import { DEFAULT_LIMITS, parseFeaturesRequest, parsePredictRequest, type ServingLimits } from './requests.ts';
import { createShadowLog } from './shadow-log.ts';
import { predictionTablesDdl } from './tables.ts';

export interface ServingServiceDeps {
  config: Readonly<ResolvedConfig>;
  logger: Logger;
  metrics: MetricsRegistry;
  /** Create with createRedis(url, { failFast: true }): a down Redis must answer 503 at once, not queue. */
  redis: Redis;
  clickhouse: ClickHouseClient;
  kafka: Kafka;
  codec: RegistryCodec;
  views: readonly CompiledView[];
  registry: ModelRegistry;
  /** Named groups of views (`risk` → [account_stats, account_devices]) a caller can ask for by one name. */
  featureServices?: Readonly<Record<string, readonly string[]>>;
  limits?: Partial<ServingLimits>;
  predictionLog?: Partial<PredictionLogOptions>;
  /** How often each model's champion is re-resolved (hot swap). */
  modelRefreshMs?: number;
}

/**
 * The serving service: feature vectors and predictions over the online store. The request path is one
 * Redis round trip plus (for predictions) one onnxruntime run; logging is queued and flushed in the
 * background. `start()` creates tables and connects Kafka, retrying while Kafka is down (readiness
 * stays false, features are served meanwhile; predictions queue up to the log's bound).
 */
export function createServingService(deps: ServingServiceDeps) {
  const { config, logger, metrics } = deps;
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const db = config.clickhouse.database;
  const reader = createOnlineReader({
    redis: deps.redis,
    prefix: config.redis.keyPrefix,
    views: deps.views,
    maxEntities: limits.maxEntities,
  });
  const allViews = reader.views().map((v) => v.id);
  const featureServices = new Map(
    Object.entries(deps.featureServices ?? {}).map(([name, views]) => [
      name,
      views.map((v) => reader.resolveView(v).id),
    ]),
  );
  const cacheFor = (alias: string) =>
    createModelCache({
      registry: deps.registry,
      plan: (features) => planInputs(features, reader.resolveView),
      logger,
      metrics,
      alias,
      ...(deps.modelRefreshMs ? { refreshMs: deps.modelRefreshMs } : {}),
    });
  const models = cacheFor('champion');
  /** A model's challenger during a shadow phase: scored beside the champion, never answered with. */
  const challengers = cacheFor('challenger');
  const shadowLog = createShadowLog({
    clickhouse: deps.clickhouse,
    table: `${db}.shadow_predictions`,
    logger,
    metrics,
  });
  const predictionSchema = loadSchemaForTopic('predictions.model');
  const encoders = new Map<string, Promise<{ topic: string; encode: (r: PredictionRecord) => Buffer }>>();
  let producer: Producer | undefined;
  const log = createPredictionLog(
    {
      encoderFor: (model) => {
        let e = encoders.get(model);
        if (!e) {
          e = prepareTopic(`predictions.${model}`);
          encoders.set(model, e);
          e.catch(() => encoders.delete(model));
        }
        return e;
      },
      producer: {
        sendBatch: (batch) => {
          if (!producer) throw new FlywheelError('FW_KAFKA_UNAVAILABLE', 'serving is not connected to Kafka');
          return producer.sendBatch(batch);
        },
      },
      clickhouse: deps.clickhouse,
      table: `${db}.predictions`,
    },
    { logger, metrics },
    deps.predictionLog,
  );
  const predictions = metrics.counter('flywheel_serving_predictions_total', 'Predictions served, by model.');
  const follower = createModelFollower({
    kafka: deps.kafka,
    codec: deps.codec,
    logger,
    groupPrefix: config.kafka.clientId,
    onMove: (model) => Promise.all([models.refreshNow(model), challengers.refreshNow(model)]).then(() => {}),
  });
  let state: 'idle' | 'connecting' | 'ready' | 'stopped' = 'idle';

  async function prepareTopic(topic: string) {
    const admin = deps.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [{ topic, partitions: config.kafka.defaultPartitions }]);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const encode = await deps.codec.encoderFor((await deps.codec.register(topic, predictionSchema)).id);
    return { topic, encode: (r: PredictionRecord) => encode(r) };
  }

  async function start(): Promise<void> {
    if (state !== 'idle') return;
    state = 'connecting';
    await deps.registry.migrate();
    await runStatements(deps.clickhouse, predictionTablesDdl(db));
    models.start();
    challengers.start();
    shadowLog.start();
    try {
      producer = await retryStartup(
        async () => {
          const p = createProducer(deps.kafka);
          await p.connect();
          return p;
        },
        { policy: deps.config.startup, logger, what: 'serving', stopped: () => state !== 'connecting' },
      );
    } catch (err) {
      if (err instanceof StartCancelled) return;
      throw err;
    }
    if (state !== 'connecting') return;
    log.start();
    await followModelEvents();
    state = 'ready';
    logger.info('serving ready', { views: allViews });
  }

  /** Starts following alias moves; without it serving still swaps, on its poll. */
  async function followModelEvents(): Promise<void> {
    try {
      const admin = deps.kafka.admin();
      await admin.connect();
      try {
        await ensureTopics(admin, [{ topic: MODELS_TOPIC, partitions: 1 }]);
      } finally {
        await admin.disconnect().catch(() => {});
      }
      await follower.start();
    } catch (err) {
      logger.warn('not following ml.models; promotions are picked up by the poll only', { err });
    }
  }

  function viewsFor(req: { views: string[] | undefined; featureService: string | undefined }): string[] {
    if (req.views) return req.views.map((v) => reader.resolveView(v).id);
    if (req.featureService === undefined) return allViews;
    const views = featureServices.get(req.featureService);
    if (!views)
      throw new FlywheelError('FW_NOT_FOUND', `unknown feature service "${req.featureService}"`, {
        details: { known: [...featureServices.keys()] },
      });
    return views;
  }

  async function features(body: unknown, requestId: string) {
    const req = parseFeaturesRequest(body, limits);
    const vectors = await reader.read(req.entities, viewsFor(req));
    return {
      request_id: requestId,
      entities: vectors.map((e) => ({
        entity: e.entity,
        views: e.views.map((v) => ({
          view: v.view,
          status: v.status,
          freshness_ms: v.freshnessMs,
          features: v.features,
        })),
      })),
    };
  }

  async function predict(model: string, body: unknown, requestId: string) {
    const started = process.hrtime.bigint();
    const req = parsePredictRequest(body, limits);
    if (!MODEL_NAME.test(model)) throw new FlywheelError('FW_NOT_FOUND', `unknown model "${model}"`);
    const m = await models.get(model);
    // The logged time is the read's as-of time, so the consistency monitor recomputes exactly these values.
    const asOf = Date.now();
    const vectors: EntityVector[] = await reader.read(req.entities, m.plan.viewIds, { asOf });
    const { data, rows } = buildInputs(m.plan, vectors);
    const n = req.entities.length;
    const input = new ort.Tensor('float32', data, [n, m.plan.columns.length]);
    const outName = m.signature.outputs[0]!;
    const out = (await m.session.run({ [m.signature.input]: input }))[outName]!.data as Float32Array;
    const width = out.length / n;
    const latencyMicros = Number((process.hrtime.bigint() - started) / 1000n);
    const now = asOf;
    const answers = rows.map((row, i) => {
      const output = Array.from(out.subarray(i * width, (i + 1) * width));
      const entity = req.entities[i]!;
      log.log({
        request_id: requestId,
        model,
        model_version: m.version.version,
        entity_key: entity,
        features: row.features,
        feature_freshness_ms: featureFreshness(m.plan.columns, row.freshness),
        output,
        label: null,
        predicted_at: now,
        latency_micros: latencyMicros,
      });
      return {
        entity,
        ...(outName === 'probability' && width === 1 ? { probability: output[0] } : { output }),
        features: row.features,
        missing: row.missing,
        freshness_ms: row.freshness,
      };
    });
    predictions.inc({ model }, n);
    shadow(m, input, out, { requestId, entities: req.entities, at: now });
    return { model, version: m.version.version, predictions: answers, request_id: requestId };
  }

  /**
   * Scores the challenger on the champion's input, after the answer is built and without awaiting it:
   * a shadow phase costs requests nothing. The challenger must read the same inputs in the same order
   * (the same tensor); one that does not is not shadowed (the deployer then has no rows and rejects it).
   */
  function shadow(
    champion: LoadedModel,
    input: ort.Tensor,
    out: Float32Array,
    r: { requestId: string; entities: readonly string[]; at: number },
  ): void {
    const c = challengers.peek(champion.model);
    if (!c || c.version.version === champion.version.version) return;
    if (c.version.features.join('\n') !== champion.version.features.join('\n')) return;
    const n = r.entities.length;
    void c.session
      .run({ [c.signature.input]: input })
      .then((result) => {
        const theirs = result[c.signature.outputs[0] as string]!.data as Float32Array;
        const mine = out.length / n;
        const width = theirs.length / n;
        r.entities.forEach((entity, i) => {
          shadowLog.log({
            request_id: r.requestId,
            model: champion.model,
            entity_key: entity,
            champion_version: champion.version.version,
            challenger_version: c.version.version,
            champion_output: Array.from(out.subarray(i * mine, (i + 1) * mine)),
            challenger_output: Array.from(theirs.subarray(i * width, (i + 1) * width)),
            predicted_at: r.at,
          });
        });
      })
      .catch((err) => logger.warn('shadow scoring failed', { model: champion.model, err }));
  }

  return {
    start,
    features,
    predict,
    // Redis too: a fail-fast client refuses commands until it is connected.
    ready: () => state === 'ready' && deps.redis.status === 'ready',
    views: () => reader.views(),
    featureServices: () => Object.fromEntries(featureServices),
    limits,
    /** Refuses nothing itself (the HTTP server stops first), then drains the prediction log. */
    async stop(): Promise<void> {
      state = 'stopped';
      await follower.stop();
      await models.stop();
      await challengers.stop();
      await shadowLog.stop();
      await log.stop();
      await producer?.disconnect().catch(() => {});
    },
    /** Settles once serving follows `ml.models` (alias moves are then picked up by event, not poll). */
    followingModelEvents: () => follower.following,
    /** Writes queued predictions now (tests and shutdown). */
    flushPredictions: () => log.flush(),
  };
}

export type ServingService = ReturnType<typeof createServingService>;

function featureFreshness(
  columns: ReadonlyArray<{ name: string; viewId: string }>,
  freshness: Record<string, number | null>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of columns) {
    const f = freshness[c.viewId];
    if (f !== null && f !== undefined) out[c.name] = f;
  }
  return out;
}
