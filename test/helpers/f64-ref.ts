/**
 * Float64 JS implementations of what the kernels compute (crates/kernels/src/*.rs), written from the
 * formulas in their doc comments, for the tests: kernel results (float32) are compared with these on the
 * same float32 inputs, and the gradient checks differentiate them numerically.
 */
import type { LossName } from '../../src/losses.js';

export type LayoutName = 'NN' | 'NT' | 'TN';

/**
 * C = op(A)·op(B) (+ bias, relu) in float64, and for every element the magnitude Σₖ|aᵢₖ·bₖⱼ| + |biasⱼ| that
 * bounds its float32 rounding error. Products of float32 values are exact in float64 and the sums carry
 * a relative error ~K·2⁻⁵³, negligible next to float32's.
 */
export function matmulF64(
  layout: LayoutName,
  m: number,
  n: number,
  k: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bias?: ArrayLike<number>,
  act: 'linear' | 'relu' = 'linear',
): { c: Float64Array; mag: Float64Array } {
  const c = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  // A as [m, k] row-major and B as [k, n] row-major, copied once so the inner loop is plain.
  const A = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let q = 0; q < k; q++) A[i * k + q] = layout === 'TN' ? a[q * m + i] : a[i * k + q];
  const B = new Float64Array(k * n);
  for (let q = 0; q < k; q++) for (let j = 0; j < n; j++) B[q * n + j] = layout === 'NT' ? b[j * k + q] : b[q * n + j];
  const row = new Float64Array(n);
  const rowMag = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    rowMag.fill(0);
    for (let q = 0; q < k; q++) {
      const av = A[i * k + q];
      if (av === 0) continue;
      const aa = Math.abs(av);
      const off = q * n;
      for (let j = 0; j < n; j++) {
        const bv = B[off + j];
        row[j] += av * bv;
        rowMag[j] += aa * Math.abs(bv);
      }
    }
    for (let j = 0; j < n; j++) {
      let v = row[j];
      let mg = rowMag[j];
      if (bias) {
        v += bias[j];
        mg += Math.abs(bias[j]);
      }
      if (act === 'relu' && v < 0) v = 0;
      c[i * n + j] = v;
      mag[i * n + j] = mg;
    }
  }
  return { c, mag };
}

export type ActName = 'linear' | 'relu' | 'sigmoid' | 'tanh';

export function actF64(kind: ActName, x: number): number {
  switch (kind) {
    case 'relu':
      return x < 0 ? 0 : x;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
    default:
      return x;
  }
}

/** Row-wise softmax in float64 (max-shifted). */
export function softmaxF64(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += y[r * cols + j] = Math.exp(x[r * cols + j] - mx);
    for (let j = 0; j < cols; j++) y[r * cols + j] /= s;
  }
  return y;
}

/** Softmax backward: dx = y ⊙ (dy − ⟨dy, y⟩) per row. */
export function softmaxGradF64(y: ArrayLike<number>, dy: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - dot);
  }
  return dx;
}

export function sigmoidF64(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export type { LossName };

export interface LossSpec {
  kind: LossName;
  rows: number;
  cols: number;
  /** int labels [rows] for sparse, else [rows, cols] */
  labels: ArrayLike<number>;
  fromLogits?: boolean;
  eps?: number;
}

const clip = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

/**
 * Per-row losses as loss.rs defines them:
 *   CE from probabilities: −Σⱼ tⱼ·ln(clip(pⱼ / Σₖpₖ, ε, 1 − ε)); sparse labels first clip every pⱼ to
 *                          [ε, 1 − ε] too (before the sum), as tfjs-layers does
 *   CE from logits:        Σⱼ tⱼ·(logsumexp(z) − zⱼ)
 *   MSE:                   meanⱼ (pⱼ − tⱼ)²
 *   BCE from probabilities: meanⱼ −(tⱼ·ln(clip(pⱼ)) + (1 − tⱼ)·ln(1 − clip(pⱼ)))
 *   BCE from logits:        meanⱼ max(z, 0) − z·t + ln(1 + e^−|z|)
 * (the sparse form is the categorical one with a one-hot target).
 */
export function lossRowsF64(s: LossSpec, pred: ArrayLike<number>): Float64Array {
  const { rows, cols } = s;
  const eps = s.eps ?? 1e-7;
  const out = new Float64Array(rows);
  const target = (r: number, j: number) =>
    s.kind === 'sparseCategoricalCrossentropy' ? (s.labels[r] === j ? 1 : 0) : s.labels[r * cols + j];
  for (let r = 0; r < rows; r++) {
    const p = (j: number) => pred[r * cols + j];
    let L = 0;
    if (s.kind === 'sparseCategoricalCrossentropy' || s.kind === 'categoricalCrossentropy') {
      if (s.fromLogits) {
        let mx = -Infinity;
        for (let j = 0; j < cols; j++) mx = Math.max(mx, p(j));
        let se = 0;
        for (let j = 0; j < cols; j++) se += Math.exp(p(j) - mx);
        const lse = mx + Math.log(se);
        for (let j = 0; j < cols; j++) L += target(r, j) * (lse - p(j));
      } else {
        const pre = (j: number) => (s.kind === 'sparseCategoricalCrossentropy' ? clip(p(j), eps, 1 - eps) : p(j));
        let sum = 0;
        for (let j = 0; j < cols; j++) sum += pre(j);
        for (let j = 0; j < cols; j++) {
          const t = target(r, j);
          if (t !== 0) L -= t * Math.log(clip(pre(j) / sum, eps, 1 - eps));
        }
      }
    } else if (s.kind === 'meanSquaredError') {
      for (let j = 0; j < cols; j++) L += (p(j) - target(r, j)) ** 2;
      L /= cols;
    } else {
      for (let j = 0; j < cols; j++) {
        const z = p(j);
        const t = target(r, j);
        if (s.fromLogits) L += Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
        else {
          const pc = clip(z, eps, 1 - eps);
          L -= t * Math.log(pc) + (1 - t) * Math.log(1 - pc);
        }
      }
      L /= cols;
    }
    out[r] = L;
  }
  return out;
}

/**
 * The exact gradient of `scale · Σ_rows loss` with respect to pred, as loss.rs should compute it (zero
 * through an active clip). `fused`: pred holds softmax/sigmoid outputs p and the gradient is with
 * respect to their logits z — for cross-entropy scale·(p·Σt − t), for BCE scale·(p − t)/cols (what the
 * chain rule gives where no clip is active).
 */
export function lossGradF64(s: LossSpec & { fused?: boolean; scale?: number }, pred: ArrayLike<number>): Float64Array {
  const { rows, cols } = s;
  const eps = s.eps ?? 1e-7;
  const sc = s.scale ?? 1 / rows;
  const g = new Float64Array(rows * cols);
  const sparse = s.kind === 'sparseCategoricalCrossentropy';
  const target = (r: number, j: number) => (sparse ? (s.labels[r] === j ? 1 : 0) : s.labels[r * cols + j]);
  const inside = (v: number) => v >= eps && v <= 1 - eps;
  for (let r = 0; r < rows; r++) {
    const p = (j: number) => pred[r * cols + j];
    const out = (j: number, v: number) => (g[r * cols + j] = v);
    if (sparse || s.kind === 'categoricalCrossentropy') {
      let tsum = 0;
      for (let j = 0; j < cols; j++) tsum += target(r, j);
      if (s.fromLogits) {
        let mx = -Infinity;
        for (let j = 0; j < cols; j++) mx = Math.max(mx, p(j));
        let se = 0;
        for (let j = 0; j < cols; j++) se += Math.exp(p(j) - mx);
        for (let j = 0; j < cols; j++) out(j, sc * ((Math.exp(p(j) - mx) / se) * tsum - target(r, j)));
      } else if (s.fused) {
        for (let j = 0; j < cols; j++) out(j, sc * (p(j) * tsum - target(r, j)));
      } else {
        // L = −Σⱼ tⱼ ln(clip(c(pⱼ)/S)), S = Σₖ c(pₖ), c the pre-clip (sparse) or identity:
        // ∂L/∂pₖ = c'(pₖ)·(−tₖ·[qₖ inside]/c(pₖ) + Σⱼ tⱼ·[qⱼ inside] / S)
        const pre = (j: number) => (sparse ? clip(p(j), eps, 1 - eps) : p(j));
        const preIn = (j: number) => !sparse || inside(p(j));
        let S = 0;
        for (let j = 0; j < cols; j++) S += pre(j);
        let common = 0;
        for (let j = 0; j < cols; j++) if (target(r, j) !== 0 && inside(pre(j) / S)) common += target(r, j);
        for (let j = 0; j < cols; j++) {
          if (!preIn(j)) {
            out(j, 0);
            continue;
          }
          const t = target(r, j);
          const own = t !== 0 && inside(pre(j) / S) ? -t / pre(j) : 0;
          out(j, sc * (own + common / S));
        }
      }
    } else if (s.kind === 'meanSquaredError') {
      for (let j = 0; j < cols; j++) out(j, (sc * 2 * (p(j) - target(r, j))) / cols);
    } else {
      for (let j = 0; j < cols; j++) {
        const z = p(j);
        const t = target(r, j);
        if (s.fromLogits) out(j, (sc * (sigmoidF64(z) - t)) / cols);
        else if (s.fused) out(j, (sc * (z - t)) / cols);
        else out(j, inside(z) ? (sc * (z - t)) / (z * (1 - z)) / cols : 0);
      }
    }
  }
  return g;
}
