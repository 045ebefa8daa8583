import type { CompiledView } from '../definition.ts';

/**
 * A tile's stored form: `[lastOffset, slot0, slot1, …]` as JSON. The offset of the last event folded
 * into the tile makes every tile write idempotent: a replay after a crash skips events the stored tile
 * already holds, so tiles may be written before, after or apart from the partition checkpoint without
 * ever counting an event twice. JSON numbers round-trip doubles exactly, so a reloaded tile continues
 * bit-for-bit where the in-memory one stopped.
 */
export interface TileState {
  lastOffset: number;
  irs: unknown[];
}

export function emptyTile(view: CompiledView): TileState {
  return { lastOffset: -1, irs: view.slots.map((s) => s.aggregator.init()) };
}

export function encodeTile(view: CompiledView, tile: TileState): string {
  let out = `[${tile.lastOffset}`;
  for (const slot of view.slots) {
    const agg = slot.aggregator;
    const ir = tile.irs[slot.index];
    out += `,${agg.encodeText ? agg.encodeText(ir) : JSON.stringify(agg.encode(ir))}`;
  }
  return `${out}]`;
}

export function decodeTile(view: CompiledView, text: string): TileState {
  const data = JSON.parse(text) as unknown;
  if (!Array.isArray(data) || data.length !== view.slots.length + 1 || typeof data[0] !== 'number') {
    throw new Error(
      `stored tile of ${view.id} has ${Array.isArray(data) ? data.length - 1 : 'no'} slots, expected ${view.slots.length}`,
    );
  }
  return { lastOffset: data[0], irs: view.slots.map((s) => s.aggregator.decode(data[s.index + 1])) };
}
