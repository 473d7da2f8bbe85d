/**
 * The pool worker's source, as a string: evaluated by Node's `worker_threads` (`eval: true`) and loaded
 * from a Blob URL by browsers, so neither bundlers nor `tsx`/vitest need to resolve a separate worker
 * file. Each worker instantiates the compiled module on the shared memory, moves its stack pointer to its
 * own stack, and stays inside `wl_worker_main` until shutdown. If the wasm traps, the worker records its
 * death in the control block (`failed = 1 + tid`) and wakes every waiter, so the caller gets an error
 * instead of waiting forever. The control block's layout comes from crates/kernels/ops.json.
 *
 * A worker can also die without running any of its own code (`Worker.terminate()`, out of memory, a
 * crash). The calling thread cannot notice: it is blocked inside wasm at a barrier, so its event loop
 * never sees the worker's 'exit' event. In Node a watchdog thread (WATCHDOG_SOURCE) does: it holds the
 * other end of a MessagePort owned by each pool worker, and the port's 'close' fires when that worker's
 * thread ends, however it ends.
 *
 * `d.status` (an Int32Array over a small SharedArrayBuffer, STATUS_SLOTS entries per thread) says why a
 * thread died, for the error message: see DeathKind. Its `FAULT` slot is a test hook that makes the
 * worker die in a chosen way once `wl_debug_trap_on` traps it inside a job.
 */
export const STATUS_SLOTS = 4;
/** Offsets within a thread's status slots. */
export const Status = { FAULT: 0, KIND: 1, CODE: 2 } as const;
/** How a worker died, as recorded in its KIND slot. */
export const DeathKind = { UNKNOWN: 0, TRAP: 1, EXIT: 2, TERMINATED: 3 } as const;
/** Test hook values of the FAULT slot: what a worker does when the debug trap hits it. */
export const Fault = { REPORT: 0, EXIT: 1, OUT_OF_MEMORY: 2, SILENT: 3 } as const;
import { Ctrl, CTRL_WORDS } from './ops.generated.js';

export const WORKER_SOURCE = `
'use strict';
const S = ${STATUS_SLOTS};
function start(d, post) {
  const st = d.status ? new Int32Array(d.status) : null;
  const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
  inst.exports.__stack_pointer.value = d.stackTop;
  post({ type: 'ready', tid: d.tid });
  try {
    inst.exports.wl_worker_main(d.tid);
    post({ type: 'done', tid: d.tid });
  } catch (e) {
    const fault = st ? Atomics.load(st, d.tid * S + ${Status.FAULT}) : ${Fault.REPORT};
    // Test hook: die without marking the control block, so that only the watchdog can tell the caller.
    if (fault !== ${Fault.REPORT}) {
      globalThis.__wlNoMark = true;
      if (fault === ${Fault.EXIT}) process.exit(70);
      if (fault === ${Fault.OUT_OF_MEMORY}) { const hog = []; for (;;) hog.push(new Array(1 << 16).fill(0.5)); }
      return;
    }
    if (st) Atomics.store(st, d.tid * S + ${Status.KIND}, ${DeathKind.TRAP});
    markFailed(d);
    post({ type: 'error', tid: d.tid, message: String(e && e.stack || e) });
  }
}
function markFailed(d) {
  const i32 = new Int32Array(d.memory.buffer);
  const c = d.ctrl >>> 2;
  Atomics.compareExchange(i32, c + ${Ctrl.failed}, 0, d.tid + 1);
  for (let k = 0; k < ${CTRL_WORDS}; k++) Atomics.notify(i32, c + k);
}
const nodeProcess = typeof process !== 'undefined' && process.versions && process.versions.node ? process : null;
if (!nodeProcess) {
  self.onmessage = (ev) => start(ev.data, (m) => self.postMessage(m));
} else {
  // getBuiltinModule, not require: an eval'd worker is ESM when the parent ran with --input-type=module.
  const { parentPort, workerData } = nodeProcess.getBuiltinModule('node:worker_threads');
  // Held for the thread's lifetime: its closing tells the watchdog that this thread ended.
  globalThis.__wlLifeline = workerData.lifeline;
  process.on('exit', (code) => {
    if (globalThis.__wlDone) return;
    if (workerData.status) {
      const st = new Int32Array(workerData.status);
      Atomics.compareExchange(st, workerData.tid * S + ${Status.KIND}, ${DeathKind.UNKNOWN}, ${DeathKind.EXIT});
      Atomics.store(st, workerData.tid * S + ${Status.CODE}, code | 0);
    }
    if (!globalThis.__wlNoMark) markFailed(workerData);
  });
  start(workerData, (m) => { if (m.type !== 'ready') globalThis.__wlDone = true; parentPort.postMessage(m); });
}
`;

/**
 * The watchdog (Node): one idle thread per pool. Messages: `{ memory, ctrl, armed }` once, then
 * `{ port, tid }` per worker. When a port closes while `armed[0]` is 1 (the pool is not being shut down),
 * the worker behind it is gone: it marks `failed = 1 + tid` in the control block and wakes every waiter.
 */
export const WATCHDOG_SOURCE = `
'use strict';
const { parentPort } = process.getBuiltinModule('node:worker_threads');
let memory = null, ctrl = 0, armed = null;
parentPort.on('message', (m) => {
  if (m.memory) { memory = m.memory; ctrl = m.ctrl; armed = new Int32Array(m.armed); return; }
  m.port.on('close', () => {
    if (!memory || Atomics.load(armed, 0) !== 1) return;
    const i32 = new Int32Array(memory.buffer);
    const c = ctrl >>> 2;
    Atomics.compareExchange(i32, c + ${Ctrl.failed}, 0, m.tid + 1);
    for (let k = 0; k < ${CTRL_WORDS}; k++) Atomics.notify(i32, c + k);
  });
  m.port.on('message', () => {}); // starts the port
});
`;
