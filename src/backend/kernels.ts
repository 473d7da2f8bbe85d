/**
 * Host-array wrappers around single kernels: copy inputs into wasm memory, run one op, copy results out.
 * This is what `ops` and the test suites (reference comparisons, gradient checks, tfjs parity) call;
 * training does not come through here (its programs keep everything in wasm memory).
 */
import { backend, type Backend } from './backend.js';
import { Act, AccKind, DType, Layout, LossFlag, LossKind, Op, REF, runOp, type Word } from './program.js';
import type { LossName } from '../losses.js';
import { countNonFinite as countNonFiniteIn } from '../model/inputs.js';
import { tensor } from '../tensor.js';

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

function scoped<T>(fn: (s: Scratch, b: Backend) => T): T {
  const b = backend();
  const s = new Scratch(b);
  try {
    return fn(s, b);
  } finally {
    s.free();
  }
}

const op = (code: number, reference?: boolean) => code | (reference ? REF : 0);

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
    runOp(op(Op.GEMM, g.reference), [Layout[g.layout], m, n, k, a, lda, bb, ldb, c, n, bias, Act[g.act ?? 'linear']], b);
    return s.get(c, m * n);
  });
}

export function activation(kind: ActName, x: ArrayLike<number>, reference = false): F32 {
  return scoped((s, b) => {
    const px = s.put(x);
    const py = s.out(x.length);
    runOp(op(Op.ACT_FWD, reference), [Act[kind], x.length, px, py], b);
    return s.get(py, x.length);
  });
}

/** dx = dy · f'(y), from the activation's output y. */
export function activationGrad(kind: ActName, y: ArrayLike<number>, dy: ArrayLike<number>, reference = false): F32 {
  return scoped((s, b) => {
    const py = s.put(y);
    const pdy = s.put(dy);
    const pdx = s.out(y.length);
    runOp(op(Op.ACT_BWD, reference), [Act[kind], y.length, py, pdy, pdx], b);
    return s.get(pdx, y.length);
  });
}

export function softmax(x: ArrayLike<number>, rows: number, cols: number, reference = false): F32 {
  return scoped((s, b) => {
    const px = s.put(x);
    const py = s.out(rows * cols);
    runOp(op(Op.SOFTMAX_FWD, reference), [rows, cols, px, py], b);
    return s.get(py, rows * cols);
  });
}

export function softmaxGrad(y: ArrayLike<number>, dy: ArrayLike<number>, rows: number, cols: number): F32 {
  return scoped((s, b) => {
    const [py, pdy, pdx] = [s.put(y), s.put(dy), s.out(rows * cols)];
    runOp(Op.SOFTMAX_BWD, [rows, cols, py, pdy, pdx], b);
    return s.get(pdx, rows * cols);
  });
}

export function dropout(x: ArrayLike<number>, rate: number, seed: number, salt: number, step: number, reference = false): { y: F32; mask: F32 } {
  return scoped((s, b) => {
    const [px, py, pm] = [s.put(x), s.out(x.length), s.out(x.length)];
    runOp(op(Op.DROPOUT_FWD, reference), [x.length, px, py, pm, { f: rate }, seed, salt, step], b);
    return { y: s.get(py, x.length), mask: s.get(pm, x.length) };
  });
}

export function mul(x: ArrayLike<number>, m: ArrayLike<number>): F32 {
  return scoped((s, b) => {
    const [px, pm, py] = [s.put(x), s.put(m), s.out(x.length)];
    runOp(Op.MUL, [x.length, px, pm, py], b);
    return s.get(py, x.length);
  });
}

export type { LossName };

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
    runOp(Op.LOSS, [LossKind[l.kind], l.rows, l.cols, pp, pl, pout, pg, { f: l.scale ?? 1 / l.rows }, flags, { f: l.eps ?? 1e-7 }], b);
    return { rows: s.get(pout, l.rows), grad: s.get(pg, l.rows * l.cols) };
  });
}

export function accuracy(kind: keyof typeof AccKind, pred: ArrayLike<number>, labels: ArrayLike<number>, rows: number, cols: number): F32 {
  return scoped((s, b) => {
    const pp = s.put(pred);
    const pl = s.put(labels, kind === 'sparse' ? 'i32' : 'f32');
    const out = s.out(rows);
    runOp(Op.ACCURACY, [AccKind[kind], rows, cols, pp, pl, out], b);
    return s.get(out, rows);
  });
}

export function colsum(x: ArrayLike<number>, rows: number, cols: number, reference = false): F32 {
  return scoped((s, b) => {
    const [px, po] = [s.put(x), s.out(cols)];
    runOp(op(Op.COLSUM, reference), [rows, cols, px, po], b);
    return s.get(po, cols);
  });
}

export function countNonFinite(x: ArrayLike<number>): number {
  const t = tensor(Float32Array.from(x));
  try {
    return countNonFiniteIn(t);
  } finally {
    t.dispose();
  }
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
      const kind = src instanceof Uint8Array ? DType.u8 : DType.f32;
      runOp(Op.GATHER, [kind, toInt ? DType.i32 : DType.f32, idx.length, rowLen, pidx, psrc, pdst, { f: divisor }, 0], b);
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
    runOp(op(Op.ADAM, reference), [n, pp, pg, pm, pv, { f: h.beta1 }, { f: h.beta2 }, { f: h.epsilon }, { f: alpha }], b);
    return { p: s.get(pp, n), m: s.get(pm, n), v: s.get(pv, n) };
  });
}

/** αₜ = lr·√(1−β2ᵗ)/(1−β1ᵗ) with β rounded to float32 first, as the kernel (and Keras) hold them. */
export function adamAlpha(lr: number, beta1: number, beta2: number, t: number): number {
  return (lr * Math.sqrt(1 - Math.fround(beta2) ** t)) / (1 - Math.fround(beta1) ** t);
}

export function sgdStep(p: F32, g: ArrayLike<number>, u: F32 | null, h: { lr: number; momentum: number; nesterov: boolean }): { p: F32; u: F32 | null } {
  return scoped((s, b) => {
    const n = g.length;
    const [pp, pg] = [s.put(p), s.put(g)];
    const pu = u ? s.put(u) : 0;
    runOp(Op.SGD, [n, pp, pg, pu, { f: h.lr }, { f: h.momentum }, h.nesterov ? 1 : 0], b);
    return { p: s.get(pp, n), u: u ? s.get(pu, n) : null };
  });
}

export function rmspropStep(p: F32, g: ArrayLike<number>, ms: F32, h: { lr: number; rho: number; epsilon: number }): { p: F32; ms: F32 } {
  return scoped((s, b) => {
    const n = g.length;
    const [pp, pg, pm] = [s.put(p), s.put(g), s.put(ms)];
    runOp(Op.RMSPROP, [n, pp, pg, pm, { f: h.lr }, { f: h.rho }, { f: h.epsilon }], b);
    return { p: s.get(pp, n), ms: s.get(pm, n) };
  });
}

export type { Word };
