import type { ClickHouseClient } from '@clickhouse/client';
import { buildLinearModel } from '../../services/core/onnx/index.ts';
import { buildReferenceProfile, createMonitorStore } from '../../services/monitor/index.ts';
import type { ResolvedConfig } from '../../services/platform/config.ts';
import { loadProject, projectSources } from '../../services/project/public.ts';
import type { ModelRegistry } from '../../services/registry/index.ts';
import { createFlywheelProducer } from '../../services/sdk/index.ts';
import { eventually, uniqueName } from './env.ts';
import {
  AFTER,
  amountOf,
  BEFORE,
  FEATURES,
  FIRST_MODEL,
  labelOf,
  type Phase,
  referenceRows,
} from './loop-world.ts';
import { createRng, normal } from './prng.ts';

/**
 * Drives the loop world (loop-world.ts) against a running Flywheel: the loop test and the train
 * benchmark's drift-to-serving figure run the same traffic.
 */
export const USERS = 300;
export const ORDERS_PER_S = 100;

/** One labelled prediction as the driver saw it. */
export interface Labelled {
  at: number;
  amount: number;
  label: 0 | 1;
  version: number;
  probability: number;
  drifted: boolean;
}

/** v1, the champion the loop starts from, with the reference profile the monitor compares against. */
export async function registerFirstModel(deps: {
  registry: ModelRegistry;
  clickhouse: ClickHouseClient;
  db: string;
  model: string;
}): Promise<void> {
  const { registry, clickhouse, model } = deps;
  const v1 = await registry.register(model, buildLinearModel({ ...FIRST_MODEL, featureNames: FEATURES }), {
    features: FEATURES,
    metrics: { accuracy: 0.93 },
    createdBy: 'test',
  });
  const rows = referenceRows(5_000);
  const store = createMonitorStore(clickhouse, deps.db);
  await store.migrate();
  const accuracy =
    rows.labels.filter((l, i) => (rows.scores[i]! >= 0.5 ? 1 : 0) === l).length / rows.labels.length;
  await store.saveReference(
    buildReferenceProfile({
      model,
      version: v1.version,
      id: 'first',
      columns: { [FEATURES[0]]: rows.amount },
      scores: rows.scores,
      metrics: { accuracy, auc: 0.95, log_loss: 0.2 },
    }),
  );
  await registry.setAlias(model, 'champion', v1.version, 'the first model');
}

/**
 * Drives the world: orders at ORDERS_PER_S for USERS buyers, predictions for buyers whose last order is
 * a second old, a label for each 300 ms later. Runs until `until` says stop; returns every labelled row.
 */
export async function drive(w: {
  dir: string;
  config: Readonly<ResolvedConfig>;
  servingUrl: string;
  model: string;
  /** How long the old world lasts before the drift. */
  beforeMs: number;
  /** Give up after this long. */
  limitMs: number;
  until: (rows: readonly Labelled[], driftedAt: number | null) => boolean;
}) {
  const { config, servingUrl, model } = w;
  const project = await loadProject(w.dir);
  const sdk = createFlywheelProducer({
    brokers: config.kafka.brokers,
    registryUrl: config.registry.url,
    sources: projectSources(project),
  });
  // A send the SDK gives up on (FW_KAFKA_UNAVAILABLE: a slow broker on a loaded machine) is the
  // producer's to retry, as the SDK's contract says.
  const send = async (source: string, events: object | object[]) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await sdk.send(source, events);
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  };
  const rng = createRng(7);
  const lastOrder = new Map<string, number>();
  const rows: Labelled[] = [];
  const labels: Promise<unknown>[] = [];
  const started = Date.now();
  let driftedAt: number | null = null;
  let stop = false;
  const phaseAt = (t: number): Phase => (t - started < w.beforeMs ? BEFORE : AFTER);
  const orders = (async () => {
    for (let tick = 0; !stop; tick++) {
      const now = Date.now();
      const phase = phaseAt(now);
      if (phase === AFTER && driftedAt === null) driftedAt = now;
      const batch = Array.from({ length: ORDERS_PER_S / 20 }, () => {
        const user = `u${rng.int(1, USERS)}`;
        lastOrder.set(user, now);
        return {
          event_id: uniqueName('o'),
          user_id: user,
          merchant_id: 'm1',
          amount: amountOf(phase, normal(rng)),
          currency: 'EUR',
          category: 'books',
          device: null,
          country: 'DE',
          ts: now,
        };
      });
      await send('orders', batch);
      await new Promise((r) => setTimeout(r, Math.max(0, started + (tick + 1) * 50 - Date.now())));
    }
  })();
  const predictOne = async () => {
    const now = Date.now();
    const ready = [...lastOrder].filter(([, t]) => now - t > 1_000 && now - t < 30_000);
    if (ready.length === 0) return new Promise((r) => setTimeout(r, 20));
    const [user] = ready[Math.floor(rng.next() * ready.length)]!;
    const requestId = uniqueName('r');
    const res = await fetch(`${servingUrl}/v1/predict/${model}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ entities: [user] }),
    });
    if (res.status !== 200) throw new Error(`predict answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as {
      version: number;
      predictions: Array<{ probability: number; features: Record<string, number | null> }>;
    };
    const p = body.predictions[0]!;
    const amount = p.features[FEATURES[0]];
    if (typeof amount !== 'number') return;
    const phase = phaseAt(now);
    const label = labelOf(phase, amount, rng.next());
    rows.push({
      at: now,
      amount,
      label,
      version: body.version,
      probability: p.probability,
      drifted: phase === AFTER,
    });
    labels.push(
      new Promise<void>((r) => setTimeout(r, 300)).then(() => {
        const t = Date.now();
        return send('outcomes', {
          event_id: requestId,
          user_id: user,
          is_fraud: label === 1,
          ts: t,
          reported_at: t,
        });
      }),
    );
  };
  const predictors = [0, 1].map(async () => {
    while (!stop) await predictOne();
  });
  await eventually(
    async () => (w.until(rows, driftedAt) ? true : undefined),
    w.beforeMs + w.limitMs,
    'the loop',
  );
  stop = true;
  await Promise.all([orders, ...predictors, ...labels]);
  await sdk.close();
  return { rows, driftedAt: driftedAt ?? started + w.beforeMs };
}

export const accuracyOf = (rows: readonly Labelled[], score: (r: Labelled) => number) =>
  rows.filter((r) => (score(r) >= 0.5 ? 1 : 0) === r.label).length / rows.length;

/** What the first model (FIRST_MODEL) scores a row. */
export const firstModelScore = (r: Labelled) =>
  1 / (1 + Math.exp(-(FIRST_MODEL.weights[0] * r.amount + FIRST_MODEL.bias)));
