import { Callback, type Logs } from './base.js';

/** Records each epoch's logs: `history.loss[i]`, `history.val_accuracy[i]`, … (Keras' History). */
export class History extends Callback {
  override readonly keepsBatchLogs = false;
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};

  override onEpochEnd(epoch: number, logs: Logs = {}): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}
