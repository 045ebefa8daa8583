import type { ClickHouseClient } from '@clickhouse/client';
import { clickHouseTime, runStatements } from '../platform/clickhouse.ts';
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
/** The version an unset alias points at: none (versions start at 1). */
export const UNSET = 0;
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
  provenance: Provenance;
}

export interface RegisterOptions {
  features: readonly string[];
  metrics?: Record<string, number>;
  lineage?: Record<string, unknown>;
  createdBy?: string;
  /** What produced the version (the metadata store); all optional for a version registered by hand. */
  provenance?: Provenance;
  /**
   * Called with the version number the bytes will get, after the artifact is stored and before the
   * version row is written: what must exist for every version (its reference profile) is written here,
   * so a crash leaves either no version or a whole one.
   */
  beforeCommit?: (version: number) => Promise<void>;
}

/** Where a trained version came from: enough to rebuild its training set and its model. */
export interface Provenance {
  runId?: string;
  algorithm?: string;
  parameters?: Record<string, unknown>;
  /** Feature view ids with versions (`<view>:v<n>`). */
  featureViews?: readonly string[];
  /** A hash of those views' definitions. */
  featureDefinitionVersion?: string;
  /** Event-time window of the training data, epoch ms, [start, end). */
  datasetWindow?: { start: number; end: number };
  /** Rows per split (train, validation, holdout). */
  datasetRows?: Record<string, number>;
  /** Kafka offsets the data is complete up to, `<topic>:<partition>`. */
  sourceOffsets?: Record<string, number>;
  codeVersion?: string;
  referenceId?: string;
}

/** One move of an alias, as the append-only history keeps it. */
export interface AliasMove {
  model: string;
  alias: string;
  version: number;
  previousVersion: number | null;
  setAt: string;
  reason: string;
  setBy: string;
  runId: string;
}

export interface AliasOptions {
  reason?: string;
  setBy?: string;
  runId?: string;
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
  run_id: string;
  algorithm: string;
  parameters: string;
  feature_views: string[];
  feature_definition_version: string;
  dataset_window_start: string | null;
  dataset_window_end: string | null;
  dataset_rows: Record<string, number>;
  source_offsets: Record<string, number>;
  code_version: string;
  reference_id: string;
}

const COLUMNS = `model, version, artifact_sha256, artifact_uri, input_features, output_names, metrics, lineage,
  created_at, created_by, run_id, algorithm, parameters, feature_views, feature_definition_version,
  dataset_window_start, dataset_window_end, dataset_rows, source_offsets, code_version, reference_id`;

export function createModelRegistry(deps: {
  clickhouse: ClickHouseClient;
  db: string;
  artifactsDir: string;
}) {
  const { clickhouse, db } = deps;
  const artifacts = createArtifactStore(deps.artifactsDir);
  const locks = new Map<string, Promise<unknown>>();
  const clock = microsecondClock();

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
    provenance: provenanceOf(r),
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
        ...provenanceRow(opts.provenance ?? {}),
      };
      await opts.beforeCommit?.(row.version);
      await clickhouse.insert({ table: `${db}.model_versions`, values: [row], format: 'JSONEachRow' });
      return { ...(await version(model, row.version)), created: true };
    });
  }

  /** Moves an alias (a new history row naming the version it moved from); returns the move. */
  async function setAlias(
    model: string,
    alias: string,
    v: number,
    options: string | AliasOptions = {},
  ): Promise<AliasMove> {
    const opts = typeof options === 'string' ? { reason: options } : options;
    checkName('alias', alias, ALIAS_NAME);
    await version(model, v);
    const previous = await current(model, alias);
    const move = {
      model,
      alias,
      version: v,
      previous_version: previous,
      set_at: clock.next(),
      reason: opts.reason ?? '',
      set_by: opts.setBy ?? '',
      run_id: opts.runId ?? '',
    };
    await clickhouse.insert({ table: `${db}.model_aliases`, values: [move], format: 'JSONEachRow' });
    return toMove(move);
  }

  /** The version an alias points at now, or null when it was never set (or was unset). */
  async function current(model: string, alias: string): Promise<number | null> {
    const [row] = await query<{ version: number | null }>(
      `SELECT argMax(version, set_at) AS version FROM ${db}.model_aliases
       WHERE model = {m:String} AND alias = {a:String} HAVING count() > 0`,
      { m: model, a: alias },
    );
    return row && Number(row.version) !== UNSET ? Number(row.version) : null;
  }

  /**
   * Points the alias at no version (a history row with version 0, which no version has: resolve then
   * answers FW_NOT_FOUND). A challenger that finished its shadow phase is unset this way.
   */
  async function unsetAlias(model: string, alias: string, opts: AliasOptions = {}): Promise<void> {
    checkName('alias', alias, ALIAS_NAME);
    const previous = await current(model, alias);
    if (previous === null) return;
    await clickhouse.insert({
      table: `${db}.model_aliases`,
      values: [
        {
          model,
          alias,
          version: UNSET,
          previous_version: previous,
          set_at: clock.next(),
          reason: opts.reason ?? '',
          set_by: opts.setBy ?? '',
          run_id: opts.runId ?? '',
        },
      ],
      format: 'JSONEachRow',
    });
  }

  /** Every move of the model's aliases (or of one), oldest first. */
  async function aliasHistory(model: string, alias?: string): Promise<AliasMove[]> {
    const rows = await query<AliasRow>(
      `SELECT model, alias, version, previous_version, toString(set_at) AS set_at, reason, set_by, run_id
       FROM ${db}.model_aliases WHERE model = {m:String} ${alias ? 'AND alias = {a:String}' : ''}
       ORDER BY set_at`,
      { m: model, a: alias ?? '' },
    );
    return rows.map(toMove);
  }

  /**
   * Moves the alias back to the version it pointed at before its newest move (FW_NOT_FOUND when it has
   * no earlier version). A second rollback undoes the first: history is a log, not a stack.
   */
  async function rollback(model: string, alias = 'champion', options: AliasOptions = {}): Promise<AliasMove> {
    const last = (await aliasHistory(model, alias)).at(-1);
    if (!last) throw new FlywheelError('FW_NOT_FOUND', `model "${model}" has no "${alias}" to roll back`);
    if (last.previousVersion === null)
      throw new FlywheelError(
        'FW_NOT_FOUND',
        `"${alias}" of ${model} has pointed only at v${last.version}: there is nothing to roll back to`,
      );
    return setAlias(model, alias, last.previousVersion, {
      reason: options.reason ?? `rollback from v${last.version}`,
      setBy: options.setBy ?? '',
      runId: options.runId ?? last.runId,
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
    current,
    unsetAlias,
    aliasHistory,
    rollback,
    resolve,
    list,
    version,
    /** The artifact's bytes, checked against its sha256. */
    read: (v: Pick<ModelVersion, 'uri' | 'sha256'>) => artifacts.get(v.uri, v.sha256),
  };
}

export type ModelRegistry = ReturnType<typeof createModelRegistry>;

interface AliasRow {
  model: string;
  alias: string;
  version: number;
  previous_version: number | null;
  set_at: string;
  reason: string;
  set_by: string;
  run_id: string;
}

function toMove(r: AliasRow): AliasMove {
  return {
    model: r.model,
    alias: r.alias,
    version: Number(r.version),
    previousVersion: r.previous_version === null ? null : Number(r.previous_version),
    setAt: r.set_at,
    reason: r.reason,
    setBy: r.set_by,
    runId: r.run_id,
  };
}

/**
 * Microsecond stamps, strictly increasing in this process: two alias moves (or two steps of a run) in
 * one millisecond stay ordered. As ClickHouse DateTime64(6) text.
 */
export function microsecondClock() {
  let last = 0;
  return {
    next(): string {
      last = Math.max(Date.now() * 1000, last + 1);
      const ms = new Date(Math.floor(last / 1000)).toISOString().replace('T', ' ').slice(0, 23);
      return `${ms}${String(last % 1000).padStart(3, '0')}`;
    },
  };
}

const epochOf = (t: string | null): number | undefined =>
  t === null ? undefined : Date.parse(`${t.replace(' ', 'T')}Z`);

function provenanceRow(p: Provenance) {
  return {
    run_id: p.runId ?? '',
    algorithm: p.algorithm ?? '',
    parameters: JSON.stringify(p.parameters ?? {}),
    feature_views: [...(p.featureViews ?? [])],
    feature_definition_version: p.featureDefinitionVersion ?? '',
    dataset_window_start: p.datasetWindow ? clickHouseTime(p.datasetWindow.start) : null,
    dataset_window_end: p.datasetWindow ? clickHouseTime(p.datasetWindow.end) : null,
    dataset_rows: p.datasetRows ?? {},
    source_offsets: p.sourceOffsets ?? {},
    code_version: p.codeVersion ?? '',
    reference_id: p.referenceId ?? '',
  };
}

function provenanceOf(r: VersionRow): Provenance {
  const start = epochOf(r.dataset_window_start);
  const end = epochOf(r.dataset_window_end);
  return {
    ...(r.run_id ? { runId: r.run_id } : {}),
    ...(r.algorithm ? { algorithm: r.algorithm } : {}),
    parameters: JSON.parse(r.parameters || '{}') as Record<string, unknown>,
    featureViews: r.feature_views,
    ...(r.feature_definition_version ? { featureDefinitionVersion: r.feature_definition_version } : {}),
    ...(start !== undefined && end !== undefined ? { datasetWindow: { start, end } } : {}),
    datasetRows: mapNumbers(r.dataset_rows),
    sourceOffsets: mapNumbers(r.source_offsets),
    ...(r.code_version ? { codeVersion: r.code_version } : {}),
    ...(r.reference_id ? { referenceId: r.reference_id } : {}),
  };
}

const mapNumbers = (m: Record<string, number | string>): Record<string, number> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));

function checkName(what: string, name: string, re: RegExp): void {
  if (!re.test(name)) throw new FlywheelError('FW_BAD_REQUEST', `${what} name "${name}" must match ${re}`);
}
