/**
 * The training loop (Keras' `fit`) and single training steps, apart from the model class as in tfjs:
 * batches are gathered through a shuffled index buffer and each step is one plan run (one call into wasm).
 */
import { Callback, type FitParams, type Logs } from '../callbacks/base.js';
import { History } from '../callbacks/history.js';
import { ProgressBarLogger } from '../callbacks/progress.js';
import { getRandomState, nextU32, setRandomState, shuffleInPlace } from '../random.js';
import type { Tensor, TensorLike } from '../tensor.js';
import { setFitControl, type FitControl, type FitPosition } from './fit-state.js';
import { checkArgs, checkPositiveInt, evaluatePrepared } from './inference.js';
import { Slot, prepare, type Input, type Prepared } from './inputs.js';
import type { ModelCore } from './model-core.js';
import type { Plan } from './plan.js';

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


const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((r) => setImmediate(r)) : () => new Promise((r) => setTimeout(r, 0));

/** Models being trained: one fit at a time per model, as two would share its index buffers, optimizer steps and dropout counter. */
const fitting = new WeakSet<ModelCore>();

function disposedDuringFit(model: ModelCore, where: string): Error {
  return new Error(`fit: the model ${model.name} was disposed while it was being trained (seen ${where}; by a callback?); training stopped`);
}

/** Keras' fit: epochs of shuffled batches, callbacks, validation; resolves to the History. */
export async function fit(model: ModelCore, x: Input, y: Input, args: FitArgs = {}): Promise<History> {
  checkArgs('fit', args);
  if (fitting.has(model)) throw new Error(`fit: ${model.name} is already being trained by another fit() call; await it first`);
  fitting.add(model);
  const mark = model.compiled ? model.indexBuffers.mark() : undefined; // compiled implies built
  try {
    return await fitOnce(model, x, y, args);
  } catch (e) {
    if (mark) model.indexBuffers.dropGrownSince(mark);
    throw e;
  } finally {
    fitting.delete(model);
  }
}

async function fitOnce(model: ModelCore, x: Input, y: Input, args: FitArgs): Promise<History> {
  const c = model.requireCompiled('fit');
  const batchSize = args.batchSize ?? 32;
  const epochs = args.epochs ?? 1;
  const initialEpoch = args.initialEpoch ?? 0;
  const verbose = args.verbose ?? 1;
  if (args.shuffle !== undefined && typeof args.shuffle !== 'boolean') throw new Error(`fit: shuffle must be true or false, got ${String(args.shuffle)}`);
  if (args.signal !== undefined && !(typeof args.signal === 'object' && args.signal !== null && 'aborted' in args.signal))
    throw new Error(`fit: signal must be an AbortSignal, got ${typeof args.signal}`);
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

  const b = model.backend;
  await b.ready(); // the worker pool of a lazily created backend
  const train = prepare(model, x, y, c.loss, 'fit');
  let val: Prepared | undefined;
  try {
    if (args.validationData) {
      if (!Array.isArray(args.validationData) || args.validationData.length < 2) throw new Error('fit: validationData must be [xVal, yVal]');
      val = prepare(model, args.validationData[0], args.validationData[1], c.loss, 'fit: validationData');
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
    cb.setModel(model);
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
  // Batch logs: one reused object unless a callback may keep them (ours declare that they only read them),
  // so that the default step loop allocates nothing.
  const freshLogs = list.some(
    (cb) => cb.keepsBatchLogs && (cb.onBatchBegin !== Callback.prototype.onBatchBegin || cb.onBatchEnd !== Callback.prototype.onBatchEnd),
  );

  const trainIdx = model.indexBuffers.identity(Slot.train, train.n);
  const accName = c.metrics[0];
  // One dropout seed per model, drawn at its first fit, so that fitting again (or after loading a model saved
  // with its optimizer) continues the masks of one unbroken run.
  model.dropoutSeed ??= nextU32();
  let dropoutSeed = model.dropoutSeed;
  const shared: Logs = { batch: 0, size: 0 };
  model.stopTraining = false;
  model.history = history;
  let lastYield = performance.now();
  let aborted = false;
  let fullPlan: Plan | undefined; // looked up once: the step loop allocates nothing
  // Where the loop is, for backups (fit-state.ts): the epoch and the batches of it done, the epoch's sums.
  let curEpoch = initialEpoch;
  let curBatch = 0;
  let lossSum = 0;
  let accSum = 0;
  let seen = 0;
  let resume: FitPosition | undefined;
  let completed = false;
  const control: FitControl = {
    steps,
    samples: nTrain,
    get completed() {
      return completed;
    },
    position: () => ({
      epoch: curEpoch,
      batch: curBatch,
      randomState: getRandomState(),
      dropoutSeed: model.dropoutSeed!,
      dropoutStep: model.dropoutStep,
      iterations: c.optimizer.iterations,
      lossSum,
      accSum,
      seen,
      order: trainIdx.view().slice(0, nTrain),
    }),
    resumeFrom: (p) => {
      if (p.order && p.order.length !== nTrain) throw new Error(`fit: cannot resume a run over ${p.order.length} samples on ${nTrain}`);
      if (p.batch > steps) throw new Error(`fit: cannot resume at batch ${p.batch} of an epoch of ${steps}`);
      resume = p;
    },
  };
  setFitControl(model, control);
  try {
    await call((cb) => cb.onTrainBegin());
    let firstEpoch = initialEpoch;
    if (resume) {
      // A callback put the weights and optimizer state back; the rest of the run's state goes back here.
      setRandomState(resume.randomState);
      model.dropoutSeed = dropoutSeed = resume.dropoutSeed;
      model.dropoutStep = resume.dropoutStep;
      c.optimizer.iterations = resume.iterations;
      if (resume.order) trainIdx.view().set(resume.order);
      firstEpoch = resume.epoch;
    }
    for (let epoch = firstEpoch; epoch < epochs && !model.stopTraining; epoch++) {
      curEpoch = epoch;
      let firstStep = 0;
      if (resume && resume.batch > 0 && epoch === resume.epoch) {
        // Mid-epoch: this epoch's order (restored above) and sums so far; its remaining batches follow.
        firstStep = resume.batch;
        lossSum = resume.lossSum;
        accSum = resume.accSum;
        seen = resume.seen;
      } else {
        if (args.shuffle ?? true) shuffleInPlace(trainIdx.view().subarray(0, nTrain));
        lossSum = 0;
        accSum = 0;
        seen = 0;
      }
      curBatch = firstStep;
      await call((cb) => cb.onEpochBegin(epoch));
      for (let step = firstStep; step < steps; step++) {
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
        if (model.isDisposed) throw disposedDuringFit(model, `before epoch ${epoch + 1}, batch ${step + 1}`);
        const plan = bs === batchSize ? (fullPlan ??= model.plans.get('train', bs, train.source, trainIdx.ptr)) : model.plans.get('train', bs, train.source, trainIdx.ptr);
        const opt = c.optimizer;
        opt.iterations++;
        plan.run(start, opt.iterations, model.dropoutStep++, dropoutSeed);
        const loss = plan.loss();
        if (!Number.isFinite(loss)) {
          rollBackStep(model, opt);
          throw new Error(
            `fit: the loss became ${loss} at epoch ${epoch + 1}, batch ${step + 1}; training stopped. ${rolledBack(model, 'this batch')} (try a lower learning rate, or check the data)`,
          );
        }
        lossSum += loss * bs;
        seen += bs;
        curBatch = step + 1;
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
        if (model.stopTraining) break;
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
      // What a backup taken at this epoch's end resumes from: the next epoch.
      curEpoch = epoch + 1;
      curBatch = 0;
      if (doValidation) {
        if (model.isDisposed) throw disposedDuringFit(model, `before the validation of epoch ${epoch + 1}`);
        const vr = val
          ? evaluatePrepared(model, val, 0, val.n, batchSize)
          : evaluatePrepared(model, train, nTrain, nVal, batchSize, trainIdx.ptr);
        logs.val_loss = vr.loss;
        if (accName) logs[`val_${accName}`] = vr.accuracy;
      }
      await call((cb) => cb.onEpochEnd(epoch, logs));
    }
    completed = !aborted;
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
    setFitControl(model, undefined);
    train.release();
    val?.release();
  }
  if (aborted) throw abortError();
  return history;
}


/** One optimizer step on one batch; returns the batch's `[loss, accuracy]` (or `loss`). */
export function trainOnBatch(model: ModelCore, x: Input, y: Input): number | number[] {
  const c = model.requireCompiled('trainOnBatch');
  const p = prepare(model, x, y, c.loss, 'trainOnBatch');
  const mark = model.indexBuffers.mark();
  try {
    const ib = model.indexBuffers.identity(Slot.batch, p.n);
    const plan = model.plans.get('train', p.n, p.source, ib.ptr);
    c.optimizer.iterations++;
    plan.run(0, c.optimizer.iterations, model.dropoutStep++, nextU32());
    const loss = plan.loss();
    if (!Number.isFinite(loss)) {
      rollBackStep(model, c.optimizer);
      throw new Error(`trainOnBatch: the loss became ${loss}. ${rolledBack(model, 'the batch')} (try a lower learning rate, or check the data)`);
    }
    return c.metrics.length ? [loss, plan.accuracy()] : loss;
  } catch (e) {
    model.indexBuffers.dropGrownSince(mark);
    throw e;
  } finally {
    p.release();
  }
}

/**
 * A step whose loss is not finite stops inside the program before its backward pass (the guard op after the
 * loss), so its update never happened: the counters it advanced go back too.
 */
function rollBackStep(model: ModelCore, opt: { iterations: number }): void {
  opt.iterations--;
  model.dropoutStep--;
}

/** What the error of a non-finite loss says about the weights left in the model. */
function rolledBack(model: ModelCore, what: string): string {
  const finite = model.layers.every((l) => l.weights.every((w) => (w.tensor.storageView() as Float32Array).every(Number.isFinite)));
  return (
    `The weights and optimizer state are those of the last step with a finite loss (${what} was not applied)` +
    (finite ? '.' : ', but they already hold NaN or Infinity (an earlier step overflowed without a non-finite loss).')
  );
}

function abortError(): Error {
  const e = new Error('fit: aborted by its AbortSignal');
  e.name = 'AbortError';
  return e;
}
