/**
 * Gradient checks: every backward kernel and every loss gradient against central finite differences of
 * a float64 JS forward of the same function (test/helpers/f64-ref.ts), on small random inputs.
 *
 * For an op y = f(x) with upstream gradient dy, the backward must be ∇ₓ Σ dy ⊙ f(x); for a loss it is
 * ∇ (scale · Σ_rows loss). The finite differences are float64 with steps ~1e-5 (1e-6·|x| for
 * probabilities): their truncation and cancellation errors are ~1e-9 relative, so they stand for the
 * exact gradient. The kernels work in float32; their results carry relative errors of a few 1e-7 of the
 * terms they combine, up to ~5e-6 where 1 − y cancels (sigmoid/tanh backward for |x| ≤ 3). Tolerance,
 * unless stated otherwise: |g − g_fd| ≤ 2e-5 · (|g_fd| + max |g_fd| over the row) — a wrong formula
 * (a missing term, a sign, a factor) is off by O(1).
 *
 * Inputs keep away from kinks and clip boundaries (relu at 0, ε and 1 − ε) by far more than the step,
 * so the difference quotient does not straddle one; each test asserts that margin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeBackend, init } from '../src/backend/backend.js';
import * as K from './helpers/kernels.js';
import { centralDiff, withinTol } from './helpers/f64-check.js';
import { actF64, lossGradF64, lossRowsF64, matmulF64, sigmoidF64, softmaxF64, type ActName, type LossName, type LossSpec } from './helpers/f64-ref.js';
import { Rng } from './helpers/rand.js';

/** The tolerance described above, for a gradient laid out in rows of `cols`. */
function rowTol(fd: ArrayLike<number>, cols: number, rel = 2e-5): (i: number) => number {
  return (i) => {
    const r = Math.floor(i / cols);
    let mx = 0;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, Math.abs(fd[r * cols + j]));
    return rel * (Math.abs(fd[i]) + mx) + 1e-10;
  };
}

beforeAll(async () => {
  await init({ threads: 2 });
});

afterAll(() => {
  disposeBackend();
});

describe('activation backward: dx = dy · f′(x), computed from y = f(x)', () => {
  for (const kind of ['linear', 'relu', 'sigmoid', 'tanh'] as ActName[])
    it(kind, () => {
      const rng = new Rng(100 + kind.length);
      const n = 203;
      const x = rng.uniformArray(n, -3, 3).map((v) => (Math.abs(v) < 0.01 ? v + 0.05 : v)); // off relu's kink
      const dy = rng.normalArray(n);
      const y = K.activation(kind, x);
      const dx = K.activationGrad(kind, y, dy);
      const fd = centralDiff((xs) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += dy[i] * actF64(kind, xs[i]);
        return s;
      }, x);
      expect(withinTol(dx, fd, rowTol(fd, n), `${kind}'`)).toBe('');
    });
});

describe('softmax backward: dx = y ⊙ (dy − ⟨dy, y⟩)', () => {
  for (const [rows, cols] of [
    [1, 1],
    [3, 2],
    [5, 10],
    [2, 33],
  ])
    it(`${rows}×${cols}`, () => {
      const rng = new Rng(200 + cols);
      const x = rng.normalArray(rows * cols, 2);
      const dy = rng.normalArray(rows * cols);
      const dx = K.softmaxGrad(K.softmax(x, rows, cols), dy, rows, cols);
      const fd = centralDiff((xs) => {
        const y = softmaxF64(xs, rows, cols);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += dy[i] * y[i];
        return s;
      }, x);
      expect(withinTol(dx, fd, rowTol(fd, cols), 'softmax′')).toBe('');
    });
});

describe('dropout backward: dx = dy ⊙ mask', () => {
  it('rate 0.4', () => {
    const rng = new Rng(300);
    const n = 101;
    const x = rng.normalArray(n);
    const dy = rng.normalArray(n);
    const { mask } = K.dropout(x, 0.4, 5, 6, 7);
    expect(mask.some((m) => m === 0) && mask.some((m) => m !== 0)).toBe(true);
    const dx = K.mul(dy, mask);
    // forward with the mask fixed (it does not depend on x): y = x ⊙ mask
    const fd = centralDiff((xs) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += dy[i] * xs[i] * mask[i];
      return s;
    }, x);
    expect(withinTol(dx, fd, rowTol(fd, n), 'dropout′')).toBe('');
  });
});

describe('dense layer backward through the GEMM layouts: Y = act(X·W + b)', () => {
  // dZ = act′ (ACT_BWD, from Y); dX = dZ·Wᵀ (NT), dW = Xᵀ·dZ (TN), db = column sums of dZ (COLSUM).
  // Tolerance: these are K-term float32 dot products of the dZ terms, so 2e-5 is taken relative to
  // Σ|dZ|·|W| (resp. Σ|X|·|dZ|, Σ|dZ|) rather than to the row maximum.
  for (const act of ['linear', 'relu', 'sigmoid', 'tanh'] as ActName[])
    it(act, () => {
      const rng = new Rng(400 + act.length);
      const [m, k, n] = [6, 9, 5];
      const X = rng.normalArray(m * k);
      const W = rng.normalArray(k * n, 0.5);
      const b = rng.normalArray(n, 0.5);
      const dY = rng.normalArray(m * n);
      const fwd64 = (x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number>) => {
        const z = matmulF64('NN', m, n, k, x, w, bias).c;
        let s = 0;
        for (let i = 0; i < z.length; i++) s += dY[i] * actF64(act, z[i]);
        return s;
      };
      // relu's kink: no pre-activation within 1e-3 of 0 (the steps move it by ~1e-5)
      const z64 = matmulF64('NN', m, n, k, X, W, b).c;
      expect(Math.min(...Array.from(z64, Math.abs))).toBeGreaterThan(1e-3);
      // forward on the kernels: relu fused into the GEMM epilogue, sigmoid/tanh as a separate op
      const Z = K.gemm({ layout: 'NN', m, n, k, a: X, b: W, bias: b, act: act === 'relu' ? 'relu' : 'linear' });
      const Y = act === 'sigmoid' || act === 'tanh' ? K.activation(act, Z) : Z;
      const dZ = K.activationGrad(act, Y, dY);
      const dX = K.gemm({ layout: 'NT', m, n: k, k: n, a: dZ, b: W });
      const dW = K.gemm({ layout: 'TN', m: k, n, k: m, a: X, b: dZ });
      const db = K.colsum(dZ, m, n);
      const fdX = centralDiff((x) => fwd64(x, W, b), X);
      const fdW = centralDiff((w) => fwd64(X, w, b), W);
      const fdb = centralDiff((bb) => fwd64(X, W, bb), b);
      const absDZ = Float64Array.from(dZ, Math.abs);
      const magX = matmulF64('NT', m, k, n, absDZ, Float64Array.from(W, Math.abs)).c;
      const magW = matmulF64('TN', k, n, m, Float64Array.from(X, Math.abs), absDZ).c;
      const magB = new Float64Array(n);
      for (let i = 0; i < m * n; i++) magB[i % n] += absDZ[i];
      const tol = (mag: Float64Array) => (i: number) => 2e-5 * mag[i] + 1e-10;
      expect(withinTol(dX, fdX, tol(magX), `${act}: dX`)).toBe('');
      expect(withinTol(dW, fdW, tol(magW), `${act}: dW`)).toBe('');
      expect(withinTol(db, fdb, tol(magB), `${act}: db`)).toBe('');
    });
});

describe('loss gradients: ∇ (scale · Σ_rows loss)', () => {
  const rows = 6;
  const cols = 5;

  interface C {
    name: string;
    kind: LossName;
    pred: Float32Array;
    labels: ArrayLike<number>;
    fromLogits?: boolean;
    eps?: number;
    scale?: number;
    /** finite-difference steps relative to |x| (probabilities near 0) */
    relStep?: boolean;
    /** assert the inputs include clipped entries (below ε / above 1 − ε) */
    clipped?: boolean;
  }

  const rng = new Rng(500);
  const sparse = rng.intArray(rows, cols);
  const soft = rng.uniformArray(rows * cols, 0, 0.4);
  const logits = rng.normalArray(rows * cols, 2);
  const probs = rng.probabilities(rows, cols, 1);
  // With ε = 0.05: values well below, inside and well above the clip range, none within 1e-3 of ε or
  // 1 − ε (in either the raw or the row-normalised value; asserted below).
  const EPS = 0.05;
  const mixed = Float32Array.from([
    0.01, 0.3, 0.2, 0.02, 0.25, //
    0.97, 0.005, 0.01, 0.003, 0.007, //
    0.2, 0.2, 0.2, 0.2, 0.1, //
    0.02, 0.02, 0.4, 0.1, 0.2, //
    0.5, 0.01, 0.1, 0.2, 0.08, //
    0.3, 0.1, 0.03, 0.1, 0.2,
  ]);
  const mixedLabels = Int32Array.from([0, 0, 4, 1, 2, 2]);
  const binT = new Float32Array(rows * cols).map(() => rng.int(2));
  const softBin = rng.uniformArray(rows * cols, 0, 1);
  const binP = Float32Array.from(mixed, (v, i) => (i % 3 === 0 ? 1 - v : v)); // some above 1 − ε

  const cases: C[] = [
    { name: 'sparse CE from probabilities', kind: 'sparseCategoricalCrossentropy', pred: probs, labels: sparse, relStep: true },
    { name: 'sparse CE from probabilities, clipped (ε = 0.05; row sums < 1)', kind: 'sparseCategoricalCrossentropy', pred: mixed, labels: mixedLabels, eps: EPS, relStep: true, clipped: true },
    { name: 'categorical CE from probabilities, soft targets', kind: 'categoricalCrossentropy', pred: probs, labels: soft, relStep: true },
    { name: 'categorical CE from probabilities, clipped (ε = 0.05)', kind: 'categoricalCrossentropy', pred: mixed, labels: soft, eps: EPS, relStep: true, clipped: true },
    { name: 'sparse CE from logits', kind: 'sparseCategoricalCrossentropy', pred: logits, labels: sparse, fromLogits: true },
    { name: 'categorical CE from logits, soft targets', kind: 'categoricalCrossentropy', pred: logits, labels: soft, fromLogits: true },
    { name: 'MSE', kind: 'meanSquaredError', pred: logits, labels: soft, scale: 0.3 },
    { name: 'binary CE from probabilities', kind: 'binaryCrossentropy', pred: probs, labels: softBin, relStep: true },
    { name: 'binary CE from probabilities, clipped (ε = 0.05)', kind: 'binaryCrossentropy', pred: binP, labels: binT, eps: EPS, relStep: true, clipped: true },
    { name: 'binary CE from logits', kind: 'binaryCrossentropy', pred: logits, labels: softBin, fromLogits: true },
  ];

  for (const c of cases)
    it(c.name, () => {
      const spec: LossSpec & { scale?: number } = { ...c, rows, cols };
      const sc = c.scale ?? 1 / rows;
      if (c.eps) assertOffClipBoundaries(spec, c.pred, c.eps, !!c.clipped);
      const { grad } = K.loss({ ...spec, pred: c.pred });
      const fd = centralDiff(
        (p) => sc * lossRowsF64(spec, p).reduce((a, v) => a + v, 0),
        c.pred,
        1e-5,
        c.relStep ? (x) => 1e-6 * Math.abs(x) : undefined,
      );
      expect(withinTol(grad, fd, rowTol(fd, cols), c.name)).toBe('');
      // the analytic float64 gradient used by the kernel tests agrees with the differences as well
      expect(withinTol(lossGradF64(spec, c.pred), fd, rowTol(fd, cols, 1e-6), `${c.name} (float64 formula)`)).toBe('');
    });

  // Fused: pred = softmax(z) (resp. sigmoid(z)) from the kernels, the gradient is taken w.r.t. z.
  for (const kind of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy'] as LossName[])
    it(`${kind} fused with its ${kind === 'binaryCrossentropy' ? 'sigmoid' : 'softmax'}: gradient w.r.t. the logits`, () => {
      const r2 = new Rng(600 + kind.length);
      const z = r2.normalArray(rows * cols, 1.5);
      const labels = kind === 'sparseCategoricalCrossentropy' ? sparse : kind === 'categoricalCrossentropy' ? soft : softBin;
      const spec: LossSpec = { kind, rows, cols, labels };
      const bin = kind === 'binaryCrossentropy';
      const p = bin ? K.activation('sigmoid', z) : K.softmax(z, rows, cols);
      // (valid where no clip is active: probabilities stay within (1e-7, 1 − 1e-7) here)
      expect(Math.min(...p)).toBeGreaterThan(1e-4);
      expect(Math.max(...p)).toBeLessThan(1 - 1e-4);
      const { grad } = K.loss({ ...spec, pred: p, fused: true });
      const fd = centralDiff((zs) => {
        const ps = bin ? Float64Array.from(zs, sigmoidF64) : softmaxF64(zs, rows, cols);
        return (1 / rows) * lossRowsF64(spec, ps).reduce((a, v) => a + v, 0);
      }, z);
      expect(withinTol(grad, fd, rowTol(fd, cols), `${kind} fused`)).toBe('');
    });
});

/**
 * Asserts that no value the loss clips — pred itself (binary; sparse pre-clip) or pred / row sum — lies
 * within 1e-3 of a clip boundary (a thousand times what a finite-difference step moves it), and (if
 * `expectClipped`) that some are clipped on each side.
 */
function assertOffClipBoundaries(s: LossSpec, pred: ArrayLike<number>, eps: number, expectClipped: boolean): void {
  const { rows, cols } = s;
  let below = 0;
  let above = 0;
  const check = (v: number, what: string) => {
    for (const edge of [eps, 1 - eps]) expect(Math.abs(v - edge), `${what} = ${v} is too close to the clip at ${edge}`).toBeGreaterThan(1e-3);
    if (v < eps) below++;
    if (v > 1 - eps) above++;
  };
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: cols }, (_, j) => pred[r * cols + j]);
    if (s.kind === 'binaryCrossentropy') row.forEach((v, j) => check(v, `p[${r},${j}]`));
    else {
      const pre = s.kind === 'sparseCategoricalCrossentropy' ? row.map((v) => Math.min(Math.max(v, eps), 1 - eps)) : row;
      if (s.kind === 'sparseCategoricalCrossentropy') row.forEach((v, j) => check(v, `p[${r},${j}]`));
      const sum = pre.reduce((a, v) => a + v, 0);
      pre.forEach((v, j) => check(v / sum, `p[${r},${j}]/Σ`));
    }
  }
  if (expectClipped) {
    expect(below, 'some values below ε').toBeGreaterThan(0);
    expect(above, 'some values above 1 − ε').toBeGreaterThan(0);
  }
}
