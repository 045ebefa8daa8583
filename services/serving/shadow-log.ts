import type { ClickHouseClient } from '@clickhouse/client';
import { clickHouseTime } from '../platform/clickhouse.ts';
import type { Logger } from '../platform/logger.ts';
import type { MetricsRegistry } from '../platform/metrics.ts';

/**
 * The shadow log: for every prediction made while a model has a `challenger`, the challenger's output
 * on the same input tensor, beside the champion's, in ClickHouse `shadow_predictions`. The deployer
 * joins it with the monitor's labels at the end of the shadow phase (docs/training.md). Off the request
 * path like the prediction log: a bounded queue, a batch insert every `flushMs`; past `maxQueue` rows
 * are dropped and counted (a shadow comparison on fewer rows is still a comparison on the same rows).
 */
export interface ShadowRecord {
  request_id: string;
  model: string;
  entity_key: string;
  champion_version: number;
  challenger_version: number;
  champion_output: number[];
  challenger_output: number[];
  predicted_at: number;
}

const MAX_QUEUE = 50_000;
const FLUSH_MS = 500;

export function createShadowLog(deps: {
  clickhouse: Pick<ClickHouseClient, 'insert'>;
  table: string;
  logger: Logger;
  metrics: MetricsRegistry;
}) {
  const queue: ShadowRecord[] = [];
  const dropped = deps.metrics.counter(
    'flywheel_serving_shadow_dropped_total',
    'Shadow predictions not logged, by reason (queue_full, insert_failed).',
  );
  const logged = deps.metrics.counter(
    'flywheel_serving_shadow_logged_total',
    'Shadow predictions written, by model.',
  );
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, 1_000);
      try {
        await deps.clickhouse.insert({
          table: deps.table,
          values: batch.map((r) => ({ ...r, predicted_at: clickHouseTime(r.predicted_at) })),
          format: 'JSONEachRow',
        });
        for (const r of batch) logged.inc({ model: r.model });
      } catch (err) {
        dropped.inc({ reason: 'insert_failed' }, batch.length);
        deps.logger.warn('shadow predictions not written', { rows: batch.length, err });
      }
    }
  }

  const flush = (): Promise<void> => {
    flushing ??= drain().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  return {
    log(r: ShadowRecord): void {
      if (queue.length >= MAX_QUEUE) dropped.inc({ reason: 'queue_full' });
      else queue.push(r);
    },
    start(): void {
      timer = setInterval(() => void flush(), FLUSH_MS);
      timer.unref();
    },
    flush,
    async stop(): Promise<void> {
      clearInterval(timer);
      await flushing;
      await flush();
    },
  };
}

export type ShadowLog = ReturnType<typeof createShadowLog>;
