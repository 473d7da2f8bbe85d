/**
 * Benchmark runner: `npm run bench -- [names…] [--quick] [--json out.json]`
 *   npm run bench                      all default benches (gemm, kernels, fit, runtimes, browser)
 *   npm run bench -- gemm              one bench
 *   npm run bench -- --quick           short time budget (a smoke run)
 *   npm run bench -- --json out.json   also write machine facts + every result to a JSON file
 *   npm run bench -- --python PY       the Python (with tensorflow/keras, torch) for the fit bench's native rows;
 *                                      default: /work/venv/bin/python when /work/venv/READY exists, else python3
 *   npm run bench -- --wait-idle       on a shared machine: before each measurement, wait until other processes
 *                                      leave the CPU alone (at most 2 min at the start + 10 min in all)
 * Every measurement records how much CPU other processes used meanwhile; disturbed ones are marked `*`.
 *
 * Adding a bench: create bench/<name>.ts exporting `run(opts: BenchOptions): Promise<BenchReport>`
 * (see util.ts) and add one line to BENCHES below (and its name to DEFAULT if it should run by default).
 */
import { writeFileSync } from 'node:fs';
import { backendInfo, detectFeatures, disposeBackend, init } from '../src/backend/backend.js';
import { CONTENTION_LIMIT, idleCheck, idleWaitedSeconds, machineFacts, setRetryBudget, type BenchModule, type BenchOptions, type BenchReport } from './util.js';

const BENCHES: Record<string, () => Promise<BenchModule>> = {
  gemm: () => import('./gemm.js'),
  kernels: () => import('./kernels.js'),
  fit: () => import('./fit.js'),
  browser: () => import('./browser.js'),
  runtimes: () => import('./runtimes.js'),
};
const DEFAULT = ['gemm', 'kernels', 'fit', 'runtimes', 'browser'];

function usage(msg?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error(`usage: npm run bench -- [${Object.keys(BENCHES).join('|')} …] [--quick] [--json out.json] [--wait-idle] [--python PY]`);
  process.exit(2);
}

function parseArgs(argv: string[]): { names: string[]; opts: BenchOptions; json?: string; waitIdle: boolean } {
  const names: string[] = [];
  let quick = false;
  let waitIdle = false;
  let json: string | undefined;
  let python: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--wait-idle') waitIdle = true;
    else if (a === '--json') {
      json = argv[++i];
      if (!json) usage('--json needs a file name');
    } else if (a.startsWith('--json=')) json = a.slice('--json='.length);
    else if (a === '--python') {
      python = argv[++i];
      if (!python) usage('--python needs a path');
    } else if (a.startsWith('--python=')) python = a.slice('--python='.length);
    else if (a === '--help' || a === '-h') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (!(a in BENCHES)) usage(`unknown bench "${a}"`);
    else if (!names.includes(a)) names.push(a);
  }
  return { names: names.length ? names : DEFAULT, opts: { quick, waitIdle, python }, json, waitIdle };
}

async function main(): Promise<void> {
  const { names, opts, json, waitIdle } = parseArgs(process.argv.slice(2));
  const started = new Date();
  const facts = machineFacts();
  const info = await init();
  const backend = backendInfo();
  disposeBackend();
  console.log(`# wasm-layers benchmarks (${names.join(', ')}${opts.quick ? ', --quick' : ''}) — ${started.toISOString()}`);
  console.log(`CPU: ${facts.cpu}, ${facts.cores} cores available, ${facts.memoryGB} GB RAM, ${facts.platform}`);
  console.log(`Node ${facts.node} (V8 ${facts.v8}); tfjs-core ${facts.tfjsCore}, tfjs-backend-wasm ${facts.tfjsBackendWasm}; tinybench ${facts.tinybench}`);
  console.log(
    `wasm-layers backendInfo() (default init): ${JSON.stringify(backend)}` +
      (info.relaxedSimd
        ? ''
        : detectFeatures().relaxedSimd
          ? ' — relaxed SIMD supported here but not in use'
          : ' — this runtime has no relaxed SIMD (Node 20: only behind a flag), so the SIMD128 builds (no FMA) run'),
  );
  console.log('tfjs-backend-wasm in Node is SINGLE-THREADED (multithreading is hard-wired off there); its column is one thread.');
  let other = await idleCheck(1000);
  if (waitIdle) {
    const until = performance.now() + 120_000;
    while (other > CONTENTION_LIMIT && performance.now() < until) other = await idleCheck(2000);
  }
  console.log(
    `Other processes' CPU use before starting: ${Number.isFinite(other) ? other.toFixed(2) : 'unknown'} of ${facts.cores} cores` +
      (other > CONTENTION_LIMIT ? ' — WARNING: the machine is busy; timings (2-thread ones above all) will be distorted' : ''),
  );

  setRetryBudget(opts);
  const reports: BenchReport[] = [];
  for (const name of names) {
    console.log(`\n## ${name}\n`);
    const t0 = performance.now();
    const mod = await BENCHES[name]();
    reports.push(await mod.run(opts));
    console.log(`\n(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s${waitIdle ? `; ${idleWaitedSeconds().toFixed(0)} s so far waiting for a quiet CPU` : ''})`);
  }

  if (json) {
    const out = { started: started.toISOString(), argv: process.argv.slice(2), quick: opts.quick, machine: facts, backendInfo: backend, otherCpuBefore: other, results: Object.fromEntries(reports.map((r) => [r.name, r])) };
    writeFileSync(json, JSON.stringify(out, null, 2) + '\n');
    console.log(`\nwrote ${json}`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
