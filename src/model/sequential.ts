/**
 * The Sequential model: a stack of layers with Keras' compile / fit / evaluate / predict. The class holds
 * the layers and the model's state; the loops live in training.ts and inference.ts, data checks and
 * index buffers in inputs.ts, programs in plan-cache.ts, weight copies in weights.ts, saving in save.ts.
 */
import { backend, type Backend } from '../backend/backend.js';
import type { CallbackModel } from '../callbacks/base.js';
import type { History } from '../callbacks/history.js';
import { Layer, uniqueName } from '../layers.js';
import type { Optimizer } from '../optimizers.js';
import type { Tensor, TensorLike } from '../tensor.js';
import type { SaveDestination, SaveOptions, SaveResult } from './artifacts.js';
import type { KerasSaveResult } from './keras-save.js';
import { compiledFor, parseCompileArgs, type CompileArgs, type Compiled } from './compile.js';
import { evaluate, predict, type EvaluateArgs } from './inference.js';
import { IndexBuffers, type Input } from './inputs.js';
import { PlanCache } from './plan-cache.js';
import type { Source } from './plan.js';
import { writeModel } from './save.js';
import { fit, trainOnBatch, type FitArgs } from './training.js';
import { getWeights, getWeightsRaw, setWeights, setWeightsRaw } from './weights.js';

export type { CompileArgs, EvaluateArgs, FitArgs };

export class Sequential implements CallbackModel {
  readonly name: string;
  readonly layers: Layer[] = [];
  stopTraining = false;
  history?: History;
  /** @internal Counts training steps for dropout masks. */
  dropoutStep = 0;
  /** @internal The dropout seed of layers without their own, drawn at the first fit. */
  dropoutSeed?: number;
  private compiledState?: Compiled;
  private built = false;
  private disposed = false;
  private b?: Backend;
  private planCache?: PlanCache;
  private indices?: IndexBuffers;

  constructor(args: { layers?: Layer[]; name?: string } | Layer[] = {}) {
    if (args === null || typeof args !== 'object')
      throw new Error(`sequential(args) takes { layers: [...], name? } or an array of layers, got ${args === null ? 'null' : typeof args}`);
    const a = Array.isArray(args) ? { layers: args } : args;
    if (a.layers !== undefined && !Array.isArray(a.layers)) throw new Error(`sequential: layers must be an array of layers, got ${typeof a.layers}`);
    this.name = a.name ?? uniqueName('sequential');
    for (const l of a.layers ?? []) this.add(l);
  }

  add(layer: Layer): void {
    this.assertAlive();
    if (!(layer instanceof Layer)) throw new Error(`Sequential.add: expected a layer (layers.dense(...), …), got ${typeof layer}`);
    if (this.built) throw new Error('Sequential.add: cannot add layers after the model was built');
    if (this.layers.some((l) => l.name === layer.name))
      throw new Error(`Sequential.add: a layer named '${layer.name}' is already in the model; layer names must be unique`);
    if (this.layers.includes(layer)) throw new Error(`Sequential.add: layer '${layer.name}' was added twice`);
    if (this.layers.length === 0 && !layer.declaredInputShape)
      throw new Error(`${layer.name}: the first layer needs inputShape (e.g. layers.flatten({ inputShape: [28, 28] }))`);
    this.layers.push(layer);
  }

  get inputShape(): number[] {
    return this.layers[0]?.declaredInputShape ?? [];
  }

  get outputShape(): number[] {
    this.build();
    return this.layers[this.layers.length - 1].outputShape;
  }

  /** Creates the weights (in wasm memory). Called by summary/compile/fit when needed. */
  build(): void {
    this.assertAlive();
    if (this.built) return;
    if (this.layers.length === 0) throw new Error('Sequential: the model has no layers');
    const b = (this.b = backend());
    try {
      // Out of memory half-way: the weights already made are given back (the arena is as before).
      b.arena.scope(() => {
        let shape = this.inputShape;
        for (const l of this.layers) {
          l.build(shape);
          shape = l.outputShape;
        }
      });
    } catch (e) {
      for (const l of this.layers) l.dispose();
      throw e;
    }
    this.built = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error(`${this.name}: the model was disposed`);
  }

  private paramKeys(): number[] {
    return this.layers.flatMap((l) => l.weights.map((w) => w.tensor.id));
  }

  countParams(): number {
    this.build();
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /** Keras-style summary table; printed (unless `print` is false) and returned. */
  summary(print: (s: string) => void = console.log): string {
    this.build();
    // Keras 2.x print_row: ' ' + field, each padded to the positions [29, 55, 65]; a blank row after each layer.
    const pos = [29, 55, 65];
    const row = (fields: string[]) => {
      let line = '';
      fields.forEach((f, i) => {
        line = (line + (i === 0 ? ' ' : '') + f).slice(0, pos[i]);
        line += ' '.repeat(pos[i] - line.length);
      });
      return line.trimEnd();
    };
    const fmt = (n: number) => n.toLocaleString('en-US');
    const lines = [`Model: "${this.name}"`, '_'.repeat(65), row(['Layer (type)', 'Output Shape', 'Param #']), '='.repeat(65)];
    for (const l of this.layers) lines.push(row([`${l.name} (${l.className})`, `(None, ${l.outputShape.join(', ')})`, String(l.countParams())]), '');
    const total = this.countParams();
    lines.push('='.repeat(65), `Total params: ${fmt(total)}`, `Trainable params: ${fmt(total)}`, 'Non-trainable params: 0', '_'.repeat(65));
    const s = lines.join('\n');
    print(s);
    return s;
  }

  compile(args: CompileArgs): void {
    this.assertAlive();
    const parsed = parseCompileArgs(args);
    this.build();
    const compiled = compiledFor(parsed, this.outputShape);
    this.planCache?.clear();
    if (this.compiledState && this.compiledState.optimizer !== compiled.optimizer) this.compiledState.optimizer.dispose(this.paramKeys());
    this.compiledState = compiled;
  }

  get optimizer(): Optimizer | undefined {
    return this.compiledState?.optimizer;
  }

  /** @internal The compile arguments in effect (undefined before compile). */
  get compiled(): Compiled | undefined {
    return this.compiledState;
  }

  /** @internal */
  requireCompiled(what: string): Compiled {
    this.assertAlive();
    if (!this.compiledState) throw new Error(`${what}: the model must be compiled first (model.compile({ optimizer, loss, metrics }))`);
    return this.compiledState;
  }

  /** @internal The backend holding the weights (the model is built). */
  get backend(): Backend {
    if (!this.b) throw new Error(`${this.name}: internal: the model is not built`);
    return this.b;
  }

  /** @internal */
  get plans(): PlanCache {
    return (this.planCache ??= new PlanCache(this));
  }

  /** @internal */
  get indexBuffers(): IndexBuffers {
    return (this.indices ??= new IndexBuffers(this.backend));
  }

  /** @internal */
  forgetPlansOf(source: Source): void {
    this.planCache?.forget(source);
  }

  fit(x: Input, y: Input, args: FitArgs = {}): Promise<History> {
    return fit(this, x, y, args);
  }

  /**
   * Loss (and accuracy when compiled with it) over a dataset: `[loss, accuracy]` or `loss`, as Keras returns
   * them; with `{ returnDict: true }`, `{ loss, accuracy }` keyed by metric name.
   */
  evaluate(x: Input, y: Input, args: EvaluateArgs & { returnDict: true }): Record<string, number>;
  evaluate(x: Input, y: Input, args?: EvaluateArgs & { returnDict?: false }): number | number[];
  evaluate(x: Input, y: Input, args: EvaluateArgs = {}): number | number[] | Record<string, number> {
    return evaluate(this, x, y, args);
  }

  /** Outputs of the last layer (inference mode: no dropout), as a float32 tensor [n, units]. */
  predict(x: Input, args: { batchSize?: number } = {}): Tensor {
    this.assertAlive();
    return predict(this, x, args);
  }

  /** One optimizer step on one batch; returns the batch's `[loss, accuracy]` (or `loss`). */
  trainOnBatch(x: Input, y: Input): number | number[] {
    return trainOnBatch(this, x, y);
  }

  /** Copies of all weights, Keras order: layer by layer, kernel then bias. */
  getWeights(): Tensor[] {
    this.build();
    return getWeights(this.layers, this.backend);
  }

  /** Sets all weights from tensors (or tfjs tensors) in getWeights() order; shapes must match. */
  setWeights(weights: (Tensor | TensorLike)[]): void {
    this.build();
    setWeights(this.layers, weights);
  }

  /** For callbacks: weights as raw arrays. */
  getWeightsRaw(): Float32Array[] {
    return getWeightsRaw(this.layers);
  }

  setWeightsFrom(values: Float32Array[]): void {
    setWeightsRaw(this.layers, values);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.planCache?.clear();
    this.indices?.dispose();
    // Only this model's optimizer state: an optimizer object may be shared with other models.
    this.compiledState?.optimizer.dispose(this.paramKeys());
    for (const l of this.layers) l.dispose();
    this.disposed = true;
  }

  /**
   * Saves the model: to `'….keras'` in Keras 3's format (keras-save.ts, loaded on first use), else in
   * tfjs-layers' format (a directory, 'memory' or a tfjs IOHandler: see saveModel in io.ts).
   */
  save(destination: `${string}.keras`, options?: SaveOptions): Promise<KerasSaveResult>;
  save(destination: SaveDestination, options?: SaveOptions): Promise<SaveResult>;
  async save(destination: SaveDestination, options: SaveOptions = {}): Promise<SaveResult | KerasSaveResult> {
    if (typeof destination === 'string' && /\.keras$/i.test(destination)) return (await import('./keras-save.js')).saveKeras(this, destination);
    if (options === null || typeof options !== 'object') throw new Error(`save: options must be an object such as { includeOptimizer: true }, got ${options === null ? 'null' : typeof options}`);
    return writeModel(this, destination, options);
  }
}

export function sequential(args?: { layers?: Layer[]; name?: string } | Layer[]): Sequential {
  return new Sequential(args);
}
