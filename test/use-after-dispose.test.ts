/**
 * Issue 12 item 5: disposing the data while fit() uses it. A callback disposes x, y and the validation
 * data after a few batches, then allocates tensors of the same sizes full of other values — exactly what
 * would reuse the freed memory. fit() holds handles of its own on the data, so training goes on with the
 * right data: the weights end bitwise equal to an undisturbed run, and the memory comes back after fit.
 * (evaluate and predict run no callbacks and never yield, so nothing can dispose their data mid-call.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Callback, init, layers, memory, sequential, setSeed, tensor, type Sequential, type Tensor } from '../src/index.js';

beforeAll(async () => {
  await init({ threads: 1 });
});

const N = 96;
const data = (): Tensor[] => [
  tensor(Float32Array.from({ length: N * 8 }, (_, i) => Math.sin(i * 0.37)), [N, 8]),
  tensor(Int32Array.from({ length: N }, (_, i) => (i * 7) % 3), [N]),
  tensor(Float32Array.from({ length: 32 * 8 }, (_, i) => Math.cos(i * 0.21)), [32, 8]),
  tensor(Int32Array.from({ length: 32 }, (_, i) => i % 3), [32]),
];

function model(): Sequential {
  setSeed(99);
  const m = sequential([layers.dense({ units: 16, inputShape: [8], activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const weightBits = (m: Sequential) =>
  m.getWeights().map((t) => {
    const b = Array.from(new Uint32Array((t.dataSync() as Float32Array).buffer));
    t.dispose();
    return b;
  });

/** Disposes the data at the given batch, then fills memory with same-sized tensors of other values. */
class DisposeMidFit extends Callback {
  garbage: Tensor[] = [];
  constructor(
    private readonly victims: Tensor[],
    private readonly atBatch: number,
  ) {
    super();
  }
  override onBatchEnd(batch: number): void {
    if (batch !== this.atBatch || this.victims[0].isDisposed) return;
    for (const t of this.victims) {
      const shape = [...t.shape];
      const int = t.dtype === 'int32';
      t.dispose();
      this.garbage.push(tensor(int ? new Int32Array(t.size).fill(2) : new Float32Array(t.size).fill(1e3), shape, int ? 'int32' : 'float32'));
    }
  }
}

describe('use after dispose during fit', () => {
  it('x, y and the validation data disposed from onBatchEnd: fit trains on the right data, weights bitwise equal to an undisturbed run', async () => {
    const ref = model();
    const [x0, y0, xv0, yv0] = data();
    setSeed(5);
    const h0 = await ref.fit(x0, y0, { epochs: 3, batchSize: 16, verbose: 0, validationData: [xv0, yv0] });
    const want = weightBits(ref);
    for (const t of [x0, y0, xv0, yv0]) t.dispose();
    ref.dispose();
    const base = memory().inUse; // after a first fit (which keeps its NaN-check scratch program for good)

    const m = model();
    const [x, y, xv, yv] = data();
    const cb = new DisposeMidFit([x, y, xv, yv], 2);
    setSeed(5);
    const h = await m.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, validationData: [xv, yv], callbacks: [cb] });
    expect(x.isDisposed).toBe(true);
    expect(cb.garbage).toHaveLength(4);
    expect(weightBits(m)).toEqual(want);
    expect(h.history).toEqual(h0.history);
    // the data's memory went back when fit ended
    for (const t of cb.garbage) t.dispose();
    m.dispose();
    expect(memory().inUse).toBe(base);
  });

  it('the model disposed by a callback mid-fit: fit rejects with an error that names the model and where, and nothing leaks', async () => {
    const before = memory().inUse;
    const [x, y, xv, yv] = data();
    for (const [hook, where] of [
      ['onBatchEnd', 'before epoch 1, batch 3'],
      ['onBatchBegin', 'before epoch 1, batch 2'],
      ['onEpochBegin', 'before epoch 2, batch 1'],
      ['onTrainBegin', 'before epoch 1, batch 1'],
    ] as const) {
      const m = model();
      class Killer extends Callback {
        override onTrainBegin() {
          if (hook === 'onTrainBegin') m.dispose();
        }
        override onEpochBegin(epoch: number) {
          if (hook === 'onEpochBegin' && epoch === 1) m.dispose();
        }
        override onBatchBegin(batch: number) {
          if (hook === 'onBatchBegin' && batch === 1) m.dispose();
        }
        override onBatchEnd(batch: number) {
          if (hook === 'onBatchEnd' && batch === 1) m.dispose();
        }
      }
      await expect(m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, callbacks: [new Killer()] }), hook).rejects.toThrow(
        `fit: the model ${m.name} was disposed while it was being trained (seen ${where}; by a callback?); training stopped`,
      );
    }
    const m = model();
    class AtEpochEnd extends Callback {
      override onBatchEnd(batch: number) {
        if (batch === 5) m.dispose(); // the epoch's last batch (96 / 16 = 6 batches): validation comes next
      }
    }
    await expect(m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, validationData: [xv, yv], callbacks: [new AtEpochEnd()] })).rejects.toThrow(
      `(seen before the validation of epoch 1; by a callback?)`,
    );
    for (const t of [x, y, xv, yv]) t.dispose();
    expect(memory().inUse).toBe(before);
  });

  it('a tensor disposed before the call is still refused by name', async () => {
    const m = model();
    const [x, y, xv, yv] = data();
    x.dispose();
    await expect(m.fit(x, y, { verbose: 0 })).rejects.toThrow(`fit: x: tensor ${x.id} (shape [${N},8]) was used after dispose()`);
    expect(() => m.predict(x)).toThrow('was used after dispose()');
    for (const t of [y, xv, yv]) t.dispose();
    m.dispose();
  });
});
