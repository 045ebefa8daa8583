import assert from 'node:assert/strict';
import { type AggregationOutput, DEFAULT_QUANTILES } from '../../services/core/aggregation/index.ts';
import { windowSpan } from '../../services/core/windows/tiles.ts';
import type { CompiledView } from '../../services/features/definition.ts';
import { referenceValue } from './naive-reference.ts';
import { partitionOf, type ShopOrder } from './shop-events.ts';

/**
 * The brute-force side of the integration tests' online-vs-reference comparisons: which events the
 * documented watermark rule accepts, each feature recomputed from raw events with the documented window
 * semantics, and the documented error bounds of the approximate aggregations.
 */

/** Which events the watermark rule accepts: per partition, in produce order. */
export function acceptedByWatermark(
  orders: readonly ShopOrder[],
  partitions: number,
  latenessMs: number,
): { accepted: ShopOrder[]; late: number } {
  const maxTs = new Map<number, number>();
  const accepted: ShopOrder[] = [];
  let late = 0;
  for (const o of orders) {
    const p = partitionOf(o.user_id, partitions);
    const max = maxTs.get(p) ?? Number.NEGATIVE_INFINITY;
    if (o.ts < max - latenessMs) {
      late++;
      continue;
    }
    if (o.ts > max) maxTs.set(p, o.ts);
    accepted.push(o);
  }
  return { accepted, late };
}

/**
 * Asserts every feature of `view` read for an entity as of `asOf` against the reference over the
 * entity's accepted `events`; returns how many values it compared (none when the entity had no event
 * by then: its read is "missing", which other assertions cover).
 */
export function assertViewMatchesReference(
  where: string,
  view: CompiledView,
  features: Record<string, AggregationOutput | null>,
  events: readonly ShopOrder[],
  asOf: number,
): number {
  if (!events.some((e) => e.ts < asOf + view.tileMs)) return 0;
  for (const f of view.features) {
    const slot = view.slots[f.slot]!;
    const span = windowSpan(asOf, view.tileMs, f.windowMs);
    const raw = events.map((e) => ({
      ts: e.ts,
      value: slot.field ? ((e as unknown as Record<string, string | number | null>)[slot.field] ?? null) : 1,
    }));
    const expected = referenceValue(slot.kind, raw, span.start, span.end, {
      quantiles: slot.quantiles ?? DEFAULT_QUANTILES,
    });
    assertFeature(`${where} ${f.name}`, slot.kind, features[f.name] ?? null, expected);
  }
  return view.features.length;
}

function assertFeature(
  where: string,
  kind: string,
  got: AggregationOutput | null,
  expected: AggregationOutput | null,
): void {
  if (kind === 'approx_distinct') {
    const e = expected as number;
    assert.ok(Math.abs((got as number) - e) <= Math.max(1, e * 0.05), `${where}: distinct ${got} vs ${e}`);
  } else if (kind === 'approx_quantile' && expected !== null) {
    // DDSketch's documented bound: relative error ≤ 1% against the nearest-rank quantile.
    for (const [i, q] of (expected as number[]).entries()) {
      assert.ok(
        Math.abs((got as number[])[i]! - q) <= Math.abs(q) * 0.0101,
        `${where}: quantile ${got} vs ${expected}`,
      );
    }
  } else if ((kind === 'variance' || kind === 'stddev') && expected !== null) {
    // Welford/Chan merges and the two-pass reference round differently in the last bits.
    const e = expected as number;
    assert.ok(Math.abs((got as number) - e) <= 1e-9 * Math.max(1, Math.abs(e)), `${where}: ${got} vs ${e}`);
  } else assert.deepEqual(got, expected, where);
}
