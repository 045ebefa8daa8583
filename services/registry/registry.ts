import type { ClickHouseClient } from '@clickhouse/client';
import { runStatements } from '../platform/clickhouse.ts';
import { FlywheelError } from '../platform/errors.ts';
import { createArtifactStore, sha256Of } from './artifacts.ts';
import { checkModel } from './signature.ts';
import { registryTablesDdl } from './tables.ts';

/**
 * The model registry (DESIGN decision 9): versions and alias history in ClickHouse, ONNX bytes in a
 * content-addressed folder. Append-only: a version is never rewritten, an alias move is a new row.
 * Registration is serialised per model inside one process; two processes registering the same model at
 * the same moment are not supported yet (the retrain controller keeps one run per model at a time).
 */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,49}$/;

export interface ModelVersion {
  model: string;
  version: number;
  sha256: string;
  /** Artifact path relative to the artifacts folder. */
  uri: string;
  /** Absolute path in this process's artifacts folder. */
  path: string;
  /** Input features in the model's column order, `<view>.<feature>`. */
  features: string[];
  outputs: string[];
  metrics: Record<string, number>;
  lineage: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
  /** Aliases currently pointing at this version (list() only). */
  aliases?: string[];
}

export interface RegisterOptions {
  features: readonly string[];
  metrics?: Record<string, number>;
  lineage?: Record<string, unknown>;
  createdBy?: string;
}

interface VersionRow {
  model: string;
  version: number;
  artifact_sha256: string;
  artifact_uri: string;
  input_features: string[];
  output_names: string[];
  metrics: Record<string, number>;
  lineage: string;
  created_at: string;
  created_by: string;
}

const COLUMNS =
  'model, version, artifact_sha256, artifact_uri, input_features, output_names, metrics, lineage, created_at, created_by';

export function createModelRegistry(deps: {
  clickhouse: ClickHouseClient;
  db: string;
  artifactsDir: string;
}) {
  const { clickhouse, db } = deps;
  const artifacts = createArtifactStore(deps.artifactsDir);
  const locks = new Map<string, Promise<unknown>>();
  let lastSetAtMicros = 0;

  const query = async <T>(sql: string, params: Record<string, unknown>): Promise<T[]> =>
    (await clickhouse.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<T>();

  const toVersion = (r: VersionRow): ModelVersion => ({
    model: r.model,
    version: Number(r.version),
    sha256: r.artifact_sha256,
    uri: r.artifact_uri,
    path: artifacts.pathOf(r.artifact_uri),
    features: r.input_features,
    outputs: r.output_names,
    metrics: r.metrics,
    lineage: JSON.parse(r.lineage || '{}') as Record<string, unknown>,
    createdAt: r.created_at,
    createdBy: r.created_by,
  });

  /** Runs `fn` after every earlier registration of the same model in this process. */
  function serialised<T>(model: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(model) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    locks.set(model, next);
    return next;
  }

  async function version(model: string, v: number): Promise<ModelVersion> {
    const [row] = await query<VersionRow>(
      `SELECT ${COLUMNS} FROM ${db}.model_versions FINAL WHERE model = {m:String} AND version = {v:UInt32}`,
      { m: model, v },
    );
    if (!row) throw new FlywheelError('FW_NOT_FOUND', `model ${model} has no version ${v}`);
    return toVersion(row);
  }

  async function register(
    model: string,
    onnx: Uint8Array,
    opts: RegisterOptions,
  ): Promise<ModelVersion & { created: boolean }> {
    checkName('model', model, MODEL_NAME);
    const features = [...opts.features];
    if (features.length === 0 || new Set(features).size !== features.length || features.some((f) => !f))
      throw new FlywheelError('FW_BAD_REQUEST', 'features must be a non-empty list of distinct names');
    const signature = await checkModel(onnx, features);
    const sha256 = sha256Of(onnx);
    return serialised(model, async () => {
      const [existing] = await query<VersionRow>(
        `SELECT ${COLUMNS} FROM ${db}.model_versions FINAL
         WHERE model = {m:String} AND artifact_sha256 = {s:String} ORDER BY version LIMIT 1`,
        { m: model, s: sha256 },
      );
      if (existing) {
        if (existing.input_features.join('\n') !== features.join('\n'))
          throw new FlywheelError(
            'FW_BAD_REQUEST',
            `these bytes are already ${model} v${existing.version} with features ${existing.input_features.join(',')}`,
          );
        return { ...toVersion(existing), created: false };
      }
      const stored = await artifacts.put(onnx);
      const [{ next } = { next: 1 }] = await query<{ next: number }>(
        `SELECT max(version) + 1 AS next FROM ${db}.model_versions WHERE model = {m:String}`,
        { m: model },
      );
      const row = {
        model,
        version: Number(next),
        artifact_sha256: sha256,
        artifact_uri: stored.uri,
        input_features: features,
        output_names: signature.outputs,
        metrics: opts.metrics ?? {},
        lineage: JSON.stringify(opts.lineage ?? {}),
        created_by: opts.createdBy ?? '',
      };
      await clickhouse.insert({ table: `${db}.model_versions`, values: [row], format: 'JSONEachRow' });
      return { ...(await version(model, row.version)), created: true };
    });
  }

  async function setAlias(model: string, alias: string, v: number, reason = ''): Promise<void> {
    checkName('alias', alias, ALIAS_NAME);
    await version(model, v);
    // Microsecond stamps, strictly increasing in this process: two moves in one millisecond stay ordered.
    lastSetAtMicros = Math.max(Date.now() * 1000, lastSetAtMicros + 1);
    const setAt = new Date(Math.floor(lastSetAtMicros / 1000)).toISOString().replace('T', ' ').slice(0, 23);
    const micros = String(lastSetAtMicros % 1000).padStart(3, '0');
    await clickhouse.insert({
      table: `${db}.model_aliases`,
      values: [{ model, alias, version: v, set_at: `${setAt}${micros}`, reason }],
      format: 'JSONEachRow',
    });
  }

  /** The version an alias points at now; FW_NOT_FOUND when the alias was never set. */
  async function resolve(model: string, alias = 'champion'): Promise<ModelVersion> {
    const [row] = await query<VersionRow>(
      `SELECT ${COLUMNS} FROM ${db}.model_versions FINAL
       WHERE model = {m:String} AND version = (
         SELECT argMax(version, set_at) FROM ${db}.model_aliases WHERE model = {m:String} AND alias = {a:String})`,
      { m: model, a: alias },
    );
    if (!row) throw new FlywheelError('FW_NOT_FOUND', `model "${model}" has no "${alias}" version`);
    return toVersion(row);
  }

  async function list(model: string): Promise<ModelVersion[]> {
    const rows = await query<VersionRow>(
      `SELECT ${COLUMNS} FROM ${db}.model_versions FINAL WHERE model = {m:String} ORDER BY version`,
      { m: model },
    );
    const aliases = await query<{ alias: string; version: number }>(
      `SELECT alias, argMax(version, set_at) AS version FROM ${db}.model_aliases
       WHERE model = {m:String} GROUP BY alias ORDER BY alias`,
      { m: model },
    );
    return rows.map((r) => ({
      ...toVersion(r),
      aliases: aliases.filter((a) => Number(a.version) === Number(r.version)).map((a) => a.alias),
    }));
  }

  return {
    artifacts,
    migrate: () => runStatements(clickhouse, registryTablesDdl(db)),
    register,
    setAlias,
    resolve,
    list,
    version,
    /** The artifact's bytes, checked against its sha256. */
    read: (v: Pick<ModelVersion, 'uri' | 'sha256'>) => artifacts.get(v.uri, v.sha256),
  };
}

export type ModelRegistry = ReturnType<typeof createModelRegistry>;

function checkName(what: string, name: string, re: RegExp): void {
  if (!re.test(name)) throw new FlywheelError('FW_BAD_REQUEST', `${what} name "${name}" must match ${re}`);
}
