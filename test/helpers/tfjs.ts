/**
 * tfjs-core on @tensorflow/tfjs-backend-wasm, in Node, for the parity suite (test/parity).
 *
 * `tfjsWasm()` points the backend at the .wasm files shipped in node_modules, selects it and waits until
 * it is ready; it returns the `tf` namespace. Every parity test compares against this backend (not
 * tfjs' CPU backend), so any failure means our kernels disagree with what tfjs computes on wasm.
 *
 * All three packages are loaded through Node's resolution (their CommonJS `main` builds), so tfjs-layers
 * and the wasm backend register against the same tfjs-core engine this module returns.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import type { LossName } from '../../src/losses.js';
import { mulberry32 } from './rand.js';

export type TF = typeof tf;

let ready: Promise<TF> | null = null;

/** The tfjs-backend-wasm `dist/` directory (with a trailing separator, as `setWasmPaths` wants a prefix). */
export function tfjsWasmDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep;
}

/** tfjs-core with the wasm backend selected and initialised. */
export function tfjsWasm(): Promise<TF> {
  ready ??= (async () => {
    setWasmPaths(tfjsWasmDir());
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('tfjs: the wasm backend failed to initialise');
    await tf.ready();
    if (tf.getBackend() !== 'wasm') throw new Error(`tfjs: expected the wasm backend, got ${tf.getBackend()}`);
    return tf;
  })();
  return ready;
}

// ---------------------------------------------------------------------------------------------------
// Shared by the parity suites: tfjs-layers' own loss functions, a seeded PRNG and the error measure.

/**
 * tfjs-layers' loss function for a Keras loss name, exactly as `model.compile({ loss })` resolves it
 * (tfjs-layers does not export its `losses` module, and its `metrics` lack sparseCategoricalCrossentropy,
 * so we take the functions from a compiled one-layer model). Returns per-row losses ([rows]).
 */
export type { LossName as KerasLossName } from '../../src/losses.js';

export async function tfjsLayersLoss(name: LossName): Promise<(yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor> {
  await tfjsWasm();
  const input = tfl.input({ shape: [1] });
  const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(input) as tfl.SymbolicTensor });
  model.compile({ optimizer: 'sgd', loss: name });
  const fn = model.lossFunctions[0] as (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
  model.dispose();
  return fn;
}

/** A seeded PRNG (uniform in [0, 1)), so every run sees the same inputs. */
export const rng = mulberry32;

/** Float32 data from a seeded generator. */
export function uniform(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export function normal(r: () => number, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

export function randInt(r: () => number, n: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.min(hi - 1, Math.floor(r() * hi));
  return out;
}

/**
 * The error measure of the parity suites: max |a − b| / max(max |b|, floor) — the largest elementwise
 * difference relative to the largest magnitude of the expected (tfjs) values, with an absolute floor so
 * an all-zero expectation does not divide by zero. floor = 1e-6 unless a test says otherwise.
 */
export const FLOOR = 1e-6;

export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = FLOOR): number {
  if (actual.length !== expected.length) throw new Error(`relErr: lengths differ (${actual.length} vs ${expected.length})`);
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    // NaN anywhere is a failure, not a 0 difference.
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    mag = Math.max(mag, Math.abs(expected[i]));
  }
  return diff / Math.max(mag, floor);
}

/**
 * relErr row by row (rows of `cols` values), the worst row's, for row-wise ops (softmax, the losses): a
 * row is measured against the larger of its own scale and 1% of the whole tensor's (and the absolute
 * floor). Rows differ in scale by orders of magnitude — a loss-gradient row whose target probability is
 * small is large, a saturated row is ~0 — and a wrong value in an ordinary row must not hide behind a loud
 * one; a near-zero row of a saturated softmax, though, is the rounding residue of a cancellation
 * (y·(dy − ⟨dy, y⟩) with y ≈ one-hot) and only meaningful relative to the tensor's scale. This is never
 * looser than relErr over the whole tensor (≥ 100× stricter on quiet rows).
 */
export function rowRelErr(actual: ArrayLike<number>, expected: ArrayLike<number>, cols: number, floor = FLOOR): number {
  if (actual.length !== expected.length) throw new Error(`rowRelErr: lengths differ (${actual.length} vs ${expected.length})`);
  let all = 0;
  for (let i = 0; i < expected.length; i++) all = Math.max(all, Math.abs(expected[i]));
  const rowFloor = Math.max(floor, 0.01 * all);
  let worst = 0;
  for (let s = 0; s < expected.length; s += cols) {
    const a = Array.prototype.slice.call(actual, s, s + cols) as number[];
    const b = Array.prototype.slice.call(expected, s, s + cols) as number[];
    worst = Math.max(worst, relErr(a, b, rowFloor));
  }
  return worst;
}
