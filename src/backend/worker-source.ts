/**
 * The pool worker's source, as a string: evaluated by Node's `worker_threads` (`eval: true`) and loaded
 * from a Blob URL by browsers, so neither bundlers nor `tsx`/vitest need to resolve a separate worker
 * file. Each worker instantiates the compiled module on the shared memory, moves its stack pointer to its
 * own stack, and stays inside `wl_worker_main` until shutdown. If the wasm traps, the worker records its
 * death in the control block (`failed = 1 + tid`) and wakes every waiter, so the caller gets an error
 * instead of waiting forever. The control block's layout comes from crates/kernels/ops.json.
 */
import { Ctrl, CTRL_WORDS } from './ops.generated.js';

export const WORKER_SOURCE = `
'use strict';
function start(d, post) {
  const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
  inst.exports.__stack_pointer.value = d.stackTop;
  post({ type: 'ready', tid: d.tid });
  try {
    inst.exports.wl_worker_main(d.tid);
    post({ type: 'done', tid: d.tid });
  } catch (e) {
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
  process.on('exit', () => { if (!globalThis.__wlDone) markFailed(workerData); });
  start(workerData, (m) => { if (m.type !== 'ready') globalThis.__wlDone = true; parentPort.postMessage(m); });
}
`;
