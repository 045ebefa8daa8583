import { FlywheelError } from './errors.ts';

/**
 * What the schema registry says of a value schema for a subject, without registering anything (for
 * `flywheel plan` and before `apply` registers): new subject, registered already, or a next version
 * that the subject's compatibility rule (BACKWARD in Flywheel's stack) accepts or refuses. The
 * Confluent API gives no reason for a refusal; the caller gets the latest registered schema to say one.
 */
export type SchemaVerdict =
  | { readonly state: 'new' }
  | { readonly state: 'registered'; readonly version: number }
  | { readonly state: 'compatible' }
  | { readonly state: 'incompatible'; readonly reason: string };

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const TIMEOUT_MS = 10_000;

export async function schemaVerdict(
  registryUrl: string,
  subject: string,
  schema: object,
  explain: (latest: object, next: object) => string,
): Promise<SchemaVerdict> {
  const body = JSON.stringify({ schema: JSON.stringify(schema) });
  const base = registryUrl.replace(/\/$/, '');
  const lookup = await call(`${base}/subjects/${encodeURIComponent(subject)}`, 'POST', body);
  if (lookup.status === 200)
    return { state: 'registered', version: Number((lookup.json as { version: number }).version) };
  const code = (lookup.json as { error_code?: number } | undefined)?.error_code;
  if (lookup.status === 404 && code === 40401) return { state: 'new' };
  if (lookup.status !== 404) throw unavailable(subject, lookup);
  const check = await call(
    `${base}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`,
    'POST',
    body,
  );
  if (check.status !== 200) throw unavailable(subject, check);
  if ((check.json as { is_compatible?: boolean }).is_compatible) return { state: 'compatible' };
  const latest = await call(`${base}/subjects/${encodeURIComponent(subject)}/versions/latest`, 'GET');
  const latestSchema =
    latest.status === 200 ? (JSON.parse((latest.json as { schema: string }).schema) as object) : undefined;
  return {
    state: 'incompatible',
    reason: latestSchema ? explain(latestSchema, schema) : "the registry refuses it under the subject's rule",
  };
}

async function call(
  url: string,
  method: 'GET' | 'POST',
  body?: string,
): Promise<{ status: number; json: unknown }> {
  try {
    const res = await fetch(url, {
      method,
      headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  } catch (err) {
    throw new FlywheelError(
      'FW_SCHEMA_REGISTRY_UNAVAILABLE',
      `schema registry at ${url} did not answer: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

function unavailable(subject: string, res: { status: number; json: unknown }): FlywheelError {
  return new FlywheelError(
    'FW_SCHEMA_REGISTRY_UNAVAILABLE',
    `schema registry answered ${res.status} for subject ${subject}: ${JSON.stringify(res.json)}`,
  );
}
