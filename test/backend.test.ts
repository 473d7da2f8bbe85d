/**
 * The backend (src/backend/backend.ts, memory.ts) and tensors (src/tensor.ts): what init() loads, the
 * worker pool's failure handling and its effect on process exit, the arena, out-of-memory errors and
 * tensor validation.
 *
 * Scenarios that could block the calling thread forever (a trapping thread, the pool keeping Node alive)
 * run first in a child process with a kill timer: a vitest timeout cannot interrupt a thread that is
 * blocked inside wasm. The in-process variants only run when the child came back.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutOfMemoryError, backend, backendInfo, detectFeatures, disposeBackend, init } from '../src/backend/backend.js';
import { gemm } from './helpers/kernels.js';
import { Arena } from '../src/backend/memory.js';
import { GEMM_KC, ops, reference, runOp } from '../src/backend/program.js';
import { matMul } from '../src/ops.js';
import { Tensor, tensor } from '../src/tensor.js';
import { bitDiff, gamma, withinTol } from './helpers/f64-check.js';
import { matmulF64 } from './helpers/f64-ref.js';
import { Rng } from './helpers/rand.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = (p: string) => pathToFileURL(join(ROOT, 'src', p)).href;
let scratch: string;

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms from the child printing "DONE" to its exit (null if it never printed it) */
  exitAfterDone: number | null;
  timedOut: boolean;
}

/**
 * Runs an ES module as `node --import tsx <file>` (so it can import the TypeScript sources), killing it
 * after `killAfterMs`. The script prints "DONE" when its work is over.
 */
function runChild(name: string, code: string, killAfterMs = 30_000, extraArgs: string[] = []): Promise<ChildResult> {
  const file = join(scratch, `${name}.mjs`);
  writeFileSync(file, code);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...extraArgs, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let doneAt: number | null = null;
    let timedOut = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (doneAt === null && /^DONE$/m.test(stdout)) doneAt = Date.now();
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, exitAfterDone: doneAt === null ? null : Date.now() - doneAt, timedOut });
    });
  });
}

const IMPORTS = `
const { init, backend, backendInfo, disposeBackend } = await import(${JSON.stringify(SRC('backend/backend.ts'))});
const { matMul } = await import(${JSON.stringify(SRC('ops.ts'))});
const { tensor } = await import(${JSON.stringify(SRC('tensor.ts'))});
const { runOp, ops } = await import(${JSON.stringify(SRC('backend/program.ts'))});
const ones = (n) => tensor(new Float32Array(n * n).fill(1), [n, n]);
const tryIt = (label, fn) => { try { console.log(label, 'OK', fn()); } catch (e) { console.log(label, 'ERR', e.constructor.name, e.message); } };
`;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'wl-backend-test-'));
});

afterAll(() => {
  disposeBackend();
  rmSync(scratch, { recursive: true, force: true });
});

describe('init() and backendInfo()', () => {
  it('one thread: the SIMD build, no pool', async () => {
    const info = await init({ threads: 1, relaxedSimd: false });
    expect(info).toEqual({ simd: true, relaxedSimd: false, threads: 1, variant: 'simd', environment: 'node' });
    expect(backendInfo()).toEqual(info);
    // a copy: changing it does not change the backend
    info.threads = 99;
    expect(backendInfo().threads).toBe(1);
  });

  it('threads > 1 in Node: the threaded build with a pool of that size', async () => {
    for (const threads of [2, 3]) {
      const info = await init({ threads, relaxedSimd: false });
      expect(info).toEqual({ simd: true, relaxedSimd: false, threads, variant: 'simd-threads', environment: 'node' });
      expect(backendInfo()).toEqual(info);
      expect(backend().threads).toBe(threads);
    }
    // relaxed SIMD is used when the runtime has it (and not asked off)
    const relaxed = detectFeatures().relaxedSimd;
    const info = await init({ threads: 2 });
    expect(info.relaxedSimd).toBe(relaxed);
    expect(info.variant).toBe(relaxed ? 'relaxed-threads' : 'simd-threads');
  });

  it('a threaded backend computes correctly (matMul vs float64)', async () => {
    await init({ threads: 2 });
    const rng = new Rng(1);
    const [m, k, n] = [65, 300, 47];
    const A = rng.normalArray(m * k);
    const B = rng.normalArray(k * n);
    const c = matMul(tensor(A, [m, k]), tensor(B, [k, n]));
    const want = matmulF64('NN', m, n, k, A, B);
    expect(withinTol(c.dataSync(), want.c, (i) => gamma(k + 2) * want.mag[i], 'matMul on 2 threads')).toBe('');
  });

  it('rejects bad thread counts with a clear message', async () => {
    for (const threads of [0, -1, 1.5, 65, NaN]) await expect(init({ threads })).rejects.toThrow(/init\(\{ threads \}\) must be an integer from 1 to 64/);
  });

  it('is idempotent unless options change, and creates the backend lazily on first use', async () => {
    await init();
    const b0 = backend();
    await init();
    expect(backend()).toBe(b0);
    await init({ threads: 2 });
    const b = backend();
    await init({ threads: 2 });
    expect(backend()).toBe(b);
    disposeBackend();
    expect(b.isDisposed).toBe(true);
    // lazy: a synchronous first use creates it (in Node), with the default pool joining asynchronously
    const info = backendInfo();
    expect(info.environment).toBe('node');
    expect(backend()).not.toBe(b);
    const after = await init();
    expect(after.threads).toBeGreaterThanOrEqual(1);
  });

  it('a malformed program is refused with an error and leaves the backend usable', async () => {
    await init({ threads: 2 });
    const raw = (code: number, args: number[]) => ({ name: 'raw', code, args, patches: {} });
    expect(() => runOp(raw(99, [1, 2, 3]))).toThrow(/malformed program/);
    expect(() => runOp(raw(1, [0, 1]))).toThrow(/malformed program/); // GEMM with 2 of its 12 arguments
    // GEMM_ADAM's declared requirement K ≤ GEMM_KC, checked by the kernels even when the builder is bypassed
    const big = ops.gemmAdam({ layout: 2, m: 1, n: 1, k: 1, a: 0, lda: 1, b: 0, ldb: 1, c: 0, ldc: 1, adamM: 0, adamV: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, alpha: 0 });
    expect(() => runOp({ ...big, args: big.args.map((w, i) => (i === 3 ? GEMM_KC + 1 : w)) })).toThrow(/malformed program/);
    expect(() => ops.gemmAdam({ layout: 2, m: 1, n: 1, k: GEMM_KC + 1, a: 0, lda: 1, b: 0, ldb: 1, c: 0, ldc: 1, adamM: 0, adamV: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, alpha: 0 })).toThrow(/k <= GEMM_KC/);
    // naive references exist only in the test build (wasm/reference/): the release build says so
    expect(() => runOp(reference(ops.mul({ n: 0, x: 0, m: 0, y: 0 })))).toThrow(/only in the test build/);
    expect(gemm({ layout: 'NN', m: 1, n: 1, k: 1, a: [3], b: [4] })[0]).toBe(12);
  });
});

describe('worker failures', () => {
  let childOk = false;

  it('in a child process: a trapping worker or kernel gives an Error, later calls a "broken" error, init() recovers, nothing hangs', async () => {
    const r = await runChild(
      'trap',
      `${IMPORTS}
await init({ threads: 2 });
const a = ones(16);
tryIt('T1', () => backend().debugTrapOn(1));
tryIt('T2', () => matMul(a, a).dataSync()[0]);
await init({ threads: 2 });
tryIt('T3', () => matMul(ones(16), ones(16)).dataSync()[0]);
// a trap on the calling thread (out-of-bounds pointers) while a worker runs the same op
tryIt('T4', () => runOp(ops.gemm({ layout: 0, m: 64, n: 64, k: 64, a: 0xffff0000, lda: 64, b: 0xffff0000, ldb: 64, c: 0xffff0000, ldc: 64, act: 0 })));
tryIt('T5', () => matMul(ones(4), ones(4)).dataSync()[0]);
await init({ threads: 2 });
tryIt('T6', () => matMul(ones(8), ones(8)).dataSync()[0]);
console.log('DONE');
`,
    );
    expect(r.timedOut, `child hung; output so far:\n${r.stdout}\n${r.stderr}`).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    const line = (t: string) => r.stdout.split('\n').find((l) => l.startsWith(`${t} `)) ?? `${t} (missing)`;
    expect(line('T1')).toMatch(/^T1 ERR Error wasm-layers: worker thread 1 died during a kernel/);
    expect(line('T2')).toMatch(/^T2 ERR Error wasm-layers: the thread pool is broken \(worker thread 1 died/);
    expect(line('T3')).toBe('T3 OK 16');
    expect(line('T4')).toMatch(/^T4 ERR Error wasm-layers: (kernel trapped: memory access out of bounds|worker thread 1 died)/);
    expect(line('T5')).toMatch(/^T5 ERR Error wasm-layers: the thread pool is broken/);
    expect(line('T6')).toBe('T6 OK 8');
    childOk = true;
  }, 40_000);

  it('in process: debugTrapOn(1) throws an Error, then every kernel call throws "broken" until init()', async () => {
    if (!childOk) throw new Error('not run: the child-process variant failed, so this could block the test worker');
    await init({ threads: 2 });
    const a = tensor(new Float32Array(9).fill(2), [3, 3]);
    let err: unknown;
    try {
      backend().debugTrapOn(1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/worker thread 1 died during a kernel/);
    for (let i = 0; i < 3; i++) {
      expect(() => matMul(a, a)).toThrow(/wasm-layers: the thread pool is broken \(worker thread 1 died[^)]*\); .*init\(\) again/);
      expect(() => gemm({ layout: 'NN', m: 1, n: 1, k: 1, a: [1], b: [1] })).toThrow(/thread pool is broken/);
    }
    // non-kernel tensor operations still work (they only touch the arena)
    expect(Array.from(a.dataSync())).toEqual(new Array(9).fill(2));
    await init({ threads: 2 });
    const b = tensor(new Float32Array(9).fill(2), [3, 3]);
    expect(Array.from(matMul(b, b).dataSync())).toEqual(new Array(9).fill(12));
    // and the trap hook works again on the new pool (the new workers are healthy)
    expect(() => backend().debugTrapOn(1)).toThrow(/worker thread 1 died/);
    await init({ threads: 2 });
  }, 20_000);

  it('in process: plain init() (no options) replaces a broken backend', async () => {
    if (!childOk) throw new Error('not run: the child-process variant failed');
    await init({ threads: 2 });
    expect(() => backend().debugTrapOn(1)).toThrow(/died/);
    await init();
    expect(gemm({ layout: 'NN', m: 1, n: 1, k: 1, a: [2], b: [3] })[0]).toBe(6);
  }, 20_000);

  it('after the in-process trap tests, disposeBackend() + init() gives a working pool', async () => {
    disposeBackend();
    await init({ threads: 2 });
    expect(gemm({ layout: 'NN', m: 1, n: 1, k: 1, a: [2], b: [3] })[0]).toBe(6);
  });
});

describe('process lifetime', () => {
  it('a Node script with a 2-thread pool exits on its own after its work', async () => {
    const r = await runChild(
      'exit',
      `${IMPORTS}
const info = await init({ threads: 2 });
const c = matMul(ones(64), ones(64));
console.log('threads', info.threads, 'c00', c.dataSync()[0]);
console.log('DONE');
`,
    );
    expect(r.timedOut, `child did not exit within 30 s:\n${r.stdout}\n${r.stderr}`).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('threads 2 c00 64');
    // the pool's workers must not keep the event loop alive: exit follows the last statement
    expect(r.exitAfterDone).not.toBeNull();
    expect(r.exitAfterDone!).toBeLessThan(3000);
  }, 40_000);

  it('lazy use without init() (pool joining in the background) also exits', async () => {
    const r = await runChild(
      'lazy-exit',
      `${IMPORTS}
const c = matMul(ones(32), ones(32));
console.log('c00', c.dataSync()[0]);
console.log('DONE');
`,
    );
    expect(r.timedOut, `child did not exit:\n${r.stdout}\n${r.stderr}`).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('c00 32');
    expect(r.exitAfterDone!).toBeLessThan(3000);
  }, 40_000);

  it('under --input-type=module the pool starts, or the one-thread fallback works', async () => {
    const code = `${IMPORTS}\nconst info = await init({ threads: 2 });\nconsole.log('info', JSON.stringify(info));\ntryIt('T1', () => matMul(ones(4), ones(4)).dataSync()[0]);\n`;
    const r = await new Promise<{ out: string; code: number | null }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve({ out, code: exitCode });
      });
    });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^T1 OK 4$/m);
  }, 40_000);
});

describe('the arena (memory.ts)', () => {
  const PAGE = 65536;
  const fresh = (pages = 2, maxPages = 8, base = 1000) => new Arena(new WebAssembly.Memory({ initial: pages, maximum: maxPages }), base, maxPages * PAGE);

  it('allocates 64-byte aligned blocks above the base, first fit, and frees with coalescing', () => {
    const a = fresh();
    const p1 = a.alloc(1);
    const p2 = a.alloc(64);
    const p3 = a.alloc(100);
    const p4 = a.alloc(0);
    expect(p1).toBe(1024); // align(1000)
    for (const p of [p1, p2, p3, p4]) expect(p % 64).toBe(0);
    expect([p2 - p1, p3 - p2, p4 - p3]).toEqual([64, 64, 128]); // sizes rounded up to 64, min 64
    expect(a.stats().inUse).toBe(64 + 64 + 128 + 64);
    // a hole is reused by a block that fits (first fit), not one that does not
    a.release(p2);
    expect(a.alloc(65)).toBe(p4 + 64); // 128 bytes do not fit the 64-byte hole
    expect(a.alloc(64)).toBe(p2);
    // p1 .. p3 freed in an order that needs both merges (right neighbour, then left)
    a.release(p1);
    a.release(p3);
    a.release(p2);
    expect(a.alloc(256)).toBe(p1); // the three blocks (64 + 64 + 128) became one
    expect(a.stats().peak).toBeGreaterThanOrEqual(a.stats().inUse);
  });

  it('refuses double frees and foreign pointers, and bad sizes', () => {
    const a = fresh();
    const p = a.alloc(10);
    a.release(p);
    expect(() => a.release(p)).toThrow(/double free or foreign pointer/);
    expect(() => a.release(p + 64)).toThrow(/double free or foreign pointer/);
    expect(() => a.alloc(-1)).toThrow(RangeError);
    expect(() => a.alloc(NaN)).toThrow(/cannot allocate NaN bytes/);
  });

  it('grows the memory on demand up to its limit, then throws OutOfMemoryError and stays consistent', () => {
    const a = fresh(2, 8);
    const mem = a.memory;
    const big = a.alloc(3 * PAGE);
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual(big + 3 * PAGE);
    const before = a.stats();
    let err: unknown;
    try {
      a.alloc(8 * PAGE);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as Error).name).toBe('OutOfMemoryError');
    expect((err as Error).message).toMatch(/out of wasm memory: cannot allocate 0\.5 MB \(0\.2 MB in use of a 0\.5 MB limit\).*maxMemoryMB/);
    expect(a.stats().inUse).toBe(before.inUse);
    // what is left can still be used, to the last byte of the limit
    const rest = 8 * PAGE - (big + 3 * PAGE);
    const p = a.alloc(rest);
    expect(p).toBe(big + 3 * PAGE);
    expect(mem.buffer.byteLength).toBe(8 * PAGE);
    expect(() => a.alloc(1)).toThrow(OutOfMemoryError);
    a.release(p);
    a.release(big);
    expect(a.stats().inUse).toBe(0);
    expect(a.alloc(7 * PAGE)).toBe(1024); // everything merged back into one block
  });

  for (const threads of [1, 2])
    it(`${threads === 1 ? 'unshared' : 'shared'} memory: tensors stay readable after the memory grows by > 64 MB`, async () => {
      await init({ threads });
      const b = backend();
      const rng = new Rng(2);
      const x = rng.normalArray(1000);
      const t = tensor(x, [10, 100]);
      const view = t.dataSync();
      const bytes0 = b.memory.buffer.byteLength;
      const big = Tensor.alloc([17 * 2 ** 20], 'float32'); // 68 MB
      (big.storageView() as Float32Array).fill(7);
      expect(b.memory.buffer.byteLength).toBeGreaterThan(bytes0 + 64 * 2 ** 20);
      expect(bitDiff(t.dataSync(), x, 'tensor after growth')).toBe('');
      expect(bitDiff(view, x, 'earlier copy')).toBe('');
      // and kernels on it see the same data
      const w = tensor(new Float32Array(100 * 3).fill(1), [100, 3]);
      const c = matMul(t, w).dataSync();
      let s = 0;
      for (let j = 0; j < 100; j++) s += x[j];
      expect(c[0]).toBeCloseTo(s, 3);
      expect((big.storageView() as Float32Array)[17 * 2 ** 20 - 1]).toBe(7);
      for (const u of [t, big, w]) u.dispose();
    });

  it('out of memory with init({ maxMemoryMB: 64 }): OutOfMemoryError with a clear message, no leak, still usable', async () => {
    disposeBackend();
    await init({ maxMemoryMB: 64, threads: 2 });
    const b = backend();
    expect(b.maxBytes).toBe(64 * 2 ** 20);
    const inUse = b.arena.stats().inUse;
    // one tensor too big
    let err: unknown;
    try {
      tensor(new Uint8Array(80 * 2 ** 20));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect((err as Error).message).toMatch(/wasm-layers: out of wasm memory: cannot allocate 80\.0 MB \([\d.]+ MB in use of a 64\.0 MB limit\)\. .*raise init\(\{ maxMemoryMB \}\)/);
    expect(b.arena.stats().inUse).toBe(inUse);
    // many small ones until the limit
    const ts: Tensor[] = [];
    expect(() => {
      for (;;) ts.push(Tensor.alloc([2 ** 20])); // 4 MB each
    }).toThrow(OutOfMemoryError);
    expect(ts.length).toBeGreaterThan(8);
    // a kernel call whose output does not fit frees what it had allocated
    const before = b.arena.stats().inUse;
    const rest = ts.splice(0, 3); // free 12 MB: enough for the operands, not for a 36 MB output
    for (const t of rest) t.dispose();
    const afterFree = b.arena.stats().inUse;
    expect(afterFree).toBeLessThan(before);
    const col = tensor(new Float32Array(3000).fill(1), [3000, 1]);
    const row = tensor(new Float32Array(3000).fill(1), [1, 3000]);
    const used = b.arena.stats().inUse;
    expect(() => matMul(col, row)).toThrow(OutOfMemoryError);
    expect(() => gemm({ layout: 'NN', m: 3000, n: 3000, k: 1, a: col.dataSync(), b: row.dataSync() })).toThrow(OutOfMemoryError);
    expect(b.arena.stats().inUse).toBe(used);
    // still usable, and memory is reusable after disposal
    for (const t of ts) t.dispose();
    const m = matMul(col, row);
    expect(m.shape).toEqual([3000, 3000]);
    expect((m.dataSync() as Float32Array)[3000 * 3000 - 1]).toBe(1);
    for (const t of [m, col, row]) t.dispose();
    disposeBackend();
    await init({ threads: 2 });
  }, 30_000);

  it('init({ maxMemoryMB }) after an earlier init() applies the new limit; bad limits are refused', async () => {
    await init({ threads: 2 });
    const t = tensor([1, 2, 3]);
    await init({ threads: 2, maxMemoryMB: 64 });
    expect(backend().maxBytes).toBe(64 * 2 ** 20);
    expect(t.isDisposed).toBe(true); // a new backend: the old one's tensors are gone
    const u = tensor([4, 5, 6]);
    await expect(init({ threads: 2, maxMemoryMB: 1 })).rejects.toThrow(/maxMemoryMB/);
    expect(u.isDisposed).toBe(false); // refused before replacing the backend
    await init({ threads: 2 });
  });
});

describe('tensors', () => {
  beforeAll(async () => {
    await init({ threads: 2 });
  });

  it('use after dispose throws a clear error; reshaped views keep the storage alive', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const r = t.reshape([3, 2]);
    const inUse = backend().arena.stats().inUse;
    t.dispose();
    t.dispose(); // a second dispose is a no-op
    expect(t.isDisposed).toBe(true);
    const msg = new RegExp(`tensor ${t.id} \\(shape \\[2,3\\]\\) was used after dispose\\(\\)`);
    expect(() => t.dataSync()).toThrow(msg);
    expect(() => t.reshape([6])).toThrow(msg);
    expect(() => t.div(2)).toThrow(msg);
    expect(() => t.ptr).toThrow(msg);
    // the reshape shares the storage: still readable, freed with the last reference
    expect(backend().arena.stats().inUse).toBe(inUse);
    expect(r.arraySync()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    r.dispose();
    expect(backend().arena.stats().inUse).toBeLessThan(inUse);
  });

  it('matMul with a disposed operand throws the use-after-dispose error', () => {
    const a = tensor(new Float32Array(4).fill(1), [2, 2]);
    const b = tensor(new Float32Array(4).fill(1), [2, 2]);
    b.dispose();
    const msg = new RegExp(`tensor ${b.id} \\(shape \\[2,2\\]\\) was used after dispose\\(\\)`);
    expect(() => matMul(a, b)).toThrow(msg);
    expect(() => matMul(b, a)).toThrow(msg);
    expect(() => matMul(a, b, { transposeA: true, transposeB: true })).toThrow(msg);
    a.dispose();
  });

  it('a matMul that throws does not leak its output', () => {
    const a = tensor(new Float32Array(64 * 64).fill(1), [64, 64]);
    const b = tensor(new Float32Array(64 * 64).fill(1), [64, 64]);
    b.dispose();
    const inUse = backend().arena.stats().inUse;
    expect(() => matMul(a, b)).toThrow(/used after dispose/);
    expect(backend().arena.stats().inUse).toBe(inUse);
    a.dispose();
  });

  it('tensors of a disposed backend refuse to be used', async () => {
    const t = tensor([1, 2, 3]);
    disposeBackend();
    expect(t.isDisposed).toBe(true);
    expect(() => t.dataSync()).toThrow(/tensor belongs to a disposed backend/);
    await init({ threads: 2 });
    expect(() => t.dataSync()).toThrow(/disposed backend/);
  });

  it('tensor() validates shapes, dtypes and values', () => {
    const inUse = backend().arena.stats().inUse;
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/tensor\(\): shape \[2,2\] needs 4 values but 3 were given/);
    expect(() => tensor(new Float32Array(6), [4, 2])).toThrow(/shape \[4,2\] needs 8 values but 6 were given/);
    expect(() => tensor([1, 2], [-1, 2])).toThrow(/bad dimension -1/);
    expect(() => tensor([1, 2], [1.5, 2])).toThrow(/bad dimension 1.5/);
    expect(() => tensor([1], [1], 'float64' as any)).toThrow(/unknown dtype 'float64'/);
    expect(() => tensor('abc' as any)).toThrow(/values must be a typed array or a \(nested\) number array/);
    // values that do not fit the dtype (the half-made tensor is freed)
    expect(() => tensor([0, 255, 256], [3], 'uint8')).toThrow(/tensor\(\): value 256 at index 2 does not fit uint8/);
    expect(() => tensor([-1], [1], 'uint8')).toThrow(/value -1 at index 0 does not fit uint8/);
    expect(() => tensor([0.5], [1], 'uint8')).toThrow(/value 0.5 at index 0 does not fit uint8/);
    expect(() => tensor([NaN], [1], 'uint8')).toThrow(/value NaN at index 0 does not fit uint8/);
    expect(() => tensor([2 ** 31], [1], 'int32')).toThrow(/does not fit int32/);
    expect(backend().arena.stats().inUse).toBe(inUse);
    // ragged nested arrays
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged nested array at depth 1/);
    expect(() => tensor([[1, 2], 3] as any)).toThrow(/ragged nested array at depth 0/);
    expect(() => tensor([[[1], [2]], [[3, 4], [5, 6]]])).toThrow(/ragged nested array/);
    // valid ones
    const u = tensor(Uint8Array.from([0, 128, 255]));
    expect(u.dtype).toBe('uint8');
    expect(Array.from(u.div(255).dataSync())).toEqual([0, Math.fround(128 / 255), 1]);
    const s = tensor(3.5);
    expect(s.shape).toEqual([]);
    expect(s.arraySync()).toBe(3.5);
    const i = tensor([-(2 ** 31), 2 ** 31 - 1], [2], 'int32');
    expect(Array.from(i.dataSync())).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    for (const t of [u, s, i]) t.dispose();
  });

  it('tensor() rejects [1, [2]] as ragged', () => {
    expect(() => tensor([1, [2]] as any)).toThrow(/ragged nested array/);
  });
});

describe('init() without options', () => {
  it('keeps a working backend as configured (tensors stay alive); options that differ replace it', async () => {
    await init({ threads: 1 });
    const t = tensor([1, 2, 3]);
    const info = await init();
    expect(info.threads).toBe(1);
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    expect((await init({ threads: 2 })).threads).toBe(2);
    expect(() => t.dataSync()).toThrow(/disposed backend/);
  });
});
