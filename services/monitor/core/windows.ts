/**
 * A live tumbling window of one model: the profiles of its inputs and output, the outputs for the
 * confidence-based estimate, and the labels joined to its predictions so far.
 *
 * Values are buffered per column and folded into the profiles a block at a time (addNumbers), which is
 * several times faster than one value at a time and gives the same profile.
 */
import type { ProfileSet } from './compare.ts';
import { addCategories, addNumberBlock, emptyLike, type Profile } from './profile.ts';

const BLOCK = 2048;

export interface LiveWindow {
  readonly start: number;
  readonly end: number;
  rows: number;
  readonly profiles: { features: Record<string, Profile>; prediction: Profile };
  /** Column buffers, flushed into the profiles every BLOCK rows and before a read. */
  readonly buffers: Float64Array[];
  readonly outputBuffer: Float64Array;
  buffered: number;
  /** Every output of the window, for CBPE (8 bytes a prediction). */
  scores: Float64Array;
  /** When each was made: a joined label names its prediction's time (the trainer's spine). */
  times: Float64Array;
  /** Joined labels and the outputs they label. */
  labels: number[];
  labelledScores: number[];
  /** Model versions that served the window's predictions, with counts (the current run not yet in). */
  readonly versions: Map<number, number>;
  runVersion: number;
  runLength: number;
  /** Kafka position after the window's newest prediction, '<topic>:<partition>' → next offset. */
  readonly offsets: Record<string, number>;
}

export function openWindow(
  start: number,
  end: number,
  reference: ProfileSet,
  features: readonly string[],
): LiveWindow {
  const profiles = {
    features: Object.fromEntries(features.map((f) => [f, emptyLike(reference.features[f]!)])),
    prediction: emptyLike(reference.prediction),
  };
  return {
    start,
    end,
    rows: 0,
    profiles,
    buffers: features.map(() => new Float64Array(BLOCK)),
    outputBuffer: new Float64Array(BLOCK),
    buffered: 0,
    scores: new Float64Array(1024),
    times: new Float64Array(1024),
    labels: [],
    labelledScores: [],
    versions: new Map(),
    runVersion: Number.NaN,
    runLength: 0,
    offsets: {},
  };
}

function grown(a: Float64Array): Float64Array {
  const out = new Float64Array(a.length * 2);
  out.set(a);
  return out;
}

/** NaN in a buffer means missing (the profiles count it so). */
export function addRow(
  w: LiveWindow,
  features: readonly string[],
  values: Readonly<Record<string, number | null | undefined>>,
  output: number,
  version: number,
  predictedAt = Number.NaN,
): void {
  const at = w.buffered;
  const buffers = w.buffers;
  for (let i = 0; i < features.length; i++) {
    const v = values[features[i] as string];
    buffers[i]![at] = typeof v === 'number' ? v : Number.NaN;
  }
  w.outputBuffer[at] = output;
  w.buffered = at + 1;
  if (w.rows === w.scores.length) {
    w.scores = grown(w.scores);
    w.times = grown(w.times);
  }
  w.scores[w.rows] = output;
  w.times[w.rows] = predictedAt;
  w.rows++;
  // Versions change rarely: count runs of one version, not a Map update per row.
  if (version === w.runVersion) w.runLength++;
  else {
    countVersionRun(w);
    w.runVersion = version;
    w.runLength = 1;
  }
  if (w.buffered === BLOCK) flushWindow(w, features);
}

/** Folds column[from, to) of one input into its profile: the profile update itself. */
export function foldColumn(p: Profile, column: Float64Array, from: number, to: number): void {
  if (p.kind === 'numerical') addNumberBlock(p, column, from, to);
  // NaN (missing in a buffer) is not a finite number: addCategories counts it missing.
  else addCategories(p, column, from, to);
}

export function flushWindow(w: LiveWindow, features: readonly string[]): void {
  const n = w.buffered;
  if (n === 0) return;
  for (let i = 0; i < features.length; i++)
    foldColumn(w.profiles.features[features[i] as string]!, w.buffers[i]!, 0, n);
  foldColumn(w.profiles.prediction, w.outputBuffer, 0, n);
  w.buffered = 0;
}

function countVersionRun(w: LiveWindow): void {
  if (w.runLength > 0) w.versions.set(w.runVersion, (w.versions.get(w.runVersion) ?? 0) + w.runLength);
  w.runLength = 0;
}

/** The model version that served most of the window (its reference is the one compared). */
export function mainVersion(w: LiveWindow): number | null {
  countVersionRun(w);
  w.runVersion = Number.NaN;
  let best: number | null = null;
  let most = -1;
  for (const [v, n] of w.versions) {
    if (n > most) {
      best = v;
      most = n;
    }
  }
  return best;
}
