/**
 * tfjs-core on @tensorflow/tfjs-backend-wasm in Node, as the benchmarks' point of comparison.
 *
 * In Node, tfjs-backend-wasm never uses threads: its multithread check is hard-wired false there, so it
 * loads `tfjs-backend-wasm-simd.wasm` (SIMD, ONE thread) whatever the machine has. Its numbers below are
 * therefore single-threaded; `describeTfjsWasm()` says so in the output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';

export type TF = typeof tf;

let ready: Promise<TF> | null = null;

/** tfjs-backend-wasm's `dist/` directory, with a trailing separator (`setWasmPaths` takes a prefix). */
function wasmDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep;
}

/** tfjs-core with the wasm backend selected and initialised. */
export function tfjsWasm(): Promise<TF> {
  ready ??= (async () => {
    setWasmPaths(wasmDir());
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
    await tf.ready();
    if (tf.getBackend() !== 'wasm') throw new Error(`tfjs: expected the wasm backend, got ${tf.getBackend()}`);
    return tf;
  })();
  return ready;
}

/** One line on what tfjs runs on (call after `tfjsWasm()`). */
export function describeTfjsWasm(): string {
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const mt = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  return (
    `tfjs-core ${tf.version_core} + tfjs-backend-wasm (${simd ? 'SIMD' : 'no SIMD'}, ` +
    `${mt ? 'multithreaded' : 'SINGLE-THREADED: tfjs-backend-wasm never uses threads in Node'})`
  );
}
