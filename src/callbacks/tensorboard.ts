/**
 * Keras-style TensorBoard callback: writes `<logDir>/train` and `<logDir>/validation` runs that TensorBoard's
 * scalars, histograms and distributions dashboards read, with the tags Keras 2.13
 * (`tf.keras.callbacks.TensorBoard`) uses:
 *
 * | run          | tag                                  | step                          | when                        |
 * | ------------ | ------------------------------------ | ----------------------------- | --------------------------- |
 * | train        | `epoch_<metric>` (`epoch_loss`, …)    | epoch index                   | every epoch                 |
 * | validation   | `epoch_<metric>` (`val_` stripped)    | epoch index                   | epochs with `val_*` logs    |
 * | validation   | `evaluation_<metric>_vs_iterations`   | training batches so far       | epochs with `val_*` logs    |
 * | train        | `batch_<metric>`                     | training batches so far (1…)  | `updateFreq: N`, every N    |
 * | train        | `<weight name, ':'→'_'>/histogram`    | epoch index                   | `epoch % histogramFreq == 0`|
 *
 * Every log key is written (so `lr` / `learning_rate` set by a learning-rate callback appears as
 * `epoch_lr` / `epoch_learning_rate`, as in Keras). Scalars are DT_FLOAT tensor summaries with plugin
 * "scalars"; histograms DT_DOUBLE `[30, 3]` tensors with plugin "histograms" (see `EventFileWriter`).
 * Both runs are flushed (and fsynced) at every epoch end, and closed at the end of training.
 *
 * Left out, compared with Keras 2.13 (none of it feeds the scalars/histograms/distributions dashboards):
 *  - the `graph_def` event (`write_graph`) and the `keras` model-config summary (plugin
 *    `graph_keras_model`, a DT_STRING JSON tensor at step 0) shown by the graphs dashboard;
 *  - `epoch_learning_rate` computed from an optimizer learning-rate *schedule* (callbacks cannot see the
 *    optimizer here; a logged `lr`/`learning_rate` is written like any metric);
 *  - `write_steps_per_second`, `write_images`, embeddings/projector, and profiling (`profile_batch`).
 * Also, the `evaluation_*_vs_iterations` step is the number of training batches seen by this callback since
 * `onTrainBegin` (Keras uses `optimizer.iterations`, which keeps counting across `fit` calls).
 *
 * Where `node:fs` is missing (browsers), or with `writeTo: 'memory'`, the files are kept in memory:
 * `files()` returns `{ path, bytes }` for each, to download and drop into a log directory.
 */

import { Callback, type Logs } from './base.js';
import { EventFileWriter } from '../tensorboard/writer.js';

export interface TensorBoardOptions {
  /** Write weight histograms every this many epochs (when `epoch % histogramFreq === 0`); 0 (default) = never. */
  histogramFreq?: number;
  /** `'epoch'` (default): epoch summaries only. A number N (or `'batch'` = 1): also `batch_*` every N batches. */
  updateFreq?: 'epoch' | 'batch' | number;
  /** `'auto'` (default): files when `node:fs` is available, else memory. `'memory'`: always memory. */
  writeTo?: 'auto' | 'memory';
}

/** An event file kept in memory, with the path it should get inside a log directory. */
export interface TensorBoardFile {
  path: string;
  bytes: Uint8Array;
}

/** Keras' histogram tag for a weight: `dense/kernel:0` → `dense/kernel_0/histogram`. */
export function histogramTag(weightName: string): string {
  return `${weightName.replace(/:/g, '_')}/histogram`;
}

function joinDir(dir: string, name: string): string {
  const trimmed = dir.replace(/[\\/]+$/, '');
  return trimmed ? `${trimmed}/${name}` : name;
}

export class TensorBoard extends Callback {
  override readonly keepsBatchLogs = false;
  readonly logDir: string;
  readonly histogramFreq: number;
  readonly updateFreq: 'epoch' | number;
  readonly writeTo: 'auto' | 'memory';

  private trainWriter: EventFileWriter | undefined;
  private valWriter: EventFileWriter | undefined;
  private opening = new Map<'train' | 'validation', Promise<EventFileWriter>>();
  private readonly writers: EventFileWriter[] = [];
  /** Training batches seen since `onTrainBegin` (Keras' `_train_step` after each batch). */
  private globalStep = 0;
  private batchesThisEpoch = 0;

  constructor(logDir: string, opts: TensorBoardOptions = {}) {
    super();
    const histogramFreq = opts.histogramFreq ?? 0;
    if (!Number.isInteger(histogramFreq) || histogramFreq < 0) {
      throw new RangeError(`histogramFreq must be a non-negative integer, got ${histogramFreq}`);
    }
    const updateFreq = opts.updateFreq ?? 'epoch';
    if (updateFreq !== 'epoch' && updateFreq !== 'batch' && !(Number.isInteger(updateFreq) && updateFreq > 0)) {
      throw new RangeError(`updateFreq must be 'epoch', 'batch' or a positive integer, got ${String(updateFreq)}`);
    }
    const writeTo = opts.writeTo ?? 'auto';
    if (writeTo !== 'auto' && writeTo !== 'memory') throw new RangeError(`writeTo must be 'auto' or 'memory'`);
    this.logDir = logDir;
    this.histogramFreq = histogramFreq;
    this.updateFreq = updateFreq === 'batch' ? 1 : updateFreq;
    this.writeTo = writeTo;
  }

  private async run(name: 'train' | 'validation'): Promise<EventFileWriter> {
    const current = name === 'train' ? this.trainWriter : this.valWriter;
    if (current && !current.isClosed) return current;
    let opening = this.opening.get(name);
    if (!opening) {
      opening = EventFileWriter.open(joinDir(this.logDir, name), { writeTo: this.writeTo });
      this.opening.set(name, opening);
    }
    try {
      const writer = await opening;
      if (name === 'train') this.trainWriter = writer;
      else this.valWriter = writer;
      if (!this.writers.includes(writer)) this.writers.push(writer);
      return writer;
    } finally {
      this.opening.delete(name);
    }
  }

  private async closeWriters(): Promise<void> {
    const open = [this.trainWriter, this.valWriter].filter((w): w is EventFileWriter => !!w && !w.isClosed);
    this.trainWriter = undefined;
    this.valWriter = undefined;
    await Promise.all(open.map((w) => w.close()));
  }

  override async onTrainBegin(_logs?: Logs): Promise<void> {
    // A new fit: new event files (as Keras, which makes new writers in set_model).
    await this.closeWriters();
    this.globalStep = 0;
    this.batchesThisEpoch = 0;
    // Keras creates the train writer up front; the validation one only when validation logs arrive.
    await this.run('train');
  }

  override async onBatchEnd(_batch: number, logs?: Logs): Promise<void> {
    this.globalStep++;
    this.batchesThisEpoch++;
    if (this.updateFreq === 'epoch' || this.globalStep % this.updateFreq !== 0 || !logs) return;
    const entries = Object.entries(logs).filter(
      ([k, v]) => typeof v === 'number' && !k.startsWith('val_') && k !== 'batch' && k !== 'size',
    );
    if (entries.length === 0) return;
    const train = await this.run('train');
    for (const [k, v] of entries) train.scalar(`batch_${k}`, v, this.globalStep);
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    // Driven without batch hooks: assume a full epoch of batches went by.
    if (this.batchesThisEpoch === 0 && this.params?.steps) this.globalStep += this.params.steps;
    this.batchesThisEpoch = 0;

    const trainLogs: [string, number][] = [];
    const valLogs: [string, number][] = [];
    for (const [k, v] of Object.entries(logs ?? {})) {
      if (typeof v !== 'number') continue;
      if (k.startsWith('val_')) valLogs.push([k.slice(4), v]);
      else trainLogs.push([k, v]);
    }

    const train = await this.run('train');
    const val = valLogs.length > 0 ? await this.run('validation') : undefined;
    // Keras writes these from on_test_end, i.e. before the epoch summaries.
    if (val) for (const [k, v] of valLogs) val.scalar(`evaluation_${k}_vs_iterations`, v, this.globalStep);
    for (const [k, v] of trainLogs) train.scalar(`epoch_${k}`, v, epoch);
    if (val) for (const [k, v] of valLogs) val.scalar(`epoch_${k}`, v, epoch);

    if (this.histogramFreq > 0 && epoch % this.histogramFreq === 0 && this.model) {
      for (const layer of this.model.layers) {
        for (const weight of layer.weightViews) train.histogram(histogramTag(weight.name), weight.read(), epoch);
      }
    }

    await Promise.all([train.flush(), val?.flush()]);
  }

  override async onTrainEnd(_logs?: Logs): Promise<void> {
    await this.closeWriters();
  }

  /** Paths of every event file this callback has written, in creation order. */
  paths(): string[] {
    return this.writers.map((w) => w.path);
  }

  /**
   * The event files kept in memory (`writeTo: 'memory'`, or a runtime without `node:fs`), with the paths
   * they should get under the log directory. Files written to disk are not included (see `paths()`).
   */
  files(): TensorBoardFile[] {
    return this.writers.filter((w) => w.kind === 'memory').map((w) => ({ path: w.path, bytes: w.bytes() }));
  }
}

/** `tensorBoard('logs/run1', { histogramFreq: 1 })`: see {@link TensorBoard}. */
export function tensorBoard(logDir: string, opts?: TensorBoardOptions): TensorBoard {
  return new TensorBoard(logDir, opts);
}
