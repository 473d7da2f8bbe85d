/**
 * Numerics for the kernel tests: float32 rounding constants, ulp distances, bitwise comparison of
 * Float32Arrays with a readable first mismatch, and central finite differences in float64.
 */

/** Unit roundoff of float32 (half an ulp of 1). */
export const U32 = 2 ** -24;

/** γₙ = n·u/(1 − n·u): the classic bound on the relative error of n float32 roundings in a row. */
export function gamma(n: number): number {
  return (n * U32) / (1 - n * U32);
}

/** The spacing of float32 values at |x| (the ulp of the binade of x; 2^-149 for subnormals). */
export function ulp32(x: number): number {
  const a = Math.abs(x);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** |approx − exact| in float32 ulps of the exact value. */
export function ulpError(approx: number, exact: number): number {
  if (approx === exact) return 0;
  return Math.abs(approx - exact) / ulp32(exact);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** Index of the first element whose float32 bit patterns differ (any NaN equals any NaN), or -1. */
export function firstBitMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (bits(x) !== bits(y)) return i;
  }
  return -1;
}

/** '' when bitwise equal, else a one-line description of the first difference (for expect messages). */
export function bitDiff(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): string {
  const i = firstBitMismatch(actual, expected);
  if (i < 0) return '';
  if (actual.length !== expected.length) return `${what}: lengths ${actual.length} vs ${expected.length}`;
  let count = 0;
  for (let j = i; j < actual.length; j++) if (firstBitMismatch([actual[j]], [expected[j]]) === 0) count++;
  return `${what}: ${count} of ${actual.length} differ; first at [${i}]: ${actual[i]} vs ${expected[i]} (${ulpError(actual[i], expected[i]).toFixed(1)} ulp)`;
}

/**
 * Largest violation of |actual − expected| ≤ tol(i): returns '' when all hold, else the worst element
 * (ratio error/tol) as text for an expect message.
 */
export function withinTol(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number, what: string): string {
  if (actual.length !== expected.length) return `${what}: lengths ${actual.length} vs ${expected.length}`;
  let worst = -1;
  let worstRatio = 1;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] === expected[i]) continue;
    const err = Math.abs(actual[i] - expected[i]);
    const t = tol(i);
    const ratio = err / t;
    if (!(ratio <= worstRatio) || (Number.isNaN(actual[i]) !== Number.isNaN(expected[i]))) {
      worst = i;
      worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
    }
  }
  if (worst < 0) return '';
  return `${what}: worst at [${worst}]: ${actual[worst]} vs ${expected[worst]} (error ${Math.abs(actual[worst] - expected[worst]).toExponential(2)} > tolerance ${tol(worst).toExponential(2)})`;
}

/**
 * Central differences of a scalar float64 function at x: (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for every i,
 * with hᵢ = h·max(1, |xᵢ|) (or `step(xᵢ)`). In float64 with h ≈ 1e-5 the truncation error is O(h²·f''') ≈ 1e-10 and the
 * cancellation error O(1e-16/h) ≈ 1e-11, far below the float32 kernels' error, so the result serves as
 * the exact gradient.
 */
export function centralDiff(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-5, step?: (x: number) => number): Float64Array {
  const xs = Float64Array.from(x);
  const g = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const x0 = xs[i];
    const hi = step ? step(x0) : h * Math.max(1, Math.abs(x0));
    xs[i] = x0 + hi;
    const fp = f(xs);
    xs[i] = x0 - hi;
    const fm = f(xs);
    xs[i] = x0;
    g[i] = (fp - fm) / (2 * hi);
  }
  return g;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

const i32v = new Int32Array(f32.buffer);

/** The next float32 after the float32 x in the direction of `toward` (finite, nonzero steps only). */
function nextF32(x: number, up: boolean): number {
  f32[0] = x;
  if (x === 0) i32v[0] = up ? 1 : -2147483647;
  else i32v[0] += (x > 0) === up ? 1 : -1;
  return f32[0];
}

/**
 * Float32 fused multiply-add, a·b + c with ONE rounding, for float32 a, b, c. a·b is exact in float64;
 * s = a·b + c rounds once (its error e is recovered exactly by TwoSum), and rounding s to float32 is
 * right unless s lies exactly halfway between two float32 values while e ≠ 0 — then e decides.
 */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  const r = Math.fround(s);
  if (e === 0 || r === s || !Number.isFinite(s)) return r;
  const other = nextF32(r, s > r);
  if (s !== (r + other) / 2) return r;
  // a tie for s, but the exact value is off the midpoint by e: round toward the side it lies on
  return (e > 0) === (other > r) ? other : r;
}
