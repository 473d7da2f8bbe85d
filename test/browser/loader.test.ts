/**
 * The loader and the thread pool in a real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core; no browser download). The built package (`dist/` + `wasm/`) is served by
 * ./server.ts and imported by ./page.html as an app would: `import … from '/dist/index.js'`, the wasm
 * found through `import.meta.url`.
 *
 *   cross-origin isolated page  → variant 'relaxed-threads' (Chromium has relaxed SIMD; 'simd-threads' with
 *                                 relaxedSimd: false), 2 threads, one Blob-URL worker, correct GEMM
 *                                 (also after idle gaps, where the main thread must spin, not block)
 *   plain page                  → variant 'relaxed', 1 thread, `reason` + console warning, correct GEMM
 *   tensors before init()       → the clear "call `await init()`" error
 *
 * Run: `npx vitest run test/browser` (builds wasm + dist itself). Skipped only when there is no Chromium
 * (`apt-get install -y chromium`; override the path with WL_CHROMIUM).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServer, type TestServer } from './server.js';
import { CHROMIUM, HAVE_CHROMIUM, build, launchChromium } from './setup.js';

if (!HAVE_CHROMIUM) console.warn(`test/browser: SKIPPED, ${CHROMIUM} not found (install it with \`apt-get install -y chromium\`).`);

// A deadlocked pool spins the page's main thread forever (page.evaluate never returns): fail fast instead.
const TEST_TIMEOUT = 20_000;



interface Info {
  simd: boolean;
  relaxedSimd: boolean;
  threads: number;
  variant: 'simd' | 'simd-threads' | 'relaxed' | 'relaxed-threads';
  environment: 'node' | 'browser';
  reason?: string;
}

interface MatMulResult {
  shape: number[];
  length: number;
  maxAbsErr: number;
  tol: number;
  ms: number;
  firstBad: null | { index: number; row: number; col: number; got: number; want: number };
}

/** A fresh page (own context, so own module instance and backend) with everything it logs recorded. */
interface TestPage {
  page: Page;
  context: BrowserContext;
  warnings: string[];
  errors: string[];
  workers: string[];
  wasmFetches: string[];
}

describe.skipIf(!HAVE_CHROMIUM)('browser: loader and thread pool in headless Chromium', () => {
  let browser: Browser | undefined;
  let server: TestServer | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    await build();
    [server, browser] = await Promise.all([startServer(), launchChromium()]);
  }, 300_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.close();
  });

  async function open(isolated: boolean): Promise<TestPage> {
    const context = await browser!.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const t: TestPage = { page, context, warnings: [], errors: [], workers: [], wasmFetches: [] };
    page.on('console', (m) => {
      if (m.type() === 'warning') t.warnings.push(m.text());
      if (m.type() === 'error') t.errors.push(m.text());
    });
    page.on('pageerror', (e) => t.errors.push(`pageerror: ${e.message}`));
    page.on('worker', (w) => t.workers.push(w.url()));
    page.on('request', (r) => {
      if (r.url().endsWith('.wasm')) t.wasmFetches.push(new URL(r.url()).pathname);
    });
    const res = await page.goto(server!.pageUrl(isolated));
    expect(res?.status()).toBe(200);
    await page.waitForFunction(() => (window as any).wlReady === true, undefined, { timeout: 15_000 }).catch((e) => {
      throw new Error(`the test page did not load /dist/index.js: ${t.errors.join('\n') || (e as Error).message}`);
    });
    return t;
  }

  const init = (t: TestPage, opts: object) => t.page.evaluate((o) => (window as any).wlTest.init(o), opts) as Promise<{ fromInit: Info; info: Info }>;
  const matMul = (t: TestPage, m: number, k: number, n: number) =>
    t.page.evaluate(([m, k, n]) => (window as any).wlTest.matMul(m, k, n), [m, k, n] as const) as Promise<MatMulResult>;

  function expectProduct(r: MatMulResult, m: number, n: number): void {
    expect(r.shape).toEqual([m, n]);
    expect(r.length).toBe(m * n);
    expect(r.firstBad, `matMul → [${m}, ${n}]: first element off by more than ${r.tol}`).toBeNull();
    expect(r.maxAbsErr).toBeLessThanOrEqual(r.tol);
  }

  it('cross-origin isolated: relaxed-threads with a 2-thread pool, correct products', async () => {
    const t = await open(true);
    expect(await t.page.evaluate(() => (window as any).wlTest.crossOriginIsolated())).toBe(true);
    expect(await t.page.evaluate(() => (window as any).wlTest.sharedArrayBuffer())).toBe(true);

    const { fromInit, info } = await init(t, { threads: 2 });
    expect(info).toEqual(fromInit);
    expect(info.environment).toBe('browser');
    expect(info.simd).toBe(true);
    // Chromium ≥ 114 has relaxed SIMD, so feature detection picks the FMA build.
    expect(info.relaxedSimd).toBe(true);
    expect(info.variant).toBe('relaxed-threads');
    expect(info.threads).toBe(2);
    expect(info.reason).toBeUndefined();
    // The loader fetched the threaded binary through import.meta.url (../../wasm/ from /dist/backend/).
    expect(t.wasmFetches).toEqual(['/wasm/wasm-layers-relaxed-threads.wasm']);
    // One pool worker (threads - 1), started from a Blob URL.
    expect(t.workers).toHaveLength(1);
    expect(t.workers[0]).toMatch(/^blob:/);

    expectProduct(await matMul(t, 33, 17, 9), 33, 9);
    // Large enough that the GEMM splits its work over both threads (the main thread spins, it cannot block).
    const big = await matMul(t, 64, 256, 128);
    expectProduct(big, 64, 128);
    // Several in a row: the pool's job hand-off must not lose or mix up work.
    for (const [m, k, n] of [
      [128, 64, 96],
      [7, 300, 65],
      [200, 33, 1],
    ])
      expectProduct(await matMul(t, m, k, n), m, n);

    expect(t.warnings).toEqual([]);
    expect(t.errors).toEqual([]);
  }, TEST_TIMEOUT);

  it('cross-origin isolated: jobs after idle gaps (worker asleep) — the main thread spins, never Atomics.wait', async () => {
    const t = await open(true);
    expect((await init(t, { threads: 2 })).info.threads).toBe(2);
    const bad = (await t.page.evaluate(([c, g]) => (window as any).wlTest.withIdleGaps(c, g, 33, 17, 9), [60, 3] as const)) as string[];
    expect(bad).toEqual([]);
    expectProduct(await matMul(t, 64, 256, 128), 64, 128);
    expect(t.errors).toEqual([]);
  }, TEST_TIMEOUT);

  it('cross-origin isolated: re-init with one thread shuts the pool down and still computes', async () => {
    const t = await open(true);
    expect((await init(t, { threads: 2 })).info.threads).toBe(2);
    expectProduct(await matMul(t, 64, 256, 128), 64, 128);
    const { info } = await init(t, { threads: 1 });
    expect(info.threads).toBe(1);
    expect(info.variant).toBe('relaxed');
    expect(info.reason).toBeUndefined();
    expectProduct(await matMul(t, 33, 17, 9), 33, 9);
    expectProduct(await matMul(t, 64, 256, 128), 64, 128);
    expect(t.errors).toEqual([]);
  }, TEST_TIMEOUT);

  it('not isolated: falls back to one thread on the simd binary, says why, still correct', async () => {
    const t = await open(false);
    expect(await t.page.evaluate(() => (window as any).wlTest.crossOriginIsolated())).toBe(false);

    const { fromInit, info } = await init(t, { threads: 2 });
    expect(info).toEqual(fromInit);
    expect(info.environment).toBe('browser');
    expect(info.variant).toBe('relaxed');
    expect(info.threads).toBe(1);
    expect(info.reason).toMatch(/cross-origin isolated/);
    expect(info.reason).toMatch(/Cross-Origin-Opener-Policy/);
    expect(info.reason).toMatch(/Cross-Origin-Embedder-Policy/);
    expect(t.warnings.filter((w) => w.startsWith('wasm-layers: running on ONE thread') && /cross-origin isolated/.test(w))).toHaveLength(1);
    expect(t.wasmFetches).toEqual(['/wasm/wasm-layers-relaxed.wasm']);
    expect(t.workers).toEqual([]);

    expectProduct(await matMul(t, 33, 17, 9), 33, 9);
    expectProduct(await matMul(t, 64, 256, 128), 64, 128);
    expect(t.errors).toEqual([]);
  }, TEST_TIMEOUT);

  it('using tensors before init() throws the clear browser error', async () => {
    const t = await open(true);
    const r = (await t.page.evaluate(() => (window as any).wlTest.beforeInit())) as Record<string, string | null>;
    const expected = 'wasm-layers: call `await init()` before using tensors in a browser (WebAssembly must be compiled asynchronously there).';
    expect(r.tensor).toBe(expected);
    expect(r.backendInfo).toBe(expected);
    // Nothing was loaded behind the caller's back, and init() afterwards works.
    expect(t.wasmFetches).toEqual([]);
    expect((await init(t, { threads: 2 })).info.variant).toBe('relaxed-threads');
    expectProduct(await matMul(t, 33, 17, 9), 33, 9);
    expect(t.errors).toEqual([]);
  }, TEST_TIMEOUT);

  it('relaxedSimd: false selects the SIMD128 threaded build', async () => {
    const t = await open(true);
    const { info } = await init(t, { threads: 2, relaxedSimd: false });
    expect(info.variant).toBe('simd-threads');
    expect(info.relaxedSimd).toBe(false);
    expect(t.wasmFetches).toEqual(['/wasm/wasm-layers-simd-threads.wasm']);
    expectProduct(await matMul(t, 64, 256, 128), 64, 128);
    expect(t.errors).toEqual([]);
  }, TEST_TIMEOUT);
});
