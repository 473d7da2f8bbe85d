/**
 * The browser demo runs from the published package, not only from a clone: `npm pack` holds the demo page,
 * its server and the kernels, and `wasm-layers demo` started from the unpacked tarball (with the package's
 * dependencies installed beside it, as npm does) serves the page, the worker, the library, the wasm and
 * MNIST gzipped, with the isolation headers.
 *
 * Run: `npx vitest run test/demo-package.test.ts` (needs dist/ and wasm/ built: `npm run build`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './browser/server.js';

let dir = '';
let child: ChildProcess | undefined;

beforeAll(() => {
  // Not rebuilt here: tsc rewriting dist/ would race with the browser tests serving it (npm test builds first).
  for (const f of ['dist/index.js', 'wasm/wasm-layers-simd-threads.wasm'])
    if (!existsSync(join(ROOT, f))) throw new Error(`test/demo-package: ${f} is missing; run \`npm run build\` first`);
  dir = mkdtempSync(join(tmpdir(), 'wl-demo-pack-'));
});

afterAll(() => {
  child?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the demo from the npm package', () => {
  let files: string[] = [];

  it('npm pack holds the demo, its server and the kernels', async () => {
    // Asynchronous (a loaded machine must not block this test worker's event loop) and --ignore-scripts: dist/
    // and wasm/ are built already; prepack would rebuild them.
    const run = promisify(execFile);
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    files = info.files.map((f) => f.path);
    for (const f of ['examples/browser/index.html', 'examples/browser/main.js', 'examples/browser/worker.js', 'examples/browser/preprocess.js', 'examples/browser/store.js', 'examples/browser/charts.js', 'examples/browser/demo.css', 'scripts/serve-examples.mjs', 'dist/index.js', 'wasm/wasm-layers-simd-threads.wasm'])
      expect(files, f).toContain(f);
    // Nothing of the clone's other examples, tests or Rust sources (src/ ships: the source maps point at it).
    expect(files.filter((f) => /^(test|crates|bench)\//.test(f))).toEqual([]);
    await run('tar', ['-xzf', join(dir, info.filename), '-C', dir]);
    // The package's dependencies, as npm would install them beside it.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'package/node_modules'), 'dir');
  }, 150_000);

  it('serves the page, the worker, the library, the kernels and MNIST gzipped, cross-origin isolated', async () => {
    const pkg = join(dir, 'package');
    expect(existsSync(join(pkg, 'scripts/serve-examples.mjs'))).toBe(true);
    child = spawn(process.execPath, [join(pkg, 'scripts/serve-examples.mjs'), '--port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 30_000);
      child!.stdout!.on('data', (d) => {
        out += d;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/examples\/browser\/)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
      child!.stderr!.on('data', (d) => (out += d));
      child!.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
    });
    const origin = new URL(url).origin;
    for (const [path, type] of [
      ['/examples/browser/', 'text/html'],
      ['/examples/browser/worker.js', 'text/javascript'],
      ['/dist/index.js', 'text/javascript'],
      ['/wasm/wasm-layers-simd-threads.wasm', 'application/wasm'],
      ['/mnist/t10k-labels-idx1-ubyte.gz', 'application/gzip'],
    ]) {
      const res = await fetch(origin + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toContain(type);
      expect(res.headers.get('cross-origin-embedder-policy'), path).toBe('require-corp');
      expect(res.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
      const body = new Uint8Array(await res.arrayBuffer());
      if (path.endsWith('.gz')) {
        expect([body[0], body[1]]).toEqual([0x1f, 0x8b]);
        const raw = new Uint8Array(await new Response(new Blob([body]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
        expect(raw.length).toBe(10_008); // the 10,000 test labels + the IDX header
      }
    }
    // Only the gzip files are served: the page never pulls the 55 MB of raw IDX.
    expect((await fetch(`${origin}/mnist/train-images-idx3-ubyte`)).status).toBe(404);
    expect((await fetch(`${origin}/examples/..%2Fpackage.json`)).status).toBe(404);
  }, 60_000);
});
