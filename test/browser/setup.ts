/** What the browser suites share: where Chromium is, how to launch it, and building what the page imports. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

/** Builds the kernels (a no-op when up to date) and dist/ (tsc), failing with the tool's output. */
export function build(): void {
  const steps: [string, string[]][] = [
    [process.execPath, [join(ROOT, 'scripts/build-wasm.mjs')]],
    [process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')]],
  ];
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    if (r.status !== 0) throw new Error(`test/browser: \`${[cmd, ...args].join(' ')}\` failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  for (const f of ['dist/index.js', 'dist/backend/backend.js', 'wasm/wasm-layers-simd.wasm', 'wasm/wasm-layers-simd-threads.wasm', 'wasm/wasm-layers-relaxed.wasm', 'wasm/wasm-layers-relaxed-threads.wasm'])
    if (!existsSync(join(ROOT, f))) throw new Error(`test/browser: the build did not produce ${f}`);
}
