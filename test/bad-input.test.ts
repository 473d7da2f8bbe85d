/**
 * Bad input (issue 4): every mistake gets an Error whose message names the problem — never a crash, a hang
 * or a silent wrong result — and the library keeps working afterwards (each group ends with a fit on the
 * same model, and checks that the failed calls leaked no wasm memory).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  Callback,
  Sequential,
  clearSession,
  init,
  layers,
  optimizers,
  sequential,
  setSeed,
  tensor,
  type FitArgs,
  type Tensor,
  type TensorLike,
} from '../src/index.js';
import { backend } from '../src/backend/backend.js';

// ---------------------------------------------------------------------------------------------------
// helpers

const N = 10;
/** Good data for the model below: x [10, 2, 3], y [10] in {0, 1, 2}. */
let X: Tensor;
let Y: Tensor;

function xValues(n: number): Float32Array {
  return Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(i * 0.7));
}

function model(compile = true): Sequential {
  const m = sequential([
    layers.flatten({ inputShape: [2, 3] }),
    layers.dense({ units: 4, activation: 'relu' }),
    layers.dropout({ rate: 0.1 }),
    layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  if (compile) m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const inUse = () => backend().arena.stats().inUse;

/** Runs `f` and checks that it left wasm memory as it found it (f disposes what it makes). */
async function noLeak(f: () => Promise<void> | void): Promise<void> {
  const before = inUse();
  await f();
  expect(inUse(), 'wasm bytes in use after the error cases').toBe(before);
}

/** The model still trains after the errors. */
async function stillWorks(m: Sequential): Promise<void> {
  const h = await m.fit(X, Y, { epochs: 2, batchSize: 4, verbose: 0 });
  expect(h.history.loss).toHaveLength(2);
  for (const v of h.history.loss) expect(Number.isFinite(v)).toBe(true);
  const p = m.predict(X);
  expect(p.shape).toEqual([N, 3]);
  p.dispose();
}

function t(values: number[] | Float32Array | Int32Array | Uint8Array, shape: number[], dtype?: 'float32' | 'int32' | 'uint8'): Tensor {
  return tensor(values, shape, dtype);
}

beforeAll(async () => {
  await init();
  X = t(xValues(N), [N, 2, 3]);
  Y = t(Int32Array.from({ length: N }, (_, i) => i % 3), [N]);
  // warm-up: what the backend allocates once for good (scratch programs, …)
  const w = model();
  await stillWorks(w);
  w.evaluate(X, Y);
  w.trainOnBatch(X, Y);
  w.dispose();
});

afterAll(() => {
  X.dispose();
  Y.dispose();
});

beforeEach(() => {
  clearSession();
  setSeed(3);
});

// ---------------------------------------------------------------------------------------------------

describe('x and y that do not fit together or the model', () => {
  it('x/y sample count mismatch', () =>
    noLeak(async () => {
      const m = model();
      const y9 = t(new Int32Array(9), [9]);
      await expect(m.fit(X, y9, { verbose: 0 })).rejects.toThrow(/fit: y: has 9 samples but x has 10/);
      expect(() => m.evaluate(X, y9)).toThrow(/evaluate: y: has 9 samples but x has 10/);
      expect(() => m.trainOnBatch(X, y9)).toThrow(/trainOnBatch: y: has 9 samples but x has 10/);
      const xv = t(xValues(5), [5, 2, 3]);
      const yv = t(new Int32Array(4), [4]);
      await expect(m.fit(X, Y, { verbose: 0, validationData: [xv, yv] })).rejects.toThrow(/fit: validationData: y: has 4 samples but x has 5/);
      await stillWorks(m);
      for (const a of [y9, xv, yv]) a.dispose();
      m.dispose();
    }));

  it("input shape not matching the model's inputShape", () =>
    noLeak(async () => {
      const m = model();
      const cases: [number[], string][] = [
        [[N, 3, 2], '10,3,2'],
        [[N, 6], '10,6'],
        [[N, 2, 3, 1], '10,2,3,1'],
        [[N * 6], '60'],
      ];
      for (const [shape, got] of cases) {
        const x = t(xValues(N), shape);
        const re = new RegExp(`x: expected shape \\[n, 2, 3\\] to match the model's inputShape \\[2,3\\], got \\[${got}\\]`);
        await expect(m.fit(x, Y, { verbose: 0 })).rejects.toThrow(re);
        expect(() => m.evaluate(x, Y)).toThrow(re);
        expect(() => m.predict(x)).toThrow(re);
        expect(() => m.trainOnBatch(x, Y)).toThrow(re);
        await expect(m.fit(X, Y, { verbose: 0, validationData: [x, Y] })).rejects.toThrow(/fit: validationData: x: expected shape \[n, 2, 3\]/);
        x.dispose();
      }
      await stillWorks(m);
      m.dispose();
    }));

  it('labels out of range, negative, non-integer, or of the wrong shape', () =>
    noLeak(async () => {
      const m = model();
      const ten = (v: number[]) => v.concat(new Array(N - v.length).fill(0));
      const cases: [Tensor, RegExp][] = [
        [t(ten([0, 1, 2, 0, 3]), [N], 'int32'), /label 3 at index 4 is out of range \[0, 2\] for a 3-unit output/],
        [t(ten([0, 200]), [N], 'uint8'), /label 200 at index 1 is out of range \[0, 2\]/],
        [t(ten([0, 1, -1]), [N], 'int32'), /label -1 at index 2 is out of range \[0, 2\]/],
        [t(ten([0, 1, 1.5]), [N], 'float32'), /label 1.5 at index 2 is not an integer class id/],
        [t(ten([NaN]), [N], 'float32'), /label NaN at index 0 is not an integer/],
        [t(new Int32Array(N * 3), [N, 3]), /sparse labels must have shape \[n\] or \[n, 1\], got \[10,3\]/],
      ];
      for (const [y, re] of cases) {
        await expect(m.fit(X, y, { verbose: 0 })).rejects.toThrow(re);
        expect(() => m.evaluate(X, y)).toThrow(re);
        expect(() => m.trainOnBatch(X, y)).toThrow(re);
        await expect(m.fit(X, Y, { verbose: 0, validationData: [X, y] })).rejects.toThrow(re);
        y.dispose();
      }
      // [n, 1] labels are fine
      const y1 = t(Int32Array.from({ length: N }, (_, i) => i % 3), [N, 1]);
      await m.fit(X, y1, { verbose: 0 });
      y1.dispose();
      // one-hot losses want [n, units]
      m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
      expect(() => m.evaluate(X, Y)).toThrow(/y: expected shape \[n, 3\] for loss categoricalCrossentropy, got \[10\]/);
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await stillWorks(m);
      m.dispose();
    }));

  it('NaN or Infinity in x (and in float targets)', () =>
    noLeak(async () => {
      const m = model();
      const withBad = (vals: [number, number][]) => {
        const v = xValues(N);
        for (const [i, b] of vals) v[i] = b;
        return t(v, [N, 2, 3]);
      };
      const one = [withBad([[7, NaN]]), withBad([[0, Infinity]]), withBad([[59, -Infinity]])];
      for (const x of one) {
        const re = /x: contains 1 NaN or Infinity value\b/;
        await expect(m.fit(x, Y, { verbose: 0 })).rejects.toThrow(/fit: x: contains 1 NaN or Infinity value/);
        expect(() => m.evaluate(x, Y)).toThrow(re);
        expect(() => m.predict(x)).toThrow(/predict: x: contains 1 NaN/);
        expect(() => m.trainOnBatch(x, Y)).toThrow(re);
        await expect(m.fit(X, Y, { verbose: 0, validationData: [x, Y] })).rejects.toThrow(/fit: validationData: x: contains 1 NaN/);
        x.dispose();
      }
      const two = withBad([
        [1, NaN],
        [2, Infinity],
      ]);
      await expect(m.fit(two, Y, { verbose: 0 })).rejects.toThrow(/contains 2 NaN or Infinity values/);
      two.dispose();
      // foreign tensors are checked after conversion
      const v = xValues(N);
      v[3] = NaN;
      const foreign: TensorLike = { shape: [N, 2, 3], dtype: 'float32', dataSync: () => v };
      await expect(m.fit(foreign, Y, { verbose: 0 })).rejects.toThrow(/x: contains 1 NaN/);
      // regression targets
      const r = sequential([layers.flatten({ inputShape: [2, 3] }), layers.dense({ units: 1 })]);
      r.compile({ optimizer: 'sgd', loss: 'mse' });
      const yr = t(Float32Array.from({ length: N }, (_, i) => (i === 4 ? NaN : i)), [N, 1]);
      await expect(r.fit(X, yr, { verbose: 0 })).rejects.toThrow(/y: contains NaN or Infinity/);
      yr.dispose();
      r.dispose();
      await stillWorks(m);
      m.dispose();
    }));

  it('inputs that are not tensors', () =>
    noLeak(async () => {
      const m = model();
      await expect(m.fit([[1, 2, 3]] as never, Y, { verbose: 0 })).rejects.toThrow(/fit: x must be a Tensor \(or a tfjs tensor\), got object/);
      await expect(m.fit(X, null as never, { verbose: 0 })).rejects.toThrow(/fit: y must be a Tensor.*got null/);
      expect(() => m.predict(undefined as never)).toThrow(/predict: x must be a Tensor.*got undefined/);
      await stillWorks(m);
      m.dispose();
    }));
});

// ---------------------------------------------------------------------------------------------------

describe('model configuration', () => {
  it('fit / evaluate / trainOnBatch before compile (predict is fine)', () =>
    noLeak(async () => {
      const m = model(false);
      await expect(m.fit(X, Y, { verbose: 0 })).rejects.toThrow(/fit: the model must be compiled first \(model\.compile/);
      expect(() => m.evaluate(X, Y)).toThrow(/evaluate: the model must be compiled first/);
      expect(() => m.trainOnBatch(X, Y)).toThrow(/trainOnBatch: the model must be compiled first/);
      const p = m.predict(X);
      expect(p.shape).toEqual([N, 3]);
      p.dispose();
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      await stillWorks(m);
      m.dispose();
    }));

  it('unknown activation, loss, optimizer, metric and initializer names list the valid ones', () =>
    noLeak(async () => {
      // JavaScript callers are not type-checked: the names are checked at run time too.
      // @ts-expect-error not an activation name
      expect(() => layers.dense({ units: 3, activation: 'gelu' })).toThrow(/unknown activation "gelu" \(valid: 'relu', 'sigmoid', 'tanh', 'softmax', 'linear'\)/);
      expect(() => layers.dense({ units: 3, activation: 5 as never })).toThrow(/unknown activation 5 \(valid: /);
      // @ts-expect-error not an initializer name
      expect(() => layers.dense({ units: 3, kernelInitializer: 'orthogonal' })).toThrow(/unknown initializer "orthogonal" \(valid: glorotUniform, glorotNormal, heUniform, heNormal, zeros, ones\)/);
      const m = model();
      // @ts-expect-error not a loss name
      expect(() => m.compile({ optimizer: 'adam', loss: 'hinge' })).toThrow(
        /unknown loss "hinge" \(valid: 'sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'meanSquaredError' \('mse'\), 'binaryCrossentropy'/,
      );
      // @ts-expect-error not an optimizer name
      expect(() => m.compile({ optimizer: 'adamw', loss: 'mse' })).toThrow(/unknown optimizer "adamw" \(valid: 'adam', 'sgd', 'rmsprop'/);
      expect(() => m.compile({ optimizer: 42 as never, loss: 'mse' })).toThrow(/unknown optimizer 42/);
      // @ts-expect-error not a metric name
      expect(() => m.compile({ optimizer: 'adam', loss: 'mse', metrics: ['precision'] })).toThrow(/unknown metric "precision" \(valid: 'accuracy'\)/);
      expect(() => m.compile(undefined as never)).toThrow(/compile: expected \{ optimizer, loss, metrics\? \}/);
      // the failed compiles left the previous one in place
      const [loss, acc] = m.evaluate(X, Y) as number[];
      expect(Number.isFinite(loss)).toBe(true);
      expect(acc).toBeGreaterThanOrEqual(0);
      await stillWorks(m);
      m.dispose();
    }));

  it('optimizer hyper-parameters out of range', () => {
    expect(() => optimizers.adam({ learningRate: 0 })).toThrow(/learningRate must be a positive number, got 0/);
    expect(() => optimizers.sgd({ learningRate: -1 })).toThrow(/learningRate must be a positive number/);
    expect(() => optimizers.sgd({ learningRate: NaN })).toThrow(/learningRate/);
    expect(() => optimizers.sgd({ momentum: 1 })).toThrow(/momentum must be in \[0, 1\)/);
    expect(() => optimizers.adam({ beta1: 1.2 })).toThrow(/beta1 must be in \[0, 1\)/);
    expect(() => optimizers.rmsprop({ rho: -0.1 })).toThrow(/rho must be in \[0, 1\)/);
  });

  it('batchSize and epochs must be positive integers', () =>
    noLeak(async () => {
      const m = model();
      for (const v of [0, -1, 1.5, NaN, Infinity, '32']) {
        await expect(m.fit(X, Y, { verbose: 0, batchSize: v as number })).rejects.toThrow(new RegExp(`fit: batchSize must be a positive integer, got ${v}`));
        expect(() => m.evaluate(X, Y, { batchSize: v as number })).toThrow(/evaluate: batchSize must be a positive integer/);
        expect(() => m.predict(X, { batchSize: v as number })).toThrow(/predict: batchSize must be a positive integer/);
      }
      for (const v of [0, -3, 2.5, NaN, '2']) {
        await expect(m.fit(X, Y, { verbose: 0, epochs: v as number })).rejects.toThrow(new RegExp(`fit: epochs must be a positive integer, got ${v}`));
      }
      expect(() => layers.dense({ units: 0 })).toThrow(/units must be a positive integer, got 0/);
      expect(() => layers.dense({ units: 2.5 })).toThrow(/units must be a positive integer/);
      await stillWorks(m);
      m.dispose();
    }));

  it('other fit arguments: validationSplit, verbose, initialEpoch, validationData, callbacks', () =>
    noLeak(async () => {
      const m = model();
      const bad: [Partial<FitArgs>, RegExp][] = [
        [{ validationSplit: 1 }, /validationSplit must be in \[0, 1\), got 1/],
        [{ validationSplit: -0.1 }, /validationSplit must be in \[0, 1\)/],
        [{ validationSplit: NaN }, /validationSplit must be in \[0, 1\)/],
        [{ verbose: 3 as never }, /verbose must be 0, 1 or 2, got 3/],
        [{ initialEpoch: -1 }, /initialEpoch must be a non-negative integer, got -1/],
        [{ initialEpoch: 0.5 }, /initialEpoch must be a non-negative integer/],
        [{ validationSplit: 0.2, validationData: [X, Y] }, /give validationData or validationSplit, not both/],
        [{ validationData: [X] as never }, /validationData must be \[xVal, yVal\]/],
        [{ callbacks: [{ onEpochEnd() {} } as never] }, /callbacks must extend Callback/],
      ];
      for (const [args, re] of bad) await expect(m.fit(X, Y, { verbose: 0, ...args })).rejects.toThrow(re);
      await stillWorks(m);
      m.dispose();
    }));

  it('a validationSplit that leaves no validation (or no training) sample is an Error, as in Keras', () =>
    noLeak(async () => {
      const m = model();
      const x5 = t(xValues(5), [5, 2, 3]);
      const y5 = t(Int32Array.from([0, 1, 2, 0, 1]), [5]);
      // Keras: floor(5 · 0.9) = 4 training samples and 1 validation sample (not 0 validation samples)
      const ok = await m.fit(x5, y5, { epochs: 1, verbose: 0, validationSplit: 0.1 });
      expect(Object.keys(ok.history)).toContain('val_loss');
      // floor(1 · 0.5) = floor(1 · 0.9) = 0 training samples: Keras raises "not sufficient to split"
      const x1 = t(xValues(1), [1, 2, 3]);
      const y1 = t([0], [1], 'int32');
      for (const validationSplit of [0.5, 0.1]) {
        const err = await m.fit(x1, y1, { epochs: 1, verbose: 0, validationSplit }).then(
          () => null,
          (e: Error) => e,
        );
        expect(err, `validationSplit ${validationSplit} on 1 sample should be refused`).toBeInstanceOf(Error);
        expect(err!.message).toMatch(/validationSplit/);
      }
      await stillWorks(m);
      for (const a of [x5, y5, x1, y1]) a.dispose();
      m.dispose();
    }));

  it('an invalid callbacks list does not leak the converted copy of a foreign (tfjs-like) input', () =>
    noLeak(async () => {
      const m = model();
      await stillWorks(m); // optimizer state and index buffers exist from here on
      const before = inUse();
      const foreign: TensorLike = { shape: [N, 2, 3], dtype: 'float32', dataSync: () => xValues(N) };
      await expect(m.fit(foreign, Y, { verbose: 0, callbacks: [{} as never] })).rejects.toThrow(/callbacks must extend Callback/);
      expect(inUse()).toBe(before);
      m.dispose();
    }));

  it('dropout rate outside [0, 1)', () => {
    for (const r of [-0.1, 1, 1.5, NaN, undefined, '0.2']) {
      expect(() => layers.dropout({ rate: r as number })).toThrow(new RegExp(`dropout(_\\d+)?: rate must be a number in \\[0, 1\\), got ${r}`));
    }
    expect(() => layers.dropout(undefined as never)).toThrow(/rate must be a number in \[0, 1\)/);
    expect(() => layers.dropout({ rate: 0.5, seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(layers.dropout({ rate: 0 }).rate).toBe(0);
    expect(layers.dropout({ rate: 0.999 }).rate).toBe(0.999);
  });

  it('a first layer without inputShape, bad inputShape, non-layers, and Dense on unflattened input', () =>
    noLeak(async () => {
      expect(() => sequential([layers.dense({ units: 3 })])).toThrow(/dense: the first layer needs inputShape \(e\.g\. layers\.flatten\(\{ inputShape: \[28, 28\] \}\)\)/);
      expect(() => sequential([layers.flatten(), layers.dense({ units: 3 })])).toThrow(/flatten(_\d+)?: the first layer needs inputShape/);
      const s = new Sequential();
      expect(() => s.add(layers.dropout({ rate: 0.1 }))).toThrow(/the first layer needs inputShape/);
      expect(() => s.add({} as never)).toThrow(/Sequential\.add: expected a layer/);
      expect(() => s.summary(() => undefined)).toThrow(/the model has no layers/);
      for (const shape of [[0, 3], [-1], [2.5], 'abc']) {
        expect(() => layers.flatten({ inputShape: shape as never })).toThrow(/inputShape must be an array of positive integers/);
      }
      const d = sequential([layers.dense({ inputShape: [2, 3], units: 4 })]);
      expect(() => d.compile({ optimizer: 'adam', loss: 'mse' })).toThrow(/Dense expects a flat input \[features\], got \[2,3\]; put a flatten\(\) layer before it/);
      expect(() => layers.dense({ units: 3, name: '' })).toThrow(/name must be a non-empty string/);
      // none of this disturbed a working model
      const m = model();
      await stillWorks(m);
      m.dispose();
    }));

  it('layer names must be unique within a model (Keras refuses duplicates)', () => {
    expect(() => sequential([layers.dense({ inputShape: [2], units: 2, name: 'a' }), layers.dense({ units: 1, name: 'a' })])).toThrow(/unique/);
  });

  it('setWeights with a wrong count, a wrong shape, or non-finite values', () =>
    noLeak(async () => {
      const m = model();
      const w = m.getWeights();
      expect(() => m.setWeights(w.slice(1))).toThrow(/setWeights: expected 4 tensors \(kernel and bias per Dense layer\), got 3/);
      expect(() => m.setWeights('w' as never)).toThrow(/setWeights: expected 4 tensors.*got string/);
      const wrong = t(new Float32Array(5), [5]);
      expect(() => m.setWeights([w[0], wrong, w[2], w[3]])).toThrow(/setWeights: weight 1 \(dense\/bias:0\) has shape \[4\], got \[5\]/);
      const nan = t(Float32Array.from([0, NaN, 0, 0]), [4]);
      expect(() => m.setWeights([w[0], nan, w[2], w[3]])).toThrow(/weight 1 \(dense\/bias:0\) contains NaN or Infinity/);
      await stillWorks(m);
      for (const a of [...w, wrong, nan]) a.dispose();
      m.dispose();
    }));

  it('setSeed wants an integer', () => {
    expect(() => setSeed(1.5)).toThrow(/setSeed: seed must be an integer, got 1.5/);
    expect(() => setSeed('7' as never)).toThrow(/setSeed: seed must be an integer/);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('use after dispose', () => {
  it('a disposed tensor: fit / evaluate / predict / trainOnBatch and tensor methods say so', () =>
    noLeak(async () => {
      const m = model();
      const x = t(xValues(N), [N, 2, 3]);
      const y = t(Int32Array.from({ length: N }, (_, i) => i % 3), [N]);
      x.dispose();
      y.dispose();
      expect(x.isDisposed).toBe(true);
      const re = /tensor \d+ \(shape \[10,2,3\]\) was used after dispose\(\)/;
      await expect(m.fit(x, Y, { verbose: 0 })).rejects.toThrow(re);
      expect(() => m.evaluate(x, Y)).toThrow(re);
      expect(() => m.predict(x)).toThrow(re);
      expect(() => m.trainOnBatch(x, Y)).toThrow(re);
      await expect(m.fit(X, y, { verbose: 0 })).rejects.toThrow(/tensor \d+ \(shape \[10\]\) was used after dispose\(\)/);
      await expect(m.fit(X, Y, { verbose: 0, validationData: [x, Y] })).rejects.toThrow(re);
      expect(() => x.dataSync()).toThrow(re);
      await expect(x.data()).rejects.toThrow(re);
      expect(() => x.reshape([N, 6])).toThrow(re);
      expect(() => x.div(2)).toThrow(re);
      x.dispose(); // twice is fine
      // a view keeps shared storage alive; disposing the view does not affect the base
      const base = t(new Uint8Array(N * 6).fill(51), [N, 2, 3], 'uint8');
      const scaled = base.div(255);
      base.dispose();
      expect(scaled.dataSync()[0]).toBeCloseTo(0.2, 6);
      scaled.dispose();
      expect(() => scaled.dataSync()).toThrow(/used after dispose/);
      await stillWorks(m);
      m.dispose();
    }));

  it('a disposed uint8-backed image tensor is refused before training starts (no callback runs)', () =>
    noLeak(async () => {
      const m = model();
      const raw = t(new Uint8Array(N * 6), [N, 2, 3], 'uint8');
      const x = raw.div(255);
      raw.dispose();
      x.dispose();
      let began = 0;
      class C extends Callback {
        override onTrainBegin() {
          began++;
        }
      }
      await expect(m.fit(x, Y, { verbose: 0, callbacks: [new C()] })).rejects.toThrow(/was used after dispose\(\)/);
      expect(began).toBe(0);
      m.dispose();
    }));

  it('a disposed model', () =>
    noLeak(async () => {
      const m = model();
      m.dispose();
      const re = /sequential: the model was disposed/;
      await expect(m.fit(X, Y, { verbose: 0 })).rejects.toThrow(re);
      expect(() => m.evaluate(X, Y)).toThrow(re);
      expect(() => m.predict(X)).toThrow(re);
      expect(() => m.trainOnBatch(X, Y)).toThrow(re);
      expect(() => m.setWeights([])).toThrow(re);
      expect(() => m.add(layers.dense({ units: 2 }))).toThrow(re);
      const m2 = model();
      await stillWorks(m2);
      m2.dispose();
    }));
});

// ---------------------------------------------------------------------------------------------------

describe('a loss that becomes NaN or Infinity stops training', () => {
  it('SGD with a huge learning rate on MSE: the error names the epoch and batch', () =>
    noLeak(async () => {
      const m = sequential([layers.dense({ inputShape: [2], units: 1 })]);
      m.compile({ optimizer: optimizers.sgd({ learningRate: 1e6 }), loss: 'meanSquaredError' });
      const x = t([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
      const y = t([1, 2, 3, 4], [4, 1]);
      let batches = 0;
      class Count extends Callback {
        override onBatchEnd() {
          batches++;
        }
      }
      const err = await m.fit(x, y, { epochs: 50, batchSize: 1, shuffle: false, verbose: 0, callbacks: [new Count()] }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(Error);
      const match = /^fit: the loss became (NaN|Infinity) at epoch (\d+), batch (\d+); training stopped/.exec(err!.message);
      expect(match, err!.message).not.toBeNull();
      // the batch it names is the one after the last completed batch
      const epoch = Number(match![2]);
      const batch = Number(match![3]);
      expect((epoch - 1) * 4 + batch).toBe(batches + 1);
      expect(batch).toBeGreaterThanOrEqual(1);
      expect(batch).toBeLessThanOrEqual(4);
      for (const a of [x, y]) a.dispose();
      m.dispose();
    }));

  it('NaN from the first batch (weights that overflow to ∞ − ∞): epoch 1, batch 1', () =>
    noLeak(async () => {
      const m = sequential([layers.dense({ inputShape: [2], units: 2 }), layers.dense({ units: 1 })]);
      m.compile({ optimizer: 'sgd', loss: 'mse' });
      const k1 = t([3e38, -3e38, 3e38, -3e38], [2, 2]);
      const b1 = t([0, 0], [2]);
      const k2 = t([1, 1], [2, 1]);
      const b2 = t([0], [1]);
      m.setWeights([k1, b1, k2, b2]);
      const x = t([1, 1, 2, 2], [2, 2]);
      const y = t([0, 0], [2, 1]);
      await expect(m.fit(x, y, { epochs: 3, verbose: 0 })).rejects.toThrow(/fit: the loss became NaN at epoch 1, batch 1\b/);
      // initialEpoch shifts the reported epoch (Keras numbering: epoch index + 1)
      m.setWeights([k1, b1, k2, b2]);
      await expect(m.fit(x, y, { epochs: 5, initialEpoch: 2, verbose: 0 })).rejects.toThrow(/at epoch 3, batch 1\b/);
      for (const a of [k1, b1, k2, b2, x, y]) a.dispose();
      m.dispose();
    }));

  it('weights made huge by a callback after epoch 1: the error names epoch 2, batch 1', () =>
    noLeak(async () => {
      const m = sequential([layers.flatten({ inputShape: [2, 3] }), layers.dense({ units: 1 })]);
      m.compile({ optimizer: 'sgd', loss: 'mse' });
      const huge = [t(new Float32Array(6).fill(3e38), [6, 1]), t([3e38], [1])];
      class Blow extends Callback {
        override onEpochEnd(e: number) {
          if (e === 0) m.setWeights(huge);
        }
      }
      const y = t(Float32Array.from({ length: N }, (_, i) => i), [N, 1]);
      const xPos = t(Float32Array.from({ length: N * 6 }, (_, i) => 1 + (i % 5)), [N, 2, 3]);
      await expect(m.fit(xPos, y, { epochs: 3, batchSize: 5, verbose: 0, callbacks: [new Blow()] })).rejects.toThrow(
        /the loss became (NaN|Infinity) at epoch 2, batch 1\b/,
      );
      for (const a of [...huge, y, xPos]) a.dispose();
      m.dispose();
      // the library still works
      const ok = model();
      await stillWorks(ok);
      ok.dispose();
    }));
});

// ---------------------------------------------------------------------------------------------------

describe('tensor() and init() arguments', () => {
  it('tensor(): ragged arrays, sizes, dtypes and values that do not fit', () =>
    noLeak(() => {
      expect(() => tensor([[1, 2], [3]])).toThrow(/ragged nested array/);
      expect(() => tensor([1, 2, 3, 4, 5], [2, 3])).toThrow(/shape \[2,3\] needs 6 values but 5 were given/);
      expect(() => tensor([1, 2], [2], 'float64' as never)).toThrow(/unknown dtype 'float64' \(valid: float32, int32, uint8\)/);
      expect(() => tensor([1, 256], [2], 'uint8')).toThrow(/value 256 at index 1 does not fit uint8/);
      expect(() => tensor([1, -1], [2], 'uint8')).toThrow(/value -1 at index 1 does not fit uint8/);
      expect(() => tensor([0.5], [1], 'int32')).toThrow(/value 0.5 at index 0 does not fit int32/);
      expect(() => tensor([1, 2], [-2])).toThrow(/bad dimension -2/);
      expect(() => tensor('abc' as never)).toThrow(/values must be a typed array or a \(nested\) number array/);
      const a = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
      expect(() => a.reshape([4, -1])).toThrow(/cannot reshape 6 values into \[4,-1\]/);
      expect(() => a.reshape([-1, -1])).toThrow(/at most one -1/);
      expect(() => a.reshape([7])).toThrow(/needs 7 values but the tensor has 6/);
      expect(() => a.div(0)).toThrow(/div\(\) needs a finite non-zero number, got 0/);
      expect(() => a.div(NaN)).toThrow(/div\(\) needs a finite non-zero number/);
      a.dispose();
    }));

  it('init() called again with the same options keeps the backend (and every tensor) alive', async () => {
    const info = await init();
    const a = tensor([1, 2, 3]);
    await init({ threads: info.threads });
    expect(Array.from(a.dataSync())).toEqual([1, 2, 3]);
    a.dispose();
  });

  it('init() with bad options throws without tearing down the working backend', async () => {
    await init();
    const a = tensor([1, 2, 3]);
    await expect(init({ threads: 0 })).rejects.toThrow(/init\(\{ threads \}\) must be an integer from 1 to 64, got 0/);
    await expect(init({ threads: 2.5 })).rejects.toThrow(/must be an integer from 1 to 64, got 2.5/);
    expect(Array.from(a.dataSync())).toEqual([1, 2, 3]);
    a.dispose();
  });

  it('after all of the above, a fresh model trains on a learnable problem', async () => {
    await init();
    const n = 90;
    // class c: features j with j % 3 === c are high, the others low, plus a little deterministic noise
    const x = tensor(
      Float32Array.from({ length: n * 6 }, (_, i) => ((i % 6) % 3 === Math.floor(i / 6) % 3 ? 1 : -0.5) + Math.sin(i * 12.9898) * 0.2),
      [n, 2, 3],
    );
    const y = tensor(Int32Array.from({ length: n }, (_, i) => i % 3), [n]);
    const m = model();
    m.compile({ optimizer: optimizers.adam({ learningRate: 0.02 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const h = await m.fit(x, y, { epochs: 30, batchSize: 15, verbose: 0 });
    expect(h.history.loss[29]).toBeLessThan(h.history.loss[0] * 0.7);
    expect(h.history.accuracy[29]).toBeGreaterThan(0.9);
    for (const a of [x, y]) a.dispose();
    m.dispose();
  });
});
