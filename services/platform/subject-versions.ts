import { FlywheelError } from './errors.ts';
import { sleep } from './retry.ts';

/**
 * Which schema ids a topic's records may carry: the registered versions of its subject `<topic>-value`
 * (Confluent API `GET /subjects/{s}/versions`). A record written with another subject's schema — one
 * that happens to carry the same key and time fields — must not be folded as the topic's own event.
 *
 * The set is refreshed when a batch holds an id it lacks: producers register a schema before writing
 * with it, so a refresh that starts after the record was read finds every legitimate id. Refreshes are
 * at least REFRESH_INTERVAL_MS apart (a flood of random ids costs one request a second, not one per id)
 * and a batch waits for the next one rather than skip it, so a new version is never refused for being
 * new. Ids still missing are looked up one by one (`GET /schemas/ids/{id}/versions`), up to
 * MAX_LOOKUPS_PER_BATCH per batch, only to say in the reason whether the id exists at all.
 */
const REFRESH_INTERVAL_MS = 1_000;
const MAX_LOOKUPS_PER_BATCH = 32;
/** How long an id's lookup (unknown, or registered elsewhere) is believed. */
const LOOKUP_TTL_MS = 60_000;

interface SubjectState {
  ids: Set<number>;
  /**
   * Ids a refresh that started after they were seen did not find, and when: refused at once for
   * LOOKUP_TTL_MS without another refresh (a legitimate id is registered before it is written, so it
   * can never land here), so a trickle of bad records does not make every batch wait for a refresh.
   */
  refused: Map<number, number>;
  versions: Set<number>;
  refreshedAt: number;
  /** When the last completed refresh sent its first request: it saw every id registered before. */
  listedAt: number;
  refreshing: Promise<void> | undefined;
}

export function createSubjectVersions(url: string) {
  const subjects = new Map<string, SubjectState>();
  const lookups = new Map<number, { subjects: string[] | undefined; at: number }>();

  function stateOf(subject: string): SubjectState {
    let state = subjects.get(subject);
    if (!state) {
      state = {
        ids: new Set(),
        refused: new Map(),
        versions: new Set(),
        refreshedAt: 0,
        listedAt: 0,
        refreshing: undefined,
      };
      subjects.set(subject, state);
    }
    return state;
  }

  async function refresh(subject: string, state: SubjectState): Promise<void> {
    const wait = state.refreshedAt + REFRESH_INTERVAL_MS - Date.now();
    if (wait > 0) await sleep(wait);
    const listedAt = Date.now();
    const versions =
      (await getJson<number[]>(url, `/subjects/${encodeURIComponent(subject)}/versions`)) ?? [];
    for (const version of versions) {
      if (state.versions.has(version)) continue;
      const entry = await getJson<{ id?: unknown }>(
        url,
        `/subjects/${encodeURIComponent(subject)}/versions/${version}`,
      );
      if (typeof entry?.id === 'number') state.ids.add(entry.id);
      state.versions.add(version);
    }
    state.refreshedAt = Date.now();
    state.listedAt = listedAt;
  }

  /** Refreshes once for all concurrent callers. */
  function refreshOnce(subject: string, state: SubjectState): Promise<void> {
    state.refreshing ??= refresh(subject, state).finally(() => {
      state.refreshing = undefined;
    });
    return state.refreshing;
  }

  /** The subjects an id is registered under, or undefined when the registry knows no such id. */
  async function lookup(id: number): Promise<string[] | undefined> {
    const cached = lookups.get(id);
    if (cached && Date.now() - cached.at < LOOKUP_TTL_MS) return cached.subjects;
    const versions = await getJson<Array<{ subject?: unknown }>>(url, `/schemas/ids/${id}/versions`);
    const found = versions?.map((v) => String(v.subject));
    if (lookups.size > 10_000) lookups.clear();
    lookups.set(id, { subjects: found, at: Date.now() });
    return found;
  }

  return {
    /**
     * The ids of `ids` that are not versions of `subject`, each with the error to dead-letter its
     * records with. Throws FW_SCHEMA_REGISTRY_UNAVAILABLE when the registry does not answer.
     */
    async refusals(subject: string, ids: ReadonlySet<number>): Promise<Map<number, FlywheelError>> {
      const state = stateOf(subject);
      const now = Date.now();
      const unseen = [...ids].filter((id) => !state.ids.has(id) && !recentlyRefused(state, id, now));
      if (unseen.length > 0) {
        // A refresh already under way may have listed the versions before these records were read.
        while (state.listedAt < now) await refreshOnce(subject, state);
        if (state.refused.size > 10_000) state.refused.clear();
        for (const id of unseen) if (!state.ids.has(id)) state.refused.set(id, now);
      }
      const refused = new Map<number, FlywheelError>();
      let lookedUp = 0;
      for (const id of ids) {
        if (state.ids.has(id)) continue;
        const registered = lookedUp++ < MAX_LOOKUPS_PER_BATCH ? await lookup(id) : [];
        refused.set(
          id,
          registered === undefined
            ? new FlywheelError('FW_DECODE_FAILED', `unknown schema id ${id}`)
            : new FlywheelError(
                'FW_SCHEMA_SUBJECT_MISMATCH',
                `schema id ${id} is not a registered version of subject ${subject}` +
                  (registered.length > 0
                    ? ` (it is registered under ${registered.slice(0, 3).join(', ')})`
                    : ''),
              ),
        );
      }
      return refused;
    },
  };
}

export type SubjectVersions = ReturnType<typeof createSubjectVersions>;

function recentlyRefused(state: SubjectState, id: number, now: number): boolean {
  const at = state.refused.get(id);
  return at !== undefined && now - at < LOOKUP_TTL_MS;
}

/**
 * GET a registry resource: its JSON; undefined when the registry refuses the request (404, or another
 * 4xx for an id no registry could hold, such as a negative one); FW_SCHEMA_REGISTRY_UNAVAILABLE when it
 * does not answer or fails (5xx), so the caller retries instead of refusing records.
 */
async function getJson<T>(url: string, path: string): Promise<T | undefined> {
  let response: Response;
  try {
    response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    throw new FlywheelError(
      'FW_SCHEMA_REGISTRY_UNAVAILABLE',
      `schema registry at ${url} did not answer GET ${path}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (response.status >= 400 && response.status < 500) return undefined;
  if (!response.ok)
    throw new FlywheelError(
      'FW_SCHEMA_REGISTRY_UNAVAILABLE',
      `schema registry at ${url} answered ${response.status} to GET ${path}`,
    );
  return (await response.json()) as T;
}
