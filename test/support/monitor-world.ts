/**
 * A synthetic world for the monitor: 50 model inputs (40 numerical of three shapes, 10 categorical
 * codes), a calibrated logistic model over a few of them, labels drawn from its probabilities and
 * arriving late. Scenarios bend it: a covariate shift, a category's share moving, a segment whose labels
 * flip. The monitor tests and `npm run bench -- drift` use it.
 */

import { initialState } from '../../services/monitor/core/controller.ts';
import type { MonitorOutput } from '../../services/monitor/core/monitor-core.ts';
import { rocAuc } from '../../services/monitor/core/performance.ts';
import type {
  MonitorSpec,
  OutcomeInput,
  PredictionInput,
  ReferenceProfile,
} from '../../services/monitor/index.ts';
import { buildReferenceProfile, createMonitorCore } from '../../services/monitor/index.ts';
import { type ModelDefinitionSpec, ModelSpec } from '../../services/project/schema.ts';
import { createRng, normal, type Rng } from './prng.ts';

export const NUMERIC = Array.from({ length: 40 }, (_, i) => `v.f${String(i).padStart(2, '0')}`);
export const CATEGORICAL = Array.from({ length: 10 }, (_, i) => `v.c${i}`);
export const FEATURES = [...NUMERIC, ...CATEGORICAL];
/** Category shares: code 0 holds 10%, the other three 30% each. */
export const BASE_SHARES = [0.1, 0.3, 0.3, 0.3];

export interface Bend {
  /** Window index from which it applies. */
  readonly from: number;
  /** Mean shift of numerical inputs, in their sd: feature → shift. */
  readonly shift?: Readonly<Record<string, number>>;
  /** New category shares: feature → shares. */
  readonly shares?: Readonly<Record<string, readonly number[]>>;
  /** Labels drawn from 1 − p for rows where this categorical input has this code. */
  readonly flip?: { readonly feature: string; readonly code: number };
}

export interface WorldOptions {
  readonly seed: number;
  readonly rowsPerWindow: number;
  readonly windowMs: number;
  readonly labelDelayMs: number;
  readonly bends?: readonly Bend[];
  /** Share of predictions that get a label (default 1). */
  readonly labelShare?: number;
}

function category(rng: Rng, shares: readonly number[]): number {
  let u = rng.next();
  for (let i = 0; i < shares.length; i++) {
    u -= shares[i]!;
    if (u < 0) return i;
  }
  return shares.length - 1;
}

/** Feature i's shape: normal, log-normal, or a small count; its sd is the normal's (shift units). */
function numericValue(i: number, z: number): number {
  if (i % 3 === 0) return z;
  if (i % 3 === 1) return Math.exp(0.5 * z);
  return Math.max(0, Math.round(3 + 2 * z));
}

/** The numerical sd of feature i's shape, so a shift in sd is a shift of z by that many units. */
export function makeRow(
  rng: Rng,
  bend: Bend | undefined,
): { features: Record<string, number>; p: number; y: number } {
  const features: Record<string, number> = {};
  for (let i = 0; i < NUMERIC.length; i++) {
    const name = NUMERIC[i]!;
    features[name] = numericValue(i, normal(rng) + (bend?.shift?.[name] ?? 0));
  }
  for (const name of CATEGORICAL) features[name] = category(rng, bend?.shares?.[name] ?? BASE_SHARES);
  const logit =
    -1 +
    1.2 * features['v.f00']! +
    0.8 * Math.log(features['v.f01']!) * 2 +
    (features['v.c0'] === 0 ? 1 : 0) -
    0.5 * (features['v.c2'] === 1 ? 1 : 0);
  const p = 1 / (1 + Math.exp(-logit));
  const flipped = bend?.flip && features[bend.flip.feature] === bend.flip.code;
  const y = rng.next() < (flipped ? 1 - p : p) ? 1 : 0;
  return { features, p, y };
}

export function buildReference(seed: number, rows: number, model = 'world'): ReferenceProfile {
  const rng = createRng(seed);
  const columns: Record<string, number[]> = Object.fromEntries(FEATURES.map((f) => [f, []]));
  const scores: number[] = [];
  const labels: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = makeRow(rng, undefined);
    for (const f of FEATURES) columns[f]!.push(row.features[f]!);
    scores.push(row.p);
    labels.push(row.y);
  }
  return buildReferenceProfile({
    model,
    version: 1,
    id: `world-reference-${seed}`,
    columns,
    scores,
    metrics: { auc: rocAuc(labels, scores)! },
    kinds: Object.fromEntries(CATEGORICAL.map((f) => [f, 'categorical' as const])),
  });
}

export function worldSpec(
  o: Pick<WorldOptions, 'windowMs' | 'labelDelayMs'>,
  overrides: Partial<MonitorSpec> = {},
): MonitorSpec {
  return {
    model: 'world',
    task: 'binary_classification',
    features: FEATURES,
    windowMs: o.windowMs,
    latenessMs: 60_000,
    labelDelayMs: o.labelDelayMs,
    join: { by: 'request_id' },
    metric: 'auc',
    tests: {},
    driftShare: 0.5,
    controller: {
      hysteresis: 3,
      performanceDrop: 0.05,
      performanceWindows: 2,
      harmZ: 3,
      minLabels: 1000,
      minMetricRows: 200,
      cooldownMs: 6 * 3_600_000,
    },
    minWindowRows: 100,
    maxPendingLabels: 2_000_000,
    ...overrides,
  };
}

/**
 * Streams `windows` windows of predictions through a monitor core, labels landing labelDelay/2 after
 * their prediction (so about half a window's labels have landed when it closes), and returns every output.
 */
export function runWorld(
  reference: ReferenceProfile,
  o: WorldOptions,
  windows: number,
  spec: MonitorSpec = worldSpec(o),
): MonitorOutput[] {
  const core = createMonitorCore(spec, reference, initialState('world'));
  const rng = createRng(o.seed);
  const step = o.windowMs / o.rowsPerWindow;
  const t0 = Date.UTC(2026, 0, 1);
  const labels: OutcomeInput[] = [];
  let nextLabel = 0;
  const outputs: MonitorOutput[] = [];
  const bends = [...(o.bends ?? [])].sort((a, b) => b.from - a.from);
  for (let w = 0; w < windows; w++) {
    const bend = bends.find((b) => w >= b.from);
    for (let r = 0; r < o.rowsPerWindow; r++) {
      const at = t0 + (w * o.rowsPerWindow + r) * step;
      const row = makeRow(rng, bend);
      const requestId = `r${w}-${r}`;
      const prediction: PredictionInput = {
        requestId,
        entity: `u${r % 997}`,
        features: row.features,
        score: row.p,
        predictedAt: at,
        version: 1,
      };
      core.addPrediction(prediction);
      if ((o.labelShare ?? 1) >= 1 || rng.next() < o.labelShare!) {
        labels.push({ requestId, entity: prediction.entity, label: row.y, at: at + o.labelDelayMs / 2 });
      }
      while (nextLabel < labels.length && labels[nextLabel]!.at <= at) core.addOutcome(labels[nextLabel++]!);
      // The service advances on every batch it reads; a batch here is 500 predictions.
      if (r % 500 === 499 || r === o.rowsPerWindow - 1) outputs.push(...core.advance(at));
    }
  }
  // Let the last windows close and their labels land.
  const end = t0 + windows * o.windowMs;
  while (nextLabel < labels.length) core.addOutcome(labels[nextLabel++]!);
  outputs.push(
    ...core.advance(end + o.labelDelayMs + spec.latenessMs + 1, end + o.labelDelayMs + spec.latenessMs + 1),
  );
  return outputs;
}

export const retrainsOf = (outputs: readonly MonitorOutput[]) =>
  outputs.flatMap((o) => (o.decision?.action === 'retrain' ? [o.decision] : []));

/**
 * The world's model as a project declares it: a classifier over the 50 inputs, the categorical ones
 * marked, labels from the shop's outcomes source joined by request id. `monitoring` overrides the
 * defaults (bench and integration tests use shorter windows).
 */
export function worldModelDefinition(
  name: string,
  monitoring: Record<string, unknown> = {},
  maxDelay = '1h',
): ModelDefinitionSpec {
  return ModelSpec.parse({
    name,
    task: 'binary_classification',
    features: FEATURES,
    label: {
      source: 'shop-outcomes',
      field: 'is_fraud',
      join: { by: 'request_id', field: 'event_id' },
      maxDelay,
    },
    gate: { metric: 'auc' },
    monitoring: {
      features: Object.fromEntries(CATEGORICAL.map((f) => [f, { type: 'categorical' }])),
      ...monitoring,
    },
  });
}
