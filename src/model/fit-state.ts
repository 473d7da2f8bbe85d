/**
 * Where a running `fit` is, as a backup needs it to resume a run bit for bit: the epoch and the batches of
 * it done, the random generator, the dropout seed and step, the current epoch's shuffled order and its
 * running loss sums. `fit` registers one control per model while it runs; callbacks (BackupAndRestore)
 * find it with `fitControl(model)`. The weights and the optimizer's state are not here: optimizer-state.ts.
 */

/** A point between two steps of a fit, from which it can continue as if it had never stopped. */
export interface FitPosition {
  /** The epoch in progress, or the next to start when `batch` is 0. */
  epoch: number;
  /** Batches of `epoch` done; 0 means the epoch has not started (its order is not drawn yet). */
  batch: number;
  /** The global generator (random.ts) at this point. */
  randomState: number[];
  /** The model's dropout seed and step counter. */
  dropoutSeed: number;
  dropoutStep: number;
  /** The optimizer's step count. */
  iterations: number;
  /** The epoch's running sums behind its logged loss and accuracy (when `batch` > 0). */
  lossSum: number;
  accSum: number;
  seen: number;
  /** The epoch's sample order (when `batch` > 0): indices into the training rows. */
  order?: Int32Array;
}

export interface FitControl {
  /** Batches per epoch and training samples of this fit (a backup of another run does not fit them). */
  readonly steps: number;
  readonly samples: number;
  /** The position now: call from onBatchEnd or onEpochEnd (during onEpochBegin the order is already drawn). */
  position(): FitPosition;
  /**
   * Continues this fit from `p` instead of its start; only from `onTrainBegin`, after the weights and the
   * optimizer's state were put back.
   */
  resumeFrom(p: FitPosition): void;
  /** True once every epoch ran (or a callback stopped training): what onTrainEnd is told on success. */
  readonly completed: boolean;
}

const controls = new WeakMap<object, FitControl>();

/** The control of the fit running on `model`, if any. */
export function fitControl(model: object): FitControl | undefined {
  return controls.get(model);
}

export function setFitControl(model: object, c: FitControl | undefined): void {
  if (c) controls.set(model, c);
  else controls.delete(model);
}
