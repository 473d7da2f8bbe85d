/**
 * Layers. Each layer emits its own forward and backward ops into a program (op and gradient side by
 * side, as in micrograd); the model only strings them together. Activations flow between layers as
 * [batch, cols] f32 matrices in wasm memory.
 */
import { Act, Layout, ops, type GemmOperands, type ProgramBuilder } from './backend/program.js';
import { backend } from './backend/backend.js';
import { initialize, initializerClassName, initializerFromConfig, initializerIsRandom, resolveInitializer, type InitializerName } from './initializers.js';
import { checkAbsent, dtypeConfig, kerasObject, pick, registerLayer, type ConfigFormat, type ToConfigOptions } from './layer-config.js';
import { Tensor, sizeOf } from './tensor.js';
import type { WeightView } from './callbacks/base.js';
import type { SnakeCase } from './names.js';

export type { InitializerName } from './initializers.js';

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear';
const ACTIVATIONS: readonly ActivationName[] = ['relu', 'sigmoid', 'tanh', 'softmax', 'linear'];

export function resolveActivation(a: unknown): ActivationName {
  if (a === undefined || a === null) return 'linear';
  if (typeof a === 'string' && (ACTIVATIONS as readonly string[]).includes(a.toLowerCase())) return a.toLowerCase() as ActivationName;
  throw new Error(`unknown activation ${JSON.stringify(a)} (valid: ${ACTIVATIONS.map((x) => `'${x}'`).join(', ')})`);
}

const nameCounts = new Map<string, number>();

/** Keras-style unique names: dense, dense_1, dense_2, … */
export function uniqueName(base: string): string {
  const n = nameCounts.get(base) ?? 0;
  nameCounts.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

/** Resets layer/model name counters (Keras' clear_session). */
export function clearSession(): void {
  nameCounts.clear();
}

export interface Weight {
  /** Keras variable name, e.g. `dense/kernel:0`. */
  name: string;
  tensor: Tensor;
  /** Gradient buffer, same size, allocated with the weight. */
  grad: Tensor;
}

/** An activation matrix [batch, cols] at `ptr`. */
export interface Flow {
  ptr: number;
  cols: number;
}

/** What a layer needs while emitting ops into a program. */
export interface EmitContext {
  pb: ProgramBuilder;
  batch: number;
  training: boolean;
  /** A fresh f32 [batch, cols] buffer owned by the program. */
  buffer(cols: number): number;
  /** Index of this layer in the model (salts dropout masks). */
  layerIndex: number;
  /** Setters of per-step values (the dropout step), called before each run. */
  stepPatches: ((step: number) => void)[];
  /** Setters of dropout seeds drawn per fit from the global generator (layers without a seed). */
  seedPatches: ((seed: number) => void)[];
  /**
   * Offers to compute weight `w`'s gradient with the GEMM `gemm` (C being the weight) and apply the
   * optimizer's update in the same pass. True when the op was emitted; the caller then must not emit
   * the gradient itself.
   */
  fuseUpdate(w: Weight, gemm: GemmOperands): boolean;
}

export interface LayerArgs {
  name?: string;
  inputShape?: number[];
  batchInputShape?: (number | null)[];
}

export abstract class Layer {
  readonly name: string;
  abstract readonly className: string;
  /** Per-sample input shape, when given to the first layer. */
  readonly declaredInputShape?: number[];
  inputShape: number[] = [];
  outputShape: number[] = [];
  weights: Weight[] = [];
  built = false;

  constructor(base: string, args: LayerArgs) {
    if (args === null || typeof args !== 'object' || Array.isArray(args))
      throw new Error(`${base}(args) takes an object such as { inputShape: [28, 28] }, got ${args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args}`);
    if (args.name !== undefined && (typeof args.name !== 'string' || !args.name)) throw new Error(`${base}: name must be a non-empty string`);
    this.name = args.name ?? uniqueName(base);
    const shape = args.inputShape ?? args.batchInputShape?.slice(1);
    if (shape !== undefined) {
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) > 0))
        throw new Error(`${this.name}: inputShape must be an array of positive integers, got ${JSON.stringify(shape)}`);
      this.declaredInputShape = shape as number[];
    }
  }

  build(inputShape: number[]): void {
    this.inputShape = [...inputShape];
    this.outputShape = this.computeOutputShape(inputShape);
    this.built = true;
  }

  abstract computeOutputShape(inputShape: number[]): number[];

  /**
   * The weights `build(inputShape)` makes (Keras names without `:0`, and shapes), known before anything
   * is allocated: loaders check a file against them first.
   */
  weightShapes(_inputShape: number[]): { name: string; shape: number[] }[] {
    return [];
  }

  countParams(): number {
    return this.weights.reduce((n, w) => n + w.tensor.size, 0);
  }

  /** The weights as callbacks see them (TensorBoard histograms): name, shape, a copy of the values. */
  get weightViews(): WeightView[] {
    return this.weights.map((w) => ({ name: w.name, shape: w.tensor.shape, read: () => (w.tensor.storageView() as Float32Array).slice() }));
  }

  /** Emits the forward pass; returns the output flow. */
  abstract forward(ctx: EmitContext, x: Flow): Flow;

  /**
   * Emits the backward pass: `dy` is the gradient w.r.t. this layer's output (or w.r.t. its logits when
   * `dyIsLogitGrad`); returns the gradient w.r.t. its input when `needDx`, else 0.
   */
  abstract backward(ctx: EmitContext, x: Flow, y: Flow, dy: number, needDx: boolean, dyIsLogitGrad: boolean): number;

  getConfig(): Record<string, unknown> {
    return { name: this.name, ...(this.declaredInputShape ? { inputShape: this.declaredInputShape } : {}) };
  }

  /**
   * Keras' serialised config of this layer (snake_case, the `config` of its `{ class_name, config }`
   * entry), in tfjs-layers' flavour or Keras 3's; the registered class's `fromConfig` reads it back.
   */
  toConfig(opts: ToConfigOptions = {}): Record<string, unknown> {
    const format = opts.format ?? 'tfjs';
    const config: Record<string, unknown> = { name: this.name, trainable: true, dtype: dtypeConfig(format) };
    if (opts.batchInputShape) config.batch_input_shape = opts.batchInputShape;
    return Object.assign(config, this.configFields(format));
  }

  /** The config entries of this layer class, after the common name, trainable and dtype. */
  protected configFields(_format: ConfigFormat): Record<string, unknown> {
    return {};
  }

  /** Whether Keras 3 writes a `build_config` for this class (layers it builds from the input shape). */
  get hasBuildConfig(): boolean {
    return true;
  }

  dispose(): void {
    for (const w of this.weights) {
      w.tensor.dispose();
      w.grad.dispose();
    }
    this.weights = [];
    this.built = false;
  }
}

export class Flatten extends Layer {
  readonly className = 'Flatten';
  constructor(args: LayerArgs = {}) {
    super('flatten', args);
  }
  computeOutputShape(s: number[]): number[] {
    return [sizeOf(s)];
  }
  forward(_ctx: EmitContext, x: Flow): Flow {
    return x;
  }
  backward(_ctx: EmitContext, _x: Flow, _y: Flow, dy: number): number {
    return dy;
  }

  protected override configFields(format: ConfigFormat): Record<string, unknown> {
    return format === 'keras3' ? { data_format: 'channels_last' } : {};
  }

  static fromConfig(c: Record<string, unknown>, base: LayerArgs): Flatten {
    const fmt = pick(c, 'data_format', 'dataFormat');
    if (fmt !== undefined && fmt !== null && fmt !== 'channels_last') throw new Error(`data_format ${JSON.stringify(fmt)} is not supported (only channels_last)`);
    return new Flatten(base);
  }
}

export interface DenseArgs extends LayerArgs {
  units: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName | SnakeCase<InitializerName>;
  biasInitializer?: InitializerName | SnakeCase<InitializerName>;
}

export class Dense extends Layer {
  readonly className = 'Dense';
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;

  constructor(args: DenseArgs) {
    super('dense', args ?? ({} as DenseArgs));
    if (!args || !Number.isInteger(args.units) || args.units <= 0) throw new Error(`${this.name}: units must be a positive integer, got ${args?.units}`);
    this.units = args.units;
    this.activation = resolveActivation(args.activation);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = resolveInitializer(args.kernelInitializer ?? 'glorotUniform', this.name);
    this.biasInitializer = resolveInitializer(args.biasInitializer ?? 'zeros', this.name);
  }

  computeOutputShape(s: number[]): number[] {
    if (s.length !== 1) throw new Error(`${this.name}: Dense expects a flat input [features], got [${s}]; put a flatten() layer before it`);
    return [this.units];
  }

  override weightShapes(inputShape: number[]): { name: string; shape: number[] }[] {
    const kernel = { name: `${this.name}/kernel`, shape: [inputShape[0], this.units] };
    return this.useBias ? [kernel, { name: `${this.name}/bias`, shape: [this.units] }] : [kernel];
  }

  override build(inputShape: number[]): void {
    super.build(inputShape);
    const b = backend();
    const fanIn = inputShape[0];
    const inits = [this.kernelInitializer, this.biasInitializer];
    this.weightShapes(inputShape).forEach(({ name, shape }, i) => {
      const t = Tensor.alloc(shape, 'float32', b);
      initialize(t.storageView() as Float32Array, inits[i], fanIn, this.units);
      const grad = Tensor.alloc(shape, 'float32', b);
      (grad.storageView() as Float32Array).fill(0);
      this.weights.push({ name: `${name}:0`, tensor: t, grad });
    });
  }

  get kernel(): Weight {
    return this.weights[0];
  }
  get bias(): Weight | undefined {
    return this.useBias ? this.weights[1] : undefined;
  }

  forward(ctx: EmitContext, x: Flow): Flow {
    const { pb, batch: B } = ctx;
    const n = this.units;
    const k = x.cols;
    const y = ctx.buffer(n);
    const fuse = this.activation === 'relu' ? Act.relu : Act.linear;
    pb.add(ops.gemm({ layout: Layout.NN, m: B, n, k, a: x.ptr, lda: k, b: this.kernel.tensor.ptr, ldb: n, c: y, ldc: n, bias: this.bias?.tensor.ptr, act: fuse }));
    if (this.activation === 'sigmoid' || this.activation === 'tanh') pb.add(ops.actFwd({ kind: Act[this.activation], n: B * n, x: y, y }));
    else if (this.activation === 'softmax') pb.add(ops.softmaxFwd({ rows: B, cols: n, x: y, y }));
    return { ptr: y, cols: n };
  }

  backward(ctx: EmitContext, x: Flow, y: Flow, dy: number, needDx: boolean, dyIsLogitGrad: boolean): number {
    const { pb, batch: B } = ctx;
    const n = this.units;
    const k = x.cols;
    // dz = dy ⊙ f'(·), in place: the gradient buffer is the layer's own.
    if (!dyIsLogitGrad) {
      if (this.activation === 'softmax') pb.add(ops.softmaxBwd({ rows: B, cols: n, y: y.ptr, dy, dx: dy }));
      else if (this.activation !== 'linear') pb.add(ops.actBwd({ kind: Act[this.activation], n: B * n, y: y.ptr, dy, dx: dy }));
    }
    // dX first: it needs the kernel before a fused update changes it.
    let dx = 0;
    if (needDx) {
      dx = ctx.buffer(k);
      pb.add(ops.gemm({ layout: Layout.NT, m: B, n: k, k: n, a: dy, lda: n, b: this.kernel.tensor.ptr, ldb: n, c: dx, ldc: k, act: Act.linear }));
    }
    const dW = { layout: Layout.TN, m: k, n, k: B, a: x.ptr, lda: k, b: dy, ldb: n, ldc: n };
    if (!ctx.fuseUpdate(this.kernel, { ...dW, c: this.kernel.tensor.ptr })) pb.add(ops.gemm({ ...dW, c: this.kernel.grad.ptr, act: Act.linear }));
    if (this.bias) pb.add(ops.colsum({ rows: B, cols: n, x: dy, out: this.bias.grad.ptr }));
    return dx;
  }

  override getConfig() {
    return { ...super.getConfig(), units: this.units, activation: this.activation, useBias: this.useBias, kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer };
  }

  protected override configFields(format: ConfigFormat): Record<string, unknown> {
    const init = (n: InitializerName) =>
      format === 'keras3'
        ? kerasObject('keras.initializers', initializerClassName(n), initializerIsRandom(n) ? { seed: null } : {})
        : { class_name: initializerClassName(n), config: {} };
    const fields: Record<string, unknown> = {
      units: this.units,
      activation: this.activation,
      use_bias: this.useBias,
      kernel_initializer: init(this.kernelInitializer),
      bias_initializer: init(this.biasInitializer),
      kernel_regularizer: null,
      bias_regularizer: null,
    };
    if (format === 'tfjs') fields.activity_regularizer = null; // Keras 3 keeps it out of Dense's config
    fields.kernel_constraint = null;
    fields.bias_constraint = null;
    return fields;
  }

  static fromConfig(c: Record<string, unknown>, base: LayerArgs): Dense {
    checkAbsent(c, ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint', 'lora_rank', 'quantization_config']);
    const useBias = pick(c, 'use_bias', 'useBias');
    if (useBias !== undefined && typeof useBias !== 'boolean') throw new Error(`use_bias must be a boolean, got ${JSON.stringify(useBias)}`);
    const activation = c.activation;
    if (activation !== undefined && activation !== null && typeof activation !== 'string') throw new Error(`activation must be a name, got ${JSON.stringify(activation)}`);
    return new Dense({
      ...base,
      units: c.units as number,
      activation: (activation ?? 'linear') as ActivationName, // checked by the constructor
      useBias: (useBias ?? true) as boolean,
      kernelInitializer: initializerFromConfig(pick(c, 'kernel_initializer', 'kernelInitializer'), 'glorotUniform'),
      biasInitializer: initializerFromConfig(pick(c, 'bias_initializer', 'biasInitializer'), 'zeros'),
    });
  }
}

export interface DropoutArgs extends LayerArgs {
  rate: number;
  seed?: number;
}

export class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly rate: number;
  private readonly seed?: number;
  private masks = new Map<number, number>(); // per program buffer: forward emits, backward reuses

  constructor(args: DropoutArgs) {
    super('dropout', args ?? ({} as DropoutArgs));
    const rate = args?.rate;
    if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new Error(`${this.name}: rate must be a number in [0, 1), got ${rate}`);
    if (args.seed !== undefined && !Number.isInteger(args.seed)) throw new Error(`${this.name}: seed must be an integer`);
    this.rate = rate;
    this.seed = args.seed;
  }

  computeOutputShape(s: number[]): number[] {
    return [...s];
  }

  forward(ctx: EmitContext, x: Flow): Flow {
    if (!ctx.training || this.rate === 0) return x;
    const y = ctx.buffer(x.cols);
    const mask = ctx.buffer(x.cols);
    this.masks.set(y, mask);
    // Masks depend on (seed, layer index, step). Without a seed of its own the layer takes one drawn
    // from the global generator when fit starts, so setSeed(n) before fit fixes the masks.
    const op = ctx.pb.add(ops.dropoutFwd({ n: ctx.batch * x.cols, x: x.ptr, y, mask, rate: this.rate, seed: (this.seed ?? 0) >>> 0, salt: ctx.layerIndex, step: 0 }));
    ctx.stepPatches.push(op.patch.step);
    if (this.seed === undefined) ctx.seedPatches.push(op.patch.seed);
    return { ptr: y, cols: x.cols };
  }

  backward(ctx: EmitContext, x: Flow, y: Flow, dy: number): number {
    if (!ctx.training || this.rate === 0) return dy;
    const mask = this.masks.get(y.ptr);
    if (mask === undefined) throw new Error(`${this.name}: backward without forward`);
    this.masks.delete(y.ptr);
    ctx.pb.add(ops.mul({ n: ctx.batch * x.cols, x: dy, m: mask, y: dy }));
    return dy;
  }

  override getConfig() {
    return { ...super.getConfig(), rate: this.rate, ...(this.seed !== undefined ? { seed: this.seed } : {}) };
  }

  protected override configFields(format: ConfigFormat): Record<string, unknown> {
    if (format === 'keras3') return { rate: this.rate, seed: this.seed ?? null, noise_shape: null };
    return { rate: this.rate, noise_shape: null, ...(this.seed !== undefined ? { seed: this.seed } : {}) };
  }

  override get hasBuildConfig(): boolean {
    return false;
  }

  static fromConfig(c: Record<string, unknown>, base: LayerArgs): Dropout {
    checkAbsent(c, ['noise_shape', 'noiseShape']);
    const seed = c.seed;
    return new Dropout({ ...base, rate: c.rate as number, ...(seed !== undefined && seed !== null ? { seed: seed as number } : {}) });
  }
}

registerLayer('Dense', Dense);
registerLayer('Dropout', Dropout);
registerLayer('Flatten', Flatten);

export const flatten = (args?: LayerArgs) => new Flatten(args);
export const dense = (args: DenseArgs) => new Dense(args);
export const dropout = (args: DropoutArgs) => new Dropout(args);

