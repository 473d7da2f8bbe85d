/** Evaluation and prediction: forward passes over a dataset in batches, without updating weights. */
import { formatLogs, formatStepTime } from '../callbacks/progress.js';
import type { Logs } from '../callbacks/base.js';
import { Tensor } from '../tensor.js';
import { Slot, prepare, type Input, type Prepared } from './inputs.js';
import type { ModelCore } from './model-core.js';

export interface EvaluateArgs {
  batchSize?: number;
  /** 1 or 2 print one Keras-style line with the results; default 0 (silent). */
  verbose?: 0 | 1 | 2;
  /** As Keras' `return_dict=True`: `{ loss, accuracy? }` keyed by metric name instead of a number or array. */
  returnDict?: boolean;
}

/** The options argument of fit / evaluate / predict is an object. */
export function checkArgs(what: string, args: unknown): void {
  if (args === null || typeof args !== 'object' || Array.isArray(args))
    throw new Error(`${what}: the options argument must be an object (e.g. { batchSize: 32 }), got ${args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args}`);
}
/** What `evaluate` returns: the loss alone, `[loss, accuracy]` when compiled with a metric, or a dict. */
export type EvaluateResult = number | number[] | Record<string, number>;

export function checkPositiveInt(what: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new Error(`${what} must be a positive integer, got ${v}`);
}

/**
 * Sample-weighted mean loss and accuracy over rows [from, from+n) of a prepared source (rows are read
 * through the evaluation index buffer, or through `idxPtr` when given).
 */
export function evaluatePrepared(model: ModelCore, p: Prepared, from: number, n: number, batchSize: number, idxPtr?: number): { loss: number; accuracy: number } {
  const ptr = idxPtr ?? model.indexBuffers.identity(Slot.eval, p.n).ptr;
  let loss = 0;
  let acc = 0;
  for (let s = 0; s < n; s += batchSize) {
    const bs = Math.min(batchSize, n - s);
    const plan = model.plans.get('eval', bs, p.source, ptr);
    plan.run(from + s);
    loss += plan.loss() * bs;
    acc += plan.accuracy() * bs;
  }
  return { loss: loss / n, accuracy: acc / n };
}

/** Loss (and accuracy when compiled with it) over a dataset: `[loss, accuracy]` or `loss`. */
export function evaluate(model: ModelCore, x: Input, y: Input, args: EvaluateArgs = {}): EvaluateResult {
  const c = model.requireCompiled('evaluate');
  checkArgs('evaluate', args);
  const batchSize = args.batchSize ?? 32;
  const verbose = args.verbose ?? 0;
  checkPositiveInt('evaluate: batchSize', batchSize);
  if (![0, 1, 2].includes(verbose)) throw new Error(`evaluate: verbose must be 0, 1 or 2, got ${verbose}`);
  if (args.returnDict !== undefined && typeof args.returnDict !== 'boolean') throw new Error(`evaluate: returnDict must be a boolean, got ${JSON.stringify(args.returnDict)}`);
  const p = prepare(model, x, y, c.loss, 'evaluate');
  const mark = model.indexBuffers.mark();
  try {
    const t0 = performance.now();
    const r = evaluatePrepared(model, p, 0, p.n, batchSize);
    if (verbose > 0) {
      // Keras' closing line of an evaluation: steps, time, then the metrics
      const steps = Math.ceil(p.n / batchSize);
      const logs: Logs = { loss: r.loss };
      if (c.metrics.length) logs[c.metrics[0]] = r.accuracy;
      const secs = (performance.now() - t0) / 1000;
      console.log(`${steps}/${steps} - ${Math.round(secs)}s - ${formatStepTime(secs / steps)}${formatLogs(logs)}`);
    }
    if (args.returnDict) return c.metrics.length ? { loss: r.loss, [c.metrics[0]]: r.accuracy } : { loss: r.loss };
    return c.metrics.length ? [r.loss, r.accuracy] : r.loss;
  } catch (e) {
    model.indexBuffers.dropGrownSince(mark);
    throw e;
  } finally {
    p.release();
  }
}

/** Outputs of the last layer (inference mode: no dropout), as a float32 tensor [n, units]. */
export function predict(model: ModelCore, x: Input, args: { batchSize?: number } = {}): Tensor {
  model.build();
  checkArgs('predict', args);
  const batchSize = args.batchSize ?? 32;
  checkPositiveInt('predict: batchSize', batchSize);
  const p = prepare(model, x, undefined, undefined, 'predict');
  try {
    const b = model.backend;
    const units = model.outputShape[0];
    const out = Tensor.alloc([p.n, units], 'float32', b);
    const mark = model.indexBuffers.mark();
    try {
      const ib = model.indexBuffers.identity(Slot.eval, p.n);
      for (let s = 0; s < p.n; s += batchSize) {
        const bs = Math.min(batchSize, p.n - s);
        const plan = model.plans.get('predict', bs, p.source, ib.ptr);
        plan.run(s);
        const f32 = b.views().f32;
        (out.storageView() as Float32Array).set(f32.subarray(plan.outputPtr >>> 2, (plan.outputPtr >>> 2) + bs * units), s * units);
      }
      return out;
    } catch (e) {
      out.dispose(); // e.g. its plan did not fit in memory
      model.indexBuffers.dropGrownSince(mark);
      throw e;
    }
  } finally {
    p.release();
  }
}
