/**
 * Keras' ModelCheckpoint: saves the model (or its weights) at the end of every epoch, or every N batches,
 * or only when a monitored value improves. Where it goes follows the path, as in Keras:
 *
 *  - `'….keras'`: a Keras 3 `.keras` file (weights, compile config, optimizer state);
 *  - `'….weights.h5'` with `saveWeightsOnly`: Keras' weights file (`loadWeights(model, path)`, or Keras'
 *    `model.load_weights`), with the optimizer's state when the model is compiled;
 *  - any other path (a directory, `file://…`): tfjs-layers' model.json + weights.bin, with the optimizer's
 *    state (`includeOptimizer`, default true) so that the loaded model trains on exactly.
 *
 * The path may hold Python format fields filled from the epoch (1-based), the batch (1-based, with a number
 * `saveFreq`) and the logs: `'ckpt/{epoch:02d}-{val_loss:.2f}.keras'`. Every file is replaced atomically
 * (written beside, fsynced, renamed), so a crash mid-save leaves the previous checkpoint loadable.
 */
import { Callback, type Logs } from './base.js';
import type { Sequential } from '../model/sequential.js';
import { requireNode } from '../platform.js';

export interface ModelCheckpointArgs {
  /** The log to compare with `saveBestOnly` (default 'val_loss'). */
  monitor?: string;
  /** 0 (default): silent; 1: a line for every save or skip, as Keras prints it. */
  verbose?: 0 | 1;
  /** Save only when `monitor` improves on the best value so far (default false). */
  saveBestOnly?: boolean;
  /** Save the weights only: the path must end in `.weights.h5` (default false). */
  saveWeightsOnly?: boolean;
  /** 'auto' (default) reads the direction from the name (…acc… → max, else min). */
  mode?: 'auto' | 'min' | 'max';
  /** `'epoch'` (default), or a number N: every N batches. */
  saveFreq?: 'epoch' | number;
  /** The best value to beat at the start (with `saveBestOnly`). */
  initialValueThreshold?: number;
  /** For tfjs-format paths: save the optimizer's state too (default true). */
  includeOptimizer?: boolean;
}

/**
 * Python's `str.format` for the fields Keras fills in a checkpoint path: `{name}`, `{name:spec}` with specs
 * such as `02d`, `.2f`, `.4e`, `>5`, and `{{`/`}}` for braces. A field missing from `values` is an error.
 */
export function formatPath(template: string, values: Readonly<Record<string, number>>): string {
  return template.replace(/\{\{|\}\}|\{([^{}:]*)(?::([^{}]*))?\}/g, (m, name: string | undefined, spec: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const key = name ?? '';
    if (!(key in values)) throw new Error(`modelCheckpoint: cannot format the path '${template}': '${key}' is not among ${Object.keys(values).join(', ')}`);
    return formatValue(values[key], spec ?? '', template);
  });
}

function formatValue(v: number, spec: string, template: string): string {
  const m = /^(?:(.)?([<>=^]))?([+\- ])?(0)?(\d+)?(?:\.(\d+))?([dfFeEgG%])?$/.exec(spec);
  if (!m) throw new Error(`modelCheckpoint: unsupported format spec ':${spec}' in '${template}'`);
  const [, fillChar, align, sign, zero, widthS, precS, type] = m;
  const prec = precS === undefined ? undefined : Number(precS);
  let body: string;
  const a = Math.abs(v);
  if (!Number.isFinite(v)) body = Number.isNaN(v) ? 'nan' : 'inf';
  else if (type === 'd') {
    if (!Number.isInteger(v)) throw new Error(`modelCheckpoint: ':${spec}' in '${template}' needs an integer, got ${v}`);
    body = String(a);
  } else if (type === 'f' || type === 'F') body = a.toFixed(prec ?? 6);
  else if (type === 'e' || type === 'E') body = a.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
  else if (type === '%') body = (a * 100).toFixed(prec ?? 6) + '%';
  else if (type === 'g' || type === 'G' || prec !== undefined) body = String(Number(a.toPrecision(prec ?? 6)));
  else body = String(a);
  if (type === 'E' || type === 'F' || type === 'G') body = body.toUpperCase();
  const neg = v < 0 || Object.is(v, -0);
  const signStr = neg ? '-' : sign === '+' ? '+' : sign === ' ' ? ' ' : '';
  const width = widthS === undefined ? 0 : Number(widthS);
  if (zero && !align) return signStr + body.padStart(Math.max(0, width - signStr.length), '0');
  const s = signStr + body;
  const fill = fillChar ?? ' ';
  const pad = Math.max(0, width - s.length);
  const al = align ?? '>';
  if (al === '<') return s + fill.repeat(pad);
  if (al === '^') return fill.repeat(Math.floor(pad / 2)) + s + fill.repeat(Math.ceil(pad / 2));
  if (al === '=') return signStr + fill.repeat(pad) + body;
  return fill.repeat(pad) + s;
}

export class ModelCheckpoint extends Callback {
  override readonly keepsBatchLogs = false;
  readonly filepath: string;
  readonly monitor: string;
  readonly verbose: 0 | 1;
  readonly saveBestOnly: boolean;
  readonly saveWeightsOnly: boolean;
  readonly saveFreq: 'epoch' | number;
  readonly includeOptimizer: boolean;
  /** Best monitored value so far (undefined: none yet). */
  best?: number;
  private readonly initial?: number;
  private readonly sign: 1 | -1; // +1: lower is better
  private batchesSinceSave = 0;
  private epoch = 0;
  /** The files written so far, in order (paths as formatted). */
  readonly saved: string[] = [];

  constructor(filepath: string, args: ModelCheckpointArgs = {}) {
    super();
    if (typeof filepath !== 'string' || filepath === '') throw new Error(`modelCheckpoint: filepath must be a non-empty path, got ${filepath === '' ? "''" : typeof filepath}`);
    if (args === null || typeof args !== 'object') throw new Error(`modelCheckpoint(filepath, args) takes an object such as { monitor: 'val_loss', saveBestOnly: true }, got ${args === null ? 'null' : typeof args}`);
    this.filepath = filepath;
    this.monitor = args.monitor ?? 'val_loss';
    if (typeof this.monitor !== 'string' || !this.monitor) throw new Error(`modelCheckpoint: monitor must be a log name such as 'val_loss', got ${JSON.stringify(args.monitor)}`);
    this.verbose = args.verbose ?? 0;
    if (this.verbose !== 0 && this.verbose !== 1) throw new Error(`modelCheckpoint: verbose must be 0 or 1, got ${String(args.verbose)}`);
    for (const k of ['saveBestOnly', 'saveWeightsOnly', 'includeOptimizer'] as const)
      if (args[k] !== undefined && typeof args[k] !== 'boolean') throw new Error(`modelCheckpoint: ${k} must be true or false, got ${String(args[k])}`);
    this.saveBestOnly = args.saveBestOnly ?? false;
    this.saveWeightsOnly = args.saveWeightsOnly ?? false;
    this.includeOptimizer = args.includeOptimizer ?? true;
    const f = args.saveFreq ?? 'epoch';
    if (f !== 'epoch' && !(Number.isInteger(f) && (f as number) > 0)) throw new Error(`modelCheckpoint: saveFreq must be 'epoch' or a positive integer (batches), got ${JSON.stringify(f)}`);
    this.saveFreq = f;
    const mode = args.mode ?? 'auto';
    if (!['auto', 'min', 'max'].includes(mode)) throw new Error(`modelCheckpoint: mode must be 'auto', 'min' or 'max', got ${String(mode)}`);
    this.sign = mode === 'max' || (mode === 'auto' && /acc|auc/.test(this.monitor)) ? -1 : 1;
    if (args.initialValueThreshold !== undefined && typeof args.initialValueThreshold !== 'number')
      throw new Error(`modelCheckpoint: initialValueThreshold must be a number, got ${typeof args.initialValueThreshold}`);
    this.initial = args.initialValueThreshold;
    if (this.saveWeightsOnly && !/\.weights\.h5$/i.test(filepath))
      throw new Error(`modelCheckpoint: with saveWeightsOnly the filepath must end in .weights.h5 (Keras' weights format), got '${filepath}'`);
    if (!this.saveWeightsOnly && /\.(weights\.)?h5$/i.test(filepath))
      throw new Error(`modelCheckpoint: '${filepath}' names an HDF5 file; whole models are saved to '….keras' or to a directory (tfjs format), weights only with saveWeightsOnly: true`);
  }

  override onTrainBegin(): void {
    this.best = this.initial;
    this.batchesSinceSave = 0;
  }

  override onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') return;
    if (++this.batchesSinceSave >= this.saveFreq) {
      this.batchesSinceSave = 0;
      await this.save(this.epoch, batch, logs ?? {});
    }
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.save(epoch, undefined, logs ?? {});
  }

  private improves(current: number): boolean {
    return this.best === undefined || this.sign * (current - this.best) < 0;
  }

  private async save(epoch: number, batch: number | undefined, logs: Logs): Promise<void> {
    const { batch: _b, size: _s, ...metrics } = logs;
    const values: Record<string, number> = { ...metrics, epoch: epoch + 1, ...(batch !== undefined ? { batch: batch + 1 } : {}) };
    const file = formatPath(this.filepath, values);
    const say = (s: string) => {
      if (this.verbose > 0) console.log(`\nEpoch ${epoch + 1}: ${s}`);
    };
    if (this.saveBestOnly) {
      const current = metrics[this.monitor];
      if (current === undefined) console.warn(`modelCheckpoint: can save the best model only with '${this.monitor}' available (logs hold ${Object.keys(metrics).join(', ')}); saving anyway`);
      else if (this.improves(current)) {
        say(`${this.monitor} improved from ${this.best === undefined ? 'None' : this.best.toFixed(5)} to ${current.toFixed(5)}, saving model to ${file}`);
        this.best = current;
      } else {
        say(`${this.monitor} did not improve from ${this.best!.toFixed(5)}`);
        return;
      }
    } else say(`saving model to ${file}`);
    const model = this.model as unknown as Sequential;
    const oneFile = this.saveWeightsOnly || /\.keras$/i.test(file);
    if (oneFile) {
      // As Keras: the file's directory is created when missing.
      const { fs, path } = await requireNode(`modelCheckpoint: saving ${file}`);
      await fs.mkdir(path.dirname(file.replace(/^file:\/\//, '')), { recursive: true });
    }
    if (this.saveWeightsOnly) await (await import('../model/keras-save.js')).saveKerasWeights(model, file);
    else if (/\.keras$/i.test(file)) await model.save(file as `${string}.keras`);
    else await model.save(file, { includeOptimizer: this.includeOptimizer });
    this.saved.push(file);
  }
}

/** `callbacks.modelCheckpoint(filepath, { monitor, mode, saveBestOnly, saveWeightsOnly, saveFreq })`: see {@link ModelCheckpoint}. */
export const modelCheckpoint = (filepath: string, args?: ModelCheckpointArgs) => new ModelCheckpoint(filepath, args);
