/**
 * The browser example (examples/browser/) end to end in headless Chromium: scripts/serve-examples.mjs serves
 * it cross-origin isolated, the page loads MNIST from /mnist/, trains the seed model for one short epoch
 * (3,000 samples, validation on 500 test images) and leaves its result in `window.wlResult`.
 *
 * Run: `npx vitest run test/browser/example.test.ts` (builds wasm + dist itself). Skipped only when there is
 * no Chromium (`apt-get install -y chromium`; override the path with WL_CHROMIUM).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startServer, type ExampleServer } from '../../scripts/serve-examples.mjs';
import { CHROMIUM, HAVE_CHROMIUM, LAUNCH_ARGS, build } from './setup.js';

if (!HAVE_CHROMIUM) console.warn(`test/browser: SKIPPED, ${CHROMIUM} not found (install it with \`apt-get install -y chromium\`).`);

interface ExampleResult {
  backend: { variant: string; threads: number; simd: boolean; environment: string; reason?: string };
  crossOriginIsolated: boolean;
  epochs: number;
  history: Record<string, number[]>;
  seconds: number;
  samplesPerSecond: number;
  tensorboardFiles: { path: string; bytes: number }[];
}

describe.skipIf(!HAVE_CHROMIUM)('browser example: examples/browser trains the seed MNIST model in a page', () => {
  let browser: Browser | undefined;
  let server: ExampleServer | undefined;

  beforeAll(async () => {
    await build();
    const { chromium } = await import('playwright-core');
    [server, browser] = await Promise.all([startServer(0), chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 })]);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('one epoch on 3,000 samples: threads, accuracy, TensorBoard files, no errors', async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));

      const res = await page.goto(`${server!.url}index.html?epochs=1&samples=3000&batch=32&threads=2&seed=1`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['cross-origin-embedder-policy']).toBe('require-corp');

      await page
        .waitForFunction(() => (window as any).wlResult !== undefined || (window as any).wlError !== undefined, undefined, { timeout: 60_000 })
        .catch((e) => {
          throw new Error(`the example did not finish: ${errors.join('\n') || (e as Error).message}`);
        });
      const error = await page.evaluate(() => (window as any).wlError as string | undefined);
      expect(error, `the page failed: ${error}\n${errors.join('\n')}`).toBeUndefined();
      const r = (await page.evaluate(() => (window as any).wlResult)) as ExampleResult;

      // Cross-origin isolated (the server's COOP/COEP), so the threaded build with a 2-thread pool.
      expect(r.crossOriginIsolated).toBe(true);
      expect(r.backend.environment).toBe('browser');
      expect(r.backend.threads).toBe(2);
      expect(r.backend.variant).toMatch(/-threads$/);
      expect(r.backend.reason).toBeUndefined();
      expect(await page.textContent('#backend')).toContain(r.backend.variant);

      // One epoch. `accuracy` is Keras' running mean over the epoch's 94 batches, starting from chance, so
      // it sits near 0.8 after so few samples; the held-out accuracy at the epoch's end is well above.
      expect(r.epochs).toBe(1);
      expect(Object.keys(r.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
      for (const k of Object.keys(r.history)) {
        expect(r.history[k]).toHaveLength(1);
        expect(Number.isFinite(r.history[k][0]), `${k} = ${r.history[k][0]}`).toBe(true);
      }
      expect(r.history.loss[0]).toBeGreaterThan(0);
      expect(r.history.loss[0]).toBeLessThan(1.5);
      expect(r.history.accuracy[0]).toBeGreaterThan(0.7);
      expect(r.history.val_accuracy[0]).toBeGreaterThan(0.8);
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.samplesPerSecond).toBeGreaterThan(0);

      // The page shows the epoch and the progress line.
      expect(await page.locator('#epochs tbody tr').count()).toBe(1);
      expect(await page.textContent('#progress')).toMatch(/batch 94\/94/);

      // TensorBoard, in memory: a train run (scalars + histograms of 4 weights) and a validation run (scalars).
      const files = r.tensorboardFiles;
      expect(files).toHaveLength(2);
      const train = files.find((f) => f.path.startsWith('logs/fit/browser/train/'));
      const val = files.find((f) => f.path.startsWith('logs/fit/browser/validation/'));
      expect(train?.path).toMatch(/\/events\.out\.tfevents\.\d+\..+\.v2$/);
      expect(val?.path).toMatch(/\/events\.out\.tfevents\.\d+\..+\.v2$/);
      expect(train!.bytes).toBeGreaterThan(1024);
      expect(train!.bytes).toBeLessThan(64 * 1024);
      expect(val!.bytes).toBeGreaterThan(100);
      expect(val!.bytes).toBeLessThan(train!.bytes);
      // Offered as Blob-URL download links.
      const links = await page.locator('#downloads a').evaluateAll((as) => as.map((a) => ({ href: (a as HTMLAnchorElement).href, text: a.textContent })));
      expect(links.map((l) => l.text).sort()).toEqual(files.map((f) => f.path).sort());
      for (const l of links) expect(l.href).toMatch(/^blob:/);

      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 70_000);
});
