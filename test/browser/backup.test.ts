/**
 * backupAndRestore('indexeddb://…') in a real headless Chromium, with the built package (`dist/`) as an app
 * imports it: a seeded fit backing up every 3 batches is cut off by reloading the page in the middle of an
 * epoch (its JavaScript is gone, as when a tab is closed); the same program started on the reloaded page
 * resumes from the backup and ends with weights and Adam's state bitwise equal to a fit never interrupted
 * (run on a third page with a fresh browser profile, so no backup can leak into it), and the completed fit
 * leaves no backup behind. A second cut lands at a random moment, possibly inside a backup being written.
 *
 * Run: `npx vitest run test/browser/backup.test.ts` (builds wasm + dist itself). Skipped without Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startServer, type TestServer } from './server.js';
import { HAVE_CHROMIUM, build, launchChromium, openModulePage } from './setup.js';

/**
 * The program, in the page: `wlBackup.run(mode, stallAt)` trains a seeded model on made-up data for 3 epochs;
 * mode 'backup' adds backupAndRestore('indexeddb://run', { saveFreq: 3 }), 'plain' does not. With
 * `stallAt`, the fit stops making progress after that many batches (a test cuts it off there). Progress is
 * in `window.wlBatches`; the result is the final state as plain arrays, and whether a backup remains.
 */
const PAGE_SCRIPT = `
import * as wl from '/dist/index.js';
const N = 360, D = 6;
window.wlBatches = 0;
async function stored() {
  const db = await new Promise((ok, fail) => { const r = indexedDB.open('wasm-layers', 1); r.onupgradeneeded = () => r.result.createObjectStore('backups'); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const rec = await new Promise((ok, fail) => { const r = db.transaction('backups').objectStore('backups').get('run'); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  db.close();
  return rec ? JSON.parse(rec.manifest).position : null;
}
window.wlBackup = {
  stored,
  async run(mode, stallAt) {
    await wl.init({ threads: 1, relaxedSimd: false });
    wl.clearSession();
    wl.setSeed(77);
    const xs = new Float32Array(N * D), ys = new Uint8Array(N);
    for (let i = 0; i < N; i++) {
      ys[i] = i % 3;
      for (let j = 0; j < D; j++) xs[i * D + j] = Math.sin(i * 0.37 + j * 1.3) + (j % 3 === ys[i] ? 1 : 0);
    }
    const x = wl.tensor(xs, [N, D]), y = wl.tensor(ys, [N], 'uint8');
    const m = wl.sequential([
      wl.layers.dense({ inputShape: [D], units: 16, activation: 'relu' }),
      wl.layers.dropout({ rate: 0.25 }),
      wl.layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    m.compile({ optimizer: wl.optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const resumedFrom = await stored();
    class Progress extends wl.Callback {
      async onBatchEnd() {
        window.wlBatches++;
        if (stallAt !== undefined && window.wlBatches >= stallAt) await new Promise(() => {});
        await new Promise((r) => setTimeout(r, 4)); // paces the fit, so that a cut at a random moment lands mid-fit
      }
    }
    const cbs = mode === 'backup' ? [wl.callbacks.backupAndRestore('indexeddb://run', { saveFreq: 3 }), new Progress()] : [new Progress()];
    await m.fit(x, y, { epochs: 3, batchSize: 16, validationSplit: 0.1, verbose: 0, callbacks: cbs });
    const state = [...m.getWeightsRaw(), ...m.layers.flatMap((l) => l.weights.flatMap((w) => m.optimizer.getState(w.tensor.id)))];
    return { resumedFrom, batches: window.wlBatches, state: state.map((a) => Array.from(a)), iterations: m.optimizer.iterations, left: await stored() };
  },
};
window.wlBackupReady = true;
`;

describe.skipIf(!HAVE_CHROMIUM)("browser: backupAndRestore('indexeddb://…') across page reloads", () => {
  let browser: Browser | undefined;
  let pages: TestServer | undefined;

  beforeAll(async () => {
    await build();
    [pages, browser] = await Promise.all([startServer(), launchChromium()]);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await pages?.close();
  });

  const load = (page: Page) => openModulePage(page, pages!.pageUrl(false), PAGE_SCRIPT, 'wlBackupReady');

  type Result = { resumedFrom: { epoch: number; batch: number; iterations: number } | null; batches: number; state: number[][]; iterations: number; left: unknown };
  const run = (page: Page, mode: 'backup' | 'plain', stallAt?: number) => page.evaluate(([m, s]) => (window as any).wlBackup.run(m, s) as Promise<Result>, [mode, stallAt] as const);

  it('a fit cut off by reloading the page resumes from its backup and ends bitwise where an unbroken fit does', async () => {
    // The reference: a fresh profile (context), so that no backup of the other runs can be found.
    const refContext = await browser!.newContext();
    const ref = await (async () => {
      const page = await refContext.newPage();
      await load(page);
      return run(page, 'plain');
    })();
    await refContext.close();
    expect(ref.resumedFrom).toBeNull();
    expect(ref.iterations).toBe(3 * Math.ceil(324 / 16)); // 324 training samples: 21 batches per epoch

    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      // Cut 1: the fit stalls after 29 batches (epoch 1, batch 7); backups were made every 3 batches.
      await load(page);
      void run(page, 'backup', 29).catch(() => {}); // never settles: the reload ends it
      await page.waitForFunction(() => (window as any).wlBatches >= 29, undefined, { polling: 2 });
      const kept = await page.evaluate(() => (window as any).wlBackup.stored());
      expect(kept).toEqual(expect.objectContaining({ epoch: 1, batch: 6, iterations: 27 })); // the backup after batch 27
      await load(page); // a reload: the page's JavaScript, mid-fit, is gone

      // Cut 2: the resumed fit is cut off again at a random moment, possibly inside a backup being written.
      // (36 batches were left, each paced to ≥ 4 ms: the cut comes at most ~20 batches in.)
      void run(page, 'backup').catch(() => {});
      await page.waitForFunction(() => (window as any).wlBatches >= 8, undefined, { polling: 2 });
      await page.waitForTimeout(Math.floor(Math.random() * 30));
      const batchesAtCut = await page.evaluate(() => (window as any).wlBatches as number);
      expect(batchesAtCut).toBeLessThan(36);
      await load(page);

      const r = await run(page, 'backup');
      expect(r.resumedFrom).not.toBeNull();
      expect(r.resumedFrom!.iterations).toBeGreaterThanOrEqual(27);
      // It ran only the batches after its backup (a fit that started over would run all 63 and end the same).
      expect(r.batches).toBe(ref.batches - r.resumedFrom!.iterations);
      expect(r.iterations).toBe(ref.iterations);
      expect(r.state.length).toBe(ref.state.length);
      r.state.forEach((a, i) => expect(a, `array ${i}`).toEqual(ref.state[i]));
      expect(r.left).toBeNull(); // a completed fit deletes its backup (deleteCheckpoint defaults to true)
    } finally {
      await context.close();
    }
  }, 180_000);
});
