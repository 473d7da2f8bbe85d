/**
 * Parity suite — kernels against tfjs-core on @tensorflow/tfjs-backend-wasm (4.22).
 *
 * What this proves: for seeded random inputs of several shapes (odd sizes, sizes that are not multiples
 * of the 4-lane / 8-column / 16-element blocks, a K above the GEMM's 1024 K-chunk), every kernel we train
 * with computes what tfjs computes, forward and backward, through the same host-array entry points the
 * other suites use (test/helpers/kernels.ts, src/ops.ts), with the thread pool running:
 *   - GEMM: ops.matMul in all four transpose combinations; kernels.gemm in its NN / NT / TN layouts with
 *     no epilogue, bias, relu and bias+relu (vs tf.relu(tf.add(tf.matMul(…), bias))); the dense layer's
 *     backward products dW = Xᵀ·dY, dX = dY·Wᵀ, db = colsum(dY) (and through a relu) vs tf.grads.
 *   - relu, sigmoid, tanh, linear and row softmax: forward vs tf ops; backward (ours takes the forward
 *     output y and upstream dy) vs tf.grad of sum(f(x)·dy).
 *   - losses: sparse categorical cross-entropy from probabilities (Keras' ε = 1e-7 clipping, including
 *     inputs that hit the clip) and from logits, categorical cross-entropy (one-hot and soft targets,
 *     probabilities and logits), mean squared error, binary cross-entropy (probabilities and logits):
 *     the mean of our per-row losses vs tfjs-layers' loss functions (the ones model.compile uses) or
 *     tf.losses.*, and our gradient (scaled by 1/batch) vs tf.grad of the mean loss; the fused
 *     softmax+CE and sigmoid+BCE gradients ((p − y)/batch) vs tf.grad through tf.softmax / tf.sigmoid
 *     and the loss, w.r.t. the logits.
 *   - dropout: y = x·mask with the mask the kernel returns, mask ∈ {0, 1/(1 − rate)} (tfjs' inverted
 *     scaling), keep rate ≈ 1 − rate, masks reproducible from (seed, salt, step); backward dy·mask vs
 *     tf.grad of sum(x·mask·dy).
 *   - accuracy vs tfjs-layers' sparseCategoricalAccuracy / categoricalAccuracy / binaryAccuracy,
 *     including argmax ties.
 *
 * Error measure (test/helpers/tfjs.ts, relErr): max|ours − tfjs| / max(max|tfjs|, 1e-6), over the
 * whole output. Tolerances: forward values ≤ 1e-5, gradients ≤ 1e-4; the accuracy and dropout masks
 * must match exactly. Any looser bound carries its reason next to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as K from '../helpers/kernels.js';
import { backendInfo, init } from '../../src/backend/backend.js';
import { matMul } from '../../src/ops.js';
import { tensor } from '../../src/tensor.js';
import { FLOOR, normal, randInt, relErr, rng, rowRelErr, tfjsLayersLoss, tfjsWasm, uniform, type KerasLossName, type TF } from '../helpers/tfjs.js';

type T = import('@tensorflow/tfjs-core').Tensor;

const FWD = 1e-5;
const GRAD = 1e-4;

let tf: TF;
/** Worst error seen per check group, printed at the end so a run shows the actual margins. */
const worst = new Map<string, { err: number; tol: number }>();

/**
 * `cols`: measure row by row (rowRelErr) — used for the row-wise ops, softmax and the losses.
 * `floor`: a larger absolute floor than FLOOR, where a test says why.
 */
function expectClose(group: string, what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, cols?: number, floor = FLOOR): void {
  const err = cols ? rowRelErr(actual, expected, cols, floor) : relErr(actual, expected, floor);
  const w = worst.get(group);
  if (!w || err > w.err) worst.set(group, { err, tol });
  expect(err, `${group} — ${what}: relative error ${err.toExponential(2)} > ${tol}`).toBeLessThanOrEqual(tol);
}

/** Runs tfjs code in a tidy scope and returns the values of the tensors it produces. */
function tfData(fn: () => T | T[]): Float32Array[] {
  const out = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const data = out.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(out);
  return data;
}

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
function softmaxRows<A extends Float32Array | Float64Array = Float32Array>(z: Float32Array, rows: number, cols: number, out: A = new Float32Array(rows * cols) as A): A {
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, z[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(z[r * cols + j] - mx);
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(z[r * cols + j] - mx) / s;
  }
  return out;
}
function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}
function oneHot(labels: Int32Array, cols: number): Float32Array {
  const out = new Float32Array(labels.length * cols);
  labels.forEach((y, r) => (out[r * cols + y] = 1));
  return out;
}

beforeAll(async () => {
  tf = await tfjsWasm();
  // Start our backend with its worker pool so multi-threaded kernel paths are what gets compared.
  await init();
});

afterAll(() => {
  const rows = [...worst].map(([g, { err, tol }]) => `  ${g.padEnd(62)} ${err.toExponential(2).padStart(9)}  (≤ ${tol})`);
  console.log(`kernel parity vs tfjs-backend-wasm (ours on ${backendInfo().threads} threads) — worst relative error per group:\n${rows.join('\n')}`);
});

// ---------------------------------------------------------------------------------------------------
describe('GEMM', () => {
  // [m, n, k]: scalars, odd sizes, exact tile multiples, MNIST-like, K past the 1024 K-chunk.
  const SHAPES: [number, number, number][] = [
    [1, 1, 1],
    [3, 5, 7],
    [4, 8, 16],
    [17, 33, 65],
    [64, 96, 128],
    [31, 10, 784],
    [9, 13, 1500],
    [130, 257, 19],
  ];

  it('ops.matMul in all four transpose combinations (our tensors and tfjs tensors as inputs)', () => {
    const r = rng(1);
    for (const [m, n, k] of SHAPES) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = uniform(r, m * k);
          const b = uniform(r, k * n);
          const aShape = ta ? [k, m] : [m, k];
          const bShape = tb ? [n, k] : [k, n];
          const [expected] = tfData(() => tf.matMul(tf.tensor2d(a, aShape as [number, number]), tf.tensor2d(b, bShape as [number, number]), ta, tb));
          const A = tensor(a, aShape);
          const B = tensor(b, bShape);
          const C = matMul(A, B, { transposeA: ta, transposeB: tb });
          expect(C.shape).toEqual([m, n]);
          expectClose('matMul (ops)', `[${m},${n},${k}] tA=${ta} tB=${tb}`, C.dataSync(), expected, FWD);
          [A, B, C].forEach((t) => t.dispose());
          // tfjs tensors are accepted directly (copied in).
          const ta2 = tf.tensor2d(a, aShape as [number, number]);
          const tb2 = tf.tensor2d(b, bShape as [number, number]);
          const C2 = matMul(ta2, tb2, { transposeA: ta, transposeB: tb });
          expectClose('matMul (ops)', `[${m},${n},${k}] tA=${ta} tB=${tb}, tfjs inputs`, C2.dataSync(), expected, FWD);
          C2.dispose();
          tf.dispose([ta2, tb2]);
        }
      }
    }
  });

  for (const layout of ['NN', 'NT', 'TN'] as const) {
    it(`kernels.gemm ${layout} with no epilogue, bias, relu and bias+relu (SIMD and naive reference)`, () => {
      const r = rng(10 + layout.length + layout.charCodeAt(1));
      for (const [m, n, k] of SHAPES) {
        const a = uniform(r, m * k);
        const b = uniform(r, k * n);
        // Bias of the same scale as the products, so relu cuts about half of the outputs.
        const bias = uniform(r, n, -Math.sqrt(k) / 2, Math.sqrt(k) / 2);
        const aT = layout === 'TN' ? tf.tensor2d(a, [k, m]) : tf.tensor2d(a, [m, k]);
        const bT = layout === 'NT' ? tf.tensor2d(b, [n, k]) : tf.tensor2d(b, [k, n]);
        for (const withBias of [false, true]) {
          for (const act of ['linear', 'relu'] as const) {
            const [expected] = tfData(() => {
              let c: T = tf.matMul(aT, bT, layout === 'TN', layout === 'NT');
              if (withBias) c = tf.add(c, tf.tensor1d(bias));
              return act === 'relu' ? tf.relu(c) : c;
            });
            for (const reference of [false, true]) {
              const got = K.gemm({ layout, m, n, k, a, b, ...(withBias ? { bias } : {}), act, reference });
              expectClose(`gemm ${layout}${reference ? ' (naive)' : ''}`, `[${m},${n},${k}] bias=${withBias} act=${act}`, got, expected, FWD);
            }
          }
        }
        tf.dispose([aT, bT]);
      }
    });
  }

  // [batch, in, out]
  const DENSE: [number, number, number][] = [
    [1, 1, 1],
    [5, 3, 7],
    [33, 65, 10],
    [32, 784, 128],
    [128, 100, 17],
  ];

  it('dense backward products dW = Xᵀ·dY, dX = dY·Wᵀ, db = colsum(dY) vs tf.grads of a dense layer', () => {
    const r = rng(20);
    for (const [bs, nin, nout] of DENSE) {
      const x = uniform(r, bs * nin);
      const w = normal(r, nin * nout, Math.sqrt(2 / nin));
      const b = uniform(r, nout, -0.1, 0.1);
      const dy = normal(r, bs * nout);
      const [dx, dw, db] = tfData(() => {
        const g = tf.grads((X: T, W: T, B: T) => tf.sum(tf.mul(tf.add(tf.matMul(X, W), B), tf.tensor2d(dy, [bs, nout]))));
        return g([tf.tensor2d(x, [bs, nin]), tf.tensor2d(w, [nin, nout]), tf.tensor1d(b)]);
      });
      const shape = `[batch ${bs}, in ${nin}, out ${nout}]`;
      expectClose('dense backward dW (gemm TN)', shape, K.gemm({ layout: 'TN', m: nin, n: nout, k: bs, a: x, b: dy }), dw, GRAD);
      expectClose('dense backward dX (gemm NT)', shape, K.gemm({ layout: 'NT', m: bs, n: nin, k: nout, a: dy, b: w }), dx, GRAD);
      expectClose('dense backward db (colsum)', shape, K.colsum(dy, bs, nout), db, GRAD);
      expectClose('dense backward db (colsum)', `${shape} naive`, K.colsum(dy, bs, nout, true), db, GRAD);
    }
  });

  it('dense + relu layer, forward and backward, composed from our kernels vs tf.grads', () => {
    const r = rng(21);
    for (const [bs, nin, nout] of DENSE) {
      const x = uniform(r, bs * nin);
      const w = normal(r, nin * nout, Math.sqrt(2 / nin));
      const b = uniform(r, nout, -0.1, 0.1);
      const dy = normal(r, bs * nout);
      const [y, dx, dw, db] = tfData(() => {
        const f = (X: T, W: T, B: T) => tf.relu(tf.add(tf.matMul(X, W), B));
        const args = [tf.tensor2d(x, [bs, nin]), tf.tensor2d(w, [nin, nout]), tf.tensor1d(b)];
        const g = tf.grads((X: T, W: T, B: T) => tf.sum(tf.mul(f(X, W, B), tf.tensor2d(dy, [bs, nout]))));
        return [f(args[0], args[1], args[2]), ...g(args)];
      });
      const shape = `[batch ${bs}, in ${nin}, out ${nout}]`;
      const ours = K.gemm({ layout: 'NN', m: bs, n: nout, k: nin, a: x, b: w, bias: b, act: 'relu' });
      expectClose('dense+relu forward', shape, ours, y, FWD);
      const dz = K.activationGrad('relu', ours, dy);
      expectClose('dense+relu backward dW', shape, K.gemm({ layout: 'TN', m: nin, n: nout, k: bs, a: x, b: dz }), dw, GRAD);
      expectClose('dense+relu backward dX', shape, K.gemm({ layout: 'NT', m: bs, n: nin, k: nout, a: dz, b: w }), dx, GRAD);
      expectClose('dense+relu backward db', shape, K.colsum(dz, bs, nout), db, GRAD);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe('activations', () => {
  const SIZES = [1, 3, 4, 15, 16, 17, 1000, 4099];
  const tfFwd = {
    linear: (x: T) => x,
    relu: (x: T) => tf.relu(x),
    sigmoid: (x: T) => tf.sigmoid(x),
    tanh: (x: T) => tf.tanh(x),
  };

  /** Normal(0, 3) values with exact zeros, saturating magnitudes (±20, ±100) and tiny ones mixed in. */
  function inputs(r: () => number, n: number): Float32Array {
    const x = normal(r, n, 3);
    const special = [0, -0, 20, -20, 100, -100, 1e-6, -1e-6, 0.625, -0.625, 88, -88];
    for (let i = 0; i < n; i += 7) x[i] = special[(i / 7) % special.length];
    return x;
  }

  for (const kind of ['relu', 'sigmoid', 'tanh', 'linear'] as const) {
    it(`${kind}: forward vs tf.${kind === 'linear' ? 'identity' : kind}, backward (from y) vs tf.grad of sum(f(x)·dy)`, () => {
      const r = rng(30 + kind.length);
      for (const n of SIZES) {
        const x = inputs(r, n);
        const dy = normal(r, n);
        const [y, dx] = tfData(() => {
          const X = tf.tensor1d(x);
          const g = tf.grad((v: T) => tf.sum(tf.mul(tfFwd[kind](v), tf.tensor1d(dy))));
          return [tfFwd[kind](X), g(X)];
        });
        for (const reference of [false, true]) {
          const tag = reference ? ' (naive)' : '';
          const ours = K.activation(kind, x, reference);
          expectClose(`${kind} forward${tag}`, `n=${n}`, ours, y, FWD);
          expectClose(`${kind} backward${tag}`, `n=${n}`, K.activationGrad(kind, ours, dy, reference), dx, GRAD);
        }
      }
    });
  }

  it('softmax: forward vs tf.softmax, backward (from y) vs tf.grad of sum(softmax(x)·dy)', () => {
    const r = rng(40);
    const SHAPES: [number, number][] = [
      [1, 1],
      [1, 10],
      [7, 3],
      [32, 10],
      [13, 17],
      [5, 129],
      [64, 1000],
    ];
    for (const [rows, cols] of SHAPES) {
      // Ordinary logits, wide logits, and huge offset logits (exp would overflow without the max shift).
      for (const [std, offset] of [
        [1, 0],
        [10, 0],
        [30, 500],
      ]) {
        const x = normal(r, rows * cols, std).map((v) => v + offset);
        const dy = normal(r, rows * cols);
        const [y, dx] = tfData(() => {
          const X = tf.tensor2d(x, [rows, cols]);
          const g = tf.grad((v: T) => tf.sum(tf.mul(tf.softmax(v), tf.tensor2d(dy, [rows, cols]))));
          return [tf.softmax(X), g(X)];
        });
        const what = `[${rows},${cols}] logits N(${offset}, ${std}²)`;
        const ours = K.softmax(x, rows, cols);
        expectClose('softmax forward', what, ours, y, FWD, cols);
        expectClose('softmax forward (naive)', what, K.softmax(x, rows, cols, true), y, FWD, cols);
        // In a saturated row (y ≈ one-hot) y ⊙ (dy − ⟨dy, y⟩) is a cancellation: the result is
        // ~(1 − max y)·|dy| but its rounding error, in tfjs' kernel as in ours, is ~ulp(|dy|) — against
        // float64 both are off by up to ~1e-2 of such a row. So rows are measured against at least 1% of
        // the upstream gradient's magnitude (floor = 0.01·max|dy|), where that rounding is ≤ 1e-5.
        const dyMax = dy.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expectClose('softmax backward', what, K.softmaxGrad(ours, dy, rows, cols), dx, GRAD, cols, 0.01 * dyMax);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe('losses', () => {
  const SHAPES: [number, number][] = [
    [1, 1],
    [1, 10],
    [7, 3],
    [32, 10],
    [13, 17],
    [64, 129],
  ];
  let tfl: Record<KerasLossName, (yTrue: T, yPred: T) => T>;
  beforeAll(async () => {
    tfl = {
      sparseCategoricalCrossentropy: await tfjsLayersLoss('sparseCategoricalCrossentropy'),
      categoricalCrossentropy: await tfjsLayersLoss('categoricalCrossentropy'),
      meanSquaredError: await tfjsLayersLoss('meanSquaredError'),
      binaryCrossentropy: await tfjsLayersLoss('binaryCrossentropy'),
    };
  });

  /**
   * Compares our per-row losses (their mean) and our gradient with a tfjs per-row loss function of the
   * prediction, its mean, and tf.grad of that mean (or of the sum when `scale` is 1).
   */
  function compare(group: string, what: string, ours: { rows: Float32Array; grad: Float32Array }, pred: Float32Array, shape: [number, number], tfRows: (p: T) => T, sum = false) {
    const [rowsT, lossT, gradT] = tfData(() => {
      const P = tf.tensor2d(pred, shape);
      const reduce = (p: T) => (sum ? tf.sum(tfRows(p)) : tf.mean(tfRows(p)));
      return [tfRows(P), reduce(P), tf.grad(reduce)(P)];
    });
    expectClose(`${group} value`, what, [sum ? ours.rows.reduce((s, v) => s + v, 0) : mean(ours.rows)], lossT, FWD);
    expectClose(`${group} per-row value`, what, ours.rows, rowsT, FWD);
    expectClose(`${group} gradient`, what, ours.grad, gradT, GRAD, shape[1]);
  }

  /**
   * Probability rows of four kinds: softmax of moderate logits, unnormalised positives, peaked rows with
   * entries below ε = 1e-7, and rows summing to less than 1 with every third entry below ε (so a label's
   * own probability is clipped while its normalised value is not).
   */
  function probabilities(r: () => number, rows: number, cols: number): [string, Float32Array][] {
    return [
      ['softmax probabilities', softmaxRows(normal(r, rows * cols, 1.5), rows, cols)],
      ['unnormalised positive rows', uniform(r, rows * cols, 0.05, 1)],
      ['peaked rows hitting the ε clip', softmaxRows(normal(r, rows * cols, 12), rows, cols)],
      ['sub-stochastic rows with entries below ε', uniform(r, rows * cols, 0, 0.05).map((v, i) => (i % 3 === 0 ? 1e-9 : v))],
    ];
  }

  // tf.oneHot (inside tfjs-layers' sparse loss and our oneHot reference) rejects a depth of 1, so the
  // sparse losses skip the one-class shape; categorical cross-entropy covers it.
  const SPARSE_SHAPES = SHAPES.filter(([, cols]) => cols > 1);

  it('sparse categorical cross-entropy from probabilities vs tfjs-layers (Keras ε = 1e-7 clipping)', () => {
    const r = rng(50);
    for (const [rows, cols] of SPARSE_SHAPES) {
      const labels = randInt(r, rows, cols);
      for (const [kind, p] of probabilities(r, rows, cols)) {
        const ours = K.loss({ kind: 'sparseCategoricalCrossentropy', rows, cols, pred: p, labels });
        compare('sparse CCE (probabilities)', `[${rows},${cols}] ${kind}`, ours, p, [rows, cols], (P) =>
          tfl.sparseCategoricalCrossentropy(tf.tensor1d(f32(labels)), P),
        );
      }
    }
  });

  it('sparse categorical cross-entropy from logits vs tf.losses.softmaxCrossEntropy', () => {
    const r = rng(51);
    for (const [rows, cols] of SPARSE_SHAPES) {
      const labels = randInt(r, rows, cols);
      for (const std of [1, 10, 40]) {
        const z = normal(r, rows * cols, std);
        const ours = K.loss({ kind: 'sparseCategoricalCrossentropy', rows, cols, pred: z, labels, fromLogits: true });
        compare('sparse CCE (logits)', `[${rows},${cols}] logits N(0, ${std}²)`, ours, z, [rows, cols], (Z) =>
          tf.losses.softmaxCrossEntropy(tf.tensor2d(oneHot(labels, cols), [rows, cols]), Z, undefined, 0, tf.Reduction.NONE),
        );
      }
    }
  });

  /** One-hot targets, soft targets (rows sum to 1), and soft targets that do not sum to 1. */
  function targets(r: () => number, rows: number, cols: number): [string, Float32Array][] {
    const soft = softmaxRows(normal(r, rows * cols, 2), rows, cols);
    return [
      ['one-hot targets', oneHot(randInt(r, rows, cols), cols)],
      ['soft targets', soft],
      ['unnormalised soft targets', uniform(r, rows * cols, 0, 1)],
    ];
  }

  it('categorical cross-entropy from probabilities vs tfjs-layers', () => {
    const r = rng(52);
    for (const [rows, cols] of SHAPES) {
      for (const [tkind, t] of targets(r, rows, cols)) {
        for (const [pkind, p] of probabilities(r, rows, cols)) {
          const ours = K.loss({ kind: 'categoricalCrossentropy', rows, cols, pred: p, labels: t });
          compare('CCE (probabilities)', `[${rows},${cols}] ${tkind}, ${pkind}`, ours, p, [rows, cols], (P) =>
            tfl.categoricalCrossentropy(tf.tensor2d(t, [rows, cols]), P),
          );
        }
      }
    }
  });

  /**
   * Per-row cross-entropy of logits as tfjs computes it. tf.losses.softmaxCrossEntropy has a hand-written
   * gradient, softmax(z) − t, which is TF's convention and the exact derivative only when each target row
   * sums to 1; our kernel returns the exact derivative of the loss it reports, softmax(z)·Σt − t. So for
   * targets that do not sum to 1 the reference is tfjs autodiff of the same loss, −Σ t·logSoftmax(z).
   */
  function cceOfLogits(t: Float32Array, shape: [number, number], sumsToOne: boolean): (z: T) => T {
    return (Z) => {
      const Tt = tf.tensor2d(t, shape);
      return sumsToOne ? tf.losses.softmaxCrossEntropy(Tt, Z, undefined, 0, tf.Reduction.NONE) : tf.neg(tf.sum(tf.mul(Tt, tf.logSoftmax(Z)), -1));
    };
  }

  it('categorical cross-entropy from logits vs tf.losses.softmaxCrossEntropy', () => {
    const r = rng(53);
    for (const [rows, cols] of SHAPES) {
      for (const [tkind, t] of targets(r, rows, cols)) {
        for (const std of [1, 10, 40]) {
          const z = normal(r, rows * cols, std);
          const ours = K.loss({ kind: 'categoricalCrossentropy', rows, cols, pred: z, labels: t, fromLogits: true });
          compare('CCE (logits)', `[${rows},${cols}] ${tkind}, logits N(0, ${std}²)`, ours, z, [rows, cols], cceOfLogits(t, [rows, cols], !tkind.startsWith('unnormalised')));
        }
      }
    }
  });

  it('mean squared error vs tfjs-layers', () => {
    const r = rng(54);
    for (const [rows, cols] of SHAPES) {
      const p = normal(r, rows * cols, 2);
      const t = normal(r, rows * cols, 2);
      const ours = K.loss({ kind: 'meanSquaredError', rows, cols, pred: p, labels: t });
      compare('MSE', `[${rows},${cols}]`, ours, p, [rows, cols], (P) => tfl.meanSquaredError(tf.tensor2d(t, [rows, cols]), P));
    }
  });

  it('binary cross-entropy from probabilities vs tfjs-layers (ε = 1e-7 clipping)', () => {
    const r = rng(55);
    for (const [rows, cols] of SHAPES) {
      const t = uniform(r, rows * cols, 0, 1).map((v) => (v < 0.5 ? 0 : 1));
      const soft = uniform(r, rows * cols, 0, 1);
      const p = uniform(r, rows * cols, 0.001, 0.999);
      // Saturated sigmoid outputs: exact 0 and 1 and values within 1e-7 of them.
      const sat = uniform(r, rows * cols, 0, 1).map((v, i) => [0, 1, 1e-9, 1 - 1e-8, 0.3, 0.7][i % 6] * (i % 12 < 6 ? 1 : v));
      for (const [what, tt, pp] of [
        ['0/1 targets', t, p],
        ['soft targets', soft, p],
        ['0/1 targets, saturated predictions', t, sat],
      ] as const) {
        const ours = K.loss({ kind: 'binaryCrossentropy', rows, cols, pred: pp, labels: tt });
        compare('BCE (probabilities)', `[${rows},${cols}] ${what}`, ours, pp, [rows, cols], (P) => tfl.binaryCrossentropy(tf.tensor2d(tt, [rows, cols]), P));
      }
    }
  });

  it('binary cross-entropy from logits vs tf.losses.sigmoidCrossEntropy', () => {
    const r = rng(56);
    for (const [rows, cols] of SHAPES) {
      const t = uniform(r, rows * cols, 0, 1).map((v) => (v < 0.5 ? 0 : 1));
      for (const std of [1, 10, 40]) {
        const z = normal(r, rows * cols, std);
        const ours = K.loss({ kind: 'binaryCrossentropy', rows, cols, pred: z, labels: t, fromLogits: true });
        compare('BCE (logits)', `[${rows},${cols}] logits N(0, ${std}²)`, ours, z, [rows, cols], (Z) =>
          tf.mean(tf.losses.sigmoidCrossEntropy(tf.tensor2d(t, [rows, cols]), Z, undefined, 0, tf.Reduction.NONE), -1),
        );
      }
    }
  });

  it('scale = 1 (sum over the batch) scales the gradient like tf.grad of the summed loss', () => {
    const r = rng(57);
    const [rows, cols] = [13, 17];
    const labels = randInt(r, rows, cols);
    const p = softmaxRows(normal(r, rows * cols, 1.5), rows, cols);
    const ours = K.loss({ kind: 'sparseCategoricalCrossentropy', rows, cols, pred: p, labels, scale: 1 });
    compare('sparse CCE (probabilities), sum', `[${rows},${cols}]`, ours, p, [rows, cols], (P) => tfl.sparseCategoricalCrossentropy(tf.tensor1d(f32(labels)), P), true);
    const t = normal(r, rows * cols);
    const mse = K.loss({ kind: 'meanSquaredError', rows, cols, pred: p, labels: t, scale: 1 });
    compare('MSE, sum', `[${rows},${cols}]`, mse, p, [rows, cols], (P) => tfl.meanSquaredError(tf.tensor2d(t, [rows, cols]), P), true);
  });

  describe('fused gradients w.r.t. the logits', () => {
    /**
     * `pred` holds our softmax/sigmoid outputs p = f(z). Our per-row value (computed from p) is compared
     * with tfjs' loss of the same p — computing it from tfjs' own f(z) would compare two roundings of a
     * saturated p, which near 1 the loss amplifies — and our fused gradient with tf.grad of the mean loss
     * through f, w.r.t. z.
     */
    function compareFused(group: string, what: string, ours: { rows: Float32Array; grad: Float32Array }, p: Float32Array, z: Float32Array, shape: [number, number], f: (z: T) => T, tfRowsOfProbs: (p: T) => T) {
      const [rowsT, gradT] = tfData(() => [tfRowsOfProbs(tf.tensor2d(p, shape)), tf.grad((v: T) => tf.mean(tfRowsOfProbs(f(v))))(tf.tensor2d(z, shape))]);
      expectClose(`${group} value`, what, ours.rows, rowsT, FWD);
      expectClose(`${group} gradient`, what, ours.grad, gradT, GRAD, shape[1]);
    }

    /**
     * Fused softmax+CE gradient for logits N(0, 30²), far past the clip. tf.losses.softmaxCrossEntropy's
     * gradient computes softmax as exp(z − logSumExp(z)) in float32, whose relative error is
     * ~ulp(logSumExp) ≈ 4e-6 at |z| ~ 40; in a row where the target class has p → 1 that error is
     * amplified in p − 1, and tfjs' gradient is off the float64 value by up to ~4e-4 of the row (ours,
     * from the normalised softmax, by ~1e-5). So ours is held to GRAD against the float64 gradient of
     * the same float32 logits, and to 1e-3 against tfjs for that reason.
     */
    function wideLogits(group: string, what: string, ours: Float32Array, z: Float32Array, t: Float32Array, shape: [number, number], sumsToOne: boolean) {
      const [rows, cols] = shape;
      const p = softmaxRows(z, rows, cols, new Float64Array(rows * cols));
      const exact = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let ts = 0;
        for (let j = 0; j < cols; j++) ts += t[r * cols + j];
        for (let j = 0; j < cols; j++) exact[r * cols + j] = (p[r * cols + j] * ts - t[r * cols + j]) / rows;
      }
      expectClose(`${group}, wide logits vs float64`, what, ours, exact, GRAD, cols);
      const ref = cceOfLogits(t, shape, sumsToOne);
      const [g] = tfData(() => tf.grad((v: T) => tf.mean(ref(v)))(tf.tensor2d(z, shape)));
      expectClose(`${group}, wide logits vs tf.losses`, what, ours, g, 1e-3, cols);
    }

    // The fused form is the logits gradient (p − y)/batch, which Keras uses when a softmax (sigmoid)
    // feeds the cross-entropy. Through tfjs' clipped probability loss it is the same gradient as long as
    // no probability is clipped, so these logits stay within ±4 for softmax (with up to 129 classes,
    // p ≥ e⁻⁸/129 ≈ 2.6e-6 > ε) and ±15 for sigmoid (1 − σ(15) ≈ 3e-7 > ε); against the logit-based
    // tf.losses.*CrossEntropy, whose
    // gradients have no clip, logits of any size are compared.
    it('softmax + sparse CCE: (p − onehot)/batch', () => {
      const r = rng(60);
      for (const [rows, cols] of SPARSE_SHAPES) {
        const labels = randInt(r, rows, cols);
        const z = uniform(r, rows * cols, -4, 4);
        const p = K.softmax(z, rows, cols);
        const ours = K.loss({ kind: 'sparseCategoricalCrossentropy', rows, cols, pred: p, labels, fused: true });
        compareFused('fused softmax+sparse CCE', `[${rows},${cols}] via tfjs-layers`, ours, p, z, [rows, cols], (v) => tf.softmax(v), (P) =>
          tfl.sparseCategoricalCrossentropy(tf.tensor1d(f32(labels)), P),
        );
        const zWide = normal(r, rows * cols, 30);
        const fused = K.loss({ kind: 'sparseCategoricalCrossentropy', rows, cols, pred: K.softmax(zWide, rows, cols), labels, fused: true });
        wideLogits('fused softmax+sparse CCE gradient', `[${rows},${cols}]`, fused.grad, zWide, oneHot(labels, cols), [rows, cols], true);
      }
    });

    it('softmax + categorical CE: (p·Σt − t)/batch', () => {
      const r = rng(61);
      for (const [rows, cols] of SHAPES) {
        for (const [tkind, t] of targets(r, rows, cols)) {
          const z = uniform(r, rows * cols, -4, 4);
          const p = K.softmax(z, rows, cols);
          const ours = K.loss({ kind: 'categoricalCrossentropy', rows, cols, pred: p, labels: t, fused: true });
          compareFused('fused softmax+CCE', `[${rows},${cols}] ${tkind} via tfjs-layers`, ours, p, z, [rows, cols], (v) => tf.softmax(v), (P) =>
            tfl.categoricalCrossentropy(tf.tensor2d(t, [rows, cols]), P),
          );
          const zWide = normal(r, rows * cols, 30);
          const fused = K.loss({ kind: 'categoricalCrossentropy', rows, cols, pred: K.softmax(zWide, rows, cols), labels: t, fused: true });
          wideLogits('fused softmax+CCE gradient', `[${rows},${cols}] ${tkind}`, fused.grad, zWide, t, [rows, cols], !tkind.startsWith('unnormalised'));
        }
      }
    });

    it('sigmoid + binary CE: (p − t)/(cols·batch)', () => {
      const r = rng(62);
      for (const [rows, cols] of SHAPES) {
        const t = uniform(r, rows * cols, 0, 1).map((v) => (v < 0.5 ? 0 : 1));
        const z = uniform(r, rows * cols, -15, 15);
        const p = K.activation('sigmoid', z);
        const ours = K.loss({ kind: 'binaryCrossentropy', rows, cols, pred: p, labels: t, fused: true });
        compareFused('fused sigmoid+BCE', `[${rows},${cols}] via tfjs-layers`, ours, p, z, [rows, cols], (v) => tf.sigmoid(v), (P) =>
          tfl.binaryCrossentropy(tf.tensor2d(t, [rows, cols]), P),
        );
        const zWide = normal(r, rows * cols, 30);
        const [g] = tfData(() =>
          tf.grad((v: T) => tf.mean(tf.losses.sigmoidCrossEntropy(tf.tensor2d(t, [rows, cols]), v, undefined, 0, tf.Reduction.NONE)))(tf.tensor2d(zWide, [rows, cols])),
        );
        const fused = K.loss({ kind: 'binaryCrossentropy', rows, cols, pred: K.activation('sigmoid', zWide), labels: t, fused: true });
        expectClose('fused sigmoid+BCE gradient', `[${rows},${cols}] wide logits via tf.losses`, fused.grad, g, GRAD, cols);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------
describe('dropout', () => {
  const SIZES = [1, 7, 64, 1001, 4099, 65536];
  const RATES = [0, 0.1, 0.5, 0.75];

  it('y = x·mask, mask ∈ {0, 1/(1 − rate)} as tfjs scales, keep rate ≈ 1 − rate; backward dy·mask vs tf.grad', () => {
    const r = rng(70);
    for (const n of SIZES) {
      for (const rate of RATES) {
        const x = normal(r, n);
        const dy = normal(r, n);
        const seed = 1234 + n;
        const { y, mask } = K.dropout(x, rate, seed, 7, 3);
        const what = `n=${n} rate=${rate}`;
        // The mask is the multiplier itself: 0 or 1/(1 − rate) (inverted dropout, as tf.dropout does).
        const scale = Math.fround(1 / (1 - rate));
        let kept = 0;
        let badMask = -1;
        for (let i = 0; i < n; i++) {
          if (mask[i] !== 0) kept++;
          if (mask[i] !== 0 && mask[i] !== scale && badMask < 0) badMask = i;
        }
        expect(badMask, `${what}: mask[${badMask}] = ${mask[badMask]}, expected 0 or ${scale}`).toBe(-1);
        if (rate === 0) expect(kept, what).toBe(n);
        if (n >= 4096) {
          // Binomial(n, 1 − rate): 6 standard deviations.
          const sd = Math.sqrt(n * rate * (1 - rate));
          expect(Math.abs(kept - n * (1 - rate)), `${what}: kept ${kept}`).toBeLessThanOrEqual(6 * sd + 1);
        }
        // tfjs' scaling convention on the same keep pattern: x · keep / (1 − rate).
        const keep = Float32Array.from(mask, (m) => (m !== 0 ? 1 : 0));
        const [yTf, dxTf] = tfData(() => {
          const M = tf.div(tf.tensor1d(keep), 1 - rate);
          const g = tf.grad((v: T) => tf.sum(tf.mul(tf.mul(v, M), tf.tensor1d(dy))));
          return [tf.mul(tf.tensor1d(x), M), g(tf.tensor1d(x))];
        });
        expectClose('dropout forward', what, y, yTf, FWD);
        expectClose('dropout forward (naive)', what, K.dropout(x, rate, seed, 7, 3, true).y, yTf, FWD);
        expectClose('dropout backward (mul by mask)', what, K.mul(dy, mask), dxTf, GRAD);
      }
    }
  });

  it('tf.dropout keeps x/(1 − rate) too (same scaling convention, its own random pattern)', () => {
    const r = rng(71);
    const x = normal(r, 4099);
    for (const rate of [0.1, 0.5, 0.75]) {
      const [y] = tfData(() => tf.dropout(tf.tensor1d(x), rate, undefined, 42));
      const ours = K.dropout(x, rate, 42, 0, 0).y;
      for (let i = 0; i < x.length; i++) {
        if (y[i] !== 0) expect(Math.abs(y[i] - x[i] / (1 - rate))).toBeLessThanOrEqual(1e-6 * Math.abs(x[i] / (1 - rate)) + 1e-30);
        if (ours[i] !== 0) expect(Math.abs(ours[i] - x[i] / (1 - rate))).toBeLessThanOrEqual(1e-6 * Math.abs(x[i] / (1 - rate)) + 1e-30);
      }
    }
  });

  it('masks are a pure function of (seed, salt, step): reproducible, and different when any changes', () => {
    const x = new Float32Array(1001).fill(1);
    const a = K.dropout(x, 0.5, 9, 1, 5).mask;
    expect(K.dropout(x, 0.5, 9, 1, 5).mask).toEqual(a);
    expect(K.dropout(x, 0.5, 9, 1, 5, true).mask).toEqual(a);
    for (const [seed, salt, step] of [
      [10, 1, 5],
      [9, 2, 5],
      [9, 1, 6],
    ]) {
      const b = K.dropout(x, 0.5, seed, salt, step).mask;
      let same = 0;
      for (let i = 0; i < x.length; i++) same += +(a[i] === b[i]);
      // Independent masks agree on about half the elements.
      expect(same, `seed ${seed} salt ${salt} step ${step}`).toBeLessThan(x.length * 0.6);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe('accuracy', () => {
  const SHAPES: [number, number][] = [
    [1, 1],
    [1, 10],
    [7, 3],
    [33, 10],
    [64, 129],
  ];
  let metrics: typeof import('@tensorflow/tfjs-layers').metrics;
  beforeAll(async () => {
    metrics = (await import('@tensorflow/tfjs-layers')).metrics;
  });

  /** Predictions with ties: every third row has its first two maxima equal. */
  function preds(r: () => number, rows: number, cols: number): Float32Array {
    const p = uniform(r, rows * cols, 0, 1);
    for (let row = 0; row < rows; row += 3) {
      if (cols < 2) break;
      const a = Math.floor(r() * cols);
      const b = (a + 1 + Math.floor(r() * (cols - 1))) % cols;
      p[row * cols + a] = p[row * cols + b] = 2;
    }
    return p;
  }

  it('sparse vs tfjs-layers sparseCategoricalAccuracy (ties go to the first index, as tf.argMax)', () => {
    const r = rng(80);
    for (const [rows, cols] of SHAPES) {
      const p = preds(r, rows, cols);
      // Labels are the argmax half of the time so both outcomes occur.
      const labels = randInt(r, rows, cols);
      const [am] = tfData(() => tf.cast(tf.argMax(tf.tensor2d(p, [rows, cols]), -1), 'float32'));
      labels.forEach((_, i) => r() < 0.5 && (labels[i] = am[i]));
      const [expected] = tfData(() => metrics.sparseCategoricalAccuracy(tf.tensor1d(f32(labels)), tf.tensor2d(p, [rows, cols])));
      expect(Array.from(K.accuracy('sparse', p, labels, rows, cols)), `[${rows},${cols}]`).toEqual(Array.from(expected));
    }
  });

  it('categorical vs tfjs-layers categoricalAccuracy', () => {
    const r = rng(81);
    for (const [rows, cols] of SHAPES) {
      const p = preds(r, rows, cols);
      const t = preds(r, rows, cols);
      const [expected] = tfData(() => metrics.categoricalAccuracy(tf.tensor2d(t, [rows, cols]), tf.tensor2d(p, [rows, cols])));
      expect(Array.from(K.accuracy('categorical', p, t, rows, cols)), `[${rows},${cols}]`).toEqual(Array.from(expected));
      const onehot = oneHot(Int32Array.from({ length: rows }, (_, i) => i % cols), cols);
      const [expected2] = tfData(() => metrics.categoricalAccuracy(tf.tensor2d(onehot, [rows, cols]), tf.tensor2d(p, [rows, cols])));
      expect(Array.from(K.accuracy('categorical', p, onehot, rows, cols)), `[${rows},${cols}] one-hot`).toEqual(Array.from(expected2));
    }
  });

  it('binary vs tfjs-layers binaryAccuracy (threshold 0.5, mean over columns)', () => {
    const r = rng(82);
    for (const [rows, cols] of SHAPES) {
      const p = uniform(r, rows * cols, 0, 1).map((v, i) => (i % 5 === 0 ? 0.5 : v)); // 0.5 itself counts as 0
      const t = uniform(r, rows * cols, 0, 1).map((v) => (v < 0.5 ? 0 : 1));
      const [expected] = tfData(() => metrics.binaryAccuracy(tf.tensor2d(t, [rows, cols]), tf.tensor2d(p, [rows, cols])));
      expectClose('binary accuracy', `[${rows},${cols}]`, K.accuracy('binary', p, t, rows, cols), expected, FWD);
    }
  });
});
