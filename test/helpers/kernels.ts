/**
 * Test harness: host-array wrappers around single kernels — copy inputs into wasm memory, run one op, copy
 * results out — for the reference comparisons, gradient checks and tfjs parity tests. Training does not
 * come through here (its programs keep everything in wasm memory).
 *
 * `reference: true` runs the op's naive reference. References are compiled only into the test build of the
 * kernels (wasm/reference/, cargo feature `reference`), which runs here as a second, single-threaded
 * backend beside the one under test: references run on one thread anyway, and scalar code gives the same
 * bits in every build (only the GEMMs of the relaxed-SIMD build fuse multiply-adds).
 */
import { readFileSync } from 'node:fs';

import { Backend, backend } from '../../src/backend/backend.js';
import { Act, AccKind, DType, Layout, LossFlag, LossKind, ops, reference, runOp, type OpCall } from '../../src/backend/program.js';
import { adamAlpha } from '../../src/optimizers.js';

let refBackend: Backend | null = null;

/** The backend of the test build, with the naive references (created on first use). */
export function referenceBackend(): Backend {
  if (!refBackend || refBackend.isDisposed || refBackend.isBroken) {
    const url = new URL('../../wasm/reference/wasm-layers-simd-reference.wasm', import.meta.url);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = readFileSync(url);
    } catch (e) {
      throw new Error(`test build of the kernels missing (${(e as Error).message}): run \`npm run build:wasm\``);
    }
    refBackend = Backend.create(new WebAssembly.Module(bytes), 'simd', { threads: 1, auto: false, maxMemoryMB: 1024 });
  }
  return refBackend;
}

type F32 = Float32Array;

class Scratch {
  private readonly ptrs: number[] = [];
  constructor(readonly b: Backend) {}

  put(a: ArrayLike<number>, kind: 'f32' | 'i32' = 'f32'): number {
    const ptr = this.out(a.length);
    if (kind === 'f32') new Float32Array(this.b.memory.buffer, ptr, a.length).set(a);
    else new Int32Array(this.b.memory.buffer, ptr, a.length).set(a);
    return ptr;
  }

  out(n: number): number {
    const p = this.b.arena.alloc(Math.max(16, n * 4));
    this.ptrs.push(p);
    return p;
  }

  get(ptr: number, n: number): F32 {
    return new Float32Array(this.b.memory.buffer, ptr, n).slice();
  }

  free(): void {
    for (const p of this.ptrs) this.b.arena.release(p);
    this.ptrs.length = 0;
  }
}

function scoped<T>(fn: (s: Scratch, b: Backend) => T, ref = false): T {
  const b = ref ? referenceBackend() : backend();
  const s = new Scratch(b);
  try {
    return fn(s, b);
  } finally {
    s.free();
  }
}

/** Runs `call` on `b`, as its naive reference when asked. */
const run = (call: OpCall, b: Backend, ref = false) => runOp(ref ? reference(call) : call, b);

export type LayoutName = keyof typeof Layout;
export type ActName = keyof typeof Act;

export interface GemmArgs {
  layout: LayoutName;
  m: number;
  n: number;
  k: number;
  a: ArrayLike<number>;
  b: ArrayLike<number>;
  bias?: ArrayLike<number>;
  act?: 'linear' | 'relu';
  reference?: boolean;
}

/** C [m,n] for NN (a [m,k], b [k,n]), NT (b [n,k]) or TN (a [k,m]). */
export function gemm(g: GemmArgs): F32 {
  const { m, n, k } = g;
  if (g.a.length !== m * k || g.b.length !== n * k) throw new Error(`gemm: operand sizes ${g.a.length}, ${g.b.length} do not fit m=${m} n=${n} k=${k}`);
  return scoped((s, b) => {
    const a = s.put(g.a);
    const bb = s.put(g.b);
    const c = s.out(m * n);
    const bias = g.bias ? s.put(g.bias) : 0;
    const lda = g.layout === 'TN' ? m : k;
    const ldb = g.layout === 'NT' ? k : n;
    run(ops.gemm({ layout: Layout[g.layout], m, n, k, a, lda, b: bb, ldb, c, ldc: n, bias, act: Act[g.act ?? 'linear'] }), b, g.reference);
    return s.get(c, m * n);
  }, g.reference);
}

export function activation(kind: ActName, x: ArrayLike<number>, reference = false): F32 {
  return scoped((s, b) => {
    const px = s.put(x);
    const py = s.out(x.length);
    run(ops.actFwd({ kind: Act[kind], n: x.length, x: px, y: py }), b, reference);
    return s.get(py, x.length);
  }, reference);
}

/** dx = dy · f'(y), from the activation's output y. */
export function activationGrad(kind: ActName, y: ArrayLike<number>, dy: ArrayLike<number>, reference = false): F32 {
  return scoped((s, b) => {
    const py = s.put(y);
    const pdy = s.put(dy);
    const pdx = s.out(y.length);
    run(ops.actBwd({ kind: Act[kind], n: y.length, y: py, dy: pdy, dx: pdx }), b, reference);
    return s.get(pdx, y.length);
  }, reference);
}

export function softmax(x: ArrayLike<number>, rows: number, cols: number, reference = false): F32 {
  return scoped((s, b) => {
    const px = s.put(x);
    const py = s.out(rows * cols);
    run(ops.softmaxFwd({ rows, cols, x: px, y: py }), b, reference);
    return s.get(py, rows * cols);
  }, reference);
}

export function softmaxGrad(y: ArrayLike<number>, dy: ArrayLike<number>, rows: number, cols: number): F32 {
  return scoped((s, b) => {
    const [py, pdy, pdx] = [s.put(y), s.put(dy), s.out(rows * cols)];
    run(ops.softmaxBwd({ rows, cols, y: py, dy: pdy, dx: pdx }), b);
    return s.get(pdx, rows * cols);
  });
}

export function dropout(x: ArrayLike<number>, rate: number, seed: number, salt: number, step: number, reference = false): { y: F32; mask: F32 } {
  return scoped((s, b) => {
    const [px, py, pm] = [s.put(x), s.out(x.length), s.out(x.length)];
    run(ops.dropoutFwd({ n: x.length, x: px, y: py, mask: pm, rate, seed, salt, step }), b, reference);
    return { y: s.get(py, x.length), mask: s.get(pm, x.length) };
  }, reference);
}

export function mul(x: ArrayLike<number>, m: ArrayLike<number>, reference = false): F32 {
  return scoped((s, b) => {
    const [px, pm, py] = [s.put(x), s.put(m), s.out(x.length)];
    run(ops.mul({ n: x.length, x: px, m: pm, y: py }), b, reference);
    return s.get(py, x.length);
  }, reference);
}

export type { LossName } from '../../src/losses.js';
import type { LossName } from '../../src/losses.js';

export interface LossArgs {
  kind: LossName;
  rows: number;
  cols: number;
  pred: ArrayLike<number>;
  /** int labels [rows] for sparse, else [rows, cols] */
  labels: ArrayLike<number>;
  fromLogits?: boolean;
  /** pred holds softmax/sigmoid outputs; the gradient is taken w.r.t. their logits */
  fused?: boolean;
  /** gradient scale; default 1/rows (mean over the batch) */
  scale?: number;
  eps?: number;
}

/** Per-row losses and the gradient w.r.t. pred (or the logits when fused). */
export function loss(l: LossArgs): { rows: F32; grad: F32 } {
  return scoped((s, b) => {
    const sparse = l.kind === 'sparseCategoricalCrossentropy';
    const pp = s.put(l.pred);
    const pl = s.put(l.labels, sparse ? 'i32' : 'f32');
    const pout = s.out(l.rows);
    const pg = s.out(l.rows * l.cols);
    const flags = (l.fromLogits ? LossFlag.FROM_LOGITS : 0) | (l.fused ? LossFlag.FUSED : 0);
    const { rows, cols } = l;
    run(ops.loss({ kind: LossKind[l.kind], rows, cols, pred: pp, labels: pl, out: pout, grad: pg, scale: l.scale ?? 1 / rows, flags, eps: l.eps ?? 1e-7 }), b);
    return { rows: s.get(pout, l.rows), grad: s.get(pg, l.rows * l.cols) };
  });
}

export function accuracy(kind: keyof typeof AccKind, pred: ArrayLike<number>, labels: ArrayLike<number>, rows: number, cols: number): F32 {
  return scoped((s, b) => {
    const pp = s.put(pred);
    const pl = s.put(labels, kind === 'sparse' ? 'i32' : 'f32');
    const out = s.out(rows);
    run(ops.accuracy({ kind: AccKind[kind], rows, cols, pred: pp, labels: pl, out }), b);
    return s.get(out, rows);
  });
}

export function colsum(x: ArrayLike<number>, rows: number, cols: number, reference = false): F32 {
  return scoped((s, b) => {
    const [px, po] = [s.put(x), s.out(cols)];
    run(ops.colsum({ rows, cols, x: px, out: po }), b, reference);
    return s.get(po, cols);
  }, reference);
}

export function countNonFinite(x: ArrayLike<number>): number {
  return scoped((s, b) => {
    const [px, po] = [s.put(x), s.out(1)];
    run(ops.countNonFinite({ n: x.length, x: px, out: po }), b);
    return new Uint32Array(b.memory.buffer, po, 1)[0];
  });
}

/** Rows `idx` of `src` (rowLen wide), divided by `divisor` (or converted to int32). */
export function gather(src: Uint8Array | Float32Array, rowLen: number, idx: ArrayLike<number>, divisor: number, toInt = false): F32 | Int32Array {
  return scoped((s, b) => {
    const n = idx.length * rowLen;
    const psrc = b.arena.alloc(Math.max(16, src.byteLength));
    try {
      new Uint8Array(b.memory.buffer, psrc, src.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
      const pidx = s.put(idx, 'i32');
      const pdst = s.out(n);
      const srcKind = src instanceof Uint8Array ? DType.u8 : DType.f32;
      run(ops.gather({ srcKind, dstKind: toInt ? DType.i32 : DType.f32, rows: idx.length, rowLen, idx: pidx, src: psrc, dst: pdst, div: divisor }), b);
      return toInt ? new Int32Array(b.memory.buffer, pdst, n).slice() : s.get(pdst, n);
    } finally {
      b.arena.release(psrc);
    }
  });
}

export interface AdamState {
  p: F32;
  m: F32;
  v: F32;
}

/** One Adam step on copies; αₜ = lr·√(1−β2ᵗ)/(1−β1ᵗ) as Keras computes it. */
export function adamStep(st: AdamState, g: ArrayLike<number>, h: { lr: number; beta1: number; beta2: number; epsilon: number; t: number }, reference = false): AdamState {
  return scoped((s, b) => {
    const n = g.length;
    const [pp, pg, pm, pv] = [s.put(st.p), s.put(g), s.put(st.m), s.put(st.v)];
    const alpha = adamAlpha(h.lr, h.beta1, h.beta2, h.t);
    run(ops.adam({ n, p: pp, g: pg, m: pm, v: pv, beta1: h.beta1, beta2: h.beta2, epsilon: h.epsilon, alpha }), b, reference);
    return { p: s.get(pp, n), m: s.get(pm, n), v: s.get(pv, n) };
  }, reference);
}

export { adamAlpha };

/**
 * The fused weight-gradient GEMM + Adam (GEMM_ADAM) on copies: W [nin, nout] ← Adam(W, Xᵀ·dY) with
 * X [batch, nin], dY [batch, nout]; h.alpha is αₜ.
 */
export function gemmAdamStep(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  st: AdamState,
  batch: number,
  nin: number,
  nout: number,
  h: { beta1: number; beta2: number; epsilon: number; alpha: number },
  reference = false,
): AdamState {
  return scoped((s, b) => {
    const [px, pdy, pp, pm, pv] = [s.put(x), s.put(dy), s.put(st.p), s.put(st.m), s.put(st.v)];
    const n = nin * nout;
    const { beta1, beta2, epsilon, alpha } = h;
    const gemm = { layout: Layout.TN, m: nin, n: nout, k: batch, a: px, lda: nin, b: pdy, ldb: nout, c: pp, ldc: nout };
    run(ops.gemmAdam({ ...gemm, adamM: pm, adamV: pv, beta1, beta2, epsilon, alpha }), b, reference);
    return { p: s.get(pp, n), m: s.get(pm, n), v: s.get(pv, n) };
  }, reference);
}

export function sgdStep(p: F32, g: ArrayLike<number>, u: F32 | null, h: { lr: number; momentum: number; nesterov: boolean }, reference = false): { p: F32; u: F32 | null } {
  return scoped((s, b) => {
    const n = g.length;
    const [pp, pg] = [s.put(p), s.put(g)];
    const pu = u ? s.put(u) : 0;
    run(ops.sgd({ n, p: pp, g: pg, u: pu, lr: h.lr, momentum: h.momentum, nesterov: h.nesterov }), b, reference);
    return { p: s.get(pp, n), u: u ? s.get(pu, n) : null };
  }, reference);
}

export function rmspropStep(p: F32, g: ArrayLike<number>, ms: F32, h: { lr: number; rho: number; epsilon: number }, reference = false): { p: F32; ms: F32 } {
  return scoped((s, b) => {
    const n = g.length;
    const [pp, pg, pm] = [s.put(p), s.put(g), s.put(ms)];
    run(ops.rmsprop({ n, p: pp, g: pg, s: pm, lr: h.lr, rho: h.rho, epsilon: h.epsilon }), b, reference);
    return { p: s.get(pp, n), ms: s.get(pm, n) };
  }, reference);
}
