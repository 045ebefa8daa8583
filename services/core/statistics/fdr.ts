/**
 * Benjamini–Hochberg adjusted p-values, equal to scipy.stats.false_discovery_control(ps, method='bh').
 *
 * Testing many features at α each flags about α of the undrifted ones by chance; rejecting where the
 * adjusted p-value is below α instead keeps the expected share of false alarms among the flagged
 * features at α (for independent or positively dependent tests).
 */

/**
 * The i-th smallest of m p-values becomes min over j ≥ i of p₍ⱼ₎ · m / j, capped at 1, returned in the
 * input's order. The running minimum from the largest down is the step-up: a p-value is rejected
 * whenever any larger one clears its own bar.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  for (const [i, p] of pValues.entries()) {
    if (!(p >= 0 && p <= 1))
      throw new RangeError(`benjaminiHochberg: p-value [${i}] = ${p} is not in [0, 1]`);
  }
  const m = pValues.length;
  if (m <= 1) return [...pValues];
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a]! - pValues[b]!);
  const adjusted = new Array<number>(m);
  let running = Number.POSITIVE_INFINITY;
  for (let rank = m; rank >= 1; rank--) {
    const index = order[rank - 1]!;
    // scipy multiplies by the precomputed factor m / i; doing the same keeps the doubles identical.
    running = Math.min(running, pValues[index]! * (m / rank));
    adjusted[index] = Math.min(running, 1);
  }
  return adjusted;
}
