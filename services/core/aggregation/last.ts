/**
 * `last`: the value of the event with the latest event time. Ties on event time are broken by a total
 * order so that update and merge are commutative and the result never depends on arrival order:
 * the value whose string form (String(v)) is larger in UTF-16 code-unit order wins (so "9" beats "10",
 * and "b" beats "a"); if the string forms are equal, a number beats a string (1 beats "1").
 * Null and non-finite numbers are ignored.
 */
import type { Aggregator } from './aggregator.ts';
import { decodeError, expectArray, expectFinite } from './decode-checks.ts';

export interface LastIR {
  t: number;
  v: number | string;
}

/** True when (t1, v1) should replace (t2, v2) as the last value. */
export function isLater(t1: number, v1: number | string, t2: number, v2: number | string): boolean {
  if (t1 !== t2) return t1 > t2;
  const s1 = String(v1);
  const s2 = String(v2);
  if (s1 !== s2) return s1 > s2;
  return typeof v1 === 'number' && typeof v2 === 'string';
}

export const lastAggregator: Aggregator<LastIR | null, number | string> = {
  kind: 'last',
  exact: true,
  init: () => null,
  update: (ir, value, eventTimeMs) => {
    if (value === null || (typeof value === 'number' && !Number.isFinite(value))) return ir;
    if (ir === null) return { t: eventTimeMs, v: value };
    if (isLater(eventTimeMs, value, ir.t, ir.v)) {
      ir.t = eventTimeMs;
      ir.v = value;
    }
    return ir;
  },
  merge: (a, b) => {
    if (b === null) return a;
    // Copy rather than return b: the caller may mutate the result, and b must stay untouched.
    if (a === null) return { t: b.t, v: b.v };
    if (isLater(b.t, b.v, a.t, a.v)) {
      a.t = b.t;
      a.v = b.v;
    }
    return a;
  },
  finalize: (ir) => (ir === null ? null : ir.v),
  encode: (ir) => (ir === null ? [] : [ir.t, ir.v]),
  decode: (data) => {
    const arr = expectArray('last', data, [0, 2]);
    if (arr.length === 0) return null;
    const t = expectFinite('last', arr[0], 'event time');
    const v = arr[1];
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return { t, v };
    throw decodeError('last', 'value must be a string or a finite number', data);
  },
};
