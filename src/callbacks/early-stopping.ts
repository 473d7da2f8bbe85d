import { Callback, type Logs } from './base.js';

export interface EarlyStoppingArgs {
  /** Log to watch; default 'val_loss'. */
  monitor?: string;
  /** Smallest change that counts as an improvement. */
  minDelta?: number;
  /** Epochs without improvement before stopping. */
  patience?: number;
  /** 'auto' reads the direction from the name (…acc… → max). */
  mode?: 'auto' | 'min' | 'max';
  /** Training stops if the monitored value does not beat this. */
  baseline?: number;
  /** At the end, restore the weights of the best epoch. */
  restoreBestWeights?: boolean;
}

/** Keras' EarlyStopping: stop when `monitor` has not improved for `patience` epochs. */
export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly baseline?: number;
  readonly restoreBestWeights: boolean;
  private readonly sign: 1 | -1; // +1: lower is better
  wait = 0;
  stoppedEpoch = 0;
  best = Infinity;
  bestEpoch = 0;
  private bestWeights: Float32Array[] | null = null;

  constructor(args: EarlyStoppingArgs = {}) {
    super();
    if (args === null || typeof args !== 'object') throw new Error(`earlyStopping(args) takes an object such as { monitor: 'val_loss', patience: 2 }, got ${args === null ? 'null' : typeof args}`);
    this.monitor = args.monitor ?? 'val_loss';
    this.minDelta = Math.abs(args.minDelta ?? 0);
    this.patience = args.patience ?? 0;
    if (!Number.isInteger(this.patience) || this.patience < 0) throw new Error(`earlyStopping: patience must be a non-negative integer, got ${args.patience}`);
    const mode = args.mode ?? 'auto';
    if (!['auto', 'min', 'max'].includes(mode)) throw new Error(`earlyStopping: mode must be 'auto', 'min' or 'max', got ${mode}`);
    this.sign = mode === 'max' || (mode === 'auto' && /acc/.test(this.monitor)) ? -1 : 1;
    this.baseline = args.baseline;
    this.restoreBestWeights = args.restoreBestWeights ?? false;
  }

  private improves(current: number, reference: number): boolean {
    return this.sign * (current - reference) < -this.minDelta;
  }

  override onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = Infinity * this.sign;
    this.bestWeights = null;
    this.bestEpoch = 0;
  }

  override onEpochEnd(epoch: number, logs: Logs = {}): void {
    const current = logs[this.monitor];
    if (current === undefined) {
      console.warn(`earlyStopping: '${this.monitor}' is not in the logs (available: ${Object.keys(logs).join(', ')}); skipping`);
      return;
    }
    if (this.restoreBestWeights && this.bestWeights === null) this.bestWeights = this.model.getWeightsRaw();
    this.wait += 1;
    if (this.improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.model.getWeightsRaw();
      if (this.baseline === undefined || this.improves(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
      if (this.restoreBestWeights && this.bestWeights) this.model.setWeightsFrom(this.bestWeights);
    }
  }
}

export const earlyStopping = (args?: EarlyStoppingArgs) => new EarlyStopping(args);
