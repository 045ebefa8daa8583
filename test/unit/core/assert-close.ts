import assert from 'node:assert/strict';

/** Deep equality, except numbers (also inside arrays) may differ by `tolerance` relative to max(1, |expected|). */
export function assertClose(actual: unknown, expected: unknown, tolerance: number, message: string): void {
  if (typeof actual === 'number' && typeof expected === 'number') {
    const scale = Math.max(1, Math.abs(expected));
    assert.ok(Math.abs(actual - expected) <= tolerance * scale, `${message}: ${actual} vs ${expected}`);
    return;
  }
  if (Array.isArray(actual) && Array.isArray(expected) && actual.length === expected.length) {
    for (const [i, a] of actual.entries()) assertClose(a, expected[i], tolerance, `${message}[${i}]`);
    return;
  }
  assert.deepEqual(actual, expected, message);
}
