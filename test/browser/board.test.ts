/**
 * `wasm-layers board` in headless Chromium:
 *  - over the reference TensorBoard files (Keras 2.13, Keras 3.15 on the seed model, PyTorch): the runs and tags
 *    TensorBoard 2.21 lists for that directory (written out below per run), every scalar chart with the right
 *    number of points per run, an offset histogram and a distribution chart for every histogram tag of every run,
 *    the distribution bands as TensorBoard's compress_histogram computes them, and the Keras model config;
 *  - over logs our TensorBoard callback writes during a short fit: the same, checked against History;
 *  - while a fit is writing: new epochs appear without a reload;
 *  - 100 runs × 10,000 points: the page renders every chart (drawn decimated) and stays usable.
 * Screenshots go to test-artifacts/board-*.png.
 *
 * Run: `npx vitest run test/browser/board.test.ts` (builds wasm + dist itself). Skipped without Chromium; the
 * reference part is skipped when ../shared is absent.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ROOT } from './server.js';
import { HAVE_CHROMIUM, build, launchChromium } from './setup.js';
import { startBoard, type Board } from '../../src/board/server.js';
import { Callback, History, callbacks, init, layers, sequential, setSeed, tensor } from '../../src/index.js';
import { EventFileWriter } from '../../src/tensorboard/writer.js';
import { blobs } from '../helpers/blobs.js';

const REFERENCE = join(ROOT, '../shared/reference/tensorboard-events');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const FIXTURE = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/board/tensorboard-reference.json'), 'utf8')) as {
  note: string;
  runs: Record<string, { scalars: Record<string, number>; histograms: Record<string, number>; graph: boolean }>;
  compressed: { run: string; tag: string; step: number; values: number[] }[];
};

interface PageState {
  runs: string[];
  scalars: { tag: string; points: Record<string, number>; drawn: Record<string, number>; rendered: boolean }[];
  hist: { run: string; tag: string; steps: number; rendered: boolean; bands?: number[][] }[];
  models: { run: string; layers: number; total: string; text: string }[];
}

async function state(page: Page, tab: 'scalars' | 'histograms' | 'distributions' | 'model'): Promise<PageState> {
  await page.click(`button[data-tab=${tab}]`);
  await page.waitForFunction(() => !(document.querySelector('.wl-board') as HTMLElement).dataset.busy);
  if (tab === 'scalars') await page.waitForFunction(() => [...document.querySelectorAll('.wl-scalar')].every((c) => (c as HTMLElement).dataset.rendered));
  if (tab === 'histograms' || tab === 'distributions')
    await page.waitForFunction(() => {
      const cards = [...document.querySelectorAll('.wl-histogram, .wl-distribution')] as HTMLElement[];
      return cards.length > 0 && cards.every((c) => c.dataset.rendered);
    });
  if (tab === 'model') await page.waitForSelector('.wl-model, .wl-empty');
  return page.evaluate(() => {
    const ds = (sel: string) => [...document.querySelectorAll(sel)] as HTMLElement[];
    return {
      runs: ds('.wl-run').map((e) => e.dataset.run!),
      scalars: ds('.wl-scalar').map((e) => ({ tag: e.dataset.tag!, points: JSON.parse(e.dataset.points ?? '{}'), drawn: JSON.parse(e.dataset.drawn ?? '{}'), rendered: !!e.dataset.rendered && !!e.querySelector('canvas') })),
      hist: ds('.wl-histogram, .wl-distribution').map((e) => ({ run: e.dataset.run!, tag: e.dataset.tag!, steps: Number(e.dataset.steps), rendered: !!e.dataset.rendered && !!e.querySelector('canvas'), bands: e.dataset.bands ? JSON.parse(e.dataset.bands) : undefined })),
      models: ds('.wl-model').map((e) => ({ run: e.dataset.run!, layers: Number(e.dataset.layers), total: e.querySelector('.wl-total')?.textContent ?? '', text: e.innerText })),
    };
  });
}

/** The scalar tags of a run as the page shows them: chart tag → that run's point count. */
function scalarsOf(s: PageState, run: string): Record<string, number> {
  return Object.fromEntries(s.scalars.filter((c) => c.points[run] !== undefined).map((c) => [c.tag, c.points[run]]));
}

describe.skipIf(!HAVE_CHROMIUM)('board in Chromium', () => {
  let browser: Browser;
  const boards: Board[] = [];
  const tmp: string[] = [];

  beforeAll(async () => {
    await build();
    mkdirSync(ARTIFACTS, { recursive: true });
    await init({ threads: 1 });
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    for (const b of boards) await b.close();
    for (const d of tmp) await rm(d, { recursive: true, force: true });
  });

  async function open(logDir: string, poll = 0): Promise<{ page: Page; errors: string[]; board: Board }> {
    const board = await startBoard({ logDir, port: 0, reloadMs: 200 });
    boards.push(board);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`${board.url}?poll=${poll}`);
    await page.waitForSelector('.wl-board[data-ready="1"]', { timeout: 60_000 });
    return { page, errors, board };
  }

  it.skipIf(!existsSync(REFERENCE))('shows the reference logs as TensorBoard lists them: runs, tags, points, histograms, distributions, model', async () => {
    const { page, errors } = await open(REFERENCE);
    const expected = FIXTURE.runs;
    const sc = await state(page, 'scalars');
    await page.screenshot({ path: join(ARTIFACTS, 'board-reference-scalars.png'), fullPage: true });
    expect(sc.runs).toEqual(Object.keys(expected).sort());
    for (const [run, e] of Object.entries(expected)) expect(scalarsOf(sc, run), run).toEqual(e.scalars);
    for (const c of sc.scalars) expect(c.rendered, c.tag).toBe(true);
    // Train and validation share one chart per tag.
    expect(Object.keys(sc.scalars.find((c) => c.tag === 'epoch_loss')!.points).sort()).toEqual([
      'keras-tf2.13-imdb/train',
      'keras-tf2.13-imdb/validation',
      'keras3.15-tf2.21-seed-mnist/train',
      'keras3.15-tf2.21-seed-mnist/validation',
    ]);

    const wantHist = Object.entries(expected).flatMap(([run, e]) => Object.entries(e.histograms).map(([tag, steps]) => ({ run, tag, steps })));
    const sortPairs = (a: { run: string; tag: string }[]) => a.map((p) => `${p.run} ${p.tag}`).sort();
    for (const tab of ['histograms', 'distributions'] as const) {
      const st = await state(page, tab);
      await page.screenshot({ path: join(ARTIFACTS, `board-reference-${tab}.png`), fullPage: true });
      expect(sortPairs(st.hist)).toEqual(sortPairs(wantHist));
      for (const h of st.hist) {
        expect(h.steps, `${h.run} ${h.tag}`).toBe(expected[h.run].histograms[h.tag]);
        expect(h.rendered).toBe(true);
      }
      if (tab === 'distributions')
        for (const c of FIXTURE.compressed) {
          const h = st.hist.find((x) => x.run === c.run && x.tag === c.tag)!;
          const got = h.bands![c.step];
          // TensorBoard turns legacy (PyTorch) histograms into float32 tensors (data_compat); the reader keeps
          // float64, so the bands agree to float32 precision there and to ~1e-12 elsewhere.
          c.values.forEach((v, i) => expect(Math.abs(got[i] - v), `${c.run} ${c.tag} step ${c.step} band ${i}`).toBeLessThanOrEqual(2e-7 * Math.max(1, Math.abs(v))));
        }
    }

    const md = await state(page, 'model');
    await page.screenshot({ path: join(ARTIFACTS, 'board-reference-model.png'), fullPage: true });
    expect(md.models.map((m) => m.run).sort()).toEqual(Object.entries(expected).filter(([, e]) => e.graph).map(([r]) => r).sort());
    const seed = md.models.find((m) => m.run === 'keras3.15-tf2.21-seed-mnist/train')!;
    expect(seed.layers).toBe(4);
    expect(seed.total).toBe('407,050');
    expect(seed.text).toMatch(/dense \(Dense\)\s+\(None, 512\)\s+401,920/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows what our TensorBoard callback wrote during a fit, and new epochs while a fit is writing, without a reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wl-board-live-'));
    tmp.push(dir);
    const { page, errors } = await open(dir, 250);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    setSeed(1);
    const n = 240;
    const { x, y } = blobs(n, [[1, 0, -1, 1], [-1, 1, 1, -1], [0, -1, 1, 0]], 1.5, 4);
    const model = sequential([layers.dense({ inputShape: [4], units: 16, activation: 'relu' }), layers.dropout({ rate: 0.2 }), layers.dense({ units: 3, activation: 'softmax' })]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const seen: number[] = [];
    // Runs after the TensorBoard callback has flushed the epoch: waits until the open page shows it.
    const watch = new (class extends Callback {
      override async onEpochEnd(epoch: number): Promise<void> {
        const handle = await page.waitForFunction(
          (want) => {
            const c = document.querySelector('.wl-scalar[data-tag="epoch_loss"]') as HTMLElement | null;
            const p = c?.dataset.points ? JSON.parse(c.dataset.points) : {};
            return p.train >= want && p.validation >= want ? p.train : false;
          },
          epoch + 1,
          { timeout: 30_000, polling: 100 },
        );
        seen.push((await handle.jsonValue()) as number);
        if (epoch === 1) await page.screenshot({ path: join(ARTIFACTS, 'board-live.png') });
      }
    })();
    const history = (await model.fit(tensor(x, [n, 4]), tensor(y, [n]), {
      epochs: 4,
      batchSize: 32,
      validationSplit: 0.25,
      verbose: 0,
      callbacks: [callbacks.tensorBoard(dir, { histogramFreq: 1 }), watch],
    })) as History;
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);

    // After the fit: everything History recorded, and a histogram per weight.
    await page.waitForFunction(() => {
      const c = document.querySelector('.wl-scalar[data-tag="evaluation_loss_vs_iterations"]') as HTMLElement | null;
      return c?.dataset.points && JSON.parse(c.dataset.points).validation === 4;
    });
    const sc = await state(page, 'scalars');
    await page.screenshot({ path: join(ARTIFACTS, 'board-ours-scalars.png'), fullPage: true });
    expect(sc.runs).toEqual(['train', 'validation']);
    const epochs = history.history.loss.length;
    // Keras 3 writes the learning rate with the train run's epoch scalars
    expect(scalarsOf(sc, 'train')).toEqual({ epoch_loss: epochs, epoch_accuracy: epochs, epoch_learning_rate: epochs });
    expect(scalarsOf(sc, 'validation')).toEqual({ epoch_loss: epochs, epoch_accuracy: epochs, evaluation_loss_vs_iterations: epochs, evaluation_accuracy_vs_iterations: epochs });
    const downloaded = await page.evaluate(async () => {
      const a = document.querySelector('.wl-scalar[data-tag="epoch_loss"] .wl-dl-json') as HTMLAnchorElement;
      return (await fetch(a.href)).json();
    });
    expect(downloaded.validation.map((p: { value: number }) => p.value)).toEqual(history.history.val_loss.map((v) => Math.fround(v)));
    const hs = await state(page, 'histograms');
    await page.screenshot({ path: join(ARTIFACTS, 'board-ours-histograms.png'), fullPage: true });
    expect(hs.hist.map((h) => [h.run, h.steps]).every(([r, s]) => r === 'train' && s === epochs)).toBe(true);
    expect(hs.hist).toHaveLength(4);
    const ds = await state(page, 'distributions');
    expect(ds.hist).toHaveLength(4);
    expect(errors).toEqual([]);
    model.dispose();
    await page.close();
  });

  it('renders 100 runs × 10,000 points per tag (decimated for drawing) and stays usable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wl-board-100-'));
    tmp.push(dir);
    // Four distinct runs written by our writer, each copied to 25 folders: 100 runs of 10,000 points, 2 tags.
    // (Writing and reading 2 million events dominates this test's time; drawing them is the part under test.)
    for (let k = 0; k < 4; k++) {
      let t = 1_700_000_000_000 + k * 7_000_000;
      const w = await EventFileWriter.open(join(dir, `run-${String(k).padStart(3, '0')}`), { now: () => (t += 500) });
      for (let s = 0; s < 10_000; s++) {
        // Yield now and then: a long synchronous loop starves the test runner's RPC on a loaded machine.
        if (s % 1000 === 0) await new Promise((ok) => setImmediate(ok));
        w.scalar('loss', Math.exp(-s / (2000 + 600 * k)) + 0.05 * Math.sin(s / 7 + k), s);
        w.scalar('accuracy', 1 - Math.exp(-s / (1500 + 500 * k)), s);
      }
      await w.close();
    }
    for (let c = 1; c < 25; c++)
      for (let k = 0; k < 4; k++) {
        const from = join(dir, `run-${String(k).padStart(3, '0')}`);
        const to = join(dir, `run-${String(c * 4 + k).padStart(3, '0')}`);
        await mkdir(to, { recursive: true });
        for (const f of readdirSync(from)) await copyFile(join(from, f), join(to, f));
      }
    const { page, errors } = await open(dir);
    const sc = await state(page, 'scalars');
    expect(sc.runs).toHaveLength(100);
    expect(sc.scalars.map((c) => c.tag).sort()).toEqual(['accuracy', 'loss']);
    for (const c of sc.scalars) {
      expect(Object.keys(c.points)).toHaveLength(100);
      for (const n of Object.values(c.points)) expect(n).toBe(10_000);
      // Drawn decimated: at most 2 points per pixel of the chart's width.
      for (const n of Object.values(c.drawn)) expect(n).toBeLessThanOrEqual(1000);
      expect(c.rendered).toBe(true);
    }
    // Interactions redraw every chart: smoothing, wall-time axis, hiding runs.
    const before = await page.evaluate(() => [...document.querySelectorAll('.wl-scalar')].map((c) => Number((c as HTMLElement).dataset.rendered)));
    await page.fill('.wl-smoothing-n', '0.9');
    await page.dispatchEvent('.wl-smoothing-n', 'change');
    await page.check('input[name=wl-x][value=wall]');
    await page.waitForFunction((b) => [...document.querySelectorAll('.wl-scalar')].every((c, i) => Number((c as HTMLElement).dataset.rendered) >= b[i] + 2), before);
    await page.click('.wl-none');
    await page.check('.wl-run[data-run="run-007"] input');
    await page.waitForFunction(() => [...document.querySelectorAll('.wl-scalar')].every((c) => Object.keys(JSON.parse((c as HTMLElement).dataset.points!)).join() === 'run-007'));
    await page.click('.wl-all');
    await page.waitForFunction(() => [...document.querySelectorAll('.wl-scalar')].every((c) => Object.keys(JSON.parse((c as HTMLElement).dataset.points!)).length === 100));
    const box = await page.locator('.wl-scalar').first().boundingBox();
    await page.mouse.move(box!.x + 220, box!.y + 150);
    await page.waitForSelector('.wl-tip', { state: 'visible' });
    await page.screenshot({ path: join(ARTIFACTS, 'board-100-runs.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 400_000);
});
