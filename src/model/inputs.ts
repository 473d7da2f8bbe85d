/**
 * What a model's loops run on: user data checked against the model and placed in wasm memory (a plan
 * `Source`), and the Int32 index buffers through which plans gather batches.
 */
import type { Backend } from '../backend/backend.js';
import { ops, runOp } from '../backend/program.js';
import type { LossName } from '../losses.js';
import { Tensor, asTensor, sizeOf, type TensorLike } from '../tensor.js';
import type { Source } from './plan.js';

export type Input = Tensor | TensorLike;

/**
 * Data prepared for plans: tensors in wasm memory, each a handle of our own (a copy of a foreign tensor, or
 * a second handle on the user's storage) that `release` disposes. The user may dispose their tensor while
 * fit() runs (from a callback): the storage stays ours until the call ends, so its memory is never reused
 * under a running plan.
 */
export interface Prepared {
  source: Source;
  n: number;
  release(): void;
}

/** What the checks need of the model. */
export interface InputModel {
  readonly inputShape: number[];
  /** The last layer's output shape (the model is built). */
  readonly outputShape: number[];
  /** Frees the plans built over a source when its data is released. */
  forgetPlansOf(source: Source): void;
}

/** How many float32 values of a tensor are NaN or ±Infinity (one kernel pass in wasm memory). */
export function countNonFinite(t: Tensor): number {
  const b = t.backend;
  const res = b.arena.alloc(16);
  try {
    runOp(ops.countNonFinite({ n: t.size, x: t.ptr, out: res }), b);
    return b.views().u32[res >>> 2];
  } finally {
    b.arena.release(res);
  }
}

function prepareX(model: InputModel, x: Input, what: string): { t: Tensor; n: number; rowLen: number } {
  const { t, owned } = asTensor(x, what);
  try {
    if (t.isDisposed) throw new Error(`${what}: tensor ${t.id} (shape [${t.shape}]) was used after dispose()`);
    if (t.rank >= 1 && t.shape[0] === 0) throw new Error(`${what}: has 0 samples (shape [${t.shape}]); at least one is needed`);
    const want = model.inputShape;
    const per = t.shape.slice(1);
    const ok = t.rank >= 1 && (per.join(',') === want.join(',') || (t.rank === 2 && per[0] === sizeOf(want) && want.length === 1));
    if (!ok) throw new Error(`${what}: expected shape [n, ${want.join(', ')}] to match the model's inputShape [${want}], got [${t.shape}]`);
    if (t.storageDtype === 'float32') {
      const bad = countNonFinite(t);
      if (bad > 0) throw new Error(`${what}: contains ${bad} NaN or Infinity value${bad > 1 ? 's' : ''}`);
    }
    return { t: owned ? t : t.share(), n: t.shape[0], rowLen: sizeOf(want) };
  } catch (e) {
    if (owned) t.dispose();
    throw e;
  }
}

function prepareY(model: InputModel, loss: LossName, y: Input, n: number, what: string): Tensor {
  const { t, owned } = asTensor(y, what);
  try {
    if (t.isDisposed) throw new Error(`${what}: tensor ${t.id} (shape [${t.shape}]) was used after dispose()`);
    if (t.shape[0] !== n) throw new Error(`${what}: has ${t.shape[0]} samples but x has ${n}`);
    const units = model.outputShape[0];
    const v = t.storageView();
    if (loss === 'sparseCategoricalCrossentropy') {
      if (!(t.rank === 1 || (t.rank === 2 && t.shape[1] === 1))) throw new Error(`${what}: sparse labels must have shape [n] or [n, 1], got [${t.shape}]`);
      const d = t.divisor;
      for (let i = 0; i < v.length; i++) {
        const l = v[i] / d;
        if (!Number.isInteger(l)) throw new Error(`${what}: label ${l} at index ${i} is not an integer class id`);
        if (l < 0 || l >= units) throw new Error(`${what}: label ${l} at index ${i} is out of range [0, ${units - 1}] for a ${units}-unit output`);
      }
    } else {
      if (t.rank !== 2 || t.shape[1] !== units) throw new Error(`${what}: expected shape [n, ${units}] for loss ${loss}, got [${t.shape}]`);
      if (t.storageDtype === 'float32' && countNonFinite(t) > 0) throw new Error(`${what}: contains NaN or Infinity`);
    }
    return owned ? t : t.share();
  } catch (e) {
    if (owned) t.dispose();
    throw e;
  }
}

/**
 * Checks x (and y, against `loss`) and places them in wasm memory. `release()` disposes our handles (and
 * so the copies made of foreign tensors) and frees the plans built over the data.
 */
export function prepare(model: InputModel, x: Input, y: Input | undefined, loss: LossName | undefined, what: string): Prepared {
  const px = prepareX(model, x, `${what}: x`);
  let py: Tensor | undefined;
  try {
    if (y !== undefined) py = prepareY(model, loss!, y, px.n, `${what}: y`);
  } catch (e) {
    px.t.dispose();
    throw e;
  }
  // A fresh object per call: plans belong to it, so a predict() inside a running fit() (same tensors)
  // frees only its own plans when it ends.
  const source: Source = { x: px.t, y: py, rowLen: px.rowLen };
  return {
    source,
    n: px.n,
    release: () => {
      model.forgetPlansOf(source);
      px.t.dispose();
      py?.dispose();
    },
  };
}

/** Index buffer slots: fit's training rows, evaluation/prediction rows, trainOnBatch's rows. */
export const Slot = { train: 0, eval: 1, batch: 2 } as const;
export type Slot = (typeof Slot)[keyof typeof Slot];

/** Int32 index buffers in wasm memory, one per slot, grown on demand and kept for the model's life. */
export class IndexBuffers {
  private readonly buffers = new Map<number, { ptr: number; n: number }>();

  constructor(private readonly b: Backend) {}

  /** The buffer of `slot` with room for at least n entries; its first n entries are 0..n-1. */
  identity(slot: Slot, n: number): { ptr: number; view: () => Int32Array } {
    let ib = this.buffers.get(slot);
    if (!ib || ib.n < n) {
      if (ib) this.b.arena.release(ib.ptr);
      this.buffers.delete(slot); // the allocation below may fail
      ib = { ptr: this.b.arena.alloc(Math.max(4, n * 4)), n };
      this.buffers.set(slot, ib);
    }
    const ptr = ib.ptr;
    const view = () => this.b.views().i32.subarray(ptr >>> 2, (ptr >>> 2) + n);
    const v = view();
    for (let i = 0; i < n; i++) v[i] = i;
    return { ptr, view };
  }

  /** Where each slot's buffer is now: a call that then fails gives back what it grew (`dropGrownSince`). */
  mark(): Map<number, number> {
    return new Map([...this.buffers].map(([slot, ib]) => [slot, ib.ptr]));
  }

  /** Frees the buffers made since `mark`: a failed call must not leave the arena bigger than it found it. */
  dropGrownSince(mark: Map<number, number>): void {
    for (const [slot, ib] of [...this.buffers]) {
      if (mark.get(slot) === ib.ptr) continue;
      if (!this.b.isDisposed) this.b.arena.release(ib.ptr);
      this.buffers.delete(slot);
    }
  }

  dispose(): void {
    if (!this.b.isDisposed) for (const ib of this.buffers.values()) this.b.arena.release(ib.ptr);
    this.buffers.clear();
  }
}
