/**
 * Keras' BackupAndRestore, resuming bit for bit: a run killed at any point (SIGKILL included) and started
 * again with the same program continues from its last backup and ends with the weights an unbroken run ends
 * with. A backup holds the weights, the optimizer's state (Adam's m and v, momentum buffers, the step count),
 * the epoch and the batches of it done, the global random generator, the model's dropout seed and step, the
 * epoch's sample order and its running loss sums (fit-state.ts).
 *
 * On disk, in `backupDir`: `backup.<content hash>.bin` (the arrays) and `backup.json` (the manifest: the
 * position, and name, size and CRC-32C of the data file), written by platform.ts' `writeFilesAtomic`: the
 * data file under its own new name (temporary file, fsync, rename), then the manifest renamed over the old
 * one, then the old data file removed. So at every instant the manifest names a complete data file: a backup
 * killed half-way leaves the previous one valid. What Keras' checkpoint restores and this does not: other callbacks' state
 * (EarlyStopping's patience, TensorBoard's steps), as in Keras.
 */
import { Callback } from './base.js';
import type { Layer } from '../layers.js';
import type { Optimizer } from '../optimizers.js';
import { fitControl, type FitControl, type FitPosition } from '../model/fit-state.js';
import { applyOptimizerVariables, optimizerVariables, type OptimizerVariable } from '../model/optimizer-state.js';
import { concatBytes, errorMessage, readRegularFile, requireNode, versionedName, versionedPattern, writeFilesAtomic, type NodeModules } from '../platform.js';
import { crc32c } from '../tensorboard/crc32c.js';

export interface BackupAndRestoreArgs {
  /** `'epoch'` (default): back up at the end of every epoch. A number N: every N batches. */
  saveFreq?: 'epoch' | number;
  /** Delete the backup when training completes (default true; kept when fit fails or is aborted). */
  deleteCheckpoint?: boolean;
}

const MANIFEST = 'backup.json';
const FORMAT = 'wasm-layers-backup';
const DATA_FILE = versionedPattern('backup', '.bin');
/** Temporary files writeFilesAtomic makes for our files (left behind by a killed write). */
const TEMP_FILE = /^\.(backup\.json|backup\.[0-9a-f]{16}\.bin)\.\d+\.[a-z0-9]+\.tmp$/;
const MAX_MANIFEST_BYTES = 64 * 2 ** 20;

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
  private batchesSinceSave = 0;

  constructor(backupDir: string, args: BackupAndRestoreArgs = {}) {
    super();
    if (typeof backupDir !== 'string' || backupDir === '') throw new Error(`backupAndRestore: backupDir must be a non-empty directory path, got ${backupDir === '' ? "''" : typeof backupDir}`);
    if (args === null || typeof args !== 'object') throw new Error(`backupAndRestore(backupDir, args) takes an object such as { saveFreq: 'epoch' }, got ${args === null ? 'null' : typeof args}`);
    const f = args.saveFreq ?? 'epoch';
    if (f !== 'epoch' && !(Number.isInteger(f) && (f as number) > 0)) throw new Error(`backupAndRestore: saveFreq must be 'epoch' or a positive integer (batches), got ${JSON.stringify(f)}`);
    if (args.deleteCheckpoint !== undefined && typeof args.deleteCheckpoint !== 'boolean') throw new Error(`backupAndRestore: deleteCheckpoint must be true or false, got ${String(args.deleteCheckpoint)}`);
    this.backupDir = backupDir.startsWith('file://') ? backupDir.slice('file://'.length) : backupDir;
    this.saveFreq = f;
    this.deleteCheckpoint = args.deleteCheckpoint ?? true;
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
    const node = await requireNode('backupAndRestore');
    const m = await this.readManifest(node);
    if (m) await this.restore(node, m);
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
    const { fs, path } = await requireNode('backupAndRestore');
    // The manifest first: from then on there is no backup, whatever else a kill leaves behind.
    await fs.rm(path.join(this.backupDir, MANIFEST), { force: true });
    const names = await fs.readdir(this.backupDir).catch(() => [] as string[]);
    for (const n of names) if (DATA_FILE.test(n) || TEMP_FILE.test(n)) await fs.rm(path.join(this.backupDir, n), { force: true });
    await fs.rmdir(this.backupDir).catch(() => {}); // only when empty: the directory may hold other files
  }

  // -------------------------------------------------------------------------------------------------

  private async readManifest(node: NodeModules): Promise<Manifest | null> {
    const file = node.path.join(this.backupDir, MANIFEST);
    const bytes = await readRegularFile(file, MAX_MANIFEST_BYTES);
    if (!bytes) return null;
    let m: Manifest;
    try {
      m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    } catch (e) {
      throw new Error(`backupAndRestore: ${file} is not valid JSON (${errorMessage(e)}); delete the directory to start over`);
    }
    if (m?.format !== FORMAT || m.version !== 1 || typeof m.data !== 'string' || !DATA_FILE.test(m.data))
      throw new Error(`backupAndRestore: ${file} is not a backup of this library (format ${JSON.stringify(m?.format)}, version ${JSON.stringify(m?.version)})`);
    return m;
  }

  private async restore(node: NodeModules, m: Manifest): Promise<void> {
    const where = `backupAndRestore: the backup in ${this.backupDir}`;
    const control = this.control();
    const o = this.optimizer();
    const file = node.path.join(this.backupDir, m.data);
    const data = await readRegularFile(file, m.bytes);
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

  /** Writes a backup of the state now: data file, then manifest, then the old data file goes. */
  private async save(): Promise<void> {
    const { fs } = await requireNode('backupAndRestore');
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
    const dataName = versionedName('backup', bytes, '.bin');
    const { order: _order, ...position } = pos;
    const manifest: Manifest = {
      format: FORMAT,
      version: 1,
      model: this.trained.name,
      data: dataName,
      bytes: bytes.length,
      crc32c: crc32c(bytes),
      optimizer: { className: o.className, learningRate: o.learningRate },
      steps: control.steps,
      samples: control.samples,
      position,
      weights,
      optimizerVariables: vars,
      order,
    };
    await fs.mkdir(this.backupDir, { recursive: true }).catch((e: unknown) => {
      throw new Error(`backupAndRestore: cannot create ${this.backupDir}: ${errorMessage(e)}`);
    });
    // Old data files and killed backups' leftovers go once the new manifest is in place.
    await writeFilesAtomic(
      this.backupDir,
      { parts: [{ name: dataName, data: bytes }], manifest: { name: MANIFEST, data: JSON.stringify(manifest) }, stale: [DATA_FILE] },
      'backupAndRestore: ',
    );
  }
}

/** `callbacks.backupAndRestore(backupDir, { saveFreq, deleteCheckpoint })`: see {@link BackupAndRestore}. */
export const backupAndRestore = (backupDir: string, args?: BackupAndRestoreArgs) => new BackupAndRestore(backupDir, args);
