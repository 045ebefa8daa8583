import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng, normal } from './prng.ts';

/**
 * A small world for the closed loop: buyers place orders whose amount is the one input that matters,
 * and a late label says whether the order was "large" by the concept of the moment. At the drift the
 * amounts move up and the concept's line moves with them, so the champion (trained on the old line)
 * calls almost every order large: inputs drift and the model is hurt, as in DESIGN decision 13.
 */
/** The model's one input. (The view also counts orders; a count is not modelled: its live spread depends
 * on how long the stream has run, which would make every early window drift.) */
export const FEATURES = ['buyer.amount_last_1m'] as const;

export interface Phase {
  readonly amountMean: number;
  readonly amountSd: number;
  /** The concept: an order is labelled 1 when its amount is above this. */
  readonly line: number;
}

export const BEFORE: Phase = { amountMean: 50, amountSd: 20, line: 50 };
export const AFTER: Phase = { amountMean: 120, amountSd: 20, line: 120 };
export const LABEL_NOISE = 0.05;

/** The label of an input row under a phase's concept, with its noise drawn from `u` in [0, 1). */
export function labelOf(phase: Phase, amount: number, u: number): 0 | 1 {
  const clean = amount > phase.line ? 1 : 0;
  return (u < LABEL_NOISE ? 1 - clean : clean) as 0 | 1;
}

export function amountOf(phase: Phase, normal: number): number {
  return Math.round((phase.amountMean + phase.amountSd * normal) * 100) / 100;
}

/** The champion the loop starts from: a logistic regression on the old line (0.2 · (amount − 50)). */
export const FIRST_MODEL = { weights: [0.2], bias: -10 } as const;

/** Rows of the old world, for the first model's reference profile: inputs, its scores, its labels. */
export function referenceRows(n: number, seed = 11) {
  const rng = createRng(seed);
  const amount: number[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = amountOf(BEFORE, normal(rng));
    amount.push(Math.fround(a));
    scores.push(1 / (1 + Math.exp(-(FIRST_MODEL.weights[0] * Math.fround(a) + FIRST_MODEL.bias))));
    labels.push(labelOf(BEFORE, a, rng.next()));
  }
  return { amount, scores, labels };
}

/**
 * A project folder for the world: the shop's order and outcome contracts on topics of the caller's,
 * one view, one model whose loop runs in seconds (10 s windows; a 10 s training window, shorter than drift takes to be confirmed, so a retrain learns the new regime only).
 */
export function writeLoopProject(
  dir: string,
  topics: { orders: string; outcomes: string },
  model: string,
  gate: Record<string, unknown> = {},
): void {
  mkdirSync(join(dir, 'schemas'), { recursive: true });
  for (const f of ['shop-order.avsc', 'shop-outcome.avsc'])
    cpSync(
      fileURLToPath(new URL(`../../examples/shop/schemas/${f}`, import.meta.url)),
      join(dir, 'schemas', f),
    );
  writeFileSync(
    join(dir, 'flywheel.config.ts'),
    `import { defineProject } from 'flywheel';

export default defineProject({
  name: 'loopworld',
  sources: [
    { name: 'orders', topic: '${topics.orders}', schema: 'schemas/shop-order.avsc', keyField: 'user_id', timestampField: 'ts', allowedLateness: '10s' },
    { name: 'outcomes', topic: '${topics.outcomes}', schema: 'schemas/shop-outcome.avsc', keyField: 'user_id', timestampField: 'ts' },
  ],
  entities: [{ name: 'user', key: 'user_id' }],
  views: [
    {
      name: 'buyer',
      source: 'orders',
      entity: 'user',
      tile: '1s',
      ttl: '1h',
      aggregations: [
        { name: 'amount_last', kind: 'last', field: 'amount', windows: ['1m'] },
        { name: 'orders', kind: 'count', windows: ['1m'] },
      ],
    },
  ],
  models: [
    {
      name: '${model}',
      task: 'binary_classification',
      features: ${JSON.stringify(FEATURES)},
      label: { source: 'outcomes', field: 'is_fraud', join: { by: 'request_id', field: 'event_id' }, maxDelay: '3s' },
      training: { window: '10s', holdout: '4s' },
      gate: ${JSON.stringify({ metric: 'accuracy', tolerance: 0.01, latencyBudgetMs: 20, ...gate })},
      monitoring: {
        window: '10s',
        lateness: '1s',
        hysteresis: 2,
        performanceDrop: 0.1,
        minLabels: 200,
        minMetricRows: 100,
        cooldown: '1m',
      },
    },
  ],
});
`,
  );
}
