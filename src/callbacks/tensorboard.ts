/**
 * Keras-style TensorBoard callback: writes `<logDir>/train` and `<logDir>/validation` runs that TensorBoard's
 * scalars, histograms, distributions and graphs dashboards read, with the tags of current Keras
 * (`keras.callbacks.TensorBoard` in Keras 3; checked against real Keras 3.15 files):
 *
 * | run          | tag                                        | step                          | when                        |
 * | ------------ | ------------------------------------------ | ----------------------------- | --------------------------- |
 * | train        | `keras` (model config JSON, Graphs)        | 0                             | training begins             |
 * | train        | `epoch_<metric>` (`epoch_loss`, …)          | epoch index                   | every epoch                 |
 * | train        | `epoch_learning_rate`                      | epoch index                   | every epoch                 |
 * | validation   | `epoch_<metric>` (`val_` stripped)          | epoch index                   | epochs with `val_*` logs    |
 * | validation   | `evaluation_<metric>_vs_iterations`         | training batches so far       | epochs with `val_*` logs    |
 * | train        | `batch_<metric>`                           | training batches so far (1…)  | `updateFreq: N`, every N    |
 * | train        | `<model>/<layer>/<weight>/histogram`       | epoch index                   | `epoch % histogramFreq == 0`|
 *
 * Histogram tags use the weight's path (`sequential/dense/kernel/histogram`), as Keras 3.15 does.
 * `tagStyle: 'keras2'` writes tf.keras 2.x's names instead, to compare with old logs: histograms
 * `<layer>/<weight>_0/histogram` (`dense/kernel_0/histogram`), no `epoch_learning_rate`, and the model config in
 * Keras 2's JSON dialect (as tfjs-layers' model.json holds it: `{ class_name, config }`, `batch_input_shape`).
 * The `keras` tag is left out (with a warning) when the model cannot be serialised; `writeGraph: false` leaves
 * it out always.
 *
 * Every log key is written (so `lr` / `learning_rate` set by a learning-rate callback appears as
 * `epoch_lr` / `epoch_learning_rate`, as in Keras). Scalars are DT_FLOAT tensor summaries with plugin
 * "scalars"; histograms DT_DOUBLE `[30, 3]` tensors with plugin "histograms"; the model config a DT_STRING
 * tensor with plugin "graph_keras_model" (see `EventFileWriter`). Both runs are flushed (and fsynced) at every
 * epoch end, and closed at the end of training.
 *
 * Left out, compared with Keras: the `graph_def` event of a traced TF graph (there is none here; the Graphs
 * dashboard draws the model from the `keras` config instead), `write_steps_per_second`, `write_images`,
 * embeddings/projector, and profiling (`profile_batch`). The `evaluation_*_vs_iterations` step is the number
 * of training batches seen by this callback since `onTrainBegin` (Keras uses `optimizer.iterations`, which
 * keeps counting across `fit` calls).
 *
 * Where `node:fs` is missing (browsers), or with `writeTo: 'memory'`, the files are kept in memory:
 * `files()` returns `{ path, bytes }` for each, to download and drop into a log directory.
 */

import { Callback, type Logs } from './base.js';
import type { Compiled } from '../model/compile.js';
import { modelConfig, type ModelDescription } from '../model/topology.js';
import { kerasCompileConfig } from '../model/training-config.js';
import { EventFileWriter, kerasModelSummaryValue } from '../tensorboard/writer.js';

export interface TensorBoardOptions {
  /** Write weight histograms every this many epochs (when `epoch % histogramFreq === 0`); 0 (default) = never. */
  histogramFreq?: number;
  /** `'epoch'` (default): epoch summaries only. A number N (or `'batch'` = 1): also `batch_*` every N batches. */
  updateFreq?: 'epoch' | 'batch' | number;
  /** `'auto'` (default): files when `node:fs` is available, else memory. `'memory'`: always memory. */
  writeTo?: 'auto' | 'memory';
  /** `'keras3'` (default): current Keras' tag names. `'keras2'`: tf.keras 2.x's (see {@link TensorBoard}). */
  tagStyle?: 'keras3' | 'keras2';
  /** Write the model config under the `keras` tag for TensorBoard's Graphs dashboard (default true, Keras' `write_graph`). */
  writeGraph?: boolean;
}

/** An event file kept in memory, with the path it should get inside a log directory. */
export interface TensorBoardFile {
  path: string;
  bytes: Uint8Array;
}

/**
 * Keras' histogram tag for a weight. Keras 3 (default): the weight's path under the model,
 * `('dense/kernel:0', 'sequential')` → `sequential/dense/kernel/histogram`. Keras 2: `dense/kernel:0` →
 * `dense/kernel_0/histogram`.
 */
export function histogramTag(weightName: string, modelName?: string, style: 'keras3' | 'keras2' = modelName === undefined ? 'keras2' : 'keras3'): string {
  if (style === 'keras2') return `${weightName.replace(/:/g, '_')}/histogram`;
  const path = weightName.replace(/:\d+$/, '');
  return `${modelName ? `${modelName}/` : ''}${path}/histogram`;
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
  readonly tagStyle: 'keras3' | 'keras2';
  readonly writeGraph: boolean;

  private trainWriter: EventFileWriter | undefined;
  private valWriter: EventFileWriter | undefined;
  private opening = new Map<'train' | 'validation', Promise<EventFileWriter>>();
  private readonly writers: EventFileWriter[] = [];
  /** Training batches seen since `onTrainBegin` (Keras' `_train_step` after each batch). */
  private globalStep = 0;
  private batchesThisEpoch = 0;

  constructor(logDir: string, opts: TensorBoardOptions = {}) {
    super();
    if (typeof logDir !== 'string' || !logDir) throw new Error(`tensorBoard(logDir): logDir must be a non-empty directory path, got ${logDir === null ? 'null' : typeof logDir === 'string' ? 'an empty string' : typeof logDir}`);
    if (opts === null || typeof opts !== 'object') throw new Error(`tensorBoard(logDir, options): options must be an object, got ${opts === null ? 'null' : typeof opts}`);
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
    const tagStyle = opts.tagStyle ?? 'keras3';
    if (tagStyle !== 'keras3' && tagStyle !== 'keras2') throw new RangeError(`tagStyle must be 'keras3' or 'keras2', got ${String(tagStyle)}`);
    this.tagStyle = tagStyle;
    this.writeGraph = opts.writeGraph ?? true;
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
    const train = await this.run('train');
    if (this.writeGraph && this.model) {
      const config = this.modelConfig();
      if (config) {
        train.writeSummary([kerasModelSummaryValue('keras', JSON.stringify(config))], 0);
        await train.flush();
      }
    }
  }

  /**
   * The model config as Keras writes it (Keras 3's serialisation, or tfjs-layers' = Keras 2's for `keras2`),
   * or undefined when the model cannot be described; then, like Keras, warn and go on without it.
   */
  private modelConfig(): Record<string, unknown> | undefined {
    const m = this.model as unknown as Partial<ModelDescription> & { compiled?: Compiled };
    if (typeof m.name !== 'string' || !m.layers?.length || m.layers.some((l) => typeof l.toConfig !== 'function')) return undefined;
    try {
      const config = modelConfig(m as ModelDescription, this.tagStyle === 'keras3' ? 'keras3' : 'tfjs', 'tensorBoard');
      if (this.tagStyle === 'keras3' && m.compiled) config.compile_config = kerasCompileConfig(m.compiled);
      return config;
    } catch (e) {
      console.warn(`tensorBoard: the model config is not written (${(e as Error).message})`);
      return undefined;
    }
  }

  /** The optimizer's learning rate, for `epoch_learning_rate` (Keras 3 adds it to the train logs). */
  private learningRate(): number | undefined {
    const lr = (this.model as unknown as { optimizer?: { learningRate?: unknown } }).optimizer?.learningRate;
    return typeof lr === 'number' ? lr : undefined;
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
    if (this.tagStyle === 'keras3' && !trainLogs.some(([k]) => k === 'learning_rate')) {
      const lr = this.learningRate();
      if (lr !== undefined) trainLogs.push(['learning_rate', lr]);
    }

    const train = await this.run('train');
    const val = valLogs.length > 0 ? await this.run('validation') : undefined;
    // Keras writes these from on_test_end, i.e. before the epoch summaries.
    if (val) for (const [k, v] of valLogs) val.scalar(`evaluation_${k}_vs_iterations`, v, this.globalStep);
    for (const [k, v] of trainLogs) train.scalar(`epoch_${k}`, v, epoch);
    if (val) for (const [k, v] of valLogs) val.scalar(`epoch_${k}`, v, epoch);

    if (this.histogramFreq > 0 && epoch % this.histogramFreq === 0 && this.model) {
      const modelName = (this.model as { name?: unknown }).name;
      const prefix = typeof modelName === 'string' ? modelName : '';
      for (const layer of this.model.layers) {
        for (const weight of layer.weightViews) train.histogram(histogramTag(weight.name, prefix, this.tagStyle), weight.read(), epoch);
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
