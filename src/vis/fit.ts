/**
 * Live training charts in the spirit of tfjs-vis' `show.fitCallbacks`: loss and accuracy per batch and per epoch
 * (train and validation on one chart), and the weight histograms of each epoch (TensorBoard's offset view).
 *
 *   import { fitCallbacks } from 'wasm-layers/vis';
 *   await model.fit(x, y, { epochs: 5, validationData, callbacks: [fitCallbacks(document.getElementById('charts')!)] });
 *
 * Training in a Web Worker: there `new FitEventsCallback((e) => postMessage(e))` (from 'wasm-layers'), and in the
 * page `const charts = new FitCharts(el); worker.onmessage = (m) => charts.handle(m.data)`.
 */
import { ensureStyles, HistogramChart, ScalarChart, ConfusionMatrixView, PerClassAccuracyView, type HistogramStep } from './charts.js';
import { FitEventsCallback, type FitEvent, type FitEventsOptions } from './fit-events.js';
import { argmaxRows, confusionMatrix, perClassAccuracy } from './math.js';

export interface FitChartsOptions {
  /** Metrics to chart (`loss`, `accuracy`, …; `val_` ones are drawn with their train metric). Default: all seen. */
  metrics?: string[];
  /** Per-batch charts (default true). */
  batch?: boolean;
  /** Weight histogram charts (default true). */
  histograms?: boolean;
  width?: number;
  height?: number;
}

const TRAIN = '#ff7043';
const VALIDATION = '#0077bb';

type Col = { step: number[]; wallTime: number[]; value: number[] };
const col = (): Col => ({ step: [], wallTime: [], value: [] });

/** Draws {@link FitEvent}s; redraws at most once per animation frame however fast the events come. */
export class FitCharts {
  readonly root: HTMLDivElement;
  private readonly opts: FitChartsOptions;
  private readonly batchData = new Map<string, Col>();
  private readonly epochData = new Map<string, { train: Col; validation: Col }>();
  private readonly hist = new Map<string, HistogramStep[]>();
  private readonly charts = new Map<string, ScalarChart>();
  private readonly histCharts = new Map<string, HistogramChart>();
  private readonly sections: Record<'epoch' | 'batch' | 'histograms', HTMLDivElement>;
  private scheduled = false;
  private readonly dirty = new Set<string>();

  constructor(container: HTMLElement, opts: FitChartsOptions = {}) {
    ensureStyles(container.ownerDocument);
    this.opts = opts;
    this.root = document.createElement('div');
    this.root.className = 'wl-fit';
    const section = (title: string, cls: string) => {
      const d = document.createElement('div');
      d.className = cls;
      const h = document.createElement('h4');
      h.textContent = title;
      h.style.cssText = 'font:600 12px system-ui,sans-serif;margin:6px 0;color:#555';
      d.append(h);
      d.style.display = 'none';
      this.root.append(d);
      return d;
    };
    this.sections = { epoch: section('Per epoch', 'wl-fit-epoch'), batch: section('Per batch', 'wl-fit-batch'), histograms: section('Weights', 'wl-fit-histograms') };
    container.appendChild(this.root);
  }

  private wanted(metric: string): boolean {
    const base = metric.startsWith('val_') ? metric.slice(4) : metric;
    return !this.opts.metrics || this.opts.metrics.includes(base) || this.opts.metrics.includes(metric);
  }

  handle(e: FitEvent): void {
    const now = Date.now() / 1000;
    if (e.type === 'begin') {
      this.reset();
    } else if (e.type === 'batch' && this.opts.batch !== false) {
      for (const [k, v] of Object.entries(e.logs)) {
        if (!this.wanted(k)) continue;
        let c = this.batchData.get(k);
        if (!c) this.batchData.set(k, (c = col()));
        c.step.push(e.step);
        c.wallTime.push(now);
        c.value.push(v);
        this.dirty.add(`batch:${k}`);
      }
    } else if (e.type === 'epoch') {
      for (const [k, v] of Object.entries(e.logs)) {
        if (!this.wanted(k)) continue;
        const val = k.startsWith('val_');
        const base = val ? k.slice(4) : k;
        let d = this.epochData.get(base);
        if (!d) this.epochData.set(base, (d = { train: col(), validation: col() }));
        const c = val ? d.validation : d.train;
        c.step.push(e.epoch);
        c.wallTime.push(now);
        c.value.push(v);
        this.dirty.add(`epoch:${base}`);
      }
    } else if (e.type === 'histograms' && this.opts.histograms !== false) {
      for (const w of e.weights) {
        let h = this.hist.get(w.name);
        if (!h) this.hist.set(w.name, (h = []));
        h.push({ step: e.epoch, wallTime: now, buckets: w.buckets });
        this.dirty.add(`hist:${w.name}`);
      }
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const raf = typeof requestAnimationFrame === 'function' ? requestAnimationFrame : (f: () => void) => setTimeout(f, 16);
    raf(() => {
      this.scheduled = false;
      this.draw();
    });
  }

  private chart(key: string, section: HTMLDivElement, title: string): ScalarChart {
    let c = this.charts.get(key);
    if (!c) {
      section.style.display = '';
      // Live data is not smoothed by default: every point is what fit reported.
      c = new ScalarChart(section, { title, smoothing: 0, width: this.opts.width ?? 380, height: this.opts.height ?? 200 });
      c.root.dataset.key = key;
      this.charts.set(key, c);
    }
    return c;
  }

  private draw(): void {
    for (const key of this.dirty) {
      const [kind, name] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
      if (kind === 'batch') {
        this.chart(key, this.sections.batch, `batch ${name}`).setSeries([{ run: 'train', color: TRAIN, ...this.batchData.get(name)! }]);
      } else if (kind === 'epoch') {
        const d = this.epochData.get(name)!;
        const series = [{ run: 'train', color: TRAIN, ...d.train }];
        if (d.validation.value.length) series.push({ run: 'validation', color: VALIDATION, ...d.validation });
        this.chart(key, this.sections.epoch, `epoch ${name}`).setSeries(series);
      } else if (kind === 'hist') {
        let c = this.histCharts.get(name);
        if (!c) {
          this.sections.histograms.style.display = '';
          c = new HistogramChart(this.sections.histograms, { title: name, width: this.opts.width ?? 380, height: this.opts.height ?? 200 });
          c.root.dataset.key = key;
          this.histCharts.set(name, c);
        }
        c.setData(this.hist.get(name)!);
      }
    }
    this.dirty.clear();
  }

  reset(): void {
    for (const c of this.charts.values()) c.destroy();
    for (const c of this.histCharts.values()) c.destroy();
    this.charts.clear();
    this.histCharts.clear();
    this.batchData.clear();
    this.epochData.clear();
    this.hist.clear();
    for (const s of Object.values(this.sections)) s.style.display = 'none';
  }

  destroy(): void {
    this.reset();
    this.root.remove();
  }
}

/** A `fit` callback that draws into `container` (see the module comment); `.charts` is the {@link FitCharts}. */
export function fitCallbacks(container: HTMLElement, opts: FitChartsOptions & FitEventsOptions = {}): FitEventsCallback & { charts: FitCharts } {
  const charts = new FitCharts(container, opts);
  const cb = new FitEventsCallback((e) => charts.handle(e), { batchEvery: opts.batch === false ? 0 : opts.batchEvery, histogramFreq: opts.histograms === false ? 0 : opts.histogramFreq }) as FitEventsCallback & { charts: FitCharts };
  cb.charts = charts;
  return cb;
}

type Numeric = ArrayLike<number> | { dataSync(): ArrayLike<number>; shape: readonly number[] };

function values(x: Numeric): { v: ArrayLike<number>; cols: number } {
  if (typeof (x as { dataSync?: unknown }).dataSync === 'function') {
    const t = x as { dataSync(): ArrayLike<number>; shape: readonly number[] };
    return { v: t.dataSync(), cols: t.shape.length >= 2 ? t.shape[t.shape.length - 1] : 1 };
  }
  return { v: x as ArrayLike<number>, cols: 1 };
}

/**
 * After `evaluate`: the confusion matrix and per-class accuracy of `predictions` (a `[n, k]` tensor of class
 * scores, or class indices) against `labels` (class indices, or one-hot `[n, k]`), as tfjs-vis shows them.
 * Returns the matrix.
 */
export function showEvaluation(
  container: HTMLElement,
  args: { labels: Numeric; predictions: Numeric; numClasses?: number; classNames?: string[] },
): number[][] {
  const p = values(args.predictions);
  const l = values(args.labels);
  const predicted = p.cols > 1 ? argmaxRows(p.v, p.cols) : p.v;
  const truth = l.cols > 1 ? argmaxRows(l.v, l.cols) : l.v;
  let k = args.numClasses ?? args.classNames?.length ?? (p.cols > 1 ? p.cols : 0);
  if (!k) for (let i = 0; i < truth.length; i++) k = Math.max(k, truth[i] + 1, predicted[i] + 1);
  const m = confusionMatrix(truth, predicted, k);
  new ConfusionMatrixView(container, m, { classNames: args.classNames });
  new PerClassAccuracyView(container, perClassAccuracy(m), { classNames: args.classNames });
  return m;
}
