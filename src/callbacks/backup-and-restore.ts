/**
 * Keras' BackupAndRestore, resuming bit for bit: a run killed at any point (SIGKILL included) and started
 * again with the same program continues from its last backup and ends with the weights an unbroken run ends
 * with. A backup holds the weights, the optimizer's state (Adam's m and v, momentum buffers, the step count),
 * the epoch and the batches of it done, the global random generator, the model's dropout seed and step, the
 * epoch's sample order and its running loss sums (fit-state.ts).
 *
 * A backup is a manifest (the position, and name, size and CRC-32C of the data) and the data (the arrays),
 * kept in `backupDir` — a directory in Node, `indexeddb://<name>` in browsers — so that a backup killed
 * half-way leaves the previous one valid (backup-store.ts). What Keras' checkpoint restores and this does
 * not: other callbacks' state (EarlyStopping's patience, TensorBoard's steps), as in Keras.
 */
import { Callback } from './base.js';
import type { Layer } from '../layers.js';
import type { Optimizer } from '../optimizers.js';
import { fitControl, type FitControl, type FitPosition } from '../model/fit-state.js';
import { applyOptimizerVariables, optimizerVariables, type OptimizerVariable } from '../model/optimizer-state.js';
import { concatBytes, errorMessage } from '../platform.js';
import { crc32c } from '../tensorboard/crc32c.js';
import { backupStore, DATA_FILE, type BackupStore, type StoredBackup } from './backup-store.js';

export interface BackupAndRestoreArgs {
  /** `'epoch'` (default): back up at the end of every epoch. A number N: every N batches. */
  saveFreq?: 'epoch' | number;
  /** Delete the backup when training completes (default true; kept when fit fails or is aborted). */
  deleteCheckpoint?: boolean;
}

const FORMAT = 'wasm-layers-backup';

/** What the callback needs of the model being trained (a Sequential). */
interface TrainedModel {
  readonly name: string;
  readonly layers: readonly Layer[];
  readonly optimizer?: Optimizer;
}

interface ArrayEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

interface Manifest {
  format: typeof FORMAT;
  version: 1;
  model: string;
  data: string;
  bytes: number;
  crc32c: number;
  optimizer: { className: string; learningRate: number };
  steps: number;
  samples: number;
  position: Omit<FitPosition, 'order'>;
  weights: ArrayEntry[];
  optimizerVariables: ArrayEntry[];
  order: ArrayEntry | null;
}

/** Keras' BackupAndRestore (see the module comment); `fit` must run with it from its first call on. */
export class BackupAndRestore extends Callback {
  override readonly keepsBatchLogs = false;
  readonly backupDir: string;
  readonly saveFreq: 'epoch' | number;
  readonly deleteCheckpoint: boolean;
  private readonly store: BackupStore;
  private batchesSinceSave = 0;

  /** `backupDir`: a directory (Node), or `'indexeddb://<name>'` (browsers and their workers). */
  constructor(backupDir: string, args: BackupAndRestoreArgs = {}) {
    super();
    if (typeof backupDir !== 'string' || backupDir === '') throw new Error(`backupAndRestore: backupDir must be a non-empty directory path or 'indexeddb://<name>', got ${backupDir === '' ? "''" : typeof backupDir}`);
    if (args === null || typeof args !== 'object') throw new Error(`backupAndRestore(backupDir, args) takes an object such as { saveFreq: 'epoch' }, got ${args === null ? 'null' : typeof args}`);
    const f = args.saveFreq ?? 'epoch';
    if (f !== 'epoch' && !(Number.isInteger(f) && (f as number) > 0)) throw new Error(`backupAndRestore: saveFreq must be 'epoch' or a positive integer (batches), got ${JSON.stringify(f)}`);
    if (args.deleteCheckpoint !== undefined && typeof args.deleteCheckpoint !== 'boolean') throw new Error(`backupAndRestore: deleteCheckpoint must be true or false, got ${String(args.deleteCheckpoint)}`);
    this.backupDir = backupDir.startsWith('file://') ? backupDir.slice('file://'.length) : backupDir;
    this.saveFreq = f;
    this.deleteCheckpoint = args.deleteCheckpoint ?? true;
    this.store = backupStore(backupDir);
  }

  private get trained(): TrainedModel {
    return this.model as unknown as TrainedModel;
  }

  private control(): FitControl {
    const c = fitControl(this.model);
    if (!c) throw new Error('backupAndRestore: this callback works inside model.fit() only');
    return c;
  }

  private optimizer(): Optimizer {
    const o = this.trained.optimizer;
    if (!o) throw new Error('backupAndRestore: the model is not compiled');
    return o;
  }

  override async onTrainBegin(): Promise<void> {
    this.batchesSinceSave = 0;
    const stored = await this.store.read();
    if (stored) await this.restore(stored, this.parseManifest(stored.manifest));
  }

  override async onBatchEnd(): Promise<void> {
    if (this.saveFreq === 'epoch') return;
    if (++this.batchesSinceSave >= this.saveFreq) {
      this.batchesSinceSave = 0;
      await this.save();
    }
  }

  override async onEpochEnd(): Promise<void> {
    if (this.saveFreq === 'epoch') await this.save();
  }

  override async onTrainEnd(): Promise<void> {
    // Only a run that completed: after an error or an abort the backup is what the next run resumes from.
    if (!this.deleteCheckpoint || !fitControl(this.model)?.completed) return;
    await this.store.remove();
  }

  // -------------------------------------------------------------------------------------------------

  private parseManifest(bytes: Uint8Array): Manifest {
    const file = this.store.where;
    let m: Manifest;
    try {
      m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    } catch (e) {
      throw new Error(`backupAndRestore: ${file} is not valid JSON (${errorMessage(e)}); remove that backup to start over`);
    }
    if (m?.format !== FORMAT || m.version !== 1 || typeof m.data !== 'string' || !DATA_FILE.test(m.data))
      throw new Error(`backupAndRestore: ${file} is not a backup of this library (format ${JSON.stringify(m?.format)}, version ${JSON.stringify(m?.version)})`);
    return m;
  }

  private async restore(stored: StoredBackup, m: Manifest): Promise<void> {
    const where = `backupAndRestore: the backup in ${this.backupDir}`;
    const control = this.control();
    const o = this.optimizer();
    const data = await stored.data(m.data, m.bytes);
    if (!data) throw new Error(`${where} names ${m.data}, which does not exist`);
    if (data.length !== m.bytes || crc32c(data) !== m.crc32c) throw new Error(`${where}: ${m.data} is damaged (size or CRC-32C does not match its manifest)`);
    if (m.steps !== control.steps || m.samples !== control.samples)
      throw new Error(`${where} was made by a fit of ${m.samples} samples in ${m.steps} batches per epoch; this fit has ${control.samples} in ${control.steps} (same data and batchSize needed to resume)`);
    if (m.optimizer.className !== o.className) throw new Error(`${where} was made with the optimizer ${m.optimizer.className}; this model is compiled with ${o.className}`);
    // By position, as Keras restores a backup: names depend on what else the process built before.
    const weights = this.trained.layers.flatMap((l) => l.weights);
    const shapes = weights.map((w) => `[${w.tensor.shape}]`);
    const saved = m.weights.map((e) => `[${e.shape}]`);
    if (shapes.join(';') !== saved.join(';')) throw new Error(`${where} holds weights of shapes ${saved.join(', ')}; this model has ${shapes.join(', ')}`);
    const read = (e: ArrayEntry): Float32Array | Int32Array => {
      const bytes = data.slice(e.offset, e.offset + e.length * 4); // a copy: aligned, and owned
      if (bytes.length !== e.length * 4) throw new Error(`${where}: ${e.name} lies outside ${m.data}`);
      return e.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
    };
    const values = m.weights.map(read) as Float32Array[];
    const vars: OptimizerVariable[] = m.optimizerVariables.map((e) => ({ name: e.name, shape: e.shape, dtype: e.dtype, data: read(e) }));
    const order = m.order ? (read(m.order) as Int32Array) : undefined;
    applyOptimizerVariables(this.trained.layers, o, vars, where);
    weights.forEach((w, i) => (w.tensor.storageView() as Float32Array).set(values[i]));
    o.learningRate = m.optimizer.learningRate;
    control.resumeFrom({ ...m.position, ...(order ? { order } : {}) });
  }

  /** Writes a backup of the state now (atomically: see backup-store.ts). */
  private async save(): Promise<void> {
    const control = this.control();
    const o = this.optimizer();
    const pos = control.position();
    const parts: Uint8Array[] = [];
    let offset = 0;
    const add = (name: string, shape: number[], d: Float32Array | Int32Array): ArrayEntry => {
      const e: ArrayEntry = { name, shape, dtype: d instanceof Int32Array ? 'int32' : 'float32', offset, length: d.length };
      parts.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice());
      offset += d.byteLength;
      return e;
    };
    const weights = this.trained.layers.flatMap((l) => l.weights).map((w) => add(w.name, [...w.tensor.shape], w.tensor.storageView() as Float32Array));
    const vars = optimizerVariables(this.trained.layers, o).map((v) => add(v.name, v.shape, v.data));
    const order = pos.order ? add('order', [pos.order.length], pos.order) : null;
    const bytes = concatBytes(parts);
    const crc = crc32c(bytes);
    const dataName = this.store.dataName(bytes, crc);
    const { order: _order, ...position } = pos;
    const manifest: Manifest = {
      format: FORMAT,
      version: 1,
      model: this.trained.name,
      data: dataName,
      bytes: bytes.length,
      crc32c: crc,
      optimizer: { className: o.className, learningRate: o.learningRate },
      steps: control.steps,
      samples: control.samples,
      position,
      weights,
      optimizerVariables: vars,
      order,
    };
    await this.store.write(dataName, bytes, JSON.stringify(manifest));
  }
}

/** `callbacks.backupAndRestore(backupDir, { saveFreq, deleteCheckpoint })`: see {@link BackupAndRestore}. */
export const backupAndRestore = (backupDir: string, args?: BackupAndRestoreArgs) => new BackupAndRestore(backupDir, args);
