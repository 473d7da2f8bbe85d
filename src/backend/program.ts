/**
 * Kernel programs. The encoding — opcodes, each op's named arguments, the words a step patches — is
 * declared once in crates/kernels/ops.json; `ops.generated.ts` holds its builders (`gemm({ layout, m, … })`).
 * A program is built once — a training step's when the model is compiled — and run many times; per-step
 * values (Adam's αₜ, the dropout step, the batch's indices) are patched in place through named handles
 * (`handle.patch.alpha(x)`), so running a step allocates nothing.
 */
import { backend, type Backend } from './backend.js';
import { REF, type GemmArgs, type OpCall } from './ops.generated.js';

export { Act, AccKind, DType, GEMM_KC, Layout, LossFlag, LossKind, NO_REFERENCE, Op, REF, f32bits, type OpCall } from './ops.generated.js';
export * as ops from './ops.generated.js';

/** A GEMM without its epilogue: what a fused weight-gradient update computes. */
export type GemmOperands = Omit<GemmArgs, 'bias' | 'act'>;

/** Setters of the words a step patches, by argument name; usable once the program is built. */
export type Patches<P extends string> = { readonly [K in P]: (value: number) => void };

/** The op as appended to a program, with its patch handles. */
export interface OpHandle<P extends string> {
  readonly patch: Patches<P>;
}

/** The same op running its naive reference (test build of the kernels only). */
export function reference<P extends string>(call: OpCall<P>): OpCall<P> {
  return { ...call, code: call.code | REF };
}

export class ProgramBuilder {
  private readonly words: number[] = [];
  private program: Program | null = null;

  /** Appends an op; its handle patches the built program's copy of the op's patchable arguments. */
  add<P extends string>(call: OpCall<P>): OpHandle<P> {
    if (this.program) throw new Error('internal: op added after build()');
    this.words.push(call.code, call.args.length + 2);
    const at = this.words.length;
    this.words.push(...call.args);
    const patch = {} as Record<string, (value: number) => void>;
    for (const [name, slot] of Object.entries(call.patches) as [string, { index: number; type: 'u32' | 'f32' }][]) {
      const word = at + slot.index;
      patch[name] =
        slot.type === 'f32'
          ? (value: number) => this.built(name).patchF32(word, value)
          : (value: number) => this.built(name).patchU32(word, value);
    }
    return { patch: patch as Patches<P> };
  }

  private built(what: string): Program {
    if (!this.program) throw new Error(`internal: ${what} patched before the program was built`);
    return this.program;
  }

  get length(): number {
    return this.words.length;
  }

  build(b: Backend = backend()): Program {
    if (this.program) throw new Error('internal: program built twice');
    this.program = new Program(b, Uint32Array.from(this.words));
    return this.program;
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

  /** Overwrites program word `at` (only through `OpHandle.patch`, which knows where its words are). */
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
export function runOp(call: OpCall, b: Backend = backend()): void {
  const n = call.args.length + 2;
  const ptr = b.scratchProgram(n);
  const w = new Uint32Array(b.memory.buffer, ptr, n);
  w[0] = call.code;
  w[1] = n;
  w.set(call.args, 2);
  b.run(ptr, n);
}
