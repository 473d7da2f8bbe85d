/**
 * Encoding of kernel programs (see crates/kernels/src/program.rs, the one place that maps ops to kernels).
 * A program is built once — a training step's program is built when the model is compiled — and run
 * many times; per-step values (Adam's αₜ, the dropout step) are patched in place, so running a step
 * allocates nothing.
 */
import { backend, type Backend } from './backend.js';

export const Op = {
  GEMM: 1,
  ACT_FWD: 2,
  ACT_BWD: 3,
  SOFTMAX_FWD: 4,
  SOFTMAX_BWD: 5,
  DROPOUT_FWD: 6,
  MUL: 7,
  LOSS: 8,
  ACCURACY: 9,
  SUM: 10,
  COLSUM: 11,
  ADAM: 12,
  SGD: 13,
  RMSPROP: 14,
  GATHER: 15,
  COUNT_NONFINITE: 16,
  GEMM_ADAM: 17,
} as const;
export const REF = 0x100;

export const Layout = { NN: 0, NT: 1, TN: 2 } as const;
export const Act = { linear: 0, relu: 1, sigmoid: 2, tanh: 3 } as const;
export const LossKind = { sparseCategoricalCrossentropy: 0, categoricalCrossentropy: 1, meanSquaredError: 2, binaryCrossentropy: 3 } as const;
export const LossFlag = { FROM_LOGITS: 1, FUSED: 2 } as const;
export const AccKind = { sparse: 0, categorical: 1, binary: 2 } as const;
export const DType = { u8: 0, f32: 1, i32: 2 } as const;

/** A word: an integer (or pointer), or an f32 given as `{ f }`. */
export type Word = number | { f: number };

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
export function f32bits(x: number): number {
  f32buf[0] = x;
  return u32buf[0];
}

export class ProgramBuilder {
  private readonly words: number[] = [];

  /** Appends an op; returns the word index of its first argument (for later patches). */
  op(code: number, args: Word[]): number {
    this.words.push(code, args.length + 2);
    const at = this.words.length;
    for (const a of args) this.words.push(typeof a === 'number' ? a >>> 0 : f32bits(a.f));
    return at;
  }

  get length(): number {
    return this.words.length;
  }

  build(b: Backend = backend()): Program {
    return new Program(b, Uint32Array.from(this.words));
  }
}

export class Program {
  readonly ptr: number;
  readonly nwords: number;
  private freed = false;

  constructor(
    private readonly b: Backend,
    words: Uint32Array,
  ) {
    this.nwords = words.length;
    this.ptr = b.arena.alloc(Math.max(4, words.byteLength));
    new Uint32Array(b.memory.buffer, this.ptr, words.length).set(words);
  }

  /** Overwrites argument word `at` (as returned by `ProgramBuilder.op` plus the argument's index). */
  patchU32(at: number, value: number): void {
    this.b.views().u32[(this.ptr >>> 2) + at] = value >>> 0;
  }

  patchF32(at: number, value: number): void {
    this.b.views().f32[(this.ptr >>> 2) + at] = value;
  }

  run(): void {
    if (this.freed) throw new Error('wasm-layers: program used after dispose');
    this.b.run(this.ptr, this.nwords);
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    if (!this.b.isDisposed) this.b.arena.release(this.ptr);
  }
}

/** Runs a single op once (ops API, tests). */
export function runOp(code: number, args: Word[], b: Backend = backend()): void {
  const n = args.length + 2;
  const ptr = b.scratchProgram(n);
  const w = new Uint32Array(b.memory.buffer, ptr, n);
  w[0] = code;
  w[1] = n;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    w[i + 2] = typeof a === 'number' ? a >>> 0 : f32bits(a.f);
  }
  b.run(ptr, n);
}
