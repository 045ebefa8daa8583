import { FlywheelError } from '../platform/errors.ts';

/**
 * Request bodies of the serving API, validated by hand (two tiny shapes on a hot path: no zod). Every
 * problem is collected, so a 400 lists all of them in `details.reasons`; only "too many entities" is a
 * 413 of its own, since the fix differs (split the request). Each reason names the field, what is wrong
 * with its value and the limit: `entities[2] is 300 characters long; the limit is 256`.
 */
export interface ServingLimits {
  /** Most entities one request may name (413 FW_BATCH_TOO_LARGE above). */
  readonly maxEntities: number;
  /** Longest entity key, in characters. */
  readonly maxEntityLength: number;
}

export const DEFAULT_LIMITS: ServingLimits = Object.freeze({ maxEntities: 100, maxEntityLength: 256 });

export interface FeaturesRequest {
  entities: string[];
  views: string[] | undefined;
  featureService: string | undefined;
}

export interface PredictRequest {
  entities: string[];
}

type Body = Record<string, unknown>;

/** The body as an object, with a reason for every field it should not carry. */
function objectBody(body: unknown, allowed: readonly string[]): { b: Body; reasons: string[] } {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    fail([`body must be a JSON object (got ${describe(body)})`]);
  const reasons: string[] = [];
  for (const key of Object.keys(body as Body))
    if (!allowed.includes(key)) reasons.push(`unknown field "${key}" (allowed: ${allowed.join(', ')})`);
  return { b: body as Body, reasons };
}

/** What a value is, for "(got …)": its JSON type, or that it is empty or missing. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value === '') return 'an empty string';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

function entityReason(e: unknown, where: string, limits: ServingLimits): string | undefined {
  if (typeof e !== 'string' || e.length === 0)
    return `${where} must be a non-empty string of at most ${limits.maxEntityLength} characters (got ${describe(e)})`;
  if (e.length > limits.maxEntityLength)
    return `${where} is ${e.length} characters long; the limit is ${limits.maxEntityLength}`;
  return undefined;
}

function entitiesOf(value: unknown, limits: ServingLimits, reasons: string[]): string[] {
  if (!Array.isArray(value)) {
    const got = value === undefined ? 'it is missing' : `got ${describe(value)}`;
    reasons.push(`"entities" must be an array of 1 to ${limits.maxEntities} entity keys (${got})`);
    return [];
  }
  if (value.length > limits.maxEntities)
    throw new FlywheelError(
      'FW_BATCH_TOO_LARGE',
      `"entities" names ${value.length} entities; the limit is ${limits.maxEntities} per request`,
      { details: { count: value.length, limit: limits.maxEntities } },
    );
  if (value.length === 0)
    reasons.push(`"entities" must name 1 to ${limits.maxEntities} entities (got an empty array)`);
  for (const [i, e] of value.entries()) {
    const reason = entityReason(e, `entities[${i}]`, limits);
    if (reason) reasons.push(reason);
  }
  return value as string[];
}

function fail(reasons: string[]): void {
  if (reasons.length > 0)
    throw new FlywheelError('FW_BAD_REQUEST', `invalid request: ${reasons.slice(0, 5).join('; ')}`, {
      details: { reasons },
    });
}

/** `{ entities: string[], views?: string[], featureService?: string }`. */
export function parseFeaturesRequest(body: unknown, limits: ServingLimits = DEFAULT_LIMITS): FeaturesRequest {
  const { b, reasons } = objectBody(body, ['entities', 'views', 'featureService']);
  const entities = entitiesOf(b.entities, limits, reasons);
  const views = b.views;
  if (views !== undefined) {
    const bad = Array.isArray(views) ? views.findIndex((v) => typeof v !== 'string' || !v) : -1;
    const problem =
      !Array.isArray(views) || views.length === 0
        ? `got ${describe(views)}`
        : bad >= 0
          ? `views[${bad}] is ${describe(views[bad])}`
          : undefined;
    if (problem) reasons.push(`"views" must be a non-empty array of view names or ids (${problem})`);
  }
  const service = b.featureService;
  if (service !== undefined && (typeof service !== 'string' || !service))
    reasons.push(`"featureService" must be a non-empty string (got ${describe(service)})`);
  if (views !== undefined && service !== undefined)
    reasons.push('give "views" or "featureService", not both');
  fail(reasons);
  return { entities, views: views as string[] | undefined, featureService: service as string | undefined };
}

/** `{ entities: string[] }` or `{ entity: string }`. */
export function parsePredictRequest(body: unknown, limits: ServingLimits = DEFAULT_LIMITS): PredictRequest {
  const { b, reasons } = objectBody(body, ['entities', 'entity']);
  let entities: string[] = [];
  if ('entity' in b && 'entities' in b) reasons.push('give "entity" or "entities", not both');
  else if ('entity' in b) {
    const reason = entityReason(b.entity, '"entity"', limits);
    if (reason) reasons.push(reason);
    entities = [b.entity as string];
  } else entities = entitiesOf(b.entities, limits, reasons);
  fail(reasons);
  return { entities };
}
