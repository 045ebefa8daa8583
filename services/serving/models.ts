import type * as ort from 'onnxruntime-node';
import { FlywheelError } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';
import {
  loadSession,
  type ModelRegistry,
  type ModelSignature,
  type ModelVersion,
  signatureOf,
} from '../registry/index.ts';
import type { InputPlan } from './model-inputs.ts';

/**
 * The models serving answers with: each model's `champion`, resolved on first use, re-resolved at once
 * when `ml.models` says its alias moved (model-follower.ts) and every `refreshMs` in case an event was
 * missed, so a promoted version is swapped in without a restart (requests in flight finish on the
 * session they started with). Sessions are cached per artifact sha256; a replaced one is released after
 * a grace period. An unknown model is remembered as unknown for `refreshMs` too, so a flood of requests
 * for it costs no registry queries.
 */
export interface LoadedModel {
  model: string;
  version: ModelVersion;
  session: ort.InferenceSession;
  signature: ModelSignature;
  plan: InputPlan;
}

type Entry = { at: number; loaded: Promise<LoadedModel> };

export function createModelCache(deps: {
  registry: Pick<ModelRegistry, 'resolve' | 'read'>;
  plan: (features: readonly string[]) => InputPlan;
  logger: Logger;
  metrics: MetricsRegistry;
  alias?: string;
  refreshMs?: number;
  releaseGraceMs?: number;
}) {
  const alias = deps.alias ?? 'champion';
  const refreshMs = deps.refreshMs ?? 5_000;
  const graceMs = deps.releaseGraceMs ?? 30_000;
  const entries = new Map<string, Entry>();
  const sessions = new Map<string, Promise<ort.InferenceSession>>();
  const swaps = deps.metrics.counter(
    'flywheel_serving_model_swaps_total',
    'Alias moves picked up, by model and alias.',
  );
  const active = deps.metrics.gauge(
    'flywheel_serving_model_version',
    'Version each alias resolves to, by model and alias (champion answers; challenger shadows).',
  );
  let timer: NodeJS.Timeout | undefined;
  const refreshing = new Map<string, Promise<void>>();
  /** What each settled lookup gave, so peek() can answer without waiting. */
  const resolved = new WeakMap<Promise<LoadedModel>, LoadedModel>();

  function sessionFor(v: ModelVersion): Promise<ort.InferenceSession> {
    let s = sessions.get(v.sha256);
    if (!s) {
      s = deps.registry.read(v).then(loadSession);
      sessions.set(v.sha256, s);
      s.catch(() => sessions.delete(v.sha256));
    }
    return s;
  }

  async function load(model: string): Promise<LoadedModel> {
    const version = await deps.registry.resolve(model, alias);
    const plan = deps.plan(version.features);
    const session = await sessionFor(version);
    active.set(version.version, { model, alias });
    return { model, version, session, signature: signatureOf(session), plan };
  }

  function release(sha256: string): void {
    const s = sessions.get(sha256);
    sessions.delete(sha256);
    const t = setTimeout(() => void s?.then((x) => x.release()).catch(() => {}), graceMs);
    t.unref();
  }

  /** Re-resolves one model; a failed refresh keeps the current version serving. */
  async function refreshOne(model: string): Promise<void> {
    const entry = entries.get(model);
    if (!entry) return;
    const current = await entry.loaded.catch(() => undefined);
    try {
      // The new session is loaded before it replaces the old: requests never wait for a load.
      const next = await load(model);
      const loaded = Promise.resolve(next);
      resolved.set(loaded, next);
      entries.set(model, { at: Date.now(), loaded });
      if (current && current.version.sha256 !== next.version.sha256) {
        swaps.inc({ model, alias });
        deps.logger.info('champion swapped', {
          model,
          from: current.version.version,
          to: next.version.version,
        });
        release(current.version.sha256);
      }
    } catch (err) {
      if (current) deps.logger.warn('champion refresh failed; keeping the current version', { model, err });
      else entries.delete(model);
    }
  }

  /** Re-resolves every known model. */
  async function refresh(): Promise<void> {
    for (const model of [...entries.keys()]) await refreshOne(model);
  }

  function get(model: string): Promise<LoadedModel> {
    const entry = entries.get(model);
    if (entry && (Date.now() - entry.at < refreshMs || timer)) return entry.loaded;
    const loaded = load(model);
    loaded.then(
      (m) => resolved.set(loaded, m),
      () => {},
    );
    entries.set(model, { at: Date.now(), loaded });
    // Forget failures other than "no such model" at once: the next request tries again.
    loaded.catch((err) => {
      if (!(err instanceof FlywheelError && err.code === 'FW_NOT_FOUND')) entries.delete(model);
    });
    return loaded;
  }

  return {
    get,
    /**
     * The model if its lookup has already succeeded, else null (and the lookup starts): for the shadow
     * path, which must never make a request wait.
     */
    peek(model: string): LoadedModel | null {
      return resolved.get(get(model)) ?? null;
    },
    /**
     * Re-resolves a model now (a PROMOTED or ROLLED_BACK event): serving follows the alias within the
     * event's delivery, not the next poll. One at a time per model, so two quick moves end on the last.
     */
    refreshNow(model: string): Promise<void> {
      const previous = refreshing.get(model) ?? Promise.resolve();
      const next = previous.then(() => refreshOne(model));
      refreshing.set(model, next);
      void next.finally(() => refreshing.get(model) === next && refreshing.delete(model));
      return next;
    },
    start(): void {
      const tick = () => {
        timer = setTimeout(() => void refresh().finally(() => timer && tick()), refreshMs);
        timer.unref();
      };
      tick();
    },
    async stop(): Promise<void> {
      clearTimeout(timer);
      timer = undefined;
      const all = await Promise.allSettled(sessions.values());
      sessions.clear();
      for (const s of all) if (s.status === 'fulfilled') await s.value.release().catch(() => {});
    },
  };
}

export type ModelCache = ReturnType<typeof createModelCache>;
