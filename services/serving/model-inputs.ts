import type { CompiledView, EntityVector } from '../features/index.ts';
import { FlywheelError } from '../platform/errors.ts';

/**
 * From online feature vectors to a model's input tensor — pure, so the unit tests pin the imputation.
 *
 * A model names its inputs `<view>.<feature>` (`account_stats.amount_sum_1h`; `<view>` is a view name or a
 * versioned id `account_stats:v1`). Imputation: a value that is not a finite number — the entity was never
 * seen (`missing`), its newest event is older than the view's TTL (`expired`), the window holds no
 * events (`null`), or the aggregation yields a string — becomes 0, and the feature is listed in
 * `missing`, so callers and the prediction log can tell an imputed 0 from a real one.
 */
export interface InputColumn {
  /** The name as the model registered it. */
  name: string;
  /** Compiled view id (`account_stats:v1`). */
  viewId: string;
  feature: string;
}

export interface InputPlan {
  columns: InputColumn[];
  /** Distinct view ids to read, in first-use order. */
  viewIds: string[];
}

export interface InputRow {
  /** Value per input name; null where imputed. */
  features: Record<string, number | null>;
  missing: string[];
  /** Freshness per view id (ms since its newest event); null where the entity is missing. */
  freshness: Record<string, number | null>;
}

export function planInputs(
  names: readonly string[],
  resolveView: (nameOrId: string) => CompiledView,
): InputPlan {
  const columns = names.map((name) => {
    const dot = name.indexOf('.');
    if (dot <= 0)
      throw new FlywheelError('FW_MODEL_INVALID', `model input "${name}" is not <view>.<feature>`);
    let view: CompiledView;
    try {
      view = resolveView(name.slice(0, dot));
    } catch {
      throw new FlywheelError('FW_MODEL_INVALID', `model input "${name}" names an unknown feature view`);
    }
    const feature = view.features.find((f) => f.name === name.slice(dot + 1));
    if (!feature) throw new FlywheelError('FW_MODEL_INVALID', `view ${view.id} has no feature for "${name}"`);
    if (view.slots[feature.slot]!.kind === 'approx_quantile')
      throw new FlywheelError('FW_MODEL_INVALID', `"${name}" is a quantile list, not a number`);
    return { name, viewId: view.id, feature: feature.name };
  });
  return { columns, viewIds: [...new Set(columns.map((c) => c.viewId))] };
}

/**
 * Fills a row-major float32 tensor [entities, columns] from vectors read for `plan.viewIds` (in that
 * order) and returns what each row used. Float32 is what the models take: values are rounded once, here.
 */
export function buildInputs(
  plan: InputPlan,
  vectors: readonly EntityVector[],
): { data: Float32Array; rows: InputRow[] } {
  const width = plan.columns.length;
  const data = new Float32Array(vectors.length * width);
  const viewIndex = new Map(plan.viewIds.map((id, i) => [id, i]));
  const rows = vectors.map((vector, r) => {
    const row: InputRow = { features: {}, missing: [], freshness: {} };
    for (const v of vector.views) row.freshness[v.view] = v.freshnessMs;
    plan.columns.forEach((c, j) => {
      const value = vector.views[viewIndex.get(c.viewId)!]?.features[c.feature];
      if (typeof value === 'number' && Number.isFinite(value)) {
        data[r * width + j] = value;
        row.features[c.name] = value;
      } else {
        row.features[c.name] = null;
        row.missing.push(c.name);
      }
    });
    return row;
  });
  return { data, rows };
}
