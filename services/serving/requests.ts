import { FlywheelError } from '../platform/errors.ts';

/**
 * Request bodies of the serving API, validated by hand (two tiny shapes on a hot path: no zod). Every
 * problem is collected, so a 400 lists all of them in `details.reasons`; only "too many entities" is a
 * 413 of its own, since the fix differs (split the request).
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
  if (!body || typeof body !== 'object' || Array.isArray(body)) fail(['body must be a JSON object']);
  const reasons: string[] = [];
  for (const key of Object.keys(body as Body))
    if (!allowed.includes(key)) reasons.push(`unknown field "${key}" (allowed: ${allowed.join(', ')})`);
  return { b: body as Body, reasons };
}

function entityReason(e: unknown, where: string, limits: ServingLimits): string | undefined {
  if (typeof e !== 'string' || e.length === 0) return `${where} must be a non-empty string`;
  if (e.length > limits.maxEntityLength)
    return `${where} is longer than ${limits.maxEntityLength} characters`;
  return undefined;
}

function entitiesOf(value: unknown, limits: ServingLimits, reasons: string[]): string[] {
  if (!Array.isArray(value)) {
    reasons.push('"entities" must be an array of strings');
    return [];
  }
  if (value.length > limits.maxEntities)
    throw new FlywheelError(
      'FW_BATCH_TOO_LARGE',
      `${value.length} entities exceed the limit of ${limits.maxEntities} per request`,
      { details: { count: value.length, limit: limits.maxEntities } },
    );
  if (value.length === 0) reasons.push('"entities" must name at least one entity');
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
  if (
    views !== undefined &&
    (!Array.isArray(views) || views.length === 0 || views.some((v) => typeof v !== 'string' || !v))
  )
    reasons.push('"views" must be a non-empty array of view names or ids');
  const service = b.featureService;
  if (service !== undefined && (typeof service !== 'string' || !service))
    reasons.push('"featureService" must be a non-empty string');
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
