/**
 * A model version's reference profile, from its training data: the same profile code the live windows
 * use, on edges taken from this data. The trainer calls it after training; until then `flywheel drift
 * reference` builds one from a training set.
 */
import type { ProfileSet } from './compare.ts';
import type { ReferenceProfile } from './monitor-core.ts';
import {
  addCategories,
  addNumbers,
  DEFAULT_MAX_ITEMS,
  DEFAULT_PROFILE_BINS,
  emptyCategoricalProfile,
  emptyNumericProfile,
  type Profile,
  type ProfileJson,
  profileFromJson,
  profileToJson,
  referenceEdges,
} from './profile.ts';

export type FeatureKind = 'numerical' | 'categorical';

export interface ReferenceInput {
  readonly model: string;
  readonly version: number;
  readonly id: string;
  /** One column per input, `<view>.<feature>`; null or NaN is missing. */
  readonly columns: Readonly<Record<string, ArrayLike<number | null>>>;
  /** The model's outputs on the same rows. */
  readonly scores: ArrayLike<number>;
  readonly metrics: Readonly<Record<string, number>>;
  /** Inputs that stand for categories; every other input is numerical. */
  readonly kinds?: Readonly<Record<string, FeatureKind>>;
  readonly bins?: number;
  readonly maxItems?: number;
  /** The output's kind: a classifier's probability is numerical. */
  readonly predictionKind?: FeatureKind;
}

function columnProfile(
  values: ArrayLike<number | null>,
  kind: FeatureKind,
  bins: number,
  maxItems: number,
): Profile {
  if (kind === 'categorical') {
    const p = emptyCategoricalProfile(maxItems);
    addCategories(p, values);
    return p;
  }
  const finite = Array.prototype.some.call(
    values,
    (v: unknown) => typeof v === 'number' && Number.isFinite(v),
  );
  // An input with no value at all still gets a profile: every live window then reads as all-missing.
  const p = emptyNumericProfile(finite ? referenceEdges(values, bins) : Float64Array.of(0));
  addNumbers(p, values);
  return p;
}

export function buildReferenceProfile(input: ReferenceInput): ReferenceProfile {
  const bins = input.bins ?? DEFAULT_PROFILE_BINS;
  const maxItems = input.maxItems ?? DEFAULT_MAX_ITEMS;
  const rows = input.scores.length;
  const features: Record<string, Profile> = {};
  for (const [name, column] of Object.entries(input.columns)) {
    if (column.length !== rows) throw new RangeError(`${name}: ${column.length} values for ${rows} rows`);
    features[name] = columnProfile(column, input.kinds?.[name] ?? 'numerical', bins, maxItems);
  }
  const prediction = columnProfile(input.scores, input.predictionKind ?? 'numerical', bins, maxItems);
  return {
    model: input.model,
    version: input.version,
    id: input.id,
    rows,
    profiles: { features, prediction },
    metrics: { ...input.metrics },
  };
}

export interface ReferenceJson {
  model: string;
  version: number;
  id: string;
  rows: number;
  metrics: Record<string, number>;
  features: Record<string, ProfileJson>;
  prediction: ProfileJson;
}

export function referenceToJson(r: ReferenceProfile): ReferenceJson {
  return {
    model: r.model,
    version: r.version,
    id: r.id,
    rows: r.rows,
    metrics: { ...r.metrics },
    features: Object.fromEntries(Object.entries(r.profiles.features).map(([k, p]) => [k, profileToJson(p)])),
    prediction: profileToJson(r.profiles.prediction),
  };
}

export function referenceFromJson(j: ReferenceJson): ReferenceProfile {
  const profiles: ProfileSet = {
    features: Object.fromEntries(Object.entries(j.features).map(([k, p]) => [k, profileFromJson(p)])),
    prediction: profileFromJson(j.prediction),
  };
  return { model: j.model, version: j.version, id: j.id, rows: j.rows, metrics: { ...j.metrics }, profiles };
}
