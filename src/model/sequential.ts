/**
 * The Sequential model: Keras' compile / fit / evaluate / predict on the program plans of plan.ts.
 */
import { backend, type Backend } from '../backend/backend.js';
import { Op, runOp } from '../backend/program.js';
import { Callback, type CallbackModel, type FitParams, type Logs } from '../callbacks/base.js';
import { History } from '../callbacks/history.js';
import { ProgressBarLogger, formatLogs, formatStepTime } from '../callbacks/progress.js';
import { TensorBoard } from '../callbacks/tensorboard.js';
import { Layer, uniqueName } from '../layers.js';
import { accuracyKind, resolveLoss, resolveMetrics, type LossName } from '../losses.js';
import { getOptimizer, type Optimizer } from '../optimizers.js';
import { nextU32, shuffleInPlace } from '../random.js';
import { Tensor, asTensor, sizeOf, type TensorLike } from '../tensor.js';
import { Plan, type PlanSpec, type Source } from './plan.js';
import type { SaveDestination, SaveResult } from './io.js';
import type { KerasSaveResult } from './keras.js';

export interface CompileArgs {
  optimizer: string | Optimizer;
  loss: string;
  metrics?: string | string[];
}

export interface FitArgs {
  batchSize?: number;
  epochs?: number;
  verbose?: 0 | 1 | 2;
  callbacks?: Callback[] | Callback;
  validationData?: [Tensor | TensorLike, Tensor | TensorLike];
  validationSplit?: number;
  shuffle?: boolean;
  initialEpoch?: number;
  /** Stops training after the current batch; `fit` then rejects with an AbortError. */
  signal?: AbortSignal;
}

export interface EvaluateArgs {
  batchSize?: number;
  /** 1 or 2 print one Keras-style line with the results; default 0 (silent). */
  verbose?: 0 | 1 | 2;
}

type Input = Tensor | TensorLike;

interface Compiled {
  optimizer: Optimizer;
  loss: LossName;
  metrics: string[]; // display names as given ('accuracy' or 'acc')
  accuracy?: ReturnType<typeof accuracyKind>;
}

/** Data prepared for plans: tensors in wasm memory (owned copies of foreign tensors are disposed at the end). */
interface Prepared {
  source: Source;
  n: number;
  release(): void;
}

const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((r) => setImmediate(r)) : () => new Promise((r) => setTimeout(r, 0));

export class Sequential implements CallbackModel {
  readonly name: string;
  readonly layers: Layer[] = [];
  stopTraining = false;
  history?: History;
  private compiled?: Compiled;
  private built = false;
  private disposed = false;
  private b?: Backend;
  /** Plans per prepared data source (see `prepare`), keyed by kind, batch size and index buffer. */
  private readonly plans = new Map<Source, Map<string, Plan>>();
  private readonly indexBuffers = new Map<number, { ptr: number; n: number }>();
  private dropoutStep = 0;
  private fitting = false;

  constructor(args: { layers?: Layer[]; name?: string } | Layer[] = {}) {
    const a = Array.isArray(args) ? { layers: args } : args;
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
    this.b = backend();
    let shape = this.inputShape;
    for (const l of this.layers) {
      l.build(shape);
      shape = l.outputShape;
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
    if (!args || typeof args !== 'object') throw new Error('compile: expected { optimizer, loss, metrics? }');
    const optimizer = getOptimizer(args.optimizer);
    const loss = resolveLoss(args.loss);
    const names = args.metrics === undefined ? [] : Array.isArray(args.metrics) ? args.metrics : [args.metrics];
    resolveMetrics(names);
    this.build();
    const units = this.outputShape[0];
    if (this.outputShape.length !== 1) throw new Error(`compile: the last layer must output [units], got [${this.outputShape}]`);
    this.disposePlans();
    if (this.compiled && this.compiled.optimizer !== optimizer) this.compiled.optimizer.dispose(this.paramKeys());
    this.compiled = { optimizer, loss, metrics: names.map(String), accuracy: names.length ? accuracyKind(loss, units) : undefined };
  }

  get optimizer(): Optimizer | undefined {
    return this.compiled?.optimizer;
  }

  private requireCompiled(what: string): Compiled {
    this.assertAlive();
    if (!this.compiled) throw new Error(`${what}: the model must be compiled first (model.compile({ optimizer, loss, metrics }))`);
    return this.compiled;
  }

  // ---------------------------------------------------------------------------------------------------
  // data validation

  private prepareX(x: Input, what: string): { t: Tensor; owned: boolean; n: number; rowLen: number } {
    const { t, owned } = asTensor(x, what);
    try {
      if (t.isDisposed) throw new Error(`${what}: tensor ${t.id} (shape [${t.shape}]) was used after dispose()`);
      const want = this.inputShape;
      const per = t.shape.slice(1);
      const ok = t.rank >= 1 && (per.join(',') === want.join(',') || (t.rank === 2 && per[0] === sizeOf(want) && want.length === 1));
      if (!ok) throw new Error(`${what}: expected shape [n, ${want.join(', ')}] to match the model's inputShape [${want}], got [${t.shape}]`);
      if (t.storageDtype === 'float32') {
        const bad = countNonFinite(t);
        if (bad > 0) throw new Error(`${what}: contains ${bad} NaN or Infinity value${bad > 1 ? 's' : ''}`);
      }
      return { t, owned, n: t.shape[0], rowLen: sizeOf(want) };
    } catch (e) {
      if (owned) t.dispose();
      throw e;
    }
  }

  private prepareY(y: Input, n: number, what: string): { t: Tensor; owned: boolean } {
    const c = this.compiled!;
    const { t, owned } = asTensor(y, what);
    try {
      if (t.isDisposed) throw new Error(`${what}: tensor ${t.id} (shape [${t.shape}]) was used after dispose()`);
      if (t.shape[0] !== n) throw new Error(`${what}: has ${t.shape[0]} samples but x has ${n}`);
      const units = this.outputShape[0];
      const v = t.storageView();
      if (c.loss === 'sparseCategoricalCrossentropy') {
        if (!(t.rank === 1 || (t.rank === 2 && t.shape[1] === 1))) throw new Error(`${what}: sparse labels must have shape [n] or [n, 1], got [${t.shape}]`);
        const d = t.divisor;
        for (let i = 0; i < v.length; i++) {
          const l = v[i] / d;
          if (!Number.isInteger(l)) throw new Error(`${what}: label ${l} at index ${i} is not an integer class id`);
          if (l < 0 || l >= units) throw new Error(`${what}: label ${l} at index ${i} is out of range [0, ${units - 1}] for a ${units}-unit output`);
        }
      } else {
        if (t.rank !== 2 || t.shape[1] !== units) throw new Error(`${what}: expected shape [n, ${units}] for loss ${c.loss}, got [${t.shape}]`);
        if (t.storageDtype === 'float32' && countNonFinite(t) > 0) throw new Error(`${what}: contains NaN or Infinity`);
      }
      return { t, owned };
    } catch (e) {
      if (owned) t.dispose();
      throw e;
    }
  }

  private prepare(x: Input, y: Input | undefined, what: string): Prepared {
    const px = this.prepareX(x, `${what}: x`);
    let py: { t: Tensor; owned: boolean } | undefined;
    try {
      if (y !== undefined) py = this.prepareY(y, px.n, `${what}: y`);
    } catch (e) {
      if (px.owned) px.t.dispose();
      throw e;
    }
    // A fresh object per call: plans belong to it, so a predict() inside a running fit() (same tensors)
    // frees only its own plans when it ends.
    const source: Source = { x: px.t, y: py?.t, rowLen: px.rowLen };
    return {
      source,
      n: px.n,
      release: () => {
        this.forgetPlansOf(source);
        if (px.owned) px.t.dispose();
        if (py?.owned) py.t.dispose();
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------
  // plans and index buffers

  /** An Int32 index buffer of at least n entries, holding 0..n-1 unless the caller shuffles it. */
  private indexBuffer(slot: number, n: number): { ptr: number; view: () => Int32Array } {
    let ib = this.indexBuffers.get(slot);
    if (!ib || ib.n < n) {
      if (ib) this.b!.arena.release(ib.ptr);
      ib = { ptr: this.b!.arena.alloc(Math.max(4, n * 4)), n };
      this.indexBuffers.set(slot, ib);
    }
    const ptr = ib.ptr;
    return { ptr, view: () => this.b!.views().i32.subarray(ptr >>> 2, (ptr >>> 2) + n) };
  }

  private plan(kind: PlanSpec['kind'], batch: number, source: Source, indexPtr: number): Plan {
    let byKey = this.plans.get(source);
    if (!byKey) this.plans.set(source, (byKey = new Map()));
    const key = `${kind}:${batch}:${indexPtr}`;
    let p = byKey.get(key);
    if (!p) {
      const c = this.compiled;
      p = new Plan(this.b!, {
        kind,
        batch,
        source,
        layers: this.layers,
        loss: c?.loss,
        accuracy: c?.accuracy,
        optimizer: c?.optimizer,
        indexPtr,
      });
      byKey.set(key, p);
    }
    return p;
  }

  private forgetPlansOf(source: Source): void {
    for (const p of this.plans.get(source)?.values() ?? []) p.dispose();
    this.plans.delete(source);
  }

  private disposePlans(): void {
    for (const m of this.plans.values()) for (const p of m.values()) p.dispose();
    this.plans.clear();
  }

  // ---------------------------------------------------------------------------------------------------
  // fit / evaluate / predict

  async fit(x: Input, y: Input, args: FitArgs = {}): Promise<History> {
    // One fit at a time per model: two would share its index buffers, optimizer steps and dropout counter.
    if (this.fitting) throw new Error(`fit: ${this.name} is already being trained by another fit() call; await it first`);
    this.fitting = true;
    try {
      return await this.fitOnce(x, y, args);
    } finally {
      this.fitting = false;
    }
  }

  private async fitOnce(x: Input, y: Input, args: FitArgs): Promise<History> {
    const c = this.requireCompiled('fit');
    const batchSize = args.batchSize ?? 32;
    const epochs = args.epochs ?? 1;
    const initialEpoch = args.initialEpoch ?? 0;
    const verbose = args.verbose ?? 1;
    checkPositiveInt('fit: batchSize', batchSize);
    checkPositiveInt('fit: epochs', epochs);
    if (!Number.isInteger(initialEpoch) || initialEpoch < 0) throw new Error(`fit: initialEpoch must be a non-negative integer, got ${initialEpoch}`);
    if (![0, 1, 2].includes(verbose)) throw new Error(`fit: verbose must be 0, 1 or 2, got ${verbose}`);
    const split = args.validationSplit ?? 0;
    if (typeof split !== 'number' || !(split >= 0 && split < 1)) throw new Error(`fit: validationSplit must be in [0, 1), got ${split}`);
    if (args.validationData && split > 0) throw new Error('fit: give validationData or validationSplit, not both');
    if (args.signal?.aborted) throw abortError();

    const user = Array.isArray(args.callbacks) ? args.callbacks : args.callbacks ? [args.callbacks] : [];
    for (const cb of user) if (!(cb instanceof Callback)) throw new Error(`fit: callbacks must extend Callback (got ${cb === null ? 'null' : typeof cb})`);

    const b = this.b!;
    await b.ready(); // the worker pool of a lazily created backend
    const train = this.prepare(x, y, 'fit');
    let val: Prepared | undefined;
    try {
      if (args.validationData) {
        if (!Array.isArray(args.validationData) || args.validationData.length < 2) throw new Error('fit: validationData must be [xVal, yVal]');
        val = this.prepare(args.validationData[0], args.validationData[1], 'fit: validationData');
      }
    } catch (e) {
      train.release();
      throw e;
    }
    // Keras' validationSplit: the first floor(n·(1 − split)) samples train, the rest (taken before shuffling) validate.
    const nTrain = split > 0 ? Math.floor(train.n * (1 - split)) : train.n;
    const nVal = train.n - nTrain;
    if (nTrain <= 0 || (split > 0 && nVal <= 0)) {
      train.release();
      val?.release();
      throw new Error(`fit: ${train.n} samples are not sufficient to split with validationSplit=${split} (${nTrain} train, ${nVal} validation)`);
    }
    const steps = Math.ceil(nTrain / batchSize);
    const doValidation = !!val || nVal > 0;

    // Keras' order: the user's callbacks, then History, then the progress bar (which so prints what others added).
    const history = new History();
    const list: Callback[] = [...user, history];
    if (verbose > 0) list.push(new ProgressBarLogger());
    for (const cb of list) {
      cb.setModel(this);
      cb.setParams({
        epochs,
        initialEpoch,
        steps,
        batchSize,
        samples: nTrain,
        verbose: verbose as 0 | 1 | 2,
        doValidation,
        metrics: ['loss', ...c.metrics, ...(doValidation ? ['val_loss', ...c.metrics.map((m) => `val_${m}`)] : [])],
      } satisfies FitParams);
    }
    const call = async (f: (cb: Callback) => void | Promise<void>) => {
      for (const cb of list) {
        const r = f(cb);
        if (r) await r;
      }
    };
    // Batch logs: one reused object unless a callback may keep them (ours only read them), so that the
    // default step loop allocates nothing.
    const readsOnly = (cb: Callback) => cb instanceof ProgressBarLogger || cb instanceof History || cb instanceof TensorBoard;
    const freshLogs = list.some(
      (cb) => !readsOnly(cb) && (cb.onBatchBegin !== Callback.prototype.onBatchBegin || cb.onBatchEnd !== Callback.prototype.onBatchEnd),
    );

    const trainIdx = this.indexBuffer(0, train.n);
    {
      const v = trainIdx.view();
      for (let i = 0; i < train.n; i++) v[i] = i;
    }
    const accName = c.metrics[0];
    const dropoutSeed = nextU32();
    const shared: Logs = { batch: 0, size: 0 };
    this.stopTraining = false;
    this.history = history;
    let lastYield = performance.now();
    let aborted = false;
    let fullPlan: Plan | undefined; // looked up once: the step loop allocates nothing
    try {
      await call((cb) => cb.onTrainBegin());
      for (let epoch = initialEpoch; epoch < epochs && !this.stopTraining; epoch++) {
        if (args.shuffle ?? true) shuffleInPlace(trainIdx.view().subarray(0, nTrain));
        await call((cb) => cb.onEpochBegin(epoch));
        let lossSum = 0;
        let accSum = 0;
        let seen = 0;
        for (let step = 0; step < steps; step++) {
          const start = step * batchSize;
          const bs = Math.min(batchSize, nTrain - start);
          let logs = shared;
          if (freshLogs) logs = { batch: step, size: bs };
          else {
            logs.batch = step;
            logs.size = bs;
          }
          for (const cb of list) {
            const r = cb.onBatchBegin(step, logs);
            if (r) await r;
          }
          const plan = bs === batchSize ? (fullPlan ??= this.plan('train', bs, train.source, trainIdx.ptr)) : this.plan('train', bs, train.source, trainIdx.ptr);
          const opt = c.optimizer;
          opt.iterations++;
          plan.run(start, opt.iterations, this.dropoutStep++, dropoutSeed);
          const loss = plan.loss();
          if (!Number.isFinite(loss))
            throw new Error(`fit: the loss became ${loss} at epoch ${epoch + 1}, batch ${step + 1}; training stopped (try a lower learning rate, or check the data)`);
          lossSum += loss * bs;
          seen += bs;
          if (freshLogs) logs = { batch: step, size: bs };
          logs.loss = lossSum / seen;
          if (accName) {
            accSum += plan.accuracy() * bs;
            logs[accName] = accSum / seen;
          }
          for (const cb of list) {
            const r = cb.onBatchEnd(step, logs);
            if (r) await r;
          }
          if (args.signal?.aborted) {
            aborted = true;
            break;
          }
          if (this.stopTraining) break;
          const now = performance.now();
          if (now - lastYield > 50) {
            // Let timers, signals and worker events run during long epochs.
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
        if (aborted || args.signal?.aborted) {
          aborted = true;
          break;
        }
        const logs: Logs = { loss: lossSum / seen };
        if (accName) logs[accName] = accSum / seen;
        if (doValidation) {
          const vr = val
            ? this.evaluatePrepared(val, 0, val.n, batchSize, 1)
            : this.evaluatePrepared(train, nTrain, nVal, batchSize, 0, trainIdx.ptr);
          logs.val_loss = vr.loss;
          if (accName) logs[`val_${accName}`] = vr.accuracy;
        }
        await call((cb) => cb.onEpochEnd(epoch, logs));
      }
      await call((cb) => cb.onTrainEnd());
    } catch (e) {
      // Let callbacks close what they opened (TensorBoard files, the progress line); the first error wins.
      for (const cb of list) {
        try {
          await cb.onTrainEnd();
        } catch {
          /* already failing */
        }
      }
      throw e;
    } finally {
      train.release();
      val?.release();
    }
    if (aborted) throw abortError();
    return history;
  }

  /**
   * Sample-weighted mean loss and accuracy over rows [from, from+n) of a prepared source (rows are read
   * through index buffer `slot`, or through `idxPtr` when given).
   */
  private evaluatePrepared(p: Prepared, from: number, n: number, batchSize: number, slot: number, idxPtr?: number): { loss: number; accuracy: number } {
    let ptr = idxPtr;
    if (ptr === undefined) {
      const ib = this.indexBuffer(slot, p.n);
      const v = ib.view();
      for (let i = 0; i < p.n; i++) v[i] = i;
      ptr = ib.ptr;
    }
    let loss = 0;
    let acc = 0;
    for (let s = 0; s < n; s += batchSize) {
      const bs = Math.min(batchSize, n - s);
      const plan = this.plan('eval', bs, p.source, ptr);
      plan.run(from + s);
      loss += plan.loss() * bs;
      acc += plan.accuracy() * bs;
    }
    return { loss: loss / n, accuracy: acc / n };
  }

  /** Loss (and accuracy when compiled with it) over a dataset: `[loss, accuracy]` or `loss`. */
  evaluate(x: Input, y: Input, args: EvaluateArgs = {}): number | number[] {
    const c = this.requireCompiled('evaluate');
    const batchSize = args.batchSize ?? 32;
    const verbose = args.verbose ?? 0;
    checkPositiveInt('evaluate: batchSize', batchSize);
    if (![0, 1, 2].includes(verbose)) throw new Error(`evaluate: verbose must be 0, 1 or 2, got ${verbose}`);
    const p = this.prepare(x, y, 'evaluate');
    try {
      const t0 = performance.now();
      const r = this.evaluatePrepared(p, 0, p.n, batchSize, 1);
      if (verbose > 0) {
        // Keras' closing line of an evaluation: steps, time, then the metrics
        const steps = Math.ceil(p.n / batchSize);
        const logs: Logs = { loss: r.loss };
        if (c.metrics.length) logs[c.metrics[0]] = r.accuracy;
        const secs = (performance.now() - t0) / 1000;
        console.log(`${steps}/${steps} - ${Math.round(secs)}s - ${formatStepTime(secs / steps)}${formatLogs(logs)}`);
      }
      return c.metrics.length ? [r.loss, r.accuracy] : r.loss;
    } finally {
      p.release();
    }
  }

  /** Outputs of the last layer (inference mode: no dropout), as a float32 tensor [n, units]. */
  predict(x: Input, args: { batchSize?: number } = {}): Tensor {
    this.assertAlive();
    this.build();
    const batchSize = args.batchSize ?? 32;
    checkPositiveInt('predict: batchSize', batchSize);
    const p = this.prepare(x, undefined, 'predict');
    try {
      const units = this.outputShape[0];
      const out = Tensor.alloc([p.n, units], 'float32', this.b!);
      const ib = this.indexBuffer(1, p.n);
      const v = ib.view();
      for (let i = 0; i < p.n; i++) v[i] = i;
      for (let s = 0; s < p.n; s += batchSize) {
        const bs = Math.min(batchSize, p.n - s);
        const plan = this.plan('predict', bs, p.source, ib.ptr);
        plan.run(s);
        const f32 = this.b!.views().f32;
        (out.storageView() as Float32Array).set(f32.subarray(plan.outputPtr >>> 2, (plan.outputPtr >>> 2) + bs * units), s * units);
      }
      return out;
    } finally {
      p.release();
    }
  }

  /** One optimizer step on one batch; returns the batch's `[loss, accuracy]` (or `loss`). */
  trainOnBatch(x: Input, y: Input): number | number[] {
    const c = this.requireCompiled('trainOnBatch');
    const p = this.prepare(x, y, 'trainOnBatch');
    try {
      const ib = this.indexBuffer(2, p.n);
      const v = ib.view();
      for (let i = 0; i < p.n; i++) v[i] = i;
      const plan = this.plan('train', p.n, p.source, ib.ptr);
      c.optimizer.iterations++;
      plan.run(0, c.optimizer.iterations, this.dropoutStep++, nextU32());
      return c.metrics.length ? [plan.loss(), plan.accuracy()] : plan.loss();
    } finally {
      p.release();
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // weights

  /** Copies of all weights, Keras order: layer by layer, kernel then bias. */
  getWeights(): Tensor[] {
    this.build();
    return this.layers.flatMap((l) => l.weights.map((w) => {
      const t = Tensor.alloc(w.tensor.shape, 'float32', this.b!);
      (t.storageView() as Float32Array).set(w.tensor.storageView() as Float32Array);
      return t;
    }));
  }

  /** Sets all weights from tensors (or tfjs tensors) in getWeights() order; shapes must match. */
  setWeights(weights: (Tensor | TensorLike)[]): void {
    this.build();
    const targets = this.layers.flatMap((l) => l.weights);
    if (!Array.isArray(weights) || weights.length !== targets.length)
      throw new Error(`setWeights: expected ${targets.length} tensors (kernel and bias per Dense layer), got ${Array.isArray(weights) ? weights.length : typeof weights}`);
    targets.forEach((w, i) => {
      const s = weights[i].shape;
      if (s.join(',') !== w.tensor.shape.join(','))
        throw new Error(`setWeights: weight ${i} (${w.name}) has shape [${w.tensor.shape}], got [${s}]`);
    });
    targets.forEach((w, i) => {
      const d = weights[i].dataSync();
      for (let j = 0; j < d.length; j++) if (!Number.isFinite(d[j])) throw new Error(`setWeights: weight ${i} (${w.name}) contains NaN or Infinity`);
      (w.tensor.storageView() as Float32Array).set(d);
    });
  }

  /** For callbacks: weights as raw arrays. */
  getWeightsRaw(): Float32Array[] {
    return this.layers.flatMap((l) => l.weights.map((w) => (w.tensor.storageView() as Float32Array).slice()));
  }

  setWeightsFrom(values: Float32Array[]): void {
    const targets = this.layers.flatMap((l) => l.weights);
    targets.forEach((w, i) => (w.tensor.storageView() as Float32Array).set(values[i]));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposePlans();
    if (this.b && !this.b.isDisposed) for (const ib of this.indexBuffers.values()) this.b.arena.release(ib.ptr);
    this.indexBuffers.clear();
    // Only this model's optimizer state: an optimizer object may be shared with other models.
    this.compiled?.optimizer.dispose(this.paramKeys());
    for (const l of this.layers) l.dispose();
    this.disposed = true;
  }

  /**
   * Saves the model: `'model.keras'` writes Keras 3's format (keras.ts); a directory, 'memory' or a tfjs
   * IOHandler tfjs-layers' format (io.ts).
   */
  save(destination: `${string}.keras`): Promise<KerasSaveResult>;
  save(destination: SaveDestination): Promise<SaveResult>;
  async save(destination: SaveDestination): Promise<SaveResult | KerasSaveResult> {
    const { saveModel } = await import('./files.js');
    return saveModel(this, destination);
  }
}

function checkPositiveInt(what: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new Error(`${what} must be a positive integer, got ${v}`);
}

function countNonFinite(t: Tensor): number {
  const b = t.backend;
  const res = b.arena.alloc(16);
  try {
    runOp(Op.COUNT_NONFINITE, [t.size, t.ptr, res], b);
    return b.views().u32[res >>> 2];
  } finally {
    b.arena.release(res);
  }
}

function abortError(): Error {
  const e = new Error('fit: aborted by its AbortSignal');
  e.name = 'AbortError';
  return e;
}

export function sequential(args?: { layers?: Layer[]; name?: string } | Layer[]): Sequential {
  return new Sequential(args);
}
