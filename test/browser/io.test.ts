/**
 * Saving and loading in a real headless Chromium, with the built package (`dist/`) as an app imports it:
 * `loadModel(url)` fetches model.json and the weights beside it from another origin (CORS), `save('memory')`
 * round-trips, and a directory destination fails with the "needs node:fs" message (no node: import is
 * attempted in the page). Predictions must match Node's bit for bit (both on the SIMD128 build).
 *
 * Run: `npx vitest run test/browser/io.test.ts` (builds wasm + dist itself). Skipped without Chromium.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from './server.js';
import { HAVE_CHROMIUM, build, launchChromium, openModulePage } from './setup.js';
import { clearSession, init, layers, saveModel, sequential, setSeed, tensor } from '../../src/index.js';



/** Runs in the page (added as a module script): everything the test asks of the browser. */
const PAGE_SCRIPT = `
import * as wl from '/dist/index.js';
window.wlIo = {
  async run(url, xs, shape) {
    await wl.init({ relaxedSimd: false });
    const predict = (m) => {
      const x = wl.tensor(Float32Array.from(xs), shape);
      const y = m.predict(x);
      const out = Array.from(y.dataSync());
      x.dispose(); y.dispose();
      return out;
    };
    const catchMsg = async (p) => { try { await p; return null; } catch (e) { return e.message; } };
    const m = await wl.loadModel(url);
    const r = await m.save('memory');
    const m2 = await wl.loadModel(r);
    const m3 = await wl.loadModel(url.replace(/model\\.json$/, ''));
    return {
      names: m.layers.map((l) => l.name),
      name: m.name,
      compiled: m.optimizer !== undefined,
      y: predict(m),
      y2: predict(m2),
      y3: predict(m3),
      weightBytes: r.weightData.byteLength,
      manifest: r.modelJson.weightsManifest,
      dirError: await catchMsg(m.save('./my-model')),
      fileError: await catchMsg(wl.loadModel('file:///tmp/x')),
      missing: await catchMsg(wl.loadModel(url.replace('model.json', 'missing/model.json'))),
    };
  },
};
window.wlIoReady = true;
`;

describe.skipIf(!HAVE_CHROMIUM)('browser: loadModel from a URL, save to memory', () => {
  let browser: Browser | undefined;
  let pages: TestServer | undefined;
  let models: Server | undefined;
  let modelsOrigin = '';
  let tmp = '';

  beforeAll(async () => {
    await build();
    tmp = await mkdtemp(join(tmpdir(), 'wl-io-browser-'));
    // The model on another origin, as from a CDN.
    models = createServer(async (req, res) => {
      const { pathname } = new URL(req.url ?? '/', 'http://x');
      try {
        const body = await readFile(join(tmp, decodeURIComponent(pathname)));
        res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': pathname.endsWith('.json') ? 'application/json' : 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404, { 'Access-Control-Allow-Origin': '*' }).end('not found');
      }
    });
    await new Promise<void>((r) => models!.listen(0, '127.0.0.1', r));
    modelsOrigin = `http://127.0.0.1:${(models.address() as AddressInfo).port}`;
    [pages, browser] = await Promise.all([startServer(), launchChromium()]);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
    if (models) {
      models.closeAllConnections();
      await new Promise((r) => models!.close(r));
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('loads a model saved in Node and predicts the same, bit for bit', async () => {
    await init({ relaxedSimd: false });
    clearSession();
    setSeed(3);
    const m = sequential([
      layers.flatten({ inputShape: [2, 3] }),
      layers.dense({ units: 8, activation: 'relu', biasInitializer: 'ones' }),
      layers.dropout({ rate: 0.3 }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await saveModel(m, join(tmp, 'm'));
    const xs = Array.from({ length: 4 * 6 }, (_, i) => Math.sin(i + 1));
    const x = tensor(Float32Array.from(xs), [4, 2, 3]);
    const y = m.predict(x);
    const want = Array.from(y.dataSync());
    x.dispose();
    y.dispose();

    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const errors = await openModulePage(page, pages!.pageUrl(false), PAGE_SCRIPT, 'wlIoReady');
      const url = `${modelsOrigin}/m/model.json`;
      const r = await page.evaluate(([u, v]) => (window as any).wlIo.run(u, v, [4, 2, 3]), [url, xs] as const);
      expect(errors).toEqual([]);
      expect(r.name).toBe('sequential');
      expect(r.names).toEqual(['flatten', 'dense', 'dropout', 'dense_1']);
      expect(r.compiled).toBe(true);
      expect(r.y).toEqual(want);
      expect(r.y2).toEqual(want);
      expect(r.y3).toEqual(want);
      expect(r.weightBytes).toBe(m.countParams() * 4);
      expect(r.manifest).toEqual([{ paths: ['weights.bin'], weights: expect.any(Array) }]);
      expect(r.dirError).toMatch("saveModel: saving to the directory './my-model' needs node:fs");
      expect(r.fileError).toMatch('file:// needs node:fs');
      expect(r.missing).toMatch(`fetching model.json ${modelsOrigin}/m/missing/model.json failed with HTTP status 404`);
    } finally {
      await context.close();
      m.dispose();
    }
  });
});
