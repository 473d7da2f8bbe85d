/**
 * Shared pieces of the benchmarks: options, timing (tinybench), wasm-memory operands, tables, machine facts.
 *
 * Timing: each measurement is one tinybench task whose function calls the code under test `reps` times,
 * with `reps` calibrated so that one sample lasts ≥ ~0.5 ms (a sub-microsecond kernel timed call by call
 * would measure the clock). The reported time per call is the median sample / reps; tinybench's relative
 * margin of error (rme, on the mean) is kept in the JSON output.
 *
 * Contention: every measurement records how much CPU other processes used meanwhile (Linux /proc/stat);
 * a disturbed one (> CONTENTION_LIMIT cores) is retried while the run's retry budget lasts, the least
 * disturbed attempt is kept, and the tables mark what stayed disturbed with `*`.
 */
import { Bench } from 'tinybench';
import os from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Backend } from '../src/backend/backend.js';

export interface BenchOptions {
  /** Short time budget (smoke runs, CI). */
  quick: boolean;
  /** Before each measurement, wait (within a budget) until other processes leave the CPU alone. */
  waitIdle?: boolean;
  /** A Python with TensorFlow/Keras and/or PyTorch for the native rows of the fit bench (else searched). */
  python?: string;
}

/** What a bench module returns; `rows` go to the JSON file as they are. */
export interface BenchReport {
  name: string;
  rows: Record<string, unknown>[];
  notes: string[];
}

/** The interface every bench/<name>.ts implements (see index.ts). */
export interface BenchModule {
  run(opts: BenchOptions): Promise<BenchReport>;
}

export interface Measurement {
  /** Median seconds per call. */
  seconds: number;
  /** Cores' worth of CPU other processes used (plus hypervisor steal) while this was measured; NaN if unknown. */
  otherCores: number;
  /** Mean seconds per call. */
  mean: number;
  /** Fastest sample, seconds per call (the least disturbed). */
  best: number;
  /** tinybench's relative margin of error of the mean, in %. */
  rme: number;
  samples: number;
  reps: number;
  /** Measurements made (more than 1: retried because other processes disturbed it). */
  attempts: number;
}

function budget(opts: BenchOptions) {
  return opts.quick
    ? { time: 120, warmupTime: 30, iterations: 3, warmupIterations: 1, sampleMs: 0.3, maxRetries: 1 }
    : { time: 700, warmupTime: 120, iterations: 5, warmupIterations: 2, sampleMs: 0.5, maxRetries: 2 };
}

/** Times a synchronous function; see the file comment. */
export function measure(fn: () => void, opts: BenchOptions): Measurement {
  const b = budget(opts);
  // Calibrate: a first call (JIT, page faults), then enough calls to span ~2 ms.
  fn();
  let n = 0;
  const t0 = performance.now();
  let el = 0;
  do {
    fn();
    n++;
    el = performance.now() - t0;
  } while (el < 2 && n < 100_000);
  const perCall = el / n;
  const reps = Math.max(1, Math.round(b.sampleMs / Math.max(perCall, 1e-6)));
  const bench = new Bench({ time: b.time, warmupTime: b.warmupTime, iterations: b.iterations, warmupIterations: b.warmupIterations, throws: true });
  bench.add(
    'x',
    reps === 1
      ? fn
      : () => {
          for (let i = 0; i < reps; i++) fn();
        },
  );
  // On a shared machine, a measurement taken while other processes used the CPU is retried (keeping the
  // least disturbed attempt) as long as the run's retry budget lasts.
  let best: Measurement | null = null;
  for (let attempt = 0; ; attempt++) {
    if (opts.waitIdle) waitQuiet();
    const c0 = cpuSnapshot();
    bench.reset();
    bench.runSync();
    const c1 = cpuSnapshot();
    const otherCores = contention(c0, c1);
    const r = bench.tasks[0].result;
    if (!r || r.error || !r.latency) throw r?.error ?? new Error('tinybench returned no result');
    const lat = r.latency;
    const m: Measurement = {
      seconds: (lat.p50 ?? lat.mean) / 1e3 / reps,
      mean: lat.mean / 1e3 / reps,
      best: lat.min / 1e3 / reps,
      rme: lat.rme,
      samples: lat.samples.length,
      reps,
      otherCores,
      attempts: attempt + 1,
    };
    if (!best || !(m.otherCores >= best.otherCores)) best = { ...m };
    best.attempts = attempt + 1;
    if (!disturbed(best) || attempt >= b.maxRetries || retryBudgetMs <= 0) return best;
    retryBudgetMs -= c1.wall - c0.wall;
  }
}

/** Milliseconds of re-measurement the whole run may spend on retries of disturbed measurements. */
let retryBudgetMs = 0;
/** Milliseconds the whole run may spend waiting for a quiet machine (`waitIdle`). */
let idleBudgetMs = 0;
let idleWaited = 0;
/** Seconds spent so far waiting for a quiet machine. */
export function idleWaitedSeconds(): number {
  return idleWaited / 1e3;
}
export function setRetryBudget(opts: BenchOptions): void {
  retryBudgetMs = opts.quick ? 5_000 : 40_000;
  idleBudgetMs = opts.waitIdle ? 600_000 : 0;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Blocks until other processes use < CONTENTION_LIMIT/2 cores over 300 ms, or the idle budget is spent. */
function waitQuiet(): void {
  while (idleBudgetMs > 0) {
    const a = cpuSnapshot();
    sleepSync(300);
    const b = cpuSnapshot();
    idleBudgetMs -= b.wall - a.wall;
    idleWaited += b.wall - a.wall;
    if (!(contention(a, b) >= CONTENTION_LIMIT / 2)) return;
  }
}

// ---------------------------------------------------------------------------------------------------------
// CPU contention: other processes on a 2-core machine wreck multi-threaded timings (a spinning worker gets
// descheduled), so every measurement records how much CPU the rest of the machine used meanwhile.

/** Above this many cores' worth of foreign CPU use, a measurement is flagged as disturbed. */
export const CONTENTION_LIMIT = 0.2;

import { cpuSnapshot, type CpuSnapshot } from './cpu.js';
export { cpuSnapshot, type CpuSnapshot };
import { init } from '../src/backend/backend.js';
import { Plan } from '../src/model/plan.js';

/** init({ threads: t }) for a bench; prints and records which build runs, and warns if fewer threads run. */
export async function initThreads(t: number, notes: string[]) {
  const info = await init({ threads: t });
  const built = `ours ${t}T: ${info.variant} build, ${info.threads} thread${info.threads > 1 ? 's' : ''}`;
  console.log(built);
  notes.push(built);
  if (info.threads !== t) {
    const msg = `asked for ${t} threads, the backend runs ${info.threads}${info.reason ? ` (${info.reason})` : ''}`;
    console.warn(`WARNING: ${msg}`);
    notes.push(msg);
  }
  return info;
}

/** Cores' worth of CPU used by other processes (and stolen by the hypervisor) between two snapshots. */
export function contention(a: CpuSnapshot, b: CpuSnapshot): number {
  const wall = (b.wall - a.wall) / 1e3;
  if (!(wall > 0) || !Number.isFinite(a.busy)) return NaN;
  const hz = 100; // USER_HZ on Linux
  const busy = (b.busy - a.busy) / hz / wall;
  const steal = (b.steal - a.steal) / hz / wall;
  const own = (b.own - a.own) / 1e6 / wall;
  return Math.max(0, busy - own) + steal;
}

/** Samples the machine for `ms` and returns the cores' worth of CPU other processes use. */
export async function idleCheck(ms = 1000): Promise<number> {
  const a = cpuSnapshot();
  await new Promise((r) => setTimeout(r, ms));
  return contention(a, cpuSnapshot());
}

// ---------------------------------------------------------------------------------------------------------
// Operands in wasm memory

/**
 * Stored operand shapes of a GEMM (rows, columns; row-major, leading dimension = columns) in each layout:
 * NN A [m,k] B [k,n]; TN A [k,m] B [k,n]; NT A [m,k] B [n,k]. C is [m,n].
 */
export function gemmDims(layout: 'NN' | 'NT' | 'TN', m: number, n: number, k: number): { a: [number, number]; b: [number, number] } {
  if (layout === 'TN') return { a: [k, m], b: [k, n] };
  if (layout === 'NT') return { a: [m, k], b: [n, k] };
  return { a: [m, k], b: [k, n] };
}

/** Deterministic pseudo-random floats in [lo, hi) (xorshift32). */
export function randomF32(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

/** Buffers allocated in the backend's arena, released together. */
export class WasmBuffers {
  private readonly ptrs: number[] = [];
  private readonly owned: { dispose(): void }[] = [];
  constructor(readonly b: Backend) {}

  /** Disposes `x` (a Program) on `release()`. */
  own<T extends { dispose(): void }>(x: T): T {
    this.owned.push(x);
    return x;
  }

  alloc(bytes: number): number {
    const p = this.b.arena.alloc(Math.max(16, bytes));
    this.ptrs.push(p);
    return p;
  }

  f32(data: ArrayLike<number> | number): number {
    const n = typeof data === 'number' ? data : data.length;
    const p = this.alloc(n * 4);
    const v = new Float32Array(this.b.memory.buffer, p, n);
    if (typeof data === 'number') v.fill(0);
    else v.set(data);
    return p;
  }

  i32(data: ArrayLike<number>): number {
    const p = this.alloc(data.length * 4);
    new Int32Array(this.b.memory.buffer, p, data.length).set(data);
    return p;
  }

  u8(data: Uint8Array): number {
    const p = this.alloc(data.length);
    new Uint8Array(this.b.memory.buffer, p, data.length).set(data);
    return p;
  }

  readF32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.b.memory.buffer, ptr, n).slice();
  }

  release(): void {
    for (const x of this.owned) x.dispose();
    this.owned.length = 0;
    if (!this.b.isDisposed) for (const p of this.ptrs) this.b.arena.release(p);
    this.ptrs.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Output

/** `fmt(x)` with a `*` when the measurement(s) behind it ran while other processes used the CPU. */
export function fmtM(x: number, digits: number, ...ms: Measurement[]): string {
  return fmt(x, digits) + (ms.some(disturbed) ? '*' : '');
}

export function disturbed(m: Measurement): boolean {
  return m.otherCores > CONTENTION_LIMIT;
}

/** A line on how disturbed a set of measurements was. */
export function contentionSummary(ms: Measurement[]): string {
  const v = ms.map((m) => m.otherCores).filter(Number.isFinite);
  if (!v.length) return 'CPU contention: unknown (no /proc/stat).';
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const n = ms.filter(disturbed).length;
  return (
    `CPU used by other processes during these measurements: mean ${mean.toFixed(2)} cores, max ${Math.max(...v).toFixed(2)}; ` +
    (n ? `${n} of ${ms.length} measurements ran with > ${CONTENTION_LIMIT} cores busy elsewhere (marked *): treat them, 2-thread ones above all, as unreliable.` : 'none above ' + CONTENTION_LIMIT + ' cores.')
  );
}

export function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  return x.toFixed(digits);
}

/** Prints a Markdown table (numbers right-aligned). */
export function printTable(headers: string[], rows: string[][]): void {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.every((r) => /^([-+]?[\d.,]+[×x%]?|—)\*?$/.test(r[i] ?? '')));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (numeric[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join(' | ') + ' |';
  console.log(line(headers));
  console.log('|' + w.map((n, i) => (numeric[i] ? '-'.repeat(n + 1) + ':' : ':' + '-'.repeat(n + 1))).join('|') + '|');
  for (const r of rows) console.log(line(r));
}

// ---------------------------------------------------------------------------------------------------------
// Machine facts

export function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    // packages whose "exports" hide package.json: look in node_modules directly
    let dir = dirname(fileURLToPath(import.meta.url));
    for (;;) {
      const f = join(dir, 'node_modules', name, 'package.json');
      if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { version: string }).version;
      const up = dirname(dir);
      if (up === dir) return 'not installed';
      dir = up;
    }
  }
}

export function machineFacts(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.versions.node,
    v8: process.versions.v8,
    tfjsCore: packageVersion('@tensorflow/tfjs-core'),
    tfjsBackendWasm: packageVersion('@tensorflow/tfjs-backend-wasm'),
    tinybench: packageVersion('tinybench'),
  };
}

/**
 * The dev tools' command line (bench/ab-*.ts, gemm-probe, step-ops): `--name value` options and `--flag`s,
 * each taken out of `rest` as it is read, so that what remains are the positional arguments.
 */
export function devArgs(argv: string[] = process.argv.slice(2)) {
  const rest = [...argv];
  const take = (name: string, withValue: boolean): string | undefined => {
    const i = rest.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = withValue ? rest[i + 1] : '';
    rest.splice(i, withValue ? 2 : 1);
    return v;
  };
  return {
    str: (name: string, dflt: string): string => take(name, true) ?? dflt,
    num: (name: string, dflt: number): number => Number(take(name, true) ?? dflt),
    flag: (name: string): boolean => take(name, false) !== undefined,
    rest,
  };
}

/** Dev tools: the next programs of a fixed-size pool use `threads` of its threads (tiles do not depend on it). */
export function usePoolThreads(b: Backend, threads: number): void {
  (b as unknown as { exports: { wl_pool_config(t: number, mainCanBlock: number): number } }).exports.wl_pool_config(threads, 1);
}

/**
 * Dev tools: runs `fit` and returns the program of its training step (its last run). Plans are not freed
 * while it runs, so the program and the buffers it points into stay alive for reruns.
 */
export async function captureTrainProgram(fit: () => Promise<unknown>): Promise<{ ptr: number; nwords: number }> {
  const { run, dispose } = Plan.prototype;
  let prog: { ptr: number; nwords: number } | undefined;
  Plan.prototype.dispose = () => {};
  Plan.prototype.run = function (this: Plan, ...a: Parameters<Plan['run']>) {
    run.apply(this, a);
    if (this.spec.kind === 'train') prog = this.program;
  };
  try {
    await fit();
  } finally {
    Plan.prototype.run = run;
    Plan.prototype.dispose = dispose;
  }
  if (!prog) throw new Error('captureTrainProgram: the fit ran no training step');
  return prog;
}
