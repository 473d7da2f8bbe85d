/**
 * The training side of the live charts: a callback that turns `fit`'s progress into small plain messages
 * ({@link FitEvent}). It touches no DOM, so it runs where training runs — the page itself, or a Web Worker that
 * posts the events to the page (`new FitEventsCallback((e) => postMessage(e))`) where `FitCharts.handle` draws them.
 */
import { Callback, type Logs } from '../callbacks/base.js';
import { histogramBuckets } from '../tensorboard/writer.js';

export type FitEvent =
  | { type: 'begin'; epochs: number; steps: number; metrics: string[] }
  /** `step` counts batches from the start of training (1-based), as TensorBoard's `batch_*` steps. */
  | { type: 'batch'; step: number; epoch: number; logs: Logs }
  | { type: 'epoch'; epoch: number; logs: Logs }
  /** Weight histograms at the end of an epoch: `[left, right, count]` buckets, as TensorBoard's. */
  | { type: 'histograms'; epoch: number; weights: { name: string; buckets: { left: number; right: number; count: number }[] }[] }
  | { type: 'end'; logs: Logs };

export interface FitEventsOptions {
  /** Send a batch event every N batches (default: about 200 per epoch). 0 = no batch events. */
  batchEvery?: number;
  /** Weight histograms every this many epochs (default 1; 0 = none). */
  histogramFreq?: number;
}

function plainLogs(logs: Logs | undefined): Logs {
  const out: Logs = {};
  for (const [k, v] of Object.entries(logs ?? {})) if (typeof v === 'number' && k !== 'batch' && k !== 'size') out[k] = v;
  return out;
}

export class FitEventsCallback extends Callback {
  private step = 0;
  private epoch = 0;
  private every = 1;

  constructor(
    private readonly send: (event: FitEvent) => void,
    private readonly opts: FitEventsOptions = {},
  ) {
    super();
  }

  override onTrainBegin(): void {
    this.step = 0;
    const steps = this.params?.steps ?? 0;
    this.every = this.opts.batchEvery ?? Math.max(1, Math.floor(steps / 200));
    this.send({ type: 'begin', epochs: this.params?.epochs ?? 0, steps, metrics: this.params?.metrics ?? [] });
  }

  override onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  override onBatchEnd(_batch: number, logs?: Logs): void {
    this.step++;
    if (this.every > 0 && this.step % this.every === 0) this.send({ type: 'batch', step: this.step, epoch: this.epoch, logs: plainLogs(logs) });
  }

  override onEpochEnd(epoch: number, logs?: Logs): void {
    this.send({ type: 'epoch', epoch, logs: plainLogs(logs) });
    const freq = this.opts.histogramFreq ?? 1;
    if (freq > 0 && epoch % freq === 0 && this.model?.layers) {
      const weights: { name: string; buckets: { left: number; right: number; count: number }[] }[] = [];
      for (const layer of this.model.layers)
        for (const w of layer.weightViews) {
          const b = histogramBuckets(w.read());
          const buckets = [];
          for (let i = 0; i + 2 < b.length; i += 3) buckets.push({ left: b[i], right: b[i + 1], count: b[i + 2] });
          weights.push({ name: w.name, buckets });
        }
      this.send({ type: 'histograms', epoch, weights });
    }
  }

  override onTrainEnd(logs?: Logs): void {
    this.send({ type: 'end', logs: plainLogs(logs) });
  }
}
