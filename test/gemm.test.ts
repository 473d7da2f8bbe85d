/**
 * GEMM (crates/kernels/src/gemm.rs) against its naive reference, a float64 product and itself on other
 * thread counts; `ops.matMul` on tensors.
 *
 * The contracts checked, from gemm.rs:
 *  - NN and TN accumulate each output element as acc = acc + a·b for k = 0..K−1 in order (in 4×8 tiles,
 *    K in chunks of KC = 1024 whose partial sums go through C unchanged), then add the bias, then relu —
 *    exactly what the naive triple loop does, so they are BITWISE equal to the reference. They leave out the k
 *    at which a band's A values are all zero, which changes no bit (checked on MNIST-like data, with NaN and
 *    infinities, below).
 *  - NT with K ≤ 16 (NT_PACK_MAX_K: Bᵀ packed, NN micro-kernel) sums sequentially like NN — bitwise equal
 *    to the reference too. Above that, NT sums in 4 interleaved lanes (lane l takes k ≡ l mod 4 below
 *    K & ~3), reduces the lanes as (l0 + l1) + (l2 + l3), then adds the K mod 4 tail products in order.
 *    That order is emulated here in float32 (Math.fround after every operation) and must match
 *    BITWISE; against the sequential naive loop it differs only by rounding: |Δ| ≤ 1e-5·(Σ|aₖbₖ| + |bias|).
 *    (The worst-case bound (γ_K + γ_{K/4+3})·Σ|aₖbₖ| exceeds 1e-5 for K ≳ 130, but rounding errors of
 *    independent random terms grow like √K: ~3e-6 at K = 3000, the largest K used.)
 *  - Every layout: |C − C₆₄| ≤ γ_{K+2}·(Σ|aₖbₖ| + |bias|), the bound of any K-term float32 dot product
 *    plus a bias, where C₆₄ is the float64 product (exact products, negligible summation error).
 *  - Results do not depend on the thread count (each element computed by the same operations
 *    wherever it falls): bitwise equal for 1, 2 and 3 threads.
 * These bitwise contracts are those of the SIMD128 build, so those tests pin `relaxedSimd: false`. The
 * relaxed-SIMD build (chosen by default where the runtime has relaxed SIMD) accumulates with
 * f32x4.relaxed_madd, i.e. a fused multiply-add wherever the hardware has one: it is checked at the end
 * against an exact float32 FMA emulation (or the unfused order, should the hardware not fuse), the
 * float64 product and itself across thread counts. Node 20 hides relaxed SIMD behind a V8 flag, which
 * this file turns on (it runs in its own process).
 */
import v8 from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, detectFeatures, disposeBackend, init } from '../src/backend/backend.js';
import * as K from './helpers/kernels.js';
import { gemm, type GemmArgs } from './helpers/kernels.js';
import { Layout } from '../src/backend/program.js';
import { matMul } from '../src/ops.js';
import { tensor } from '../src/tensor.js';
import { bitDiff, fma32, gamma, withinTol } from './helpers/f64-check.js';
import { matmulF64, type LayoutName } from './helpers/f64-ref.js';
import { Rng } from './helpers/rand.js';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const LAYOUTS: LayoutName[] = ['NN', 'NT', 'TN'];
const VARIANTS = [
  { bias: false, act: 'linear' },
  { bias: true, act: 'linear' },
  { bias: false, act: 'relu' },
  { bias: true, act: 'relu' },
] as const;

interface Case {
  layout: LayoutName;
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array;
  bias?: Float32Array;
  act: 'linear' | 'relu';
}

function makeCase(rng: Rng, layout: LayoutName, m: number, n: number, k: number, bias: boolean, act: 'linear' | 'relu'): Case {
  return {
    layout,
    m,
    n,
    k,
    a: rng.spreadArray(m * k),
    b: rng.spreadArray(k * n),
    ...(bias ? { bias: rng.spreadArray(n) } : {}),
    act,
  };
}

const args = (c: Case, reference = false): GemmArgs => ({ ...c, reference });
const label = (c: Case) => `${c.layout} m=${c.m} n=${c.n} k=${c.k} bias=${!!c.bias} ${c.act}`;

/**
 * Float32 emulation of a summation order: 'seq' (naive, NN, TN) or 'lanes' (NT, as documented above).
 * `fused`: the relaxed build's vector accumulations acc = fma(a, b, acc) (NT's scalar tail stays a
 * separate multiply and add, as in gemm.rs).
 */
/** NT's summation order for a given K (gemm.rs NT_PACK_MAX_K). */
const ntOrder = (k: number): 'seq' | 'lanes' => (k <= 16 ? 'seq' : 'lanes');

function gemmF32Emu(c: Case, order: 'seq' | 'lanes', fused = false): Float32Array {
  const f = Math.fround;
  const madd = fused ? (a: number, b: number, acc: number) => fma32(a, b, acc) : (a: number, b: number, acc: number) => f(acc + f(a * b));
  const { m, n, k } = c;
  const out = new Float32Array(m * n);
  // A as [m, k] and Bᵀ as [n, k], so both run along k
  const A = new Float32Array(m * k);
  for (let i = 0; i < m; i++) for (let q = 0; q < k; q++) A[i * k + q] = c.layout === 'TN' ? c.a[q * m + i] : c.a[i * k + q];
  const B = new Float32Array(n * k);
  for (let j = 0; j < n; j++) for (let q = 0; q < k; q++) B[j * k + q] = c.layout === 'NT' ? c.b[j * k + q] : c.b[q * n + j];
  const k4 = k & ~3;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      const ao = i * k;
      const bo = j * k;
      let t = 0;
      if (order === 'seq') for (let q = 0; q < k; q++) t = madd(A[ao + q], B[bo + q], t);
      else {
        let l0 = 0;
        let l1 = 0;
        let l2 = 0;
        let l3 = 0;
        for (let q = 0; q < k4; q += 4) {
          l0 = madd(A[ao + q], B[bo + q], l0);
          l1 = madd(A[ao + q + 1], B[bo + q + 1], l1);
          l2 = madd(A[ao + q + 2], B[bo + q + 2], l2);
          l3 = madd(A[ao + q + 3], B[bo + q + 3], l3);
        }
        t = f(f(l0 + l1) + f(l2 + l3));
        for (let q = k4; q < k; q++) t = f(t + f(A[ao + q] * B[bo + q]));
      }
      if (c.bias) t = f(t + c.bias[j]);
      if (c.act === 'relu' && t < 0) t = 0;
      out[i * n + j] = t;
    }
  return out;
}

/** Checks one case: fast vs naive (bitwise, or NT's documented order), and fast vs float64. */
function check(c: Case, emulate = false): void {
  const fast = gemm(args(c));
  const ref = gemm(args(c, true));
  const { c: c64, mag } = matmulF64(c.layout, c.m, c.n, c.k, c.a, c.b, c.bias, c.act);
  if (c.layout === 'NT') {
    expect(withinTol(fast, ref, (i) => 1e-5 * mag[i], `NT fast vs naive, ${label(c)}`)).toBe('');
    if (emulate) expect(bitDiff(fast, gemmF32Emu(c, ntOrder(c.k)), `NT fast vs ${ntOrder(c.k)}-order emulation, ${label(c)}`)).toBe('');
  } else {
    expect(bitDiff(fast, ref, `fast vs naive, ${label(c)}`)).toBe('');
  }
  // The reference itself is the textbook loop (so "fast == reference" is not vacuous).
  if (emulate) expect(bitDiff(ref, gemmF32Emu(c, 'seq'), `naive vs sequential emulation, ${label(c)}`)).toBe('');
  const g = gamma(c.k + 2);
  expect(withinTol(fast, c64, (i) => g * mag[i], `fast vs float64, ${label(c)}`)).toBe('');
}

/** Keeps the first run's result per case and checks later runs (other thread counts) against it, bitwise. */
function sameBitsAsFirst(results: Map<string, Float32Array>, key: string, out: Float32Array, threads: number): 'first' | 'checked' {
  const first = results.get(key);
  if (!first) {
    results.set(key, out);
    return 'first';
  }
  expect(bitDiff(out, first, `${key}: ${threads} threads vs 1`)).toBe('');
  return 'checked';
}

beforeAll(async () => {
  expect((await init({ threads: 2, relaxedSimd: false })).variant).toBe('simd-threads');
});

afterAll(() => {
  disposeBackend();
});

describe('gemm kernel vs naive reference and float64', () => {
  // Every (M, N, K) over the small sizes — all tile remainders (M mod 4, N mod 8, N mod 2, K mod 4) and
  // the 1-row / 1-column / K = 1 edges — for every layout and epilogue.
  const SMALL = [1, 2, 3, 7, 17, 31, 32, 33, 64];

  for (const layout of LAYOUTS)
    it(`${layout}: all ${SMALL.length ** 3} small shapes × bias/relu`, () => {
      const rng = new Rng(1000 + LAYOUTS.indexOf(layout));
      let n = 0;
      for (const m of SMALL)
        for (const nn of SMALL)
          for (const k of SMALL)
            for (const v of VARIANTS) {
              // Emulating the float32 order in JS is slow-ish: do it on a sparse but regular subset.
              check(makeCase(rng, layout, m, nn, k, v.bias, v.act), n++ % 29 === 0);
            }
    });

  // The large sizes in every position, paired with small and odd ones; K > 1024 crosses the KC = 1024
  // chunking (partial sums through C), with N not a multiple of 8 (zero-padded last panel).
  const LARGE: [number, number, number][] = [
    [127, 127, 127],
    [512, 33, 784],
    [784, 17, 512],
    [33, 784, 127],
    [7, 512, 784],
    [784, 784, 3],
    [1, 784, 512],
    [512, 1, 784],
    [784, 64, 1],
    [3, 127, 784],
    [127, 31, 512],
    [64, 512, 64],
    [17, 33, 1025],
    [31, 57, 2049],
    [64, 127, 3000],
    [1, 13, 1100],
    [5, 1, 2048],
    [9, 9, 1024],
  ];
  for (const layout of LAYOUTS)
    it(`${layout}: large shapes and K > 1024`, () => {
      const rng = new Rng(2000 + LAYOUTS.indexOf(layout));
      for (const [m, n, k] of LARGE) {
        check(makeCase(rng, layout, m, n, k, false, 'linear'));
        check(makeCase(rng, layout, m, n, k, true, 'relu'), m * n * k <= 3e6);
      }
    });

  it('K = 0 gives the epilogue of zero: bias, relu(bias)', () => {
    const bias = Float32Array.from([1.5, -2, 0, 3, -0.25, 7, 8, -9, 10]);
    for (const layout of LAYOUTS)
      for (const act of ['linear', 'relu'] as const) {
        const c: Case = { layout, m: 5, n: 9, k: 0, a: new Float32Array(0), b: new Float32Array(0), bias, act };
        const want = new Float32Array(45).map((_, i) => (act === 'relu' ? Math.max(0, bias[i % 9]) : bias[i % 9]));
        expect(bitDiff(gemm(args(c)), want, `fast ${label(c)}`)).toBe('');
        expect(bitDiff(gemm(args(c, true)), want, `naive ${label(c)}`)).toBe('');
      }
  });

  it('relu keeps NaN (a diverging run is noticed) and maps negatives to +0, like the reference', () => {
    for (const layout of LAYOUTS) {
      const m = 6;
      const n = 11;
      const k = 5;
      const rng = new Rng(7);
      const c = makeCase(rng, layout, m, n, k, true, 'relu');
      c.a[3] = NaN; // poisons some outputs
      const fast = gemm(args(c));
      const ref = layout === 'NT' ? gemmF32Emu(c, ntOrder(c.k)) : gemm(args(c, true));
      expect(bitDiff(fast, ref, label(c))).toBe('');
      expect(fast.some(Number.isNaN)).toBe(true);
      expect(fast.some((v) => v === 0)).toBe(true);
    }
  });
});

/**
 * Zeros of A are skipped (gemm.rs `nonzero_ks`): a 4-row band of C leaves out the k at which all its A values
 * are ±0, which changes no bit — unless B holds an infinity or NaN there (0·∞ = NaN), which `pack_b` checks.
 * Data shaped like MNIST's (81% zeros, zero borders, blank images) plus −0, NaN in A and non-finite B values
 * at skipped positions, on shapes that cover several row blocks (more than 64 rows), K > 1024, and groups
 * of panels with and without non-finite values; bitwise against the naive loop on 1, 2 and 3 threads.
 */
/** A as logical [rows of C, k] with ~80% zeros, zero border columns, a blank row, some −0 and one NaN. */
function sparseCase(rng: Rng, layout: LayoutName, m: number, n: number, k: number, poisonB: boolean): Case {
  const a = new Float32Array(m * k);
  const at = (i: number, q: number) => (layout === 'TN' ? q * m + i : i * k + q);
  const border = Math.floor(k / 8);
  for (let i = 0; i < m; i++)
    for (let q = border; q < k - border; q++) {
      if (i % 11 === 5) continue; // a blank image
      const u = rng.next();
      a[at(i, q)] = u < 0.78 ? 0 : u < 0.8 ? -0 : (1 + rng.next()) * 2 ** (rng.int(9) - 4);
    }
  if (m > 9 && k > 9) a[at(9, k - 2)] = NaN; // A's NaN is never skipped
  const b = rng.spreadArray(k * n);
  if (poisonB) {
    // At k in the zero border (skipped by every band), and at one k inside.
    const bAt = (q: number, j: number) => (layout === 'NT' ? j * k + q : q * n + j);
    b[bAt(0, n - 1)] = NaN;
    if (border > 0) b[bAt(border - 1, 0)] = Infinity;
    b[bAt(k >> 1, n >> 1)] = -Infinity;
  }
  return { layout, m, n, k, a, b, act: 'linear', ...(rng.next() < 0.5 ? { bias: rng.spreadArray(n) } : {}) };
}

describe('zeros in A are skipped without changing a bit', () => {
  const SHAPES: [LayoutName, number, number, number][] = [
    ['NN', 32, 512, 784], // the seed's forward at batch 32
    ['NN', 37, 20, 33],
    ['NN', 70, 16, 1100], // two blocks of row bands (64 rows each), two K chunks
    ['NN', 130, 24, 50],
    ['TN', 784, 512, 32], // the seed's weight gradient: row tiles, two groups of 32 panels
    ['TN', 100, 40, 7],
    ['TN', 66, 300, 1030],
    ['NT', 33, 40, 10], // dX of a 10-unit layer: Bᵀ packed, the NN micro-kernel
    ['NT', 96, 64, 16],
  ];
  const results = new Map<string, Float32Array>();

  for (const threads of [1, 2, 3])
    it(`${threads} thread(s): bitwise equal to the naive loop and to 1 thread`, async () => {
      await init({ threads, relaxedSimd: false });
      const rng = new Rng(6000);
      for (const [layout, m, n, k] of SHAPES)
        for (const poisonB of [false, true]) {
          const c = sparseCase(rng, layout, m, n, k, poisonB);
          const fast = gemm(args(c));
          const key = `${label(c)} poisonB=${poisonB}`;
          expect(bitDiff(fast, gemm(args(c, true)), `fast vs naive, ${key}`)).toBe('');
          // Not vacuous: the zeros give exact zeros and the NaNs propagate.
          expect(fast.some((v) => v === 0) || !!c.bias).toBe(true);
          expect(fast.some(Number.isNaN)).toBe(m > 9 && k > 9 ? true : poisonB);
          sameBitsAsFirst(results, key, fast, threads);
        }
    });

  it.skipIf(!detectFeatures().relaxedSimd)('relaxed-SIMD build: bitwise equal to the fused (or unfused) sequential emulation', async () => {
    await init({ threads: 2, relaxedSimd: true });
    const rng = new Rng(6001);
    for (const [layout, m, n, k] of SHAPES.filter(([, m, n, k]) => m * n * k < 1e6))
      for (const poisonB of [false, true]) {
        const c = sparseCase(rng, layout, m, n, k, poisonB);
        const out = gemm(args(c));
        const dFused = bitDiff(out, gemmF32Emu(c, 'seq', true), `${label(c)} vs fused emulation`);
        const dPlain = bitDiff(out, gemmF32Emu(c, 'seq', false), `${label(c)} vs unfused emulation`);
        expect(dFused === '' || dPlain === '', `${dFused}; ${dPlain}`).toBe(true);
      }
  });

  afterAll(async () => {
    await init({ threads: 2, relaxedSimd: false });
  });
});

describe('the fused weight update (GEMM_ADAM) gives the bits of a gradient GEMM then ADAM', () => {
  // [m (inputs), n (units), k (batch), whether the kernel streams the update (gemm.rs streams_update)]
  const SHAPES: [number, number, number, boolean][] = [
    [784, 512, 32, true], // the seed at batch 32: blocks of 16 rows, all of B packed once per tile
    [70, 300, 40, true], // a partial block and a partial band; a narrow last panel (300 = 37·8 + 4)
    [33, 13, 1024, true], // K = KC; 8 + 5 columns
    [100, 600, 8, false], // wider than a streamed block holds: the update is applied per tile
    [64, 512, 64, false], // B too large to pack whole
  ];
  const h = { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, t: 3 };
  const alpha = K.adamAlpha(h.lr, h.beta1, h.beta2, h.t);
  const results = new Map<string, Float32Array>();

  for (const threads of [1, 2, 3])
    it(`${threads} thread(s): p, m and v bitwise equal to GEMM then ADAM, to the naive reference and to 1 thread`, async () => {
      await init({ threads, relaxedSimd: false });
      const rng = new Rng(6100);
      for (const [m, n, k, streams] of SHAPES)
        for (const poisonB of [false, true]) {
          expect(backend().gemmUpdateStreams({ layout: Layout.TN, n, k, ldc: n }), `streams m=${m} n=${n} k=${k}`).toBe(streams);
          // MNIST-like inputs (zeros skipped, one NaN), upstream gradients with NaN/±∞ where they are skipped.
          const c = sparseCase(rng, 'TN', m, n, k, poisonB);
          const st = { p: rng.spreadArray(m * n), m: rng.spreadArray(m * n), v: Float32Array.from(rng.spreadArray(m * n), Math.abs) };
          const fused = K.gemmAdamStep(c.a, c.b, st, k, m, n, { ...h, alpha });
          const separate = K.adamStep(st, gemm({ layout: 'TN', m, n, k, a: c.a, b: c.b }), h);
          const naive = K.gemmAdamStep(c.a, c.b, st, k, m, n, { ...h, alpha }, true);
          const key = `m=${m} n=${n} k=${k} poisonB=${poisonB}`;
          for (const part of ['p', 'm', 'v'] as const) {
            expect(bitDiff(fused[part], separate[part], `${part}, fused vs separate, ${key}`)).toBe('');
            expect(bitDiff(fused[part], naive[part], `${part}, fused vs naive, ${key}`)).toBe('');
          }
          // Not vacuous: most parameters moved, and the NaN of A reached its row.
          expect(fused.p.filter((v, i) => v !== st.p[i]).length).toBeGreaterThan(0.5 * m * n);
          if (m > 9 && k > 9) expect(fused.p.some(Number.isNaN)).toBe(true);
          const all = new Float32Array(3 * m * n);
          [fused.p, fused.m, fused.v].forEach((x, i) => all.set(x, i * m * n));
          sameBitsAsFirst(results, key, all, threads);
        }
    });

  afterAll(async () => {
    await init({ threads: 2, relaxedSimd: false });
  });
});

describe('gemm is bitwise independent of the thread count', () => {
  // Shapes where the split goes by columns (8-col panels, 2-col groups for NT) and by 4-row tiles, with
  // uneven shares and K > 1024.
  const SHAPES: [number, number, number][] = [
    [7, 512, 64],
    [784, 17, 33],
    [127, 127, 1025],
    [33, 784, 31],
    [3, 9, 2049],
    [513, 5, 7],
    [64, 64, 64],
    [784, 512, 32], // the seed's weight gradient at batch 32: TN cut into row tiles (gemm.rs gradient_rows)
  ];
  const results = new Map<string, Float32Array>();

  for (const threads of [1, 2, 3])
    it(`${threads} thread(s)`, async () => {
      const info = await init({ threads, relaxedSimd: false });
      expect(info.threads).toBe(threads);
      expect(info.relaxedSimd).toBe(false);
      const rng = new Rng(3000);
      for (const layout of LAYOUTS)
        for (const [m, n, k] of SHAPES)
          for (const v of [VARIANTS[0], VARIANTS[3]]) {
            const c = makeCase(rng, layout, m, n, k, v.bias, v.act);
            sameBitsAsFirst(results, label(c), gemm(args(c)), threads);
          }
    });

  afterAll(async () => {
    await init({ threads: 2, relaxedSimd: false });
  });
});

describe('relaxed-SIMD build (fused multiply-add)', () => {
  const HAVE = detectFeatures().relaxedSimd;
  if (!HAVE) console.warn('test/gemm: relaxed SIMD unavailable in this runtime; relaxed-build tests skipped');
  const SHAPES: [number, number, number][] = [
    [1, 1, 1],
    [3, 7, 17],
    [17, 33, 31],
    [33, 17, 64],
    [7, 512, 33],
    [127, 9, 130],
    [9, 13, 1100],
  ];
  const results = new Map<string, Float32Array>();
  let fusedSeen = false;

  for (const threads of [1, 2, 3])
    it.skipIf(!HAVE)(`${threads} thread(s): fma emulation, float64 bound, thread independence`, async () => {
      const info = await init({ threads, relaxedSimd: true });
      expect(info.relaxedSimd).toBe(true);
      expect(info.variant).toBe(threads > 1 ? 'relaxed-threads' : 'relaxed');
      const rng = new Rng(5000);
      for (const layout of LAYOUTS)
        for (const [m, n, k] of SHAPES)
          for (const v of [VARIANTS[0], VARIANTS[3]]) {
            const c = makeCase(rng, layout, m, n, k, v.bias, v.act);
            const out = gemm(args(c));
            const key = label(c);
            if (sameBitsAsFirst(results, key, out, threads) === 'checked') continue;
            // relaxed_madd fuses where the hardware can (one rounding per step) — else it is the SIMD128
            // order; either way it is one of the two emulations, bitwise.
            const order = layout === 'NT' ? ntOrder(k) : 'seq';
            const fusedEmu = gemmF32Emu(c, order, true);
            const plainEmu = gemmF32Emu(c, order, false);
            const dFused = bitDiff(out, fusedEmu, `${key} vs fused emulation`);
            const dPlain = bitDiff(out, plainEmu, `${key} vs unfused emulation`);
            expect(dFused === '' || dPlain === '', `${dFused}; ${dPlain}`).toBe(true);
            if (dFused === '' && dPlain !== '') fusedSeen = true;
            const { c: c64, mag } = matmulF64(c.layout, c.m, c.n, c.k, c.a, c.b, c.bias, c.act);
            expect(withinTol(out, c64, (i) => gamma(c.k + 2) * mag[i], `${key} vs float64`)).toBe('');
          }
      if (threads === 1) console.info(`test/gemm: relaxed_madd ${fusedSeen ? 'fuses (FMA)' : 'does not fuse'} on this machine`);
    });

  afterAll(async () => {
    await init({ threads: 2, relaxedSimd: false });
  });
});

describe('ops.matMul', () => {
  const rng = new Rng(4000);
  const m = 37;
  const k = 70;
  const n = 19;
  const A = rng.spreadArray(m * k); // [m, k]
  const B = rng.spreadArray(k * n); // [k, n]
  const transpose = (x: Float32Array, r: number, c: number) => {
    const t = new Float32Array(x.length);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = x[i * c + j];
    return t;
  };
  const At = transpose(A, m, k); // [k, m]
  const Bt = transpose(B, k, n); // [n, k]
  const want = matmulF64('NN', m, n, k, A, B);

  for (const ta of [false, true])
    for (const tb of [false, true])
      it(`transposeA=${ta} transposeB=${tb}`, () => {
        const a = ta ? tensor(At, [k, m]) : tensor(A, [m, k]);
        const b = tb ? tensor(Bt, [n, k]) : tensor(B, [k, n]);
        const c = matMul(a, b, { transposeA: ta, transposeB: tb });
        expect(c.shape).toEqual([m, n]);
        expect(c.dtype).toBe('float32');
        const got = c.dataSync() as Float32Array;
        const g = gamma(k + 2);
        expect(withinTol(got, want.c, (i) => g * want.mag[i], 'matMul vs float64')).toBe('');
        // The same kernel result as the layout it maps to (both transposed: Aᵀ materialised, then NT).
        const layout: LayoutName = ta && !tb ? 'TN' : tb ? 'NT' : 'NN';
        const kernel = gemm({ layout, m, n, k, a: ta && !tb ? At : A, b: tb ? Bt : B });
        expect(bitDiff(got, kernel, `matMul vs gemm ${layout}`)).toBe('');
        for (const t of [a, b, c]) t.dispose();
      });

  it('rejects mismatched and non-2-D shapes with clear messages', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    const b = tensor(new Float32Array(20), [4, 5]);
    expect(() => matMul(a, b)).toThrow(/matMul: inner dimensions differ: a is \[2,3\] and b is \[4,5\] \(3 ≠ 4\)/);
    expect(() => matMul(a, b, { transposeA: true })).toThrow(/inner dimensions differ: a is \[2,3\]ᵀ and b is \[4,5\] \(2 ≠ 4\)/);
    expect(() => matMul(a, b, { transposeB: true })).toThrow(/a is \[2,3\] and b is \[4,5\]ᵀ \(3 ≠ 5\)/);
    const v = tensor(new Float32Array(3), [3]);
    const t3 = tensor(new Float32Array(12), [2, 3, 2]);
    expect(() => matMul(v, b)).toThrow(/matMul: a must be 2-D, got shape \[3\]/);
    expect(() => matMul(a, t3)).toThrow(/matMul: b must be 2-D, got shape \[2,3,2\]/);
    expect(() => matMul(a, null as any)).toThrow(/matMul: b must be a Tensor/);
    for (const t of [a, b, v, t3]) t.dispose();
  });

  it('takes uint8 tensors scaled with div(255), without leaking the converted copies', () => {
    const rr = new Rng(4100);
    const mm = 20;
    const kk = 784;
    const nn = 33;
    const u8 = new Uint8Array(mm * kk).map(() => rr.int(256));
    const W = rr.normalArray(kk * nn, 0.05);
    const x = tensor(u8, [mm, kk]).div(255);
    expect(x.dtype).toBe('float32');
    expect(x.storageDtype).toBe('uint8');
    const w = tensor(W, [kk, nn]);
    const before = backend().arena.stats().inUse;
    const c = matMul(x, w);
    const got = c.dataSync() as Float32Array;
    c.dispose();
    expect(backend().arena.stats().inUse).toBe(before);
    // Same as multiplying the float32 values the tensor reads as...
    const xf = tensor(x.dataSync() as Float32Array, [mm, kk]);
    const cf = matMul(xf, w);
    expect(bitDiff(got, cf.dataSync(), 'u8/255 vs its float32 values')).toBe('');
    // ...which are u8/255 rounded to float32, and close to the exact product with v/255.
    expect(bitDiff(xf.dataSync(), Float32Array.from(u8, (v) => v / 255), 'u8/255 values')).toBe('');
    const exact = matmulF64('NN', mm, nn, kk, Float64Array.from(u8, (v) => v / 255), W);
    // one more rounding per input (the float32 value of v/255): γ_{K+3}
    expect(withinTol(got, exact.c, (i) => gamma(kk + 3) * exact.mag[i], 'u8/255 vs float64')).toBe('');
    // Both operands converted, both transposed (three temporaries): still no leak.
    const wt = tensor(new Uint8Array(nn * kk).map(() => rr.int(256)), [nn, kk]).div(255);
    const xt = tensor(new Uint8Array(kk * mm).map(() => rr.int(256)), [kk, mm]).div(255);
    const before2 = backend().arena.stats().inUse;
    const c2 = matMul(xt, wt, { transposeA: true, transposeB: true });
    expect(c2.shape).toEqual([mm, nn]);
    c2.dispose();
    expect(backend().arena.stats().inUse).toBe(before2);
    for (const t of [x, w, xf, cf, wt, xt]) t.dispose();
  });

  it('result tensors are independent of the operands', () => {
    const a = tensor(A, [m, k]);
    const b = tensor(B, [k, n]);
    const c = matMul(a, b);
    const snapshot = c.dataSync();
    a.dispose();
    b.dispose();
    expect(bitDiff(c.dataSync(), snapshot, 'after disposing operands')).toBe('');
    c.dispose();
  });
});
