/**
 * Seeded random numbers for the kernel tests: every test draws from its own `Rng(seed)`, so a failure
 * reproduces exactly. xoshiro128** for the integers, Box–Muller for normals; all float outputs are
 * float32 values (they are what the kernels see), returned as Float32Array.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // splitmix32 to spread the seed over the state
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  /** A uniform uint32. */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return (this.u32() * 2 ** 21 + (this.u32() >>> 11)) / 2 ** 53;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** n float32 values uniform in [lo, hi). */
  uniformArray(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }

  /** n float32 values ~ N(0, sd²). */
  normalArray(n: number, sd = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = sd * this.normal();
    return a;
  }

  /**
   * n float32 values with magnitudes spread over several binades (|x| = 2^e·m, e in [-6, 6]) and random
   * signs: products and sums then round at many different exponents, which is what makes a bitwise
   * comparison of two summation orders meaningful.
   */
  spreadArray(n: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (this.next() < 0.5 ? -1 : 1) * (1 + this.next()) * 2 ** (this.int(13) - 6);
    return a;
  }

  /** n integers in [0, k). */
  intArray(n: number, k: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.int(k);
    return a;
  }

  /** Rows of positive values that sum to ~1 (a probability table), `rows × cols`. */
  probabilities(rows: number, cols: number, concentration = 1): Float32Array {
    const a = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const row = new Float64Array(cols);
      for (let j = 0; j < cols; j++) {
        row[j] = Math.exp(concentration * this.normal());
        s += row[j];
      }
      for (let j = 0; j < cols; j++) a[r * cols + j] = row[j] / s;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1) (the tfjs parity tests and the I/O tests draw from it). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
