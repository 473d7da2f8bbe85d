/**
 * Optimizers with Keras' defaults and update rules (formulas in crates/kernels/src/optim.rs). An optimizer
 * owns its per-parameter state (Adam's m and v, momentum buffers) in wasm memory, keyed by parameter, so
 * state survives across `fit` calls like Keras' does. Each emits one op per parameter into the training
 * program and patches its per-step values (αₜ, the learning rate) before each step.
 */
import type { Backend } from './backend/backend.js';
import { ops, type GemmOperands, type ProgramBuilder } from './backend/program.js';
import { Tensor } from './tensor.js';

export interface ParamRef {
  /** Stable key of the parameter (its tensor id). */
  key: number;
  size: number;
  ptr: number;
  gradPtr: number;
}

/** Sets an update's per-step values (αₜ, the learning rate) from Keras' 1-based iteration count. */
export type StepPatch = (t: number) => void;

export interface EmittedUpdate {
  /** Called before every step with Keras' 1-based iteration count. */
  patch(t: number): void;
}

export abstract class Optimizer {
  abstract readonly className: string;
  learningRate: number;
  /** Steps taken so far (Keras' `optimizer.iterations`). */
  iterations = 0;
  private readonly state = new Map<number, Tensor[]>();

  constructor(learningRate: number) {
    checkPositive('learningRate', learningRate);
    this.learningRate = learningRate;
  }

  protected abstract slotCount(): number;
  protected abstract emitOne(pb: ProgramBuilder, p: ParamRef, slots: number[]): StepPatch;
  abstract getConfig(): Record<string, number | boolean | string>;

  /**
   * Emits an op that computes a weight gradient with the GEMM `gemm` (C being the parameter itself) and
   * applies this optimizer's update as each element is finished, so the gradient is never stored.
   * Returns null when this optimizer has no fused form.
   */
  emitFused(_pb: ProgramBuilder, _p: ParamRef, _gemm: GemmOperands, _b: Backend): StepPatch | null {
    return null;
  }

  /** Zero-initialised state buffers of a parameter, created on first use. */
  protected slotsFor(p: ParamRef, b: Backend): number[] {
    let s = this.state.get(p.key);
    // State made by a plan whose construction failed (out of memory) was given back with it: make it anew.
    if (s?.some((t) => t.isDisposed)) s = undefined;
    if (!s) {
      s = [];
      for (let i = 0; i < this.slotCount(); i++) {
        const t = Tensor.alloc([p.size], 'float32', b);
        (t.storageView() as Float32Array).fill(0);
        s.push(t);
      }
      this.state.set(p.key, s);
    }
    return s.map((t) => t.ptr);
  }

  /** Emits the update of every parameter; the returned patcher runs once per step. */
  emit(pb: ProgramBuilder, params: ParamRef[], b: Backend, extra: StepPatch[] = []): EmittedUpdate {
    const patches = [...extra, ...params.map((p) => this.emitOne(pb, p, this.slotsFor(p, b)))];
    return {
      patch: (t) => {
        for (const f of patches) f(t);
      },
    };
  }

  /** How many state buffers each parameter has (Adam: m and v; SGD with momentum: one; plain SGD: none). */
  get stateSize(): number {
    return this.slotCount();
  }

  /** Replaces a parameter's state (a loaded checkpoint), creating its buffers if it has none yet. */
  setState(key: number, values: readonly Float32Array[], b?: Backend): void {
    if (values.length !== this.slotCount()) throw new Error(`${this.className}: a parameter has ${this.slotCount()} state buffers, got ${values.length}`);
    let s = this.state.get(key);
    if (s && s.some((t, i) => t.size !== values[i].length)) {
      this.dispose([key]);
      s = undefined;
    }
    if (!s) {
      s = values.map((v) => Tensor.alloc([v.length], 'float32', b));
      this.state.set(key, s);
    }
    s.forEach((t, i) => (t.storageView() as Float32Array).set(values[i]));
  }

  /** State tensors (for tests and serialisation), in parameter order. */
  getState(key: number): Float32Array[] {
    return (this.state.get(key) ?? []).map((t) => t.dataSync() as Float32Array);
  }

  /** Frees the state of the given parameters (a model being disposed), or of all when omitted. */
  dispose(keys?: Iterable<number>): void {
    for (const k of keys ?? [...this.state.keys()]) {
      for (const t of this.state.get(k) ?? []) t.dispose();
      this.state.delete(k);
    }
  }
}

function checkPositive(name: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`optimizer: ${name} must be a positive number, got ${v}`);
}

function checkUnit(name: string, v: number, closedLow = true): void {
  if (typeof v !== 'number' || !(closedLow ? v >= 0 : v > 0) || !(v < 1)) throw new Error(`optimizer: ${name} must be in ${closedLow ? '[' : '('}0, 1), got ${v}`);
}

export interface AdamConfig {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class Adam extends Optimizer {
  readonly className = 'Adam';
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(c: AdamConfig = {}) {
    super(c.learningRate ?? 1e-3);
    this.beta1 = c.beta1 ?? 0.9;
    this.beta2 = c.beta2 ?? 0.999;
    this.epsilon = c.epsilon ?? 1e-7;
    checkUnit('beta1', this.beta1);
    checkUnit('beta2', this.beta2);
    if (!(this.epsilon >= 0)) throw new Error(`optimizer: epsilon must be ≥ 0, got ${this.epsilon}`);
  }

  protected slotCount(): number {
    return 2;
  }

  /**
   * Keras' step size αₜ = lr·√(1−β2ᵗ)/(1−β1ᵗ), from the float32 lr and β (Keras holds its hyperparameters
   * in float32 variables; a model saved and loaded, whose config then holds those float32 values, so
   * trains on with the same αₜ), evaluated in float64.
   */
  alpha(t: number): number {
    return adamAlpha(this.learningRate, this.beta1, this.beta2, t);
  }

  protected emitOne(pb: ProgramBuilder, p: ParamRef, [m, v]: number[]) {
    const op = pb.add(ops.adam({ n: p.size, p: p.ptr, g: p.gradPtr, m, v, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, alpha: 0 }));
    return (t: number) => op.patch.alpha(this.alpha(t));
  }

  override emitFused(pb: ProgramBuilder, p: ParamRef, gemm: GemmOperands, b: Backend): StepPatch | null {
    const [m, v] = this.slotsFor(p, b);
    const op = pb.add(ops.gemmAdam({ ...gemm, adamM: m, adamV: v, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, alpha: 0 }));
    return (t: number) => op.patch.alpha(this.alpha(t));
  }

  getConfig() {
    return { name: 'Adam', learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}

export interface SgdConfig {
  learningRate?: number;
  momentum?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  readonly className = 'SGD';
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(c: SgdConfig = {}) {
    super(c.learningRate ?? 0.01);
    this.momentum = c.momentum ?? 0;
    this.nesterov = c.nesterov ?? false;
    checkUnit('momentum', this.momentum);
  }

  protected slotCount(): number {
    return this.momentum > 0 ? 1 : 0;
  }

  protected emitOne(pb: ProgramBuilder, p: ParamRef, slots: number[]) {
    const op = pb.add(ops.sgd({ n: p.size, p: p.ptr, g: p.gradPtr, u: slots[0], lr: this.learningRate, momentum: this.momentum, nesterov: this.nesterov }));
    return () => op.patch.lr(this.learningRate);
  }

  getConfig() {
    return { name: 'SGD', learningRate: this.learningRate, momentum: this.momentum, nesterov: this.nesterov };
  }
}

export interface RmsPropConfig {
  learningRate?: number;
  rho?: number;
  epsilon?: number;
}

export class RMSprop extends Optimizer {
  readonly className = 'RMSprop';
  readonly rho: number;
  readonly epsilon: number;

  constructor(c: RmsPropConfig = {}) {
    super(c.learningRate ?? 1e-3);
    this.rho = c.rho ?? 0.9;
    this.epsilon = c.epsilon ?? 1e-7;
    checkUnit('rho', this.rho);
  }

  protected slotCount(): number {
    return 1;
  }

  protected emitOne(pb: ProgramBuilder, p: ParamRef, [s]: number[]) {
    const op = pb.add(ops.rmsprop({ n: p.size, p: p.ptr, g: p.gradPtr, s, lr: this.learningRate, rho: this.rho, epsilon: this.epsilon }));
    return () => op.patch.lr(this.learningRate);
  }

  getConfig() {
    return { name: 'RMSprop', learningRate: this.learningRate, rho: this.rho, epsilon: this.epsilon };
  }
}

/** αₜ = lr·√(1−β2ᵗ)/(1−β1ᵗ) with β rounded to float32 first, as the kernel (and Keras) hold them. */
export function adamAlpha(lr: number, beta1: number, beta2: number, t: number): number {
  return (Math.fround(lr) * Math.sqrt(1 - Math.fround(beta2) ** t)) / (1 - Math.fround(beta1) ** t);
}

/** An optimizer's config: an object or nothing. */
function config<T>(what: string, c: T | undefined): T | undefined {
  if (c !== undefined && (c === null || typeof c !== 'object' || Array.isArray(c)))
    throw new Error(`optimizers.${what}(config) takes an object such as { learningRate: 0.001 }, got ${c === null ? 'null' : typeof c}`);
  return c;
}

export const adam = (c?: AdamConfig) => new Adam(config('adam', c));
export const sgd = (c?: SgdConfig) => new SGD(config('sgd', c));
export const rmsprop = (c?: RmsPropConfig) => new RMSprop(config('rmsprop', c));

const BY_NAME: Record<string, () => Optimizer> = { adam: () => new Adam(), sgd: () => new SGD(), rmsprop: () => new RMSprop() };

export function getOptimizer(o: unknown): Optimizer {
  if (o instanceof Optimizer) return o;
  if (typeof o === 'string') {
    const f = BY_NAME[o.toLowerCase()];
    if (f) return f();
  }
  throw new Error(`compile: unknown optimizer ${JSON.stringify(o)} (valid: 'adam', 'sgd', 'rmsprop', or optimizers.adam/sgd/rmsprop({...}))`);
}
