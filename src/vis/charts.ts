/**
 * Chart components for the browser, drawn with uPlot.
 *
 * Why uPlot: it draws long line series on a canvas fast (a million points in tens of milliseconds) and is ~50 KB
 * minified with no dependencies — the board must stay responsive with 100 runs × 10,000 points, and the package
 * ships it. Chart.js (~200 KB) and ECharts (~1 MB) are larger and slower on long series; neither draws what we
 * need here that uPlot cannot (bands for distributions, per-series fill baselines for the offset histograms).
 *
 * Mounting: every component takes a container element (it appends its own root to it) and options; call
 * `destroy()` to remove it. The page must resolve the bare import `uplot` (a bundler does; a plain page uses an
 * import map, as the board's page does). Styles are injected once per document (`ensureStyles`).
 */
import uPlot from 'uplot';
import { compressHistogram, decimate, NORMAL_HISTOGRAM_BPS, rebin, smoothTensorBoard, type Bucket } from './math.js';
import { summarizeKerasModel } from './keras-model.js';

/** A colour per run, in order of appearance (TensorBoard-like, readable on white). */
export const PALETTE = ['#ff7043', '#0077bb', '#009988', '#ee3377', '#33bbee', '#cc3311', '#7b1fa2', '#558b2f', '#f9a825', '#5d4037'];

export function runColor(index: number): string {
  if (index < PALETTE.length) return PALETTE[index];
  // Past the palette: golden-angle hues, so neighbours stay apart.
  return `hsl(${Math.round((index * 137.508) % 360)}, 65%, 45%)`;
}

const CSS = `
.wl-card{border:1px solid #ddd;border-radius:6px;padding:8px 10px;margin:0 12px 12px 0;background:#fff;display:inline-block;vertical-align:top;position:relative;font:12px system-ui,sans-serif;color:#222}
.wl-card h3{font-size:13px;margin:0 0 4px;font-weight:600;word-break:break-all}
.wl-card .wl-sub{color:#666;font-size:11px;margin-bottom:4px}
.wl-card a{color:#0077bb;margin-right:8px;font-size:11px;cursor:pointer}
.wl-tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.96);border:1px solid #bbb;border-radius:4px;padding:4px 6px;font:11px system-ui,sans-serif;z-index:10;white-space:nowrap;box-shadow:0 1px 4px rgba(0,0,0,.15);display:none}
.wl-tip table{border-collapse:collapse}.wl-tip td{padding:0 4px}
.wl-sw{display:inline-block;width:10px;height:10px;border-radius:2px;vertical-align:middle}
.wl-table{border-collapse:collapse;font:12px system-ui,sans-serif}
.wl-table th,.wl-table td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}
.wl-table td.num,.wl-table th.num{text-align:right;font-variant-numeric:tabular-nums}
.wl-cm td{width:34px;height:28px;text-align:center;font:11px system-ui,sans-serif;border:1px solid #fff}
.uplot,.uplot *,.uplot *::before,.uplot *::after{box-sizing:border-box}
.uplot{font-family:system-ui,sans-serif;line-height:1.5;width:min-content}
.u-wrap{position:relative;user-select:none}
.u-over,.u-under{position:absolute}.u-under{overflow:hidden}
.uplot canvas{display:block;position:relative;width:100%;height:100%}
.u-axis{position:absolute}
.u-select{background:rgba(0,0,0,.07);position:absolute;pointer-events:none}
.u-cursor-x,.u-cursor-y{position:absolute;left:0;top:0;pointer-events:none;will-change:transform}
.u-hz .u-cursor-x,.u-vt .u-cursor-y{height:100%;border-right:1px dashed #607d8b}
.u-hz .u-cursor-y,.u-vt .u-cursor-x{width:100%;border-bottom:1px dashed #607d8b}
.u-cursor-pt{position:absolute;top:0;left:0;border-radius:50%;border:0 solid;pointer-events:none;will-change:transform;background-clip:padding-box!important}
.u-axis.u-off,.u-select.u-off,.u-cursor-x.u-off,.u-cursor-y.u-off,.u-cursor-pt.u-off{display:none}
.u-legend{display:none}
`;

/** Adds the components' style sheet (uPlot's layout rules included) to a document, once. */
export function ensureStyles(doc: Document = document): void {
  if (doc.getElementById('wl-vis-styles')) return;
  const style = doc.createElement('style');
  style.id = 'wl-vis-styles';
  style.textContent = CSS;
  doc.head.appendChild(style);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e6)) return Number(v.toPrecision(4)).toExponential();
  return Number(v.toPrecision(5)).toString();
}

export function formatDuration(seconds: number): string {
  const s = Math.abs(seconds);
  const sign = seconds < 0 ? '-' : '';
  if (s < 60) return `${sign}${Number(s.toPrecision(3))}s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
  return `${sign}${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`;
}

/** Merges sorted x arrays into their sorted union, and each series' values onto it (null where absent). */
function align(xs: ArrayLike<number>[], ys: ArrayLike<number>[][]): { x: Float64Array; ys: (number | null)[][] } {
  let total = 0;
  for (const x of xs) total += x.length;
  const all = new Float64Array(total);
  let o = 0;
  for (const x of xs) for (let i = 0; i < x.length; i++) all[o++] = x[i];
  all.sort();
  let u = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[u - 1]) all[u++] = all[i];
  const x = all.slice(0, u);
  const out: (number | null)[][] = [];
  xs.forEach((sx, s) => {
    for (const sy of ys[s]) {
      const col = new Array<number | null>(u).fill(null);
      let j = 0;
      for (let i = 0; i < sx.length; i++) {
        while (x[j] < sx[i]) j++;
        const v = sy[i];
        col[j] = Number.isFinite(v) ? v : null;
      }
      out.push(col);
    }
  });
  return { x, ys: out };
}

/** One run's points of one scalar tag (columns, sorted by step). */
export interface ScalarSeries {
  run: string;
  color?: string;
  step: ArrayLike<number>;
  /** Seconds since the epoch. */
  wallTime: ArrayLike<number>;
  value: ArrayLike<number>;
  /** How many points the run really has when `step` holds a sample of them (shown, not drawn). */
  total?: number;
}

export type XAxis = 'step' | 'relative' | 'wall';

export interface ScalarChartOptions {
  title?: string;
  /** TensorBoard's smoothing weight, 0…0.999 (default 0.6, as TensorBoard). */
  smoothing?: number;
  xAxis?: XAxis;
  logScale?: boolean;
  width?: number;
  height?: number;
  /** Points drawn per series at most (the rest are averaged, see `decimate`); default 2 per pixel of width. */
  maxPoints?: number;
  /** Extra element(s) for the card's header (download links). */
  header?: HTMLElement;
}

/**
 * A line chart of one scalar tag with a series per run: the smoothed curve drawn strong over the raw one drawn
 * faint, as TensorBoard does; hover shows every run's value at the nearest point.
 */
export class ScalarChart {
  readonly root: HTMLDivElement;
  private plot: uPlot | null = null;
  private series: ScalarSeries[] = [];
  private opts: Required<Omit<ScalarChartOptions, 'header' | 'maxPoints' | 'title'>> & { maxPoints?: number; title: string };
  private readonly tip: HTMLDivElement;
  private readonly sub: HTMLDivElement;
  private readonly plotHost: HTMLDivElement;
  private drawnRuns: { run: string; color: string; x: ArrayLike<number>; raw: ArrayLike<number>; smooth: ArrayLike<number>; step: ArrayLike<number> }[] = [];
  private shapeKey = '';

  constructor(container: HTMLElement, opts: ScalarChartOptions = {}) {
    ensureStyles(container.ownerDocument);
    this.opts = {
      title: opts.title ?? '',
      smoothing: opts.smoothing ?? 0.6,
      xAxis: opts.xAxis ?? 'step',
      logScale: opts.logScale ?? false,
      width: opts.width ?? 420,
      height: opts.height ?? 240,
      maxPoints: opts.maxPoints,
    };
    // As wide as the chart: a long legend wraps instead of widening the card.
    this.root = el('div', { class: 'wl-card wl-scalar', style: `width:${this.opts.width}px` });
    if (this.opts.title) this.root.dataset.tag = this.opts.title;
    const h = el('h3', {}, this.opts.title);
    this.sub = el('div', { class: 'wl-sub' });
    this.plotHost = el('div');
    this.tip = el('div', { class: 'wl-tip' });
    this.root.append(h, this.sub);
    if (opts.header) this.root.append(opts.header);
    this.root.append(this.plotHost, this.tip);
    container.appendChild(this.root);
  }

  /** Replaces the data (one entry per run to show). Redraws at once. */
  setSeries(series: ScalarSeries[]): void {
    this.series = series;
    this.render();
  }

  setOptions(opts: Partial<Pick<ScalarChartOptions, 'smoothing' | 'xAxis' | 'logScale' | 'width' | 'height'>>): void {
    Object.assign(this.opts, opts);
    this.root.style.width = `${this.opts.width}px`;
    this.render();
  }

  private xOf(s: ScalarSeries): ArrayLike<number> {
    if (this.opts.xAxis === 'step') return s.step;
    if (this.opts.xAxis === 'wall') return s.wallTime;
    const t0 = s.wallTime.length ? s.wallTime[0] : 0;
    return Float64Array.from(s.wallTime as ArrayLike<number>, (t) => t - t0);
  }

  private render(): void {
    const { smoothing, logScale, xAxis, width, height } = this.opts;
    const maxPoints = this.opts.maxPoints ?? Math.max(200, Math.round(width * 2));
    const runs = this.series.filter((s) => s.value.length > 0);
    // A union of distinct x's (wall times differ per run) grows as runs × points: fewer points each keeps it bounded.
    const perSeries = xAxis === 'step' ? maxPoints : Math.max(50, Math.min(maxPoints, Math.floor(400_000 / Math.max(1, runs.length * 2))));
    this.drawnRuns = runs.map((s, i) => {
      const x = this.xOf(s);
      const sm = smoothTensorBoard(s.value, smoothing);
      const rawD = decimate(x, s.value, perSeries);
      const smD = decimate(x, sm, perSeries);
      const stepD = decimate(x, s.step, perSeries);
      return { run: s.run, color: s.color ?? runColor(i), x: rawD.x, raw: rawD.y, smooth: smD.y, step: stepD.y };
    });
    const points: Record<string, number> = {};
    const drawn: Record<string, number> = {};
    for (const s of runs) points[s.run] = s.total ?? s.value.length;
    for (const d of this.drawnRuns) drawn[d.run] = d.x.length;
    this.root.dataset.points = JSON.stringify(points);
    this.root.dataset.drawn = JSON.stringify(drawn);
    const nPts = Object.values(points).reduce((a, b) => a + b, 0);
    const nDrawn = Object.values(drawn).reduce((a, b) => a + b, 0);
    this.sub.textContent = `${runs.length} run${runs.length === 1 ? '' : 's'}, ${nPts} point${nPts === 1 ? '' : 's'}${nDrawn < nPts ? ` (${nDrawn} drawn)` : ''}`;
    // A few runs: name them beside their colour (many runs: the runs list does that).
    if (this.drawnRuns.length <= 6)
      for (const d of this.drawnRuns) {
        const item = el('span', { style: 'margin-left:8px;white-space:nowrap' });
        const sw = el('span', { class: 'wl-sw', style: `background:${d.color};margin-right:3px` });
        item.append(sw, document.createTextNode(d.run));
        this.sub.append(item);
      }

    const { x, ys } = align(
      this.drawnRuns.map((d) => d.x),
      this.drawnRuns.map((d) => [d.raw, d.smooth]),
    );
    if (logScale) for (const col of ys) for (let i = 0; i < col.length; i++) if (col[i] !== null && (col[i] as number) <= 0) col[i] = null;
    const data = [x, ...ys] as unknown as uPlot.AlignedData;
    // A run of one point (the first epoch) has no line to draw: it gets a marker, so it is not invisible.
    const lone = this.drawnRuns.map((d) => d.x.length === 1);
    const key = JSON.stringify([this.drawnRuns.map((d) => d.run + d.color), lone, logScale, xAxis, width, height, smoothing > 0]);
    if (this.plot && key === this.shapeKey) {
      this.plot.setData(data);
      this.root.dataset.rendered = String(Number(this.root.dataset.rendered ?? 0) + 1);
      return;
    }
    this.shapeKey = key;
    this.plot?.destroy();
    const series: uPlot.Series[] = [{}];
    this.drawnRuns.forEach((d, i) => {
      const marker = lone[i] ? { show: true, size: 7, fill: d.color, stroke: d.color } : { show: false };
      // With smoothing off the raw line is the only one, drawn strong.
      series.push({ label: `${d.run} (raw)`, stroke: smoothing > 0 ? d.color + '55' : d.color, width: smoothing > 0 ? 1 : 1.5, spanGaps: true, points: smoothing > 0 ? { show: false } : marker });
      series.push({ label: d.run, stroke: d.color, width: 1.5, spanGaps: true, show: smoothing > 0, points: marker });
    });
    // Steps are integers: no 0.5 ticks between epochs.
    const xValues =
      xAxis === 'relative'
        ? (_u: uPlot, splits: number[]) => splits.map((v) => formatDuration(v))
        : xAxis === 'step'
          ? (_u: uPlot, splits: number[]) => splits.map((v) => (Number.isInteger(v) && v >= 0 ? v.toLocaleString('en-US') : ''))
          : undefined;
    // uPlot widens a zero-width x range (one x value: a 1-epoch run) to 0–100 before asking this function,
    // which put the lone point on the left edge under an axis counting to 100: one unit either side instead.
    const xRange = (u: uPlot, min: number, max: number): uPlot.Range.MinMax => {
      const xs = u.data[0];
      return xs.length > 0 && xs[0] === xs[xs.length - 1] ? [xs[0] - 1, xs[0] + 1] : [min, max];
    };
    const opts: uPlot.Options = {
      width,
      height,
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      scales: { x: { time: xAxis === 'wall', range: xRange }, y: logScale ? { distr: 3 } : {} },
      axes: [
        { values: xValues, size: 30, font: '11px system-ui', stroke: '#555', grid: { stroke: '#eee' } },
        { size: 62, font: '11px system-ui', stroke: '#555', grid: { stroke: '#eee' }, values: (_u, s) => s.map((v) => formatNumber(v)) },
      ],
      series,
      hooks: {
        setCursor: [(u) => this.showTip(u)],
        draw: [() => (this.root.dataset.rendered = String(Number(this.root.dataset.rendered ?? 0) + 1))],
      },
    };
    this.plot = new uPlot(opts, data, this.plotHost);
    this.plotHost.addEventListener('mouseleave', () => (this.tip.style.display = 'none'));
  }

  private showTip(u: uPlot): void {
    const idx = u.cursor.idx;
    if (idx === null || idx === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
      this.tip.style.display = 'none';
      return;
    }
    const xs = u.data[0];
    const xAt = xs[idx];
    const rows: { run: string; color: string; smooth: number; raw: number; step: number; x: number }[] = [];
    for (const d of this.drawnRuns) {
      // The run's point nearest the cursor's x (runs need not share x values).
      let lo = 0;
      let hi = d.x.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (d.x[mid] < xAt) lo = mid + 1;
        else hi = mid;
      }
      const j = lo > 0 && Math.abs(d.x[lo - 1] - xAt) < Math.abs(d.x[lo] - xAt) ? lo - 1 : lo;
      rows.push({ run: d.run, color: d.color, smooth: d.smooth[j], raw: d.raw[j], step: d.step[j], x: d.x[j] });
    }
    rows.sort((a, b) => b.smooth - a.smooth);
    const shown = rows.slice(0, 12);
    const xLabel = (v: number) => (this.opts.xAxis === 'wall' ? new Date(v * 1000).toLocaleString() : this.opts.xAxis === 'relative' ? formatDuration(v) : String(v));
    const head = `<tr><td></td><td>run</td><td>smoothed</td><td>value</td><td>step</td>${this.opts.xAxis === 'step' ? '' : '<td>time</td>'}</tr>`;
    const body = shown
      .map(
        (r) =>
          `<tr><td><span class="wl-sw" style="background:${r.color}"></span></td><td>${escapeHtml(r.run)}</td><td>${formatNumber(r.smooth)}</td><td>${formatNumber(r.raw)}</td><td>${Math.round(r.step)}</td>${this.opts.xAxis === 'step' ? '' : `<td>${xLabel(r.x)}</td>`}</tr>`,
      )
      .join('');
    this.tip.innerHTML = `<table>${head}${body}</table>${rows.length > shown.length ? `<div>… ${rows.length - shown.length} more runs</div>` : ''}`;
    this.tip.style.display = 'block';
    const left = (u.cursor.left ?? 0) + u.over.offsetLeft + 16;
    this.tip.style.left = `${Math.min(left, this.opts.width - 40)}px`;
    this.tip.style.top = `${(u.cursor.top ?? 0) + u.over.offsetTop + 40}px`;
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
    this.root.remove();
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** One step of one histogram tag. */
export interface HistogramStep {
  step: number;
  wallTime: number;
  buckets: Bucket[];
}

export interface HistogramChartOptions {
  title?: string;
  color?: string;
  width?: number;
  height?: number;
  /** Steps drawn at most in the offset view (evenly spaced, the last one always); default 60. */
  maxSteps?: number;
  header?: HTMLElement;
}

function card(container: HTMLElement, cls: string, title: string, header?: HTMLElement): { root: HTMLDivElement; sub: HTMLDivElement; host: HTMLDivElement } {
  ensureStyles(container.ownerDocument);
  const root = el('div', { class: `wl-card ${cls}` });
  root.style.maxWidth = '720px';
  const sub = el('div', { class: 'wl-sub' });
  const host = el('div');
  root.append(el('h3', {}, title), sub);
  if (header) root.append(header);
  root.append(host);
  container.appendChild(root);
  return { root, sub, host };
}

function pickSteps<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let k = 0; k < max; k++) out.push(items[Math.round((k * (items.length - 1)) / (max - 1))]);
  return out;
}

/** Shades from light (old steps) to the run's colour (newest), as TensorBoard's offset view. */
function shade(color: string, t: number): string {
  return `color-mix(in srgb, ${color} ${Math.round(25 + 75 * t)}%, white)`;
}

/**
 * TensorBoard's histogram "offset" view: one curve per step, stacked from the oldest (top, back) to the newest
 * (bottom, front), all steps re-binned onto 30 bins over the range of all steps (as TensorBoard does).
 */
/** A card holding one uPlot chart that is drawn anew on each setData (histograms, distributions). */
abstract class CardPlot {
  readonly root: HTMLDivElement;
  protected plot: uPlot | null = null;
  protected readonly host: HTMLDivElement;
  protected readonly sub: HTMLDivElement;

  constructor(container: HTMLElement, cls: string, title: string, header: HistogramChartOptions['header']) {
    const c = card(container, cls, title, header);
    this.root = c.root;
    this.sub = c.sub;
    this.host = c.host;
  }

  /** Removes the previous plot; `draw` then makes the new one (data-rendered marks it drawn). */
  protected clear(): void {
    this.plot?.destroy();
    this.plot = null;
  }

  protected draw(opts: uPlot.Options, data: unknown[]): void {
    opts.hooks = { ...opts.hooks, draw: [() => (this.root.dataset.rendered = '1')] };
    this.plot = new uPlot(opts, data as unknown as uPlot.AlignedData, this.host);
  }

  destroy(): void {
    this.plot?.destroy();
    this.root.remove();
  }
}

export class HistogramChart extends CardPlot {
  private readonly opts: Required<Omit<HistogramChartOptions, 'header'>>;

  constructor(container: HTMLElement, opts: HistogramChartOptions = {}) {
    super(container, 'wl-histogram', opts.title ?? '', opts.header);
    this.opts = { title: opts.title ?? '', color: opts.color ?? PALETTE[0], width: opts.width ?? 420, height: opts.height ?? 260, maxSteps: opts.maxSteps ?? 60 };
  }

  setData(points: HistogramStep[]): void {
    this.clear();
    const steps = pickSteps([...points].sort((a, b) => a.step - b.step), this.opts.maxSteps);
    this.root.dataset.steps = String(points.length);
    this.root.dataset.drawnSteps = String(steps.length);
    this.sub.textContent = `${points.length} step${points.length === 1 ? '' : 's'}${steps.length < points.length ? ` (${steps.length} drawn)` : ''}`;
    if (steps.length === 0) return;
    let min = Infinity;
    let max = -Infinity;
    let top = 0;
    const nonEmpty = (b: Bucket[]) => b.filter((k) => k.count > 0);
    for (const p of steps) {
      const b = nonEmpty(p.buckets);
      if (b.length) {
        min = Math.min(min, b[0].left);
        max = Math.max(max, b[b.length - 1].right);
      }
    }
    if (!Number.isFinite(min)) {
      min = 0;
      max = 0;
    }
    const binned = steps.map((p) => rebin(nonEmpty(p.buckets), min, max, 30));
    for (const b of binned) for (const v of b.y) top = Math.max(top, v);
    const first = steps[0].step;
    const last = steps[steps.length - 1].step;
    const span = Math.max(1, last - first);
    // Each curve rises above its step's baseline by up to ~3 step gaps, so neighbours overlap like TensorBoard's.
    const rise = steps.length > 1 ? (3 * span) / (steps.length - 1) : 1;
    const x = binned[0].x;
    const ys = binned.map((b, k) => Array.from(b.y, (v) => steps[k].step - (top > 0 ? (v / top) * rise : 0)));
    const series: uPlot.Series[] = [{}];
    steps.forEach((p, k) => {
      const t = steps.length > 1 ? k / (steps.length - 1) : 1;
      series.push({
        label: `step ${p.step}`,
        stroke: shade(this.opts.color, t),
        fill: 'rgba(255,255,255,0.85)',
        fillTo: () => p.step,
        width: 1,
        points: { show: false },
      });
    });
    const opts: uPlot.Options = {
      width: this.opts.width,
      height: this.opts.height,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false }, y: { dir: -1, range: () => [first - rise * 1.05, last + span * 0.02] } },
      axes: [
        { size: 30, font: '11px system-ui', stroke: '#555', grid: { stroke: '#f3f3f3' }, values: (_u, s) => s.map((v) => formatNumber(v)) },
        { size: 50, font: '11px system-ui', stroke: '#555', grid: { show: false }, label: 'step', labelSize: 14, values: (_u, s) => s.map((v) => (v >= first && v <= last ? String(Math.round(v)) : '')) },
      ],
      series,
    };
    this.draw(opts, [x, ...ys]);
  }
}

/**
 * TensorBoard's "distributions" view: for each step, the values at basis points 0, 668, 1587, 3085, 5000, 6915,
 * 8413, 9332 and 10000 of the histogram (its `compress_histogram`) — nested bands from min/max to ±1σ, median line.
 */
export class DistributionChart extends CardPlot {
  private readonly opts: Required<Omit<HistogramChartOptions, 'header' | 'maxSteps'>>;

  constructor(container: HTMLElement, opts: HistogramChartOptions = {}) {
    super(container, 'wl-distribution', opts.title ?? '', opts.header);
    this.opts = { title: opts.title ?? '', color: opts.color ?? PALETTE[0], width: opts.width ?? 420, height: opts.height ?? 240 };
  }

  setData(points: HistogramStep[]): void {
    this.clear();
    const sorted = [...points].sort((a, b) => a.step - b.step);
    const bands = sorted.map((p) => compressHistogram(p.buckets));
    this.root.dataset.steps = String(sorted.length);
    this.sub.textContent = `${sorted.length} step${sorted.length === 1 ? '' : 's'}`;
    if (sorted.length === 0) return;
    const x = sorted.map((p) => p.step);
    const cols = NORMAL_HISTOGRAM_BPS.map((_, j) => bands.map((b) => b[j]));
    const c = this.opts.color;
    const series: uPlot.Series[] = [{}];
    NORMAL_HISTOGRAM_BPS.forEach((bp) => series.push({ label: `${bp / 100}%`, stroke: bp === 5000 ? c : 'transparent', width: bp === 5000 ? 1.5 : 0, points: { show: sorted.length === 1 } }));
    // Series 1…9 are the basis points in order: band k joins bps[k] and bps[8-k].
    const alphas = ['22', '40', '66', '99'];
    const uBands: uPlot.Band[] = [0, 1, 2, 3].map((k) => ({ series: [9 - k, 1 + k] as [number, number], fill: c + alphas[k] }));
    const opts: uPlot.Options = {
      width: this.opts.width,
      height: this.opts.height,
      legend: { show: false },
      cursor: { points: { show: false } },
      scales: { x: { time: false } },
      bands: uBands,
      axes: [
        { size: 30, font: '11px system-ui', stroke: '#555', grid: { stroke: '#eee' }, label: 'step', labelSize: 14 },
        { size: 62, font: '11px system-ui', stroke: '#555', grid: { stroke: '#eee' }, values: (_u, s) => s.map((v) => formatNumber(v)) },
      ],
      series,
    };
    this.root.dataset.bands = JSON.stringify(bands);
    this.draw(opts, [x, ...cols]);
  }
}

/** The Keras model config as `model.summary()` shows it: layer, type, output shape, parameters. */
export class ModelView {
  readonly root: HTMLDivElement;

  constructor(container: HTMLElement, config: unknown, opts: { title?: string } = {}) {
    const c = card(container, 'wl-model', opts.title ?? 'Model');
    this.root = c.root;
    let s;
    try {
      s = summarizeKerasModel(config);
    } catch (e) {
      c.sub.textContent = `This model config cannot be read: ${(e as Error).message}`;
      return;
    }
    c.sub.textContent = `${s.className}${s.name ? ` "${s.name}"` : ''}${s.compile ? ` — ${s.compile}` : ''}`;
    const t = el('table', { class: 'wl-table' });
    t.innerHTML = '<thead><tr><th>Layer (type)</th><th>Output shape</th><th class="num">Param #</th><th>Settings</th></tr></thead>';
    const tb = el('tbody');
    for (const r of s.layers) {
      const tr = el('tr');
      tr.append(el('td', {}, `${r.name} (${r.className})`), el('td', {}, r.outputShape), el('td', { class: 'num' }, r.params === null ? '?' : r.params.toLocaleString('en-US')), el('td', {}, r.details));
      tb.append(tr);
    }
    t.append(tb);
    const total = s.totalParams === null ? '?' : s.totalParams.toLocaleString('en-US');
    t.insertAdjacentHTML('beforeend', `<tfoot><tr><th colspan="2">Total params</th><th class="num wl-total">${total}</th><th></th></tr></tfoot>`);
    c.host.append(t);
    this.root.dataset.layers = String(s.layers.length);
    this.root.dataset.totalParams = String(s.totalParams ?? '');
  }

  destroy(): void {
    this.root.remove();
  }
}

/**
 * A confusion matrix as a heat map (rows: true class, columns: predicted), with counts in the cells, as tfjs-vis'
 * `render.confusionMatrix` shows it. `matrix` comes from `confusionMatrix(labels, argmax(predictions), k)`.
 */
export class ConfusionMatrixView {
  readonly root: HTMLDivElement;

  constructor(container: HTMLElement, matrix: readonly (readonly number[])[], opts: { title?: string; classNames?: string[] } = {}) {
    const c = card(container, 'wl-confusion', opts.title ?? 'Confusion matrix');
    this.root = c.root;
    const k = matrix.length;
    const names = opts.classNames ?? matrix.map((_, i) => String(i));
    let max = 0;
    for (const row of matrix) for (const v of row) max = Math.max(max, v);
    const t = el('table', { class: 'wl-cm' });
    const head = el('tr');
    head.append(el('td', {}, 'true \\ pred'));
    for (const n of names) head.append(el('td', {}, n));
    t.append(head);
    matrix.forEach((row, i) => {
      const tr = el('tr');
      tr.append(el('td', {}, names[i]));
      row.forEach((v) => {
        // Square-root scale so small off-diagonal counts are visible next to the large diagonal.
        const a = max ? Math.sqrt(v / max) : 0;
        const td = el('td', { style: `background:rgba(0,119,187,${a.toFixed(3)});color:${a > 0.55 ? '#fff' : '#222'}` }, String(v));
        tr.append(td);
      });
      t.append(tr);
    });
    c.host.append(t);
    const n = matrix.reduce((s, r) => s + r.reduce((a, b) => a + b, 0), 0);
    const right = matrix.reduce((s, r, i) => s + r[i], 0);
    c.sub.textContent = `${n} samples, accuracy ${n ? (right / n).toFixed(4) : '–'}, ${k} classes`;
    this.root.dataset.samples = String(n);
  }

  destroy(): void {
    this.root.remove();
  }
}

/** Per-class accuracy as tfjs-vis' `show.perClassAccuracy`: class, accuracy, sample count, with a bar. */
export class PerClassAccuracyView {
  readonly root: HTMLDivElement;

  constructor(container: HTMLElement, perClass: readonly { accuracy: number; count: number }[], opts: { title?: string; classNames?: string[] } = {}) {
    const c = card(container, 'wl-per-class', opts.title ?? 'Per-class accuracy');
    this.root = c.root;
    const t = el('table', { class: 'wl-table' });
    t.innerHTML = '<thead><tr><th>Class</th><th class="num">Accuracy</th><th class="num"># Samples</th><th></th></tr></thead>';
    const tb = el('tbody');
    perClass.forEach((p, i) => {
      const tr = el('tr');
      const bar = el('td');
      bar.append(el('div', { style: `width:${Math.round(p.accuracy * 120)}px;height:8px;background:#0077bb` }));
      tr.append(el('td', {}, opts.classNames?.[i] ?? String(i)), el('td', { class: 'num' }, p.accuracy.toFixed(4)), el('td', { class: 'num' }, String(p.count)), bar);
      tb.append(tr);
    });
    t.append(tb);
    c.host.append(t);
  }

  destroy(): void {
    this.root.remove();
  }
}
