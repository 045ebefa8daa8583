import type { ClickHouseClient } from '@clickhouse/client';
import { FlywheelError } from '../platform/errors.ts';
import { microsecondClock } from './registry.ts';

/**
 * The pipeline runs (DESIGN's C3): one row per step a run took, keyed by its run id, from the monitor's
 * request to the deployer's decision. Each step is written by the module that took it, before it tells
 * the next one (the event on Kafka): the table never lags the topics, and a step replayed after a crash
 * appends a row with the same state again — `history` shows it, `state` is unchanged.
 */
export const RUN_STATES = [
  'requested',
  'training',
  'trained',
  'failed',
  'gating',
  'gated',
  'shadowing',
  'promoted',
  'rejected',
  'rolled_back',
] as const;
export type RunState = (typeof RUN_STATES)[number];

/** The states after which nothing more happens to the run. */
export const FINAL_STATES: ReadonlySet<RunState> = new Set(['failed', 'promoted', 'rejected', 'rolled_back']);

export interface RunStep {
  runId: string;
  model: string;
  state: RunState;
  at: string;
  version: number | null;
  actor: string;
  details: Record<string, unknown>;
}

interface StepRow {
  run_id: string;
  model: string;
  state: RunState;
  at: string;
  version: number | null;
  actor: string;
  details: string;
}

const RUN_ID = /^[A-Za-z0-9._:-]{1,200}$/;

export function createPipelineRuns(deps: { clickhouse: ClickHouseClient; db: string }) {
  const { clickhouse, db } = deps;
  const clock = microsecondClock();
  const query = async (sql: string, params: Record<string, unknown>): Promise<RunStep[]> =>
    (
      await (
        await clickhouse.query({
          query: `SELECT run_id, model, state, toString(at) AS at, version, actor, details
                  FROM ${db}.pipeline_runs WHERE ${sql}`,
          query_params: params,
          format: 'JSONEachRow',
        })
      ).json<StepRow>()
    ).map(toStep);

  return {
    async record(step: {
      runId: string;
      model: string;
      state: RunState;
      version?: number | null;
      actor: string;
      details?: Record<string, unknown>;
    }): Promise<void> {
      if (!RUN_ID.test(step.runId))
        throw new FlywheelError(
          'FW_BAD_REQUEST',
          `run id ${JSON.stringify(step.runId)} must match ${RUN_ID}`,
        );
      await clickhouse.insert({
        table: `${db}.pipeline_runs`,
        values: [
          {
            run_id: step.runId,
            model: step.model,
            state: step.state,
            at: clock.next(),
            version: step.version ?? null,
            actor: step.actor,
            details: JSON.stringify(step.details ?? {}),
          },
        ],
        format: 'JSONEachRow',
      });
    },
    /** Every step of the run, oldest first (empty for an unknown run). */
    history: (runId: string) => query('run_id = {r:String} ORDER BY at', { r: runId }),
    /** The run's newest step, or null. */
    async state(runId: string): Promise<RunStep | null> {
      return (await query('run_id = {r:String} ORDER BY at DESC LIMIT 1', { r: runId }))[0] ?? null;
    },
    /** The newest step of each of the model's latest runs, newest run first. */
    latest: (model: string, limit = 20) =>
      query(`model = {m:String} ORDER BY at DESC LIMIT 1 BY run_id LIMIT {n:UInt32}`, { m: model, n: limit }),
  };
}

export type PipelineRuns = ReturnType<typeof createPipelineRuns>;

function toStep(r: StepRow): RunStep {
  return {
    runId: r.run_id,
    model: r.model,
    state: r.state,
    at: r.at,
    version: r.version === null ? null : Number(r.version),
    actor: r.actor,
    details: JSON.parse(r.details || '{}') as Record<string, unknown>,
  };
}
