/**
 * The live chart components (`wasm-layers/vis`) in headless Chromium, as an app uses them: a page imports the
 * built package and uPlot (import map), trains a small model with `fitCallbacks(container)` — loss/accuracy per
 * batch and per epoch, train and validation, weight histograms — then shows the confusion matrix and per-class
 * accuracy of its predictions. A screenshot goes to test-artifacts/vis-fit.png.
 *
 * Run: `npx vitest run test/browser/board-vis.test.ts` (builds wasm + dist itself). Skipped without Chromium.
 */
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ROOT } from './server.js';
import { HAVE_CHROMIUM, build, launchChromium } from './setup.js';
import { MIME } from '../../scripts/serve-examples.mjs';

const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));
const ARTIFACTS = join(ROOT, 'test-artifacts');

const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<script type="importmap">{"imports":{"uplot":"/uplot/uPlot.esm.js"}}</script></head>
<body style="margin:8px;background:#fafafa"><div id="charts"></div><div id="eval"></div>
<script type="module">
import * as wl from '/dist/index.js';
import * as vis from '/dist/vis/index.js';
window.runFit = async () => {
  await wl.init({ threads: 1 });
  wl.setSeed(5);
  const n = 300, centers = [[2, 0], [-2, 1], [0, -2]];
  let s = 7; const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const xs = new Float32Array(n * 2), ys = new Int32Array(n);
  for (let i = 0; i < n; i++) { const c = i % 3; ys[i] = c; xs[2 * i] = centers[c][0] + (r() * 2 - 1) * 1.6; xs[2 * i + 1] = centers[c][1] + (r() * 2 - 1) * 1.6; }
  const x = wl.tensor(xs, [n, 2]), y = wl.tensor(ys, [n]);
  const m = wl.sequential([wl.layers.dense({ inputShape: [2], units: 16, activation: 'relu' }), wl.layers.dense({ units: 3, activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const live = vis.fitCallbacks(document.getElementById('charts'), { batchEvery: 1 });
  const seenDuring = [];
  const probe = new (class extends wl.Callback { onEpochEnd() { return new Promise((ok) => requestAnimationFrame(() => { const c = document.querySelector('[data-key="epoch:loss"]'); seenDuring.push(c ? JSON.parse(c.dataset.points).train : 0); ok(); })); } })();
  const h = await m.fit(x, y, { epochs: 4, batchSize: 30, validationSplit: 0.2, verbose: 0, callbacks: [live, probe] });
  const p = m.predict(x);
  const matrix = vis.showEvaluation(document.getElementById('eval'), { labels: y, predictions: p, classNames: ['a', 'b', 'c'] });
  const probs = Array.from(p.dataSync());
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  const cards = [...document.querySelectorAll('.wl-card')].map((c) => ({ key: c.dataset.key ?? c.className, points: c.dataset.points ? JSON.parse(c.dataset.points) : null, steps: c.dataset.steps ?? null, rendered: !!c.querySelector('canvas') }));
  return { history: h.history, matrix, probs, labels: Array.from(ys), cards, seenDuring, evalText: document.getElementById('eval').innerText };
};
/** Pixels of a chart's canvas in the run colour #e8710a (TensorBoard's first run colour): what the user sees of the data. */
window.runColoredPixels = async (values) => {
  const host = document.createElement('div');
  document.body.append(host);
  const chart = new vis.ScalarChart(host, { title: 'one point', smoothing: 0.6 });
  chart.setSeries([{ run: 'train', color: '#e8710a', step: values.map((_, i) => i), wallTime: values.map((_, i) => 1e9 + i), value: values }]);
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  const c = host.querySelector('canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  let sumX = 0;
  for (let i = 0; i < d.length; i += 4)
    if (d[i + 3] > 200 && Math.abs(d[i] - 0xe8) < 24 && Math.abs(d[i + 1] - 0x71) < 24 && Math.abs(d[i + 2] - 0x0a) < 24) {
      n++;
      sumX += (i / 4) % c.width;
    }
  chart.destroy();
  return { n, meanX: n ? sumX / n / c.width : NaN };
};
</script></body></html>`;

function serve(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE);
      return;
    }
    let file: string | null = null;
    for (const [prefix, base] of [['/dist/', join(ROOT, 'dist')], ['/wasm/', join(ROOT, 'wasm')], ['/uplot/', UPLOT]] as const) {
      if (!path.startsWith(prefix)) continue;
      const f = normalize(join(base, path.slice(prefix.length)));
      if (f.startsWith(base + sep)) file = f;
    }
    if (!file || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe.skipIf(!HAVE_CHROMIUM)('vis components in Chromium', () => {
  let browser: Browser;
  let srv: { server: Server; origin: string };

  beforeAll(async () => {
    await build();
    srv = await serve();
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    srv?.server.closeAllConnections();
    await new Promise((ok) => srv?.server.close(ok));
  });

  it('fitCallbacks draws batch and epoch curves and weight histograms during fit; showEvaluation the confusion matrix', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(srv.origin + '/');
    const r = (await page.evaluate('window.runFit()')) as {
      history: Record<string, number[]>;
      matrix: number[][];
      probs: number[];
      labels: number[];
      cards: { key: string; points: Record<string, number> | null; steps: string | null; rendered: boolean }[];
      seenDuring: number[];
      evalText: string;
    };
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'vis-fit.png'), fullPage: true });
    expect(errors).toEqual([]);
    // The epoch chart grew while fit ran: one more point at each epoch end.
    expect(r.seenDuring).toEqual([1, 2, 3, 4]);
    const byKey = new Map(r.cards.map((c) => [c.key, c]));
    expect(byKey.get('epoch:loss')?.points).toEqual({ train: 4, validation: 4 });
    expect(byKey.get('epoch:accuracy')?.points).toEqual({ train: 4, validation: 4 });
    // 240 training samples / 30 = 8 batches per epoch, one point each.
    expect(byKey.get('batch:loss')?.points).toEqual({ train: 32 });
    for (const w of ['dense/kernel:0', 'dense/bias:0', 'dense_1/kernel:0', 'dense_1/bias:0'].map((n) => `hist:${n}`)) {
      expect(byKey.get(w)?.steps, w).toBe('4');
      expect(byKey.get(w)?.rendered).toBe(true);
    }
    // The matrix is the count of (label, argmax) pairs, recomputed here from the page's predictions.
    const want = [0, 1, 2].map(() => [0, 0, 0]);
    r.labels.forEach((t, i) => {
      const row = r.probs.slice(3 * i, 3 * i + 3);
      want[t][row.indexOf(Math.max(...row))]++;
    });
    expect(r.matrix).toEqual(want);
    expect(r.evalText).toMatch(/Per-class accuracy/);
    await page.close();
  });

  it('a scalar chart with a single point (a 1-epoch run) shows it, as a chart with a line does', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
    await page.goto(srv.origin + '/');
    type Pixels = { n: number; meanX: number };
    const one = (await page.evaluate('window.runColoredPixels([0.62])')) as Pixels;
    const line = (await page.evaluate('window.runColoredPixels([0.62, 0.41, 0.35])')) as Pixels;
    expect(line.n).toBeGreaterThan(20);
    expect(one.n).toBeGreaterThan(20);
    // Centred, not on the left edge under an axis counting to 100 (uPlot's range for a zero-width x).
    expect(one.meanX).toBeGreaterThan(0.4);
    expect(one.meanX).toBeLessThan(0.7);
    await page.close();
  });
});
