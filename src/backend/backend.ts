/**
 * Loading the kernels and running programs on them.
 *
 * Two binaries are built: `simd` (one thread) and `simd-threads` (shared memory, a worker pool). `init()`
 * picks the threaded one when the runtime can share memory with workers — Node always can; browsers only
 * when cross-origin isolated (COOP/COEP), otherwise it falls back to one thread and says why in
 * `backendInfo().reason` and with a console warning. In Node the module can also be created synchronously
 * on first use (lazy init); the workers then join asynchronously, before the first `fit` step.
 */
import { Arena, OutOfMemoryError, type LinearMemory } from './memory.js';
import { Ctrl, CTRL_WORDS, Status } from './ops.generated.js';
import { isNode as isNodeRuntime, nodeBuiltin } from '../platform.js';
import { DeathKind, Fault, STATUS_SLOTS, Status as Slot, WATCHDOG_SOURCE, WORKER_SOURCE } from './worker-source.js';
import { AutoThreads, type AutoThreadsState } from './auto-threads.js';

export interface InitOptions {
  /**
   * Threads including the calling one; 1 disables the pool. Default `'auto'`: a pool of one thread per core
   * (at most 8) of which each program uses all when that measured faster than the calling thread alone by
   * a margin, else only the calling thread (other processes busy on the cores, or a program too small to
   * share); `backendInfo().auto` says what it chose and why. Results are bitwise the same either way.
   */
  threads?: number | 'auto';
  /** Upper bound of wasm memory. Default 4096 MB in Node, 1024 MB in browsers. */
  maxMemoryMB?: number;
  /** Where the .wasm files are (browsers/bundlers); defaults to the files shipped beside this module. */
  wasmUrls?: Partial<Record<Variant, string | URL>>;
  /** Compiled bytes to use instead of loading a file (tests, custom hosting). */
  wasmBinary?: Partial<Record<Variant, ArrayBuffer | ArrayBufferView<ArrayBuffer>>>;
  /**
   * Use the relaxed-SIMD build (fused multiply-add in the GEMMs) where the runtime supports it. Default
   * true. Its results differ from the SIMD128 build's in the last bits; set false for results that are
   * the same on every runtime.
   */
  relaxedSimd?: boolean;
}

/** The four builds: SIMD128 or relaxed SIMD, one thread or a worker pool on shared memory. */
export type Variant = 'simd' | 'simd-threads' | 'relaxed' | 'relaxed-threads';

export interface BackendInfo {
  simd: boolean;
  /** The loaded build uses relaxed SIMD (FMA). */
  relaxedSimd: boolean;
  /** Threads that take part in each kernel, the calling one included. */
  threads: number;
  variant: Variant;
  environment: 'node' | 'browser';
  /** Why fewer threads than asked are used, if so. */
  reason?: string;
  /** With `threads: 'auto'` (`threads` is then the pool's size): how many the programs use now, and why. */
  auto?: AutoThreadsState;
}

interface Exports {
  memory?: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  __stack_pointer: WebAssembly.Global;
  wl_run(prog: number, nwords: number): number;
  wl_pool_config(nthreads: number, mainCanBlock: number): number;
  wl_pool_ctrl(): number;
  wl_pool_shutdown(): void;
  wl_pool_abort(): void;
  wl_worker_main(tid: number): void;
  wl_debug_trap_on(tid: number): number;
  wl_debug_delay(tid: number, spins: number): void;
  wl_pool_tiles_run(tid: number): number;
  wl_peak_madd(iters: number, seed: number, form: number): number;
  wl_gemm_update_streams(layout: number, n: number, k: number, ldc: number): number;
}

const isNode = isNodeRuntime();
const PAGE = 65536;
/**
 * A worker's stack, and the guard below it. Wasm has no guard pages: a worker whose stack overflows
 * writes silently into whatever lies below (for the first worker, the module's static data, the pool's
 * control block among it). So each stack sits on a guard filled with a pattern that `run` samples after
 * every program, turning an overflow into an error that breaks the pool instead of silently wrong bits;
 * and test/worker-stack.test.ts keeps the deepest use of a training step far from the limit.
 */
export const WORKER_STACK = 256 * 1024;
const STACK_GUARD = 64 * 1024;
const STACK_PATTERN = 0x5ac4_f11d;
/** Guard words sampled per worker after each program: one every 1 KiB, the topmost included. */
const GUARD_SAMPLE_STRIDE = 256;

// Tiny modules for feature detection: (func (result v128) v128.const 0) and the same with a relaxed op.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 43, 1, 41, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 128, 2, 11,
]);

export function detectFeatures(): { simd: boolean; relaxedSimd: boolean; sharedMemory: boolean } {
  const simd = WebAssembly.validate(SIMD_PROBE);
  let relaxedSimd = false;
  try {
    relaxedSimd = WebAssembly.validate(RELAXED_PROBE);
  } catch {
    relaxedSimd = false;
  }
  let sharedMemory = false;
  try {
    sharedMemory = typeof SharedArrayBuffer !== 'undefined' && new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
    if (!isNode && !(globalThis as any).crossOriginIsolated) sharedMemory = false;
  } catch {
    sharedMemory = false;
  }
  return { simd, relaxedSimd, sharedMemory };
}

interface PoolWorker {
  terminate(): unknown;
}

/** Ways a test can make a pool worker die inside a job (see `debugKillWorker`). */
export type WorkerDeath = 'trap' | 'exit' | 'out-of-memory' | 'silent';

export class Backend {
  readonly arena: Arena;
  private disposed = false;
  private broken: string | null = null;
  private readonly workers: PoolWorker[] = [];
  private poolThreads = 1;
  private poolReady: Promise<void> = Promise.resolve();
  private workerErrors: string[] = [];
  /** Per thread: test fault hook, how it died, its exit code (see worker-source.ts). */
  private readonly status = new Int32Array(sharedBuffer(64 * STATUS_SLOTS * 4));
  /** [0] = 1 while worker deaths are unexpected; 0 while the pool is being shut down. */
  private readonly armed = new Int32Array(sharedBuffer(4));
  private watchdog: (PoolWorker & { postMessage(m: unknown, transfer?: any[]): void }) | null = null;
  private retiring = false;
  private i32cache: Int32Array | null = null;
  private viewCache: { buf: ArrayBufferLike; f32: Float32Array; u32: Uint32Array; i32: Int32Array; u8: Uint8Array } | null = null;
  private u32prog: { ptr: number; words: number } | null = null;
  private auto: AutoThreads | null = null;
  /** Per worker: the word index of its guard's first word (the guard ends where its stack begins). */
  private readonly stackGuards: number[] = [];

  private constructor(
    private readonly exports: Exports,
    private readonly wasmMemory: WebAssembly.Memory,
    private readonly module: WebAssembly.Module,
    readonly info: BackendInfo,
    readonly maxBytes: number,
    private readonly mainCanBlock: boolean,
    /** What init asked for (the pool may have fewer threads, see info.reason). */
    readonly config: { threads: number; auto: boolean; maxMemoryMB: number },
  ) {
    this.arena = new Arena(wasmMemory, (exports.__heap_base.value as number) >>> 0, maxBytes);
    exports.wl_pool_config(1, mainCanBlock ? 1 : 0);
  }

  /** The wasm linear memory (typed by what callers use, so the published types need no WebAssembly lib). */
  get memory(): LinearMemory {
    return this.wasmMemory;
  }

  /**
   * Creates the module (sync); `wantThreads > 1` then starts the workers (async, see `ready`).
   * @internal
   */
  static create(module: WebAssembly.Module, variant: Variant, opts: { threads: number; auto: boolean; maxMemoryMB: number; reason?: string }): Backend {
    const shared = variant.endsWith('threads');
    const maxBytes = Math.min(opts.maxMemoryMB * 2 ** 20, 4 * 2 ** 30 - PAGE);
    const maxPages = Math.floor(maxBytes / PAGE);
    // Static data + the main stack (1 MiB, placed first) need ~18 pages; start with 64 (4 MiB).
    const memory = new WebAssembly.Memory({ initial: 64, maximum: maxPages, shared } as WebAssembly.MemoryDescriptor);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const exports = instance.exports as unknown as Exports;
    const mainCanBlock = isNode || canBlockHere();
    const info: BackendInfo = {
      simd: true,
      relaxedSimd: variant.startsWith('relaxed'),
      threads: 1,
      variant,
      environment: isNode ? 'node' : 'browser',
      ...(opts.reason ? { reason: opts.reason } : {}),
    };
    const b = new Backend(exports, memory, module, info, maxPages * PAGE, mainCanBlock, { threads: opts.threads, auto: opts.auto, maxMemoryMB: opts.maxMemoryMB });
    if (shared && opts.threads > 1) b.poolReady = b.startPool(opts.threads);
    return b;
  }

  /** Resolves when the worker pool (if any) is running. */
  ready(): Promise<void> {
    return this.poolReady;
  }

  get threads(): number {
    return this.poolThreads;
  }

  /** Whole-memory views, re-created only after the memory grew (so hot paths allocate nothing). */
  views(): { f32: Float32Array; u32: Uint32Array; i32: Int32Array; u8: Uint8Array } {
    const buf = this.memory.buffer;
    if (!this.viewCache || this.viewCache.buf !== buf) {
      const b = buf as ArrayBuffer;
      this.viewCache = { buf, f32: new Float32Array(b), u32: new Uint32Array(b), i32: new Int32Array(b), u8: new Uint8Array(b) };
    }
    return this.viewCache;
  }

  private ctrl(): Int32Array {
    if (!this.i32cache || this.i32cache.buffer !== this.memory.buffer) this.i32cache = new Int32Array(this.memory.buffer);
    return this.i32cache;
  }

  private async startPool(threads: number): Promise<void> {
    const ctrlPtr = this.exports.wl_pool_ctrl();
    Atomics.store(this.armed, 0, 1);
    if (isNode) await this.startWatchdog(ctrlPtr);
    const started: Promise<void>[] = [];
    for (let tid = 1; tid < threads; tid++) {
      const lo = this.arena.alloc(STACK_GUARD + WORKER_STACK);
      this.views().u32.fill(STACK_PATTERN, lo >>> 2, (lo + STACK_GUARD + WORKER_STACK) >>> 2);
      this.stackGuards.push(lo >>> 2);
      const data = { module: this.module, memory: this.wasmMemory, tid, stackTop: lo + STACK_GUARD + WORKER_STACK, ctrl: ctrlPtr, status: this.status.buffer };
      started.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (m: { type: string; tid: number; message?: string }) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error') {
              this.workerErrors.push(`worker ${m.tid}: ${m.message}`);
              this.markBroken(`worker thread ${m.tid} died: ${m.message?.split('\n')[0]}`);
              reject(new Error(`wasm-layers: worker thread ${m.tid} failed to start: ${m.message}`));
            }
          };
          const onExit = () => {
            if (!this.disposed && !this.retiring) this.markBroken(this.deathMessage(tid));
            reject(new Error(`wasm-layers: worker thread ${tid} exited before it started`));
          };
          this.spawn(data, onMessage, onExit).then((w) => this.workers.push(w), reject);
        }),
      );
    }
    try {
      await Promise.all(started);
    } catch (e) {
      this.info.reason = `thread pool failed to start (${(e as Error).message}); running on one thread`;
      this.shutdownWorkers();
      return;
    }
    // Workers report ready just before entering the loop; wait until all are in it.
    const c = this.ctrl();
    while (Atomics.load(c, (ctrlPtr >>> 2) + Ctrl.started) < threads - 1) await new Promise((r) => setTimeout(r, 1));
    this.poolThreads = threads;
    this.info.threads = threads;
    this.exports.wl_pool_config(threads, this.mainCanBlock ? 1 : 0);
    this.setAuto(this.config.auto);
  }

  /** threads: 'auto' on or off for a running pool (init() with the other setting and the same pool size). */
  setAuto(on: boolean): void {
    this.config.auto = on;
    if (this.poolThreads < 2) return;
    if (on && !this.auto) {
      this.auto = new AutoThreads(
        this.poolThreads,
        (t) => this.exports.wl_pool_config(t, this.mainCanBlock ? 1 : 0),
        (s) => (this.info.auto = s),
      );
    } else if (!on && this.auto) {
      this.auto = null;
      delete this.info.auto;
      this.exports.wl_pool_config(this.poolThreads, this.mainCanBlock ? 1 : 0);
    }
  }

  /**
   * Node: the thread that notices pool workers dying while the calling thread is blocked in wasm (see
   * WATCHDOG_SOURCE). Browsers have no portable way to observe a worker's end from another thread; there
   * `terminate()` of a pool worker is caught by the wrapper `spawn` installs.
   */
  private async startWatchdog(ctrlPtr: number): Promise<void> {
    const { Worker } = nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads')!;
    // It holds a few ports; with a heap limit V8 reserves less for it (Node 20: 8.0 vs 8.8 MB of RSS per
    // thread, Node 24: 12.3 vs 13.5).
    const w = new Worker(WATCHDOG_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    w.unref();
    w.on('error', () => undefined); // its death only means less protection, never a failure of the pool
    w.postMessage({ memory: this.wasmMemory, ctrl: ctrlPtr, armed: this.armed.buffer });
    this.watchdog = w;
  }

  /** Records that we end worker `tid` ourselves (`terminate()` called on it), then lets it end. */
  private wrapTerminate(w: PoolWorker, tid: number): void {
    const terminate = w.terminate.bind(w);
    w.terminate = () => {
      if (Atomics.load(this.armed, 0) === 1) {
        Atomics.compareExchange(this.status, tid * STATUS_SLOTS + Slot.KIND, DeathKind.UNKNOWN, DeathKind.TERMINATED);
        this.flagFailed(tid + 1);
      }
      return terminate();
    };
  }

  private async spawn(data: { tid: number }, onMessage: (m: any) => void, onExit: () => void): Promise<PoolWorker> {
    if (isNode) {
      const { Worker, MessageChannel } = nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads')!;
      // The lifeline: the worker holds one end; the watchdog hears the other close when the worker ends.
      const { port1, port2 } = new MessageChannel();
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { ...data, lifeline: port1 },
        transferList: [port1],
        // A pool worker's JS heap holds almost nothing; a small limit makes a leak end that worker (which the
        // pool reports) instead of growing toward the whole process' limit.
        resourceLimits: { maxOldGenerationSizeMb: 64 },
      });
      this.watchdog?.postMessage({ port: port2, tid: data.tid }, [port2]);
      this.wrapTerminate(w, data.tid);
      w.on('message', onMessage);
      w.on('error', (e) => onMessage({ type: 'error', tid: (data as any).tid, message: String(e) }));
      w.on('exit', onExit);
      // A Node process ends when its own work is done: once a worker is in its loop it must not keep the
      // process alive (it stays referenced while starting, or `await init()` would never resolve).
      w.once('message', () => w.unref());
      return w;
    }
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new Worker(url);
    this.wrapTerminate(w, data.tid);
    w.onmessage = (ev) => onMessage(ev.data);
    w.onerror = (ev) => {
      onMessage({ type: 'error', tid: (data as any).tid, message: ev.message });
    };
    w.postMessage(data);
    return w;
  }

  private markBroken(why: string): void {
    if (this.broken) return;
    this.broken = why;
    // Wake a calling thread that may be waiting on the dead worker.
    this.flagFailed(255);
  }

  /** Sets the control block's `failed` (unless already set) and wakes every waiter. */
  private flagFailed(who: number): void {
    const c = this.ctrl();
    const base = this.exports.wl_pool_ctrl() >>> 2;
    Atomics.compareExchange(c, base + Ctrl.failed, 0, who);
    for (let k = 0; k < CTRL_WORDS; k++) Atomics.notify(c, base + k);
  }

  private check(): void {
    if (this.disposed) throw new Error('wasm-layers: the backend was disposed; call init() again');
    if (this.broken) {
      // What the worker's 'error' event said, if it arrived after the failure was first reported.
      const late = this.workerErrors.length && !this.broken.includes(this.workerErrors[0].split('\n')[0]) ? `; ${this.workerErrors[0].split('\n')[0]}` : '';
      throw new Error(`wasm-layers: the thread pool is broken (${this.broken}${late}); call init() again (tensors and models made before are lost)`);
    }
  }

  /** Runs a program of `words` u32 words at byte offset `ptr` (once per training step: allocates nothing). */
  run(ptr: number, words: number): void {
    this.check();
    let rc: number;
    const auto = this.auto;
    auto?.begin(ptr, words);
    try {
      rc = this.exports.wl_run(ptr, words);
    } catch (e) {
      this.trapped(e);
    }
    auto?.end();
    if (this.stackGuards.length) this.checkStackGuards();
    if (rc !== Status.OK) this.fail(rc);
  }

  /** Throws (and breaks the pool) when a worker's stack has grown into its guard. */
  private checkStackGuards(): void {
    const u32 = this.views().u32;
    const top = STACK_GUARD >>> 2;
    for (let w = 0; w < this.stackGuards.length; w++) {
      const g = this.stackGuards[w];
      for (let i = top - 1; i >= 0; i -= GUARD_SAMPLE_STRIDE) {
        if (u32[g + i] !== STACK_PATTERN) {
          this.markBroken(`worker thread ${w + 1} overflowed its ${WORKER_STACK / 1024} KiB stack; memory below it may be corrupt`);
          this.check();
        }
      }
    }
  }

  /**
   * The deepest each worker's stack has been, in bytes (pattern words no longer intact, counted from the
   * top of the stack down). A test of how close the kernels come to WORKER_STACK.
   * @internal
   */
  stackHighWater(): number[] {
    const u32 = this.views().u32;
    return this.stackGuards.map((g) => {
      const bottom = g + (STACK_GUARD >>> 2);
      const end = bottom + (WORKER_STACK >>> 2);
      let i = 0;
      while (i < end - g && u32[g + i] === STACK_PATTERN) i++;
      return Math.max(0, (end - (g + i)) * 4);
    });
  }

  /** Test hook: writes into worker `w`'s guard as an overflow would. @internal */
  debugSmashStackGuard(w: number): void {
    this.views().u32[this.stackGuards[w] + (STACK_GUARD >>> 2) - 1] = 0;
  }

  /** A trap on the calling thread: release the workers and refuse further work on this memory. */
  private trapped(e: unknown): never {
    this.exports.wl_pool_abort();
    this.broken = `a kernel trapped (${(e as Error).message})`;
    throw new Error(`wasm-layers: kernel trapped: ${(e as Error).message}`);
  }

  private fail(rc: number): never {
    const why =
      rc === Status.ERR_WORKER
        ? this.failedWorkerMessage()
        : rc === Status.ERR_ABORTED
          ? 'the job was aborted'
          : rc === Status.ERR_NO_REFERENCE
            ? 'naive references (opcode | REF) are only in the test build of the kernels (wasm/reference/)'
            : 'malformed program';
    if (rc !== Status.ERR_PROGRAM && rc !== Status.ERR_NO_REFERENCE) this.broken = why;
    throw new Error(`wasm-layers: ${why}`);
  }

  private failedWorkerMessage(): string {
    const c = this.ctrl();
    const who = Atomics.load(c, (this.exports.wl_pool_ctrl() >>> 2) + Ctrl.failed);
    const detail = this.workerErrors.length ? `: ${this.workerErrors[0].split('\n')[0]}` : '';
    if (who === 255 || who === 0) return `a worker thread died${detail}`;
    return this.deathMessage(who - 1);
  }

  /** Why worker `tid` died, as far as is known (see DeathKind). */
  private deathMessage(tid: number): string {
    const detail = this.workerErrors.length ? `: ${this.workerErrors[0].split('\n')[0]}` : '';
    const kind = Atomics.load(this.status, tid * STATUS_SLOTS + Slot.KIND);
    if (kind === DeathKind.TRAP) return `worker thread ${tid} died during a kernel${detail}`;
    if (kind === DeathKind.EXIT) return `worker thread ${tid} died: its thread exited with code ${Atomics.load(this.status, tid * STATUS_SLOTS + Slot.CODE)} (process.exit() or its event loop ended)`;
    if (kind === DeathKind.TERMINATED) return `worker thread ${tid} died: it was stopped with Worker.terminate()`;
    return `worker thread ${tid} died: its thread ended without a word (out of memory, terminated or crashed)${detail}`;
  }

  /** Test hook: makes thread `tid` trap in a job. */
  debugTrapOn(tid: number): void {
    this.debugKillWorker(tid, 'trap');
  }

  /**
   * Test hook: thread `tid` dies inside a job, reporting the trap as usual (`'trap'`) or, without a word
   * to the calling thread, by `process.exit`, by running out of JS heap, or by just ending (Node only).
   */
  debugKillWorker(tid: number, how: WorkerDeath): void {
    this.check();
    const fault = { trap: Fault.REPORT, exit: Fault.EXIT, 'out-of-memory': Fault.OUT_OF_MEMORY, silent: Fault.SILENT }[how];
    if (tid >= 1 && tid < 64) Atomics.store(this.status, tid * STATUS_SLOTS + Slot.FAULT, fault);
    // Every thread of the pool takes part (threads: 'auto' may be running programs on fewer).
    this.exports.wl_pool_config(this.poolThreads, this.mainCanBlock ? 1 : 0);
    this.auto?.invalidate();
    let rc: number;
    try {
      rc = this.exports.wl_debug_trap_on(tid);
    } catch (e) {
      this.trapped(e);
    }
    if (rc !== Status.OK) this.fail(rc);
  }

  /** Test hook: thread `tid` spins `spins` iterations before each tile it claims (tid -1: nobody). */
  debugDelay(tid: number, spins: number): void {
    this.exports.wl_debug_delay(tid < 0 ? 0xffffffff : tid, spins >>> 0);
  }

  /** Tiles of programs thread `tid` has run since the backend started (tests, bench). */
  tilesRun(tid: number): number {
    return this.exports.wl_pool_tiles_run(tid) >>> 0;
  }

  /**
   * Bench: `iters` rounds of a register-only multiply-add loop on the calling thread (form 0: 12 chained
   * madds — SIMD128 mul + add, or relaxed-SIMD FMA in the relaxed builds; form 1: 6 multiplies and 6 adds
   * on independent chains); returns the flops done. See gemm.rs `wl_peak_madd`.
   */
  peakMadd(iters: number, form: 0 | 1): number {
    this.exports.wl_peak_madd(iters, 1e-3, form);
    return iters * (form === 0 ? 96 : 48);
  }

  /**
   * Whether a weight gradient GEMM with these operands, fused with its Adam update (GEMM_ADAM), streams the
   * update over whole rows — the one case in which fusing trains faster (see gemm.rs `streams_update`).
   */
  gemmUpdateStreams(g: { layout: number; n: number; k: number; ldc: number }): boolean {
    return this.exports.wl_gemm_update_streams(g.layout, g.n, g.k, g.ldc) !== 0;
  }

  /** A scratch program area reused across calls of one-op programs. */
  scratchProgram(words: number): number {
    if (!this.u32prog || this.u32prog.words < words) {
      if (this.u32prog) this.arena.release(this.u32prog.ptr);
      this.u32prog = { ptr: this.arena.alloc(words * 4), words };
    }
    return this.u32prog.ptr;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A worker died or a kernel trapped: only a new init() helps. */
  get isBroken(): boolean {
    return this.broken !== null;
  }

  private shutdownWorkers(): void {
    // Ending them now is expected: neither the watchdog nor the exit listeners may call it a failure.
    Atomics.store(this.armed, 0, 0);
    this.retiring = true;
    this.exports.wl_pool_config(1, this.mainCanBlock ? 1 : 0);
    this.exports.wl_pool_shutdown();
    for (const w of this.workers) void w.terminate();
    void this.watchdog?.terminate();
    this.watchdog = null;
    this.workers.length = 0;
    this.poolThreads = 1;
    this.info.threads = 1;
    this.auto = null;
    delete this.info.auto;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.shutdownWorkers();
  }
}

/** Shared with workers where the runtime allows it; a page that is not cross-origin isolated has no pool. */
function sharedBuffer(bytes: number): ArrayBufferLike {
  return typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
}

function canBlockHere(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Module loading and the global backend

let current: Backend | null = null;
let pending: Promise<Backend> | null = null;

function defaultThreads(): number {
  let n = 1;
  if (isNode) {
    const os = nodeBuiltin<typeof import('node:os')>('node:os');
    n = os?.availableParallelism?.() ?? os?.cpus?.().length ?? 1;
  } else n = (globalThis as any).navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(8, n));
}

function resolveOptions(opts: InitOptions) {
  if (typeof WebAssembly === 'undefined')
    throw new Error(
      'wasm-layers: this runtime has no WebAssembly (Node started with --jitless, or WebAssembly disabled by the host); wasm-layers needs WebAssembly with SIMD',
    );
  if (opts === null || typeof opts !== 'object') throw new Error(`wasm-layers: init(options) takes an object ({ threads, maxMemoryMB, … }), got ${opts === null ? 'null' : typeof opts}`);
  if (opts.relaxedSimd !== undefined && typeof opts.relaxedSimd !== 'boolean') throw new Error(`wasm-layers: init({ relaxedSimd }) must be true or false, got ${String(opts.relaxedSimd)}`);
  const feats = detectFeatures();
  if (!feats.simd)
    throw new Error('wasm-layers needs WebAssembly SIMD (Node ≥ 16.4, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16.4); this runtime has none.');
  const auto = opts.threads === undefined || opts.threads === 'auto';
  const threads = auto ? defaultThreads() : opts.threads;
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new Error(`wasm-layers: init({ threads }) must be an integer from 1 to 64, got ${String(opts.threads)} (or 'auto')`);
  let reason: string | undefined;
  let shared = false;
  if (threads > 1) {
    if (feats.sharedMemory) shared = true;
    else {
      reason = isNode
        ? 'this runtime cannot share WebAssembly memory with workers'
        : 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so SharedArrayBuffer is unavailable';
      console.warn(`wasm-layers: running on ONE thread: ${reason}.`);
    }
  }
  const relaxed = feats.relaxedSimd && opts.relaxedSimd !== false;
  const variant: Variant = `${relaxed ? 'relaxed' : 'simd'}${shared ? '-threads' : ''}` as Variant;
  const maxMemoryMB = opts.maxMemoryMB ?? (isNode ? 4096 : 1024);
  if (typeof maxMemoryMB !== 'number' || !(maxMemoryMB >= 8)) throw new Error(`wasm-layers: init({ maxMemoryMB }) must be a number ≥ 8, got ${maxMemoryMB}`);
  return { threads, auto: auto && threads > 1, variant, reason, maxMemoryMB };
}

// One literal `new URL(…, import.meta.url)` per file, so bundlers (Vite, webpack) find and ship each.
function defaultUrl(variant: Variant): URL {
  switch (variant) {
    case 'simd':
      return new URL('../../wasm/wasm-layers-simd.wasm', import.meta.url);
    case 'simd-threads':
      return new URL('../../wasm/wasm-layers-simd-threads.wasm', import.meta.url);
    case 'relaxed':
      return new URL('../../wasm/wasm-layers-relaxed.wasm', import.meta.url);
    case 'relaxed-threads':
      return new URL('../../wasm/wasm-layers-relaxed-threads.wasm', import.meta.url);
  }
}

function wasmUrl(variant: Variant, opts: InitOptions): URL | string {
  return opts.wasmUrls?.[variant] ?? defaultUrl(variant);
}

function givenBinary(variant: Variant, opts: InitOptions): ArrayBuffer | ArrayBufferView<ArrayBuffer> | undefined {
  return opts.wasmBinary?.[variant];
}

function missingWasm(url: URL | string, e: unknown): Error {
  return new Error(`wasm-layers: cannot load ${String(url)} (${(e as Error).message}). Build it with \`npm run build:wasm\`, or pass init({ wasmUrls }).`);
}

/** Initialises the backend (idempotent unless options change). Awaits the worker pool. */
export async function init(opts: InitOptions = {}): Promise<BackendInfo> {
  if (opts === null || typeof opts !== 'object') resolveOptions(opts);
  if (pending) await pending.catch(() => undefined);
  // Without options, init() only makes sure a backend exists: it keeps a working one as it is
  // (e.g. datasets.*.loadData() calls it after the user chose init({ threads: 1 })).
  if (Object.values(opts).every((v) => v === undefined) && current && !current.isDisposed && !current.isBroken) {
    await current.ready();
    return { ...current.info };
  }
  // Validate before touching the current backend: bad options must not kill live tensors and models.
  const o = resolveOptions(opts);
  const custom = !!opts.wasmUrls || !!opts.wasmBinary;
  if (current && !current.isDisposed && !current.isBroken && !custom && current.config.threads === o.threads && current.info.variant === o.variant && current.config.maxMemoryMB === o.maxMemoryMB) {
    await current.ready();
    current.setAuto(o.auto); // same pool: only whether it adapts changes (results are the same either way)
    return { ...current.info };
  }
  current?.dispose();
  current = null;
  pending = (async () => {
    const url = wasmUrl(o.variant, opts);
    let module: WebAssembly.Module;
    const bin = givenBinary(o.variant, opts);
    try {
      if (bin) module = await WebAssembly.compile(bin);
      else if (isNode && (typeof url !== 'string' || url.startsWith('file:') || !/^[a-z]+:/i.test(url))) {
        const fs = nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises')!;
        const { fileURLToPath } = nodeBuiltin<typeof import('node:url')>('node:url')!;
        const path = typeof url === 'string' && !url.startsWith('file:') ? url : fileURLToPath(url);
        module = await WebAssembly.compile(new Uint8Array(await fs.readFile(path)));
      } else {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        module = await WebAssembly.compile(await res.arrayBuffer());
      }
    } catch (e) {
      throw missingWasm(url, e);
    }
    const b = Backend.create(module, o.variant, o);
    current = b;
    await b.ready();
    return b;
  })();
  try {
    const b = await pending;
    return { ...b.info };
  } finally {
    pending = null;
  }
}

/** The backend, created synchronously on first use in Node (workers join asynchronously). */
export function backend(): Backend {
  if (current && !current.isDisposed) return current;
  if (!isNode) throw new Error('wasm-layers: call `await init()` before using tensors in a browser (WebAssembly must be compiled asynchronously there).');
  if (pending) throw new Error('wasm-layers: init() is still running; await it before using tensors.');
  const o = resolveOptions({});
  const url = wasmUrl(o.variant, {}) as URL;
  const fs = nodeBuiltin<typeof import('node:fs')>('node:fs')!;
  const { fileURLToPath } = nodeBuiltin<typeof import('node:url')>('node:url')!;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fs.readFileSync(fileURLToPath(url));
  } catch (e) {
    throw missingWasm(url, e);
  }
  current = Backend.create(new WebAssembly.Module(bytes), o.variant, o);
  return current;
}

/** What the backend runs on. Initialises it (lazily, in Node) if needed. */
export function backendInfo(): BackendInfo {
  return { ...backend().info };
}

export interface MemoryInfo {
  /** Bytes of wasm memory held by live tensors, models, plans. */
  inUse: number;
  /** The most ever in use at once. */
  peak: number;
  /**
   * Bytes of wasm memory the process holds for the backend. WebAssembly memory grows but never shrinks:
   * after a peak this stays high (the free part is reused) until `disposeBackend()` releases it all.
   */
  reserved: number;
  /** The most wasm memory may grow to (`init({ maxMemoryMB })`). */
  limit: number;
}

/** How much wasm memory is in use, reserved and allowed (see MemoryInfo). */
export function memory(): MemoryInfo {
  const s = backend().arena.stats();
  return { inUse: s.inUse, peak: s.peak, reserved: s.memoryBytes, limit: s.maxBytes };
}

/** Tears down the thread pool and frees the wasm memory; tensors made before are unusable afterwards. */
export function disposeBackend(): void {
  current?.dispose();
  current = null;
}

export { OutOfMemoryError };
