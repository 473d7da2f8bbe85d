/**
 * The browser demo (examples/browser/) end to end in headless Chromium, served by scripts/serve-examples.mjs:
 *
 *  - cross-origin isolated: the page fetches MNIST gzip-compressed, a module Worker trains the seed model on
 *    2 threads (1 short epoch), the charts' data grows while it trains, a vertical stroke drawn with the mouse
 *    is classified (10 probabilities, the argmax shown), the model downloads as model.json + weights.bin,
 *    and a reload brings it back from IndexedDB with drawing offered at once (same prediction);
 *  - not isolated: the page says training uses one thread, and why.
 *
 * Screenshots of each stage go to test-artifacts/demo/ (paths printed).
 * Run: `npx vitest run test/browser/example.test.ts` (builds wasm + dist itself). Skipped only when there is
 * no Chromium (`apt-get install -y chromium`; override the path with WL_CHROMIUM).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type ExampleServer } from '../../scripts/serve-examples.mjs';
import { ROOT } from './server.js';
import { CHROMIUM, HAVE_CHROMIUM, build, launchChromium } from './setup.js';

if (!HAVE_CHROMIUM) console.warn(`test/browser: SKIPPED, ${CHROMIUM} not found (install it with \`apt-get install -y chromium\`).`);

const ARTIFACTS = join(ROOT, 'test-artifacts/demo');

/** Collects console errors, page errors and failed requests of a page. */
function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  return errors;
}

async function shot(page: Page, name: string): Promise<void> {
  const file = join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

/** The page's state (window.wlDemo), minus the big parts. */
const state = (page: Page) =>
  page.evaluate(() => {
    const d = (window as any).wlDemo;
    return {
      state: d.state as string,
      isolated: d.isolated as boolean,
      backend: d.backend,
      data: d.data,
      model: d.model,
      training: d.training,
      evaluation: d.evaluation,
      prediction: d.prediction as { probs: number[]; argmax: number } | null,
      predictions: d.predictions as number,
      errors: d.errors as string[],
      batches: d.series.batch as number,
      epochs: d.series.epoch as number,
      histograms: d.series.histograms as number,
      /** Points the live charts hold, by chart key (wasm-layers/vis cards carry data-key and data-points). */
      charts: Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('#charts .wl-card[data-key]')].map((c) => [c.dataset.key!, c.dataset.points ? JSON.parse(c.dataset.points) : { steps: Number(c.dataset.steps) }]),
      ) as Record<string, Record<string, number>>,
      tensorboardFiles: d.tensorboardFiles as { path: string; bytes: number }[],
    };
  });

/** Fails with the page's own errors when `fn` does not become true in time. */
async function until(page: Page, errors: string[], what: string, fn: string, timeout = 90_000): Promise<void> {
  await page.waitForFunction(fn, undefined, { timeout, polling: 50 }).catch(async (e) => {
    const s = await state(page).catch(() => null);
    throw new Error(`${what}: ${(e as Error).message}\npage errors: ${[...errors, ...(s?.errors ?? [])].join('\n') || 'none'}\nstate: ${JSON.stringify(s)}`);
  });
}

/** A vertical stroke down the middle of the pad, like a "1", with the real mouse (pointer events). */
async function drawOne(page: Page): Promise<void> {
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = (await page.locator('#pad').boundingBox())!;
  const x = box.x + box.width * 0.5;
  await page.mouse.move(x, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let i = 1; i <= 20; i++) {
    await page.mouse.move(x + i * 0.3, box.y + box.height * (0.15 + (0.7 * i) / 20), { steps: 2 });
  }
  await page.mouse.up();
}

describe.skipIf(!HAVE_CHROMIUM)('browser demo: examples/browser', () => {
  let browser: Browser | undefined;
  let server: ExampleServer | undefined;
  let plain: ExampleServer | undefined;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await build();
    [server, plain, browser] = await Promise.all([
      startServer(0),
      startServer(0, { isolated: false }),
      launchChromium(),
    ]);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await plain?.close();
  });

  it('trains in a Worker on 2 threads with growing charts, predicts a drawn digit, keeps the model across a reload', async () => {
    const context: BrowserContext = await browser!.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    try {
      const page = await context.newPage();
      const errors = watch(page);
      const res = await page.goto(`${server!.url}?epochs=1&samples=32000&batch=32&val=1000&threads=2&seed=1`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['cross-origin-embedder-policy']).toBe('require-corp');

      // Training starts by itself (no model saved yet); its logs reach the page and the charts grow while it runs.
      const batchPoints = `JSON.parse(document.querySelector('#charts [data-key="batch:loss"]')?.dataset.points ?? '{"train":0}').train`;
      await until(page, errors, 'the batch charts did not start', `${batchPoints} >= 5`);
      const early = await state(page);
      expect(early.state).toBe('training');
      const n1 = early.charts['batch:loss'].train;
      // 32,000 samples / 32 = 1,000 batches, of which every 5th is charted (about 200 per epoch: vis/fit-events.ts):
      // enough that the epoch is still running when the page is first read (at ~30,000 samples/s, an epoch of
      // 4,000 samples could end between two 50 ms polls).
      expect(n1).toBeLessThan(200);
      expect(early.charts['batch:accuracy'].train).toBeGreaterThan(0);
      await shot(page, '1-training.png');
      await until(page, errors, 'the charts did not grow', `${batchPoints} > ${n1}`);

      // Threads inside the worker: the page is isolated, the pool has 2 threads (the worker and one nested
      // pool worker, started from it with a blob: URL).
      expect(early.isolated).toBe(true);
      expect(early.backend.threads).toBe(2);
      expect(early.backend.variant).toMatch(/-threads$/);
      expect(await page.isHidden('#isolation')).toBe(true);
      expect(await page.textContent('#backend')).toContain('2 thread(s) in a Web Worker');
      const workers = page.workers().map((w) => w.url());
      expect(workers.filter((u) => u.endsWith('/examples/browser/worker.js'))).toHaveLength(1);
      expect(workers.filter((u) => u.startsWith('blob:'))).toHaveLength(1);

      // MNIST came gzip-compressed: ≈11 MB on the wire for ≈55 MB of IDX.
      expect(early.data.files).toBe(4);
      expect(early.data.compressedBytes).toBeGreaterThan(9e6);
      expect(early.data.compressedBytes).toBeLessThan(13e6);
      expect(early.data.rawBytes).toBeGreaterThan(54e6);

      await until(page, errors, 'training did not finish', "window.wlDemo.state === 'trained'");
      const done = await state(page);
      expect(done.batches).toBe(200);
      expect(done.epochs).toBe(1);
      expect(done.histograms).toBe(1);
      // The charts: every batch, the epoch with train and validation, a histogram per weight, and after the
      // evaluation the confusion matrix and per-class accuracy.
      expect(done.charts['batch:loss']).toEqual({ train: 200 });
      expect(done.charts['epoch:loss']).toEqual({ train: 1, validation: 1 });
      expect(done.charts['epoch:accuracy']).toEqual({ train: 1, validation: 1 });
      expect(Object.keys(done.charts).filter((k) => k.startsWith('hist:')).sort()).toEqual(['hist:dense/bias:0', 'hist:dense/kernel:0', 'hist:dense_1/bias:0', 'hist:dense_1/kernel:0']);
      expect(await page.getAttribute('#charts .wl-confusion', 'data-samples')).toBe('1000');
      expect(await page.locator('#charts .wl-per-class tbody tr').count()).toBe(10);
      expect(done.training.epochs).toBe(1);
      expect(done.model.stored).toBe(true);
      // After evaluation: the confusion matrix covers the 1,000 validation images; accuracy well above chance.
      const ev = done.evaluation;
      expect(ev.samples).toBe(1000);
      expect(ev.matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(1000);
      expect(ev.perClass).toHaveLength(10);
      expect(ev.accuracy).toBeGreaterThan(0.8);
      expect(ev.perClass.map((c: { count: number }) => c.count).reduce((a: number, b: number) => a + b, 0)).toBe(1000);
      // The TensorBoard logs of the run, in memory, offered as downloads.
      expect(done.tensorboardFiles.map((f) => f.path.split('/').slice(0, 4).join('/')).sort()).toEqual(['logs/fit/browser/train', 'logs/fit/browser/validation']);
      expect(await page.locator('#downloads a').count()).toBe(2);
      expect(await page.locator('#epochs-body tr').count()).toBe(1);
      await shot(page, '2-trained.png');

      // Draw a "1": the bars follow the stroke, the probabilities sum to 1, the argmax is shown.
      expect(done.predictions).toBe(0);
      await drawOne(page);
      await until(page, errors, 'no prediction after drawing', 'window.wlDemo.predictions >= 2');
      await page.waitForTimeout(300); // the last in-flight prediction
      const drawn = await state(page);
      const probs = drawn.prediction!.probs;
      expect(probs).toHaveLength(10);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      for (const p of probs) expect(p).toBeGreaterThanOrEqual(0);
      expect(await page.textContent('#argmax')).toBe(String(drawn.prediction!.argmax));
      expect(drawn.prediction!.argmax, `probabilities ${probs.map((p) => p.toFixed(3)).join(' ')}`).toBe(1);
      await shot(page, '3-drawn.png');

      // Download: tfjs' two files, model.json naming weights.bin of 407,050 float32s.
      const downloads: { name: string; path: string }[] = [];
      const got = new Promise<void>((resolve) => {
        page.on('download', async (d) => {
          downloads.push({ name: d.suggestedFilename(), path: (await d.path())! });
          if (downloads.length === 2) resolve();
        });
      });
      await page.click('#download');
      await got;
      expect(downloads.map((d) => d.name).sort()).toEqual(['model.json', 'weights.bin']);
      const modelJson = JSON.parse(readFileSync(downloads.find((d) => d.name === 'model.json')!.path, 'utf8'));
      expect(modelJson.format).toBe('layers-model');
      expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
      expect(readFileSync(downloads.find((d) => d.name === 'weights.bin')!.path).length).toBe(407_050 * 4);

      // Reload: the model comes back from IndexedDB, drawing is offered at once (no training), and the same
      // stroke gives the same probabilities.
      await page.reload();
      await until(page, errors, 'the saved model did not come back', "window.wlDemo.model?.source === 'indexeddb'");
      const back = await state(page);
      expect(back.state).toBe('ready');
      expect(back.training).toBeNull();
      expect(await page.locator('#draw-section').getAttribute('class')).not.toContain('disabled');
      await drawOne(page);
      await until(page, errors, 'no prediction after the reload', 'window.wlDemo.predictions >= 2');
      await page.waitForTimeout(300);
      const again = await state(page);
      expect(again.prediction!.argmax).toBe(drawn.prediction!.argmax);
      for (let k = 0; k < 10; k++) expect(again.prediction!.probs[k]).toBeCloseTo(probs[k], 5);
      await shot(page, '4-reloaded.png');

      // Loading the downloaded files back (the file picker) replaces the model and keeps drawing.
      await page.setInputFiles('#upload', downloads.map((d) => ({ name: d.name, mimeType: 'application/octet-stream', buffer: readFileSync(d.path) })));
      await until(page, errors, 'the files did not load', "window.wlDemo.model?.source === 'file'");

      expect(errors).toEqual([]);
      expect((await state(page)).errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 240_000);

  it('not cross-origin isolated: the page says training uses one thread, and why; Stop ends a run', async () => {
    const context = await browser!.newContext({ viewport: { width: 1100, height: 700 } });
    try {
      const page = await context.newPage();
      const errors = watch(page);
      const res = await page.goto(`${plain!.url}?autostart=0&epochs=2&samples=3000&val=500`);
      expect(res?.headers()['cross-origin-embedder-policy']).toBeUndefined();
      await until(page, errors, 'the worker did not start', "window.wlDemo.state === 'ready'");
      const s = await state(page);
      expect(s.isolated).toBe(false);
      expect(s.backend.threads).toBe(1);
      expect(s.backend.variant).not.toMatch(/-threads$/);
      expect(await page.isVisible('#isolation')).toBe(true);
      const line = await page.textContent('#isolation');
      expect(line).toMatch(/^Training uses one thread/);
      expect(line).toContain('not cross-origin isolated');
      expect(line).toContain('Cross-Origin-Embedder-Policy: require-corp');
      await shot(page, '5-not-isolated.png');

      // One thread trains too, and Stop ends the run early: the model is still evaluated and kept.
      await page.click('#train');
      await until(page, errors, 'one-thread training did not start', `JSON.parse(document.querySelector('#charts [data-key="batch:loss"]')?.dataset.points ?? '{"train":0}').train >= 3`);
      await page.click('#stop');
      await until(page, errors, 'Stop did not end the run', "window.wlDemo.state === 'trained'");
      const stopped = await state(page);
      expect(stopped.training.stopped).toBe(true);
      expect(stopped.training.epochs).toBeLessThan(2);
      expect(stopped.batches).toBeLessThan(2 * 94);
      expect(await page.textContent('#status')).toMatch(/^stopped after/);
      expect(stopped.model.stored).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});
