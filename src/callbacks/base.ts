/** Keras-style logs: metric name → value (loss, accuracy, val_loss, val_accuracy, …). */
export type Logs = Record<string, number>;

/** A weight as callbacks see it: Keras' variable name (`dense/kernel:0`), its shape, and a copy of its values. */
export interface WeightView {
  readonly name: string;
  readonly shape: readonly number[];
  read(): Float32Array;
}

/** The part of a model that callbacks may use. */
export interface CallbackModel {
  readonly layers: ReadonlyArray<{ readonly name: string; readonly weightViews: readonly WeightView[] }>;
  /** Set by a callback to end `fit` after the current batch. */
  stopTraining: boolean;
  /** Copies of all weights, layer by layer (kernel, then bias). */
  getWeightsRaw(): Float32Array[];
  setWeightsFrom(values: Float32Array[]): void;
}

/** What `fit` tells callbacks about the run before it starts. */
export interface FitParams {
  epochs: number;
  initialEpoch: number;
  steps: number;
  batchSize: number;
  samples: number;
  verbose: 0 | 1 | 2;
  doValidation: boolean;
  metrics: string[];
}

/**
 * Base class of all callbacks. Hooks may be async; `fit` awaits each one, so a callback that writes files
 * has finished writing before the next epoch starts.
 */
export abstract class Callback {
  model!: CallbackModel;
  params!: FitParams;
  /**
   * Whether this callback may keep a batch's logs object after its onBatchBegin/onBatchEnd returns. When
   * no callback that has batch hooks keeps them, fit reuses one logs object for every batch, so that the
   * step loop allocates nothing. Callbacks that only read the logs during the call declare false.
   */
  readonly keepsBatchLogs: boolean = true;

  setModel(model: CallbackModel): void {
    this.model = model;
  }

  setParams(params: FitParams): void {
    this.params = params;
  }

  onTrainBegin(_logs?: Logs): void | Promise<void> {}
  onTrainEnd(_logs?: Logs): void | Promise<void> {}
  onEpochBegin(_epoch: number, _logs?: Logs): void | Promise<void> {}
  onEpochEnd(_epoch: number, _logs?: Logs): void | Promise<void> {}
  onBatchBegin(_batch: number, _logs?: Logs): void | Promise<void> {}
  onBatchEnd(_batch: number, _logs?: Logs): void | Promise<void> {}
}
