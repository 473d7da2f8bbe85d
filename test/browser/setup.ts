/** What the browser suites share: where Chromium is, how to launch it, and building what the page imports. */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

/** The kernels (a no-op when up to date) and dist/ (tsc). */
const BUILD_STEPS: [string, string[]][] = [
  [process.execPath, [join(ROOT, 'scripts/build-wasm.mjs')]],
  [process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')]],
];

/**
 * The build steps still needed: tsc is skipped when dist/ is newer than every source file, because test files
 * run in parallel and a tsc rewriting dist/ under a page that another one is loading breaks that page.
 */
function stepsNeeded(): [string, string[]][] {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  const dist = join(ROOT, 'dist/index.js');
  const fresh = existsSync(dist) && statSync(dist).mtimeMs > Math.max(newest(join(ROOT, 'src')), statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs, statSync(join(ROOT, 'tsconfig.json')).mtimeMs);
  return fresh ? BUILD_STEPS.slice(0, 1) : BUILD_STEPS;
}

/** Builds the kernels and dist/, failing with the tool's output. */
export function build(): void {
  for (const [cmd, args] of stepsNeeded()) {
    const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    if (r.status !== 0) throw new Error(`test/browser: \`${[cmd, ...args].join(' ')}\` failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  checkBuilt();
}

/**
 * The same as {@link build} without blocking the test worker's event loop: on a loaded machine tsc can take
 * over a minute, longer than vitest's RPC timeout ("Timeout calling onTaskUpdate").
 */
export async function buildAsync(): Promise<void> {
  const run = promisify(execFile);
  for (const [cmd, args] of stepsNeeded()) {
    try {
      await run(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 240_000, maxBuffer: 64 * 2 ** 20 });
    } catch (e) {
      const r = e as { code?: number; stdout?: string; stderr?: string };
      throw new Error(`test/browser: \`${[cmd, ...args].join(' ')}\` failed (exit ${r.code}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
    }
  }
  checkBuilt();
}

function checkBuilt(): void {
  for (const f of ['dist/index.js', 'dist/backend/backend.js', 'wasm/wasm-layers-simd.wasm', 'wasm/wasm-layers-simd-threads.wasm', 'wasm/wasm-layers-relaxed.wasm', 'wasm/wasm-layers-relaxed-threads.wasm'])
    if (!existsSync(join(ROOT, f))) throw new Error(`test/browser: the build did not produce ${f}`);
}
