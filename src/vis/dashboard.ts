/**
 * The dashboard of `wasm-layers board`, also usable on its own in any page: a runs list (show/hide, colours),
 * then tabs like TensorBoard's — Scalars (a chart per tag, every run overlaid, smoothing, x axis, log scale, CSV /
 * JSON downloads), Histograms (offset view), Distributions, and Model (the Keras model config).
 *
 * It reads through a {@link BoardSource}: `httpSource()` for the board's JSON API (what the `board` command
 * serves), or `memorySource(runs)` for runs already in memory (e.g. `vis.openRunFiles` on the files of
 * `tensorBoard(...).files()`).
 *
 *   const d = mountDashboard(document.getElementById('app')!, httpSource(''), { pollMs: 2000 });
 */
import { runInfo, scalarColumns, scalarsCsv, type RunDataLike, type RunInfo, type ScalarColumns } from './data.js';
import { ensureStyles, escapeHtml, runColor, ScalarChart, HistogramChart, DistributionChart, ModelView, type HistogramStep, type XAxis } from './charts.js';

export { runInfo, scalarColumns, scalarsCsv, type RunDataLike, type RunInfo, type ScalarColumns };

export interface BoardSource {
  runs(): Promise<RunInfo[]>;
  /** Every run's points of one scalar tag. */
  scalars(tag: string): Promise<Record<string, ScalarColumns>>;
  histograms(run: string, tag: string): Promise<HistogramStep[]>;
  modelConfig(run: string): Promise<unknown>;
  /** A URL that downloads a tag's full data (all runs, or one); absent: the dashboard builds the file itself. */
  downloadUrl?(tag: string, format: 'csv' | 'json', run?: string): string;
}

/** A source over runs held in memory (they may keep growing: call `update` after adding data). */
export function memorySource(runs: RunDataLike[]): BoardSource & { update(runs: RunDataLike[]): void } {
  let current = runs;
  let version = 0;
  return {
    update(next) {
      current = next;
      version++;
    },
    async runs() {
      return current.map((r) => runInfo(r, version));
    },
    async scalars(tag) {
      const out: Record<string, ScalarColumns> = {};
      for (const r of current) if (r.scalars[tag]) out[r.run] = scalarColumns(r.scalars[tag]);
      return out;
    },
    async histograms(run, tag) {
      return current.find((r) => r.run === run)?.histograms[tag] ?? [];
    },
    async modelConfig(run) {
      return current.find((r) => r.run === run)?.modelConfig;
    },
  };
}

/** A source over the board server's JSON API at `base` ('' = the page's own origin). */
export function httpSource(base = ''): BoardSource {
  const get = async (path: string) => {
    const res = await fetch(base + path, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };
  const q = encodeURIComponent;
  return {
    runs: async () => (await get('/api/runs')).runs,
    scalars: async (tag) => (await get(`/api/scalars?tag=${q(tag)}`)).runs,
    histograms: (run, tag) => get(`/api/histograms?run=${q(run)}&tag=${q(tag)}`),
    modelConfig: (run) => get(`/api/model?run=${q(run)}`),
    downloadUrl: (tag, format, run) => `${base}/api/download?tag=${q(tag)}&format=${format}${run !== undefined ? `&run=${q(run)}` : ''}`,
  };
}

export interface DashboardOptions {
  /** Poll the source for new runs and points every this many ms (0 = never; default 2000). */
  pollMs?: number;
  title?: string;
  /** Initial smoothing (TensorBoard's default 0.6). */
  smoothing?: number;
}

type Tab = 'scalars' | 'histograms' | 'distributions' | 'model';

const BOARD_CSS = `
.wl-board{display:flex;font:13px system-ui,sans-serif;color:#222;min-height:100vh;background:#f5f5f5}
.wl-side{width:250px;flex:none;background:#fff;border-right:1px solid #ddd;padding:10px;box-sizing:border-box;overflow:auto;max-height:100vh;position:sticky;top:0}
.wl-side h2{font-size:15px;margin:0 0 8px;word-break:break-all}
.wl-side h4{font-size:12px;margin:12px 0 4px;color:#555;text-transform:uppercase;letter-spacing:.04em}
.wl-side label{display:block;margin:2px 0;cursor:pointer;word-break:break-all}
.wl-side input[type=text]{width:100%;box-sizing:border-box}
.wl-main{flex:1;min-width:0;padding:0 0 0 12px}
.wl-tabs{display:flex;gap:4px;padding:8px 0;position:sticky;top:0;background:#f5f5f5;z-index:5}
.wl-tabs button{border:1px solid #ccc;background:#fff;border-radius:4px;padding:4px 12px;cursor:pointer;font:inherit}
.wl-tabs button.on{background:#ff7043;border-color:#ff7043;color:#fff}
.wl-status{font-size:11px;color:#666;margin-top:12px}
.wl-empty{color:#666;padding:20px}
.wl-issues{color:#b71c1c;font-size:11px}
`;

/** Mounts the dashboard into `container`. */
export function mountDashboard(container: HTMLElement, source: BoardSource, opts: DashboardOptions = {}): Dashboard {
  return new Dashboard(container, source, opts);
}

export class Dashboard {
  readonly root: HTMLDivElement;
  private runs: RunInfo[] = [];
  private readonly colors = new Map<string, string>();
  private readonly hidden = new Set<string>();
  private tab: Tab = 'scalars';
  private smoothing: number;
  private xAxis: XAxis = 'step';
  private logScale = false;
  private tagFilter = '';
  private readonly scalarCharts = new Map<string, ScalarChart>();
  private readonly scalarData = new Map<string, Record<string, ScalarColumns>>();
  private readonly panel: HTMLDivElement;
  private readonly runList: HTMLDivElement;
  private readonly status: HTMLDivElement;
  private timer: ReturnType<typeof setInterval> | undefined;
  private refreshing: Promise<void> | null = null;
  private refreshes = 0;
  private readonly tabButtons = new Map<Tab, HTMLButtonElement>();
  private histViews: { destroy(): void }[] = [];

  constructor(container: HTMLElement, private readonly source: BoardSource, opts: DashboardOptions = {}) {
    ensureStyles(container.ownerDocument);
    if (!container.ownerDocument.getElementById('wl-board-styles')) {
      const s = container.ownerDocument.createElement('style');
      s.id = 'wl-board-styles';
      s.textContent = BOARD_CSS;
      container.ownerDocument.head.appendChild(s);
    }
    this.smoothing = opts.smoothing ?? 0.6;
    this.root = document.createElement('div');
    this.root.className = 'wl-board';
    const side = document.createElement('div');
    side.className = 'wl-side';
    side.innerHTML = `
      <h2>${escapeHtml(opts.title ?? 'wasm-layers board')}</h2>
      <h4>Runs</h4>
      <input type="text" class="wl-run-filter" placeholder="Filter runs (regex)">
      <div><a href="#" class="wl-all">all</a> · <a href="#" class="wl-none">none</a></div>
      <div class="wl-runs"></div>
      <h4>Smoothing</h4>
      <input type="range" class="wl-smoothing" min="0" max="0.999" step="0.001" value="${this.smoothing}">
      <input type="number" class="wl-smoothing-n" min="0" max="0.999" step="0.01" value="${this.smoothing}" style="width:60px">
      <h4>Horizontal axis</h4>
      <label><input type="radio" name="wl-x" value="step" checked> Step</label>
      <label><input type="radio" name="wl-x" value="relative"> Relative</label>
      <label><input type="radio" name="wl-x" value="wall"> Wall</label>
      <h4>Options</h4>
      <label><input type="checkbox" class="wl-log"> Log-scale y axis</label>
      <h4>Tags</h4>
      <input type="text" class="wl-tag-filter" placeholder="Filter tags (regex)">
      <div class="wl-status"></div>`;
    this.runList = side.querySelector('.wl-runs') as HTMLDivElement;
    this.status = side.querySelector('.wl-status') as HTMLDivElement;
    const main = document.createElement('div');
    main.className = 'wl-main';
    const tabs = document.createElement('div');
    tabs.className = 'wl-tabs';
    for (const [t, label] of [
      ['scalars', 'Scalars'],
      ['histograms', 'Histograms'],
      ['distributions', 'Distributions'],
      ['model', 'Model'],
    ] as [Tab, string][]) {
      const b = document.createElement('button');
      b.textContent = label;
      b.dataset.tab = t;
      b.onclick = () => this.setTab(t);
      this.tabButtons.set(t, b);
      tabs.append(b);
    }
    this.panel = document.createElement('div');
    this.panel.className = 'wl-panel';
    main.append(tabs, this.panel);
    this.root.append(side, main);
    container.appendChild(this.root);

    const slider = side.querySelector('.wl-smoothing') as HTMLInputElement;
    const num = side.querySelector('.wl-smoothing-n') as HTMLInputElement;
    const setSmoothing = (v: number) => {
      this.smoothing = Math.max(0, Math.min(0.999, Number.isFinite(v) ? v : 0));
      slider.value = String(this.smoothing);
      num.value = String(this.smoothing);
      for (const c of this.scalarCharts.values()) c.setOptions({ smoothing: this.smoothing });
    };
    slider.oninput = () => setSmoothing(Number(slider.value));
    num.onchange = () => setSmoothing(Number(num.value));
    side.querySelectorAll<HTMLInputElement>('input[name=wl-x]').forEach((r) => {
      r.onchange = () => {
        this.xAxis = r.value as XAxis;
        for (const c of this.scalarCharts.values()) c.setOptions({ xAxis: this.xAxis });
      };
    });
    (side.querySelector('.wl-log') as HTMLInputElement).onchange = (e) => {
      this.logScale = (e.target as HTMLInputElement).checked;
      for (const c of this.scalarCharts.values()) c.setOptions({ logScale: this.logScale });
    };
    (side.querySelector('.wl-tag-filter') as HTMLInputElement).oninput = (e) => {
      this.tagFilter = (e.target as HTMLInputElement).value;
      this.renderPanel();
    };
    const runFilter = side.querySelector('.wl-run-filter') as HTMLInputElement;
    runFilter.oninput = () => this.renderRunList(runFilter.value);
    (side.querySelector('.wl-all') as HTMLAnchorElement).onclick = (e) => {
      e.preventDefault();
      this.hidden.clear();
      this.renderRunList(runFilter.value);
      this.renderPanel();
    };
    (side.querySelector('.wl-none') as HTMLAnchorElement).onclick = (e) => {
      e.preventDefault();
      for (const r of this.runs) this.hidden.add(r.run);
      this.renderRunList(runFilter.value);
      this.renderPanel();
    };

    this.setTab('scalars', false);
    void this.refresh().then(() => {
      this.root.dataset.ready = '1';
    });
    const poll = opts.pollMs ?? 2000;
    if (poll > 0) this.timer = setInterval(() => void this.refresh(), poll);
  }

  /** Runs currently known, in the order they appeared. */
  get runNames(): string[] {
    return this.runs.map((r) => r.run);
  }

  colorOf(run: string): string {
    let c = this.colors.get(run);
    if (!c) {
      c = runColor(this.colors.size);
      this.colors.set(run, c);
    }
    return c;
  }

  setTab(tab: Tab, render = true): void {
    this.tab = tab;
    for (const [t, b] of this.tabButtons) b.classList.toggle('on', t === tab);
    this.root.dataset.tab = tab;
    if (render) this.renderPanel();
  }

  /** Asks the source for changes and redraws what changed. Concurrent calls share one refresh. */
  refresh(): Promise<void> {
    if (!this.refreshing)
      this.refreshing = this.track(this.doRefresh())
        .catch((e) => {
          this.status.textContent = `Cannot reach the data: ${(e as Error).message}`;
        })
        .finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const next = await this.source.runs();
    const before = new Map(this.runs.map((r) => [r.run, r]));
    const changed = next.filter((r) => {
      const b = before.get(r.run);
      return !b || b.version !== r.version || JSON.stringify(b.scalars) !== JSON.stringify(r.scalars) || JSON.stringify(b.histograms) !== JSON.stringify(r.histograms);
    });
    const first = this.refreshes === 0;
    this.runs = [...next].sort((a, b) => a.run.localeCompare(b.run, 'en', { numeric: true }));
    for (const r of this.runs) this.colorOf(r.run);
    if (first || changed.length > 0 || next.length !== before.size) {
      this.renderRunList((this.root.querySelector('.wl-run-filter') as HTMLInputElement).value);
      if (this.tab === 'scalars') await this.updateScalars(first ? null : new Set(changed.map((r) => r.run)));
      else if (changed.length > 0) this.renderPanel();
    }
    this.refreshes++;
    this.root.dataset.refreshes = String(this.refreshes);
    const points = this.runs.reduce((s, r) => s + Object.values(r.scalars).reduce((a, b) => a + b, 0), 0);
    this.status.textContent = `${this.runs.length} runs, ${points} scalar points · updated ${new Date().toLocaleTimeString()}`;
  }

  private renderRunList(filter: string): void {
    let re: RegExp | null = null;
    try {
      re = filter ? new RegExp(filter, 'i') : null;
    } catch {
      re = null;
    }
    this.runList.textContent = '';
    for (const r of this.runs) {
      if (re && !re.test(r.run)) continue;
      const label = document.createElement('label');
      label.className = 'wl-run';
      label.dataset.run = r.run;
      const cb = document.createElement('input');
      cb.type = 'checkbox';
      cb.checked = !this.hidden.has(r.run);
      cb.onchange = () => {
        if (cb.checked) this.hidden.delete(r.run);
        else this.hidden.add(r.run);
        this.renderPanel();
      };
      const sw = document.createElement('span');
      sw.className = 'wl-sw';
      sw.style.background = this.colorOf(r.run);
      sw.style.margin = '0 5px';
      label.append(cb, sw, document.createTextNode(r.run));
      this.runList.append(label);
    }
  }

  private visibleRuns(): RunInfo[] {
    return this.runs.filter((r) => !this.hidden.has(r.run));
  }

  private tagRe(): RegExp | null {
    try {
      return this.tagFilter ? new RegExp(this.tagFilter, 'i') : null;
    } catch {
      return null;
    }
  }

  private scalarTags(): string[] {
    const tags = new Set<string>();
    for (const r of this.runs) for (const t of Object.keys(r.scalars)) tags.add(t);
    const re = this.tagRe();
    return [...tags].filter((t) => !re || re.test(t)).sort();
  }

  private busy = 0;

  /** Marks the dashboard busy (`data-busy`) while `work` runs, so a test or script can wait for the redraw. */
  private track(work: Promise<void>): Promise<void> {
    this.busy++;
    this.root.dataset.busy = '1';
    return work.finally(() => {
      if (--this.busy === 0) delete this.root.dataset.busy;
    });
  }

  private renderPanel(): void {
    for (const c of this.scalarCharts.values()) c.destroy();
    this.scalarCharts.clear();
    for (const v of this.histViews) v.destroy();
    this.histViews = [];
    this.panel.textContent = '';
    if (this.tab === 'scalars') void this.track(this.updateScalars(null));
    else if (this.tab === 'model') void this.track(this.renderModels());
    else void this.track(this.renderHistograms(this.tab));
  }

  private downloadLinks(tag: string): HTMLElement {
    const div = document.createElement('div');
    for (const format of ['csv', 'json'] as const) {
      const a = document.createElement('a');
      a.textContent = format.toUpperCase();
      a.className = `wl-dl-${format}`;
      const name = `${tag.replace(/[^\w.-]+/g, '_')}.${format}`;
      a.download = name;
      if (this.source.downloadUrl) a.href = this.source.downloadUrl(tag, format);
      else
        a.onclick = () => {
          const byRun: Record<string, { step: number; wallTime: number; value: number }[]> = {};
          for (const [run, c] of Object.entries(this.scalarData.get(tag) ?? {})) byRun[run] = c.step.map((s, i) => ({ step: s, wallTime: c.wallTime[i], value: c.value[i] }));
          const text = format === 'csv' ? scalarsCsv(byRun) : JSON.stringify(byRun);
          a.href = URL.createObjectURL(new Blob([text], { type: format === 'csv' ? 'text/csv' : 'application/json' }));
        };
      div.append(a);
    }
    return div;
  }

  /** Fetches the scalar tags (those of `changedRuns`, or all when null) and updates or creates their charts. */
  private async updateScalars(changedRuns: Set<string> | null): Promise<void> {
    const tags = this.scalarTags();
    if (tags.length === 0 && this.scalarCharts.size === 0) {
      this.panel.innerHTML = `<div class="wl-empty">${this.runs.length ? 'No scalar data.' : 'No runs yet: waiting for event files…'}</div>`;
      return;
    }
    this.panel.querySelector('.wl-empty')?.remove();
    const visible = new Set(this.visibleRuns().map((r) => r.run));
    // Several tags in flight at once, not one after the other.
    await Promise.all(
      tags.map(async (tag) => {
        const needed = changedRuns === null || !this.scalarData.has(tag) || this.runs.some((r) => changedRuns.has(r.run) && r.scalars[tag] !== undefined);
        if (needed) this.scalarData.set(tag, await this.source.scalars(tag));
      }),
    );
    if (this.tab !== 'scalars') return;
    for (const tag of tags) {
      let chart = this.scalarCharts.get(tag);
      if (!chart) {
        chart = new ScalarChart(this.panel, { title: tag, smoothing: this.smoothing, xAxis: this.xAxis, logScale: this.logScale, header: this.downloadLinks(tag) });
        this.scalarCharts.set(tag, chart);
      }
      const data = this.scalarData.get(tag) ?? {};
      chart.setSeries(
        this.runs
          .filter((r) => visible.has(r.run) && data[r.run])
          .map((r) => ({ run: r.run, color: this.colorOf(r.run), ...data[r.run] })),
      );
    }
  }

  private async renderHistograms(kind: 'histograms' | 'distributions'): Promise<void> {
    const re = this.tagRe();
    const pairs: { run: string; tag: string }[] = [];
    const tags = new Set<string>();
    for (const r of this.visibleRuns()) for (const t of Object.keys(r.histograms)) if (!re || re.test(t)) tags.add(t);
    for (const tag of [...tags].sort()) for (const r of this.visibleRuns()) if (r.histograms[tag]) pairs.push({ run: r.run, tag });
    if (pairs.length === 0) {
      this.panel.innerHTML = '<div class="wl-empty">No histogram data.</div>';
      return;
    }
    const panel = this.panel;
    // Many cards are drawn when scrolled into view, so a hundred runs do not draw thousands of charts up front.
    const lazy = pairs.length > 48 && typeof IntersectionObserver !== 'undefined';
    const observer = lazy
      ? new IntersectionObserver((entries) => {
          for (const e of entries) {
            if (!e.isIntersecting) continue;
            observer!.unobserve(e.target);
            (e.target as HTMLElement & { wlDraw?: () => void }).wlDraw?.();
          }
        })
      : null;
    for (const { run, tag } of pairs) {
      const header = document.createElement('div');
      header.className = 'wl-sub';
      header.innerHTML = `<span class="wl-sw" style="background:${this.colorOf(run)}"></span> ${escapeHtml(run)}`;
      const opts = { title: tag, color: this.colorOf(run), header };
      const view = kind === 'histograms' ? new HistogramChart(panel, opts) : new DistributionChart(panel, opts);
      view.root.dataset.run = run;
      view.root.dataset.tag = tag;
      this.histViews.push(view);
      const draw = async () => {
        const pts = await this.source.histograms(run, tag);
        if (this.panel === panel && view.root.isConnected) view.setData(pts);
      };
      if (observer) {
        (view.root as HTMLElement & { wlDraw?: () => void }).wlDraw = () => void draw();
        observer.observe(view.root);
      } else await draw();
    }
  }

  private async renderModels(): Promise<void> {
    const withModel = this.visibleRuns().filter((r) => r.hasModel);
    if (withModel.length === 0) {
      this.panel.innerHTML = '<div class="wl-empty">No run holds a model config (Keras writes it under the <code>keras</code> tag).</div>';
      return;
    }
    for (const r of withModel) {
      const cfg = await this.source.modelConfig(r.run);
      const v = new ModelView(this.panel, cfg, { title: r.run });
      v.root.dataset.run = r.run;
      this.histViews.push(v);
    }
  }

  destroy(): void {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.scalarCharts.values()) c.destroy();
    for (const v of this.histViews) v.destroy();
    this.root.remove();
  }
}
