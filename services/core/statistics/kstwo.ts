/**
 * The distribution of the one-sample two-sided Kolmogorov–Smirnov statistic Dₙ: kstwoSf(n, x) is
 * scipy.stats.kstwo.sf(x, n). ks_2samp's asymptotic mode evaluates it at n = round(n₁n₂ / (n₁ + n₂)).
 *
 * A port of scipy's scipy/stats/_ksstats.py (_kolmogn with cdf=False), which follows Simard and
 * L'Ecuyer (2011) in choosing, by n and n·x², between Ruben–Gambino's closed forms, twice the exact
 * one-sided Smirnov probability, the Durbin matrix (as Marsaglia–Tsang–Wang evaluate it), Pomeranz's
 * recursion and the Pelz–Good expansion. The branch points are scipy's, so each x is computed by the
 * same method scipy uses. Smirnov's sum is the one place where we differ in arithmetic: scipy's C
 * (xsf/cephes/kolmogorov.h) carries double-double terms, we carry logarithms; agreement is ~1e-11
 * relative, far inside the tested tolerance.
 */
import { CompensatedSum, clamp01, ldexp } from './numeric.ts';

const SCALE_EXPONENT = 128;
const BIG = 2 ** SCALE_EXPONENT;
const SMALL = 2 ** -SCALE_EXPONENT;
const SQRT_2PI = Math.sqrt(2 * Math.PI);
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;
/** Below this log, exp underflows even as a subnormal (cephes MINLOG, log 2⁻¹⁰⁷⁵). */
const MIN_LOG = -745.1332191019412;
/** B₂ⱼ / (2j (2j − 1)), j = 8…1, highest first, for the polynomial in Stirling's series. */
const STIRLING_HIGH_FIRST = [
  -3617 / 122400,
  1 / 156,
  -691 / 360360,
  1 / 1188,
  -1 / 1680,
  1 / 1260,
  -1 / 360,
  1 / 12,
];

/** P(Dₙ ≥ x), scipy.stats.kstwo.sf(x, n). */
export function kstwoSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`kstwo needs a positive integer n, got ${n}`);
  if (Number.isNaN(x)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) return clamp01(1 - rubenGambinoLowCdf(n, t));
  if (t >= n - 1) return clamp01(2 * (1 - x) ** n);
  if (x >= 0.5) return clamp01(2 * smirnovSf(n, x));
  const nxx = t * x;
  if (n <= 140) {
    if (nxx <= 0.754693) return clamp01(1 - durbinCdf(n, x));
    if (nxx <= 4) return clamp01(1 - pomeranzCdf(n, x));
    return clamp01(2 * smirnovSf(n, x));
  }
  // Past n·x² = 2.2 the intersection term 2P(D⁺ ≥ x) − P(Dₙ ≥ x) is below double precision.
  if (nxx >= 370) return 0;
  if (nxx >= 2.2) return clamp01(2 * smirnovSf(n, x));
  const cdf = n <= 100_000 && n * x ** 1.5 <= 1.4 ? durbinCdf(n, x) : pelzGoodCdf(n, x);
  return clamp01(1 - cdf);
}

/** Ruben–Gambino: P(Dₙ ≤ x) = n!/nⁿ (2t − 1)ⁿ for 1/(2n) ≤ x ≤ 1/n, t = n·x. */
function rubenGambinoLowCdf(n: number, t: number): number {
  if (t <= 0.5) return 0;
  if (n <= 140) {
    let p = 1;
    for (let i = 1; i <= n; i++) p *= i * (1 / n) * (2 * t - 1);
    return p;
  }
  return Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
}

/** ln(n! / nⁿ) by Stirling, with n·ln n removed up front so nothing cancels. */
function logFactorialOverPower(n: number): number {
  const rn = 1 / n;
  let poly = 0;
  for (const c of STIRLING_HIGH_FIRST) poly = poly * (rn / n) + c;
  return Math.log(n) / 2 - n + Math.log(2 * Math.PI) / 2 + rn * poly;
}

// ------------------------------------------------------------------------------------------------
// Smirnov's one-sided P(D⁺ₙ ≥ x) by the Birnbaum–Tingey sum
//   x Σ_{v=0}^{⌊n(1−x)⌋} C(n, v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v)

/** ⌊n·x⌋ and n·x − ⌊n·x⌋ without the rounding of n·x (Dekker's exact product). */
function splitNX(n: number, x: number): { floor: number; frac: number } {
  const p = n * x;
  const split = (v: number) => {
    const c = 134217729 * v;
    const hi = c - (c - v);
    return [hi, v - hi] as const;
  };
  const [nh, nl] = split(n);
  const [xh, xl] = split(x);
  const err = nh * xh - p + nh * xl + nl * xh + nl * xl;
  let floor = Math.floor(p);
  let frac = p - floor + err;
  if (frac < 0) {
    floor -= 1;
    frac += 1;
  } else if (frac >= 1) {
    floor += 1;
    frac -= 1;
  }
  return { floor, frac };
}

export function smirnovSf(n: number, x: number): number {
  if (!(n > 0 && x >= 0 && x <= 1)) return Number.NaN;
  if (n === 1) return 1 - x;
  if (x === 0) return 1;
  if (x === 1) return 0;
  const { floor: nxFloor, frac: alpha } = splitNX(n, x);
  // x ≤ 1/n: only the v = n term of the complementary sum survives.
  if (nxFloor === 0 || (nxFloor === 1 && alpha === 0)) return 1 - x * (1 + x) ** (n - 1);
  if (-2 * n * x * x < MIN_LOG) return 0;
  if (nxFloor >= n - 1) return (1 - x) ** n;
  if (n > 1_000_000) return smirnovLargeN(n, x);
  return clamp01(x * smirnovLowerSum(n, x, nxFloor, alpha));
}

/** cephes' approximation beyond n = 10⁶, where the exact sum takes too long: p ≈ e^(−(6nx+1)²/18n). */
function smirnovLargeN(n: number, x: number): number {
  const logp = -((6 * n * x + 1) ** 2) / 18 / n;
  // As cephes: the smaller tail straight from exp, the larger as 1 − cdf with cdf = −expm1 for precision.
  return logp < -Math.LN2 ? Math.exp(logp) : 1 + Math.expm1(logp);
}

function smirnovLowerSum(n: number, x: number, nxFloor: number, alpha: number): number {
  const lastV = n - nxFloor - 1; // ⌊n(1 − x)⌋, excluding v = n(1 − x) itself when n·x is an integer
  const terms = lastV + 1;
  const sum = new CompensatedSum();
  const logC = new CompensatedSum(); // ln C(n, v), built up term by term
  sum.add(Math.exp(n * Math.log1p(-x) - Math.log(x)));
  for (let v = 1; v < terms; v++) {
    logC.add(Math.log((n - v + 1) / v));
    // x + v/n and 1 − x − v/n from the exact split of n·x, so the last factors keep their precision.
    const up = (v + nxFloor + alpha) / n;
    const down = (n - v - nxFloor - alpha) / n;
    const term = Math.exp(logC.value + (v - 1) * Math.log(up) + (n - v) * Math.log(down));
    if (term !== 0) {
      sum.add(term);
      // cephes' stopping rule: the remaining terms cannot move the sum.
      if (4 * (terms - v) * term < Number.EPSILON * sum.value && v !== terms - 1) break;
    } else if (v > n / 2) {
      break;
    }
  }
  return sum.value;
}

// ------------------------------------------------------------------------------------------------
// Durbin's matrix, P(Dₙ < x) = n!/nⁿ (Hⁿ)ₖₖ, evaluated as Marsaglia, Tsang & Wang (2003) do.

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const ail = a[i * m + l]!;
      if (ail === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j]! += ail * b[l * m + j]!;
    }
  }
  return out;
}

function durbinMatrix(k: number, h: number): Float64Array {
  const m = 2 * k - 1;
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  v[m - 1] = (1 + (Math.max(2 * h - 1, 0) ** m - 2 * h ** m)) * fac;
  const H = new Float64Array(m * m);
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - i + 1]!;
  for (let r = 0; r < m; r++) H[r * m] = v[r]!;
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c]!;
  return H;
}

function durbinCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const m = 2 * k - 1;
  let H: Float64Array = durbinMatrix(k, k - nd);
  let power: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) power[i * m + i] = 1;
  // Square-and-multiply, keeping H's scale as a separate power of two so nothing overflows.
  let exponent = 0;
  let hExponent = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) {
    if (rest % 2 === 1) {
      power = matmul(power, H, m);
      exponent += hExponent;
    }
    H = matmul(H, H, m);
    hExponent *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]!) > BIG) {
      for (let i = 0; i < H.length; i++) H[i]! /= BIG;
      hExponent += SCALE_EXPONENT;
    }
  }
  let p = power[(k - 1) * m + (k - 1)]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < SMALL) {
      p *= BIG;
      exponent -= SCALE_EXPONENT;
    }
  }
  return clamp01(exponent !== 0 ? ldexp(p, exponent) : p);
}

// ------------------------------------------------------------------------------------------------
// Pomeranz's recursion (1974): P(Dₙ ≤ x) = n! V[2n+1][n], two rows at a time.

function pomeranzBounds(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = half - 1 - ll - roundf - 1;
        j2 = half + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** (g/n)^m / m!-style power tables: the Poisson-like weights Pomeranz convolves with. */
function scaledPowers(base: number, count: number): Float64Array {
  const out = new Float64Array(count);
  out[0] = 1;
  for (let m = 1; m < count; m++) out[m] = (out[m - 1]! * base) / m;
  return out;
}

/** The slice [start, start + len) of numpy.convolve(a, b) ('full' mode). */
function convolveSlice(a: Float64Array, b: Float64Array, start: number, len: number): Float64Array {
  const out = new Float64Array(len);
  for (let k = start; k < start + len; k++) {
    let s = 0;
    const lo = Math.max(0, k - b.length + 1);
    const hi = Math.min(k, a.length - 1);
    for (let i = lo; i <= hi; i++) s += a[i]! * b[k - i]!;
    out[k - start] = s;
  }
  return out;
}

function pomeranzCdf(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const width = 2 * (ll + 1);
  const gPowers = scaledPowers(g / n, width);
  const twoGPowers = scaledPowers((2 * g) / n, width);
  const restPowers = scaledPowers((1 - 2 * g) / n, width);
  let prev: Float64Array = new Float64Array(width);
  let cur: Float64Array = new Float64Array(width);
  cur[0] = 1;
  let prevStart = 0;
  let curStart = 0;
  let exponent = 0;
  let [j1, j2] = pomeranzBounds(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [prev, cur] = [cur, prev];
    [prevStart, curStart] = [curStart, prevStart];
    cur.fill(0);
    [j1, j2] = pomeranzBounds(i, n, ll, ceilf, roundf);
    const powers = i === 1 || i === 2 * n + 1 ? gPowers : i % 2 === 1 ? twoGPowers : restPowers;
    const len = j2 - k1 + 1;
    if (len <= 0) continue;
    const from = k1 - prevStart;
    const conv = convolveSlice(
      prev.subarray(from, Math.min(from + len, width)),
      powers.subarray(0, len),
      j1 - k1,
      j2 - j1 + 1,
    );
    cur.set(conv);
    let max = 0;
    for (const v of cur) if (v > max) max = v;
    if (max > 0 && max < SMALL) {
      for (let m = 0; m < width; m++) cur[m]! *= BIG;
      exponent -= SCALE_EXPONENT;
    }
    curStart = prevStart + j1 - k1;
  }
  let ans = cur[n - curStart]!;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > BIG) {
      ans *= SMALL;
      exponent += SCALE_EXPONENT;
    }
    ans *= m;
  }
  return exponent !== 0 ? ldexp(ans, exponent) : ans;
}

// ------------------------------------------------------------------------------------------------
// Pelz–Good (1976): the Li-Chien/Korolyuk expansion in 1/√n, with each term rewritten through Jacobi
// theta identities into a series that converges for small z = x√n.

function pelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z ** 2;
  const z3 = z ** 3;
  const z4 = z ** 4;
  const z6 = z ** 6;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  const q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  // Horner in q⁸ᵏ over the odd m = 2k − 1.
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m ** 2;
    const m4 = m ** 4;
    const m6 = m ** 6;
    const qpower = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qpower + coeffs[i]!;
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT_2PI) / divisors[i]!;
  // The sums over all integers k that K₂ and K₃ also carry.
  const q2 = Math.exp(-PI2 / 2 / z2);
  const sqrt3z = Math.sqrt(3) * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k > 0; k--) {
    const kk = k ** 2;
    const qk = q2 ** kk;
    const kpi = Math.PI * k;
    k2extra += kk * qk;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * kk * qk;
  }
  K[2]! += (k2extra * PI2 * SQRT_2PI) / (-36 * z3);
  K[3]! += (k3extra * PI2 * SQRT_2PI) / (216 * z6);
  let total = 0;
  for (let i = 0; i < 4; i++) total += K[i]! / n ** (i / 2);
  return total;
}
