/** What the browser suites share: where Chromium is, how to launch it, and building what the page imports. */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './server.js';

export const CHROMIUM = process.env.WL_CHROMIUM || '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** Debian's chromium as root in a closed network: no sandbox, no GPU, no background connections. */
export const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Launches Debian's Chromium with LAUNCH_ARGS (playwright-core, imported here so that suites skipped without Chromium never load it). */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
}

/**
 * Opens `url` in `page`, adds `script` as a module and waits until it sets `window[ready]` to true. Returns
 * the page's uncaught errors, an array that keeps collecting them.
 */
export async function openModulePage(page: import('playwright-core').Page, url: string, script: string, ready: string): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const res = await page.goto(url);
  if (res?.status() !== 200) throw new Error(`test/browser: ${url} answered ${res?.status()}`);
  await page.addScriptTag({ type: 'module', content: script });
  await page.waitForFunction((k) => (window as unknown as Record<string, unknown>)[k] === true, ready, { timeout: 15_000 }).catch(() => {
    throw new Error(`the page script did not set window.${ready}: ${errors.join('\n')}`);
  });
  return errors;
}

/** Whether dist/ is newer than every source file and tsconfig (then tsc need not run). */
function distFresh(): boolean {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  const dist = join(ROOT, 'dist/index.js');
  return existsSync(dist) && statSync(dist).mtimeMs > Math.max(newest(join(ROOT, 'src')), ...['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(join(ROOT, f)).mtimeMs));
}

/**
 * Builds the kernels (a no-op when up to date) and dist/ (tsc), failing with the tool's output. Asynchronous: a
 * synchronous minute-long build would block the test worker, and vitest then reports RPC timeouts. tsc is
 * skipped when dist/ is fresh: test files run in parallel, and a tsc rewriting dist/ under a page another
 * file is loading breaks that page (ERR_CONTENT_LENGTH_MISMATCH).
 */
export async function build(): Promise<void> {
  const steps: [string, string[]][] = [[process.execPath, [join(ROOT, 'scripts/build-wasm.mjs')]]];
  if (!distFresh()) steps.push([process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')]]);
  for (const [cmd, args] of steps) {
    const r = await new Promise<{ status: number | null; out: string }>((done) => {
      const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('close', (status) => done({ status, out }));
      p.on('error', (e) => done({ status: -1, out: String(e) }));
    });
    if (r.status !== 0) throw new Error(`test/browser: \`${[cmd, ...args].join(' ')}\` failed (exit ${r.status}):\n${r.out}`);
  }
  for (const f of ['dist/index.js', 'dist/backend/backend.js', 'wasm/wasm-layers-simd.wasm', 'wasm/wasm-layers-simd-threads.wasm', 'wasm/wasm-layers-relaxed.wasm', 'wasm/wasm-layers-relaxed-threads.wasm'])
    if (!existsSync(join(ROOT, f))) throw new Error(`test/browser: the build did not produce ${f}`);
}
