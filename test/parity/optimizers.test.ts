/**
 * Parity suite — optimizers against tfjs-core's tf.train.* on @tensorflow/tfjs-backend-wasm (4.22).
 *
 * What this proves: starting from the same parameters and fed the same gradient at every step, several
 * steps of our update kernels (test/helpers/kernels.ts: adamStep, sgdStep, rmspropStep; and the fused
 * weight-gradient GEMM + Adam op the dense layers train with) leave the parameters — and the optimizer
 * state (Adam's m and v, the momentum accumulator, RMSprop's mean square) — where tf.train.adam / sgd /
 * momentum (with and without Nesterov) / rmsprop leave a tf.variable via applyGradients. Gradients come
 * either from tf.variableGrads of a small least-squares regression (evaluated at the tfjs variables, so
 * both sides get the identical gradient) or from a seeded PRNG; sizes include odd and non-multiple-of-4
 * lengths.
 *
 * Documented formula differences (crates/kernels/src/optim.rs) and how they are handled:
 *   - Adam: ours (Keras) is p −= αₜ·m/(√v + ε) with αₜ = lr·√(1−β2ᵗ)/(1−β1ᵗ); tfjs is
 *     p −= lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ). Since √v = √v̂·√(1−β2ᵗ), ours equals tfjs
 *     exactly when our ε at step t is ε_tfjs·√(1−β2ᵗ): the main Adam tests pass that converted ε. One
 *     test passes the same ε to both unconverted and shows that with ε = 1e-8 and |g| ≥ 0.05 the
 *     placement changes an update by < 1e-5 of itself. (The two sides also round the constants
 *     differently — our kernel uses 1 − f32(β2), tfjs f32(1 − β2), and our αₜ is computed in float64 —
 *     so v differs by ~1.3e-5 relative at β2 = 0.999 and an update by about as much: inside the 1e-4
 *     state/displacement tolerance, and the same size as the discrepancy between Keras and tfjs.)
 *   - RMSprop: ours p −= lr·g/(√s + ε), tfjs p −= lr·g/√(s + ε). With ε = 0 they are the same formula
 *     (tested for any gradients); with Keras' ε = 1e-7 for us and ε = 1e-14 for tfjs and |g| ≥ 0.05 both
 *     ε terms change an update by < 1e-5 of itself (√s ≥ 0.016).
 *   - Momentum: Keras' u ← μu − lr·g, p ← p + u (Nesterov p ← p + μu − lr·g) and tfjs' a ← μa + g,
 *     p ← p − lr·a (Nesterov p ← p − lr·(g + μa)) are the same with u = −lr·a; the accumulators are
 *     compared through that identity.
 *
 * Error measure (test/helpers/tfjs.ts, relErr): max|ours − tfjs| / max(max|tfjs|, 1e-6). Tolerances:
 * parameters ≤ 1e-5 (a forward value); the displacement p − p₀ — the sum of the updates, which is
 * what an optimizer computes and far smaller than p — and the optimizer state ≤ 1e-4 (gradient-like).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as K from '../helpers/kernels.js';
import { backendInfo, init } from '../../src/backend/backend.js';
import { normal, relErr, rng, tfjsWasm, uniform, type TF } from '../helpers/tfjs.js';

type T = import('@tensorflow/tfjs-core').Tensor;
type Variable = import('@tensorflow/tfjs-core').Variable;
type Optimizer = import('@tensorflow/tfjs-core').Optimizer;

const FWD = 1e-5;
const GRAD = 1e-4;
const STEPS = 10;

let tf: TF;
const worst = new Map<string, { err: number; tol: number }>();

function expectClose(group: string, what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  const err = relErr(actual, expected);
  const w = worst.get(group);
  if (!w || err > w.err) worst.set(group, { err, tol });
  expect(err, `${group} — ${what}: relative error ${err.toExponential(2)} > ${tol}`).toBeLessThanOrEqual(tol);
}

const sub = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v - b[i]);

/** Parameters and displacement from the start, ours vs tfjs. */
function compareParams(group: string, what: string, ours: Float32Array, theirs: Float32Array, p0: Float32Array): void {
  expectClose(`${group} parameters`, what, ours, theirs, FWD);
  expectClose(`${group} displacement p − p₀`, what, sub(ours, p0), sub(theirs, p0), GRAD);
}

/** The optimizer's slot variables, by the suffix tfjs names them with (`/m`, `/v`, `/momentum`, `/rms`). */
async function slot(opt: Optimizer, v: Variable, suffix: string): Promise<Float32Array> {
  const w = (await opt.getWeights()).find((x) => x.name === `${v.name}/${suffix}`);
  if (!w) throw new Error(`no optimizer weight ${v.name}/${suffix}`);
  return Float32Array.from(w.tensor.dataSync());
}

beforeAll(async () => {
  tf = await tfjsWasm();
  await init();
});

afterAll(() => {
  const rows = [...worst].map(([g, { err, tol }]) => `  ${g.padEnd(50)} ${err.toExponential(2).padStart(9)}  (≤ ${tol})`);
  console.log(`optimizer parity vs tf.train on tfjs-backend-wasm (ours on ${backendInfo().threads} threads) — worst relative error per group:\n${rows.join('\n')}`);
});

/**
 * A least-squares problem Y ≈ X·W + b whose gradients (tf.variableGrads of the mean squared error at the
 * tfjs variables) feed both optimizers each step. Y comes from a W*, b* of unit scale, well away from the
 * small initial W, b, so the parameters move steadily in one direction over the steps and the
 * displacement p − p₀ is a well-conditioned quantity to compare.
 */
function regression(seed: number, batch: number, nin: number, nout: number) {
  const r = rng(seed);
  const xs = normal(r, batch * nin);
  const wStar = normal(r, nin * nout);
  const bStar = normal(r, nout);
  const noise = normal(r, batch * nout, 0.1);
  const ys = new Float32Array(batch * nout);
  for (let i = 0; i < batch; i++)
    for (let j = 0; j < nout; j++) {
      let acc = bStar[j] + noise[i * nout + j];
      for (let k = 0; k < nin; k++) acc += xs[i * nin + k] * wStar[k * nout + j];
      ys[i * nout + j] = acc;
    }
  const X = tf.tensor2d(xs, [batch, nin]);
  const Y = tf.tensor2d(ys, [batch, nout]);
  const w0 = normal(r, nin * nout, 0.1);
  const b0 = normal(r, nout, 0.1);
  const W = tf.variable(tf.tensor2d(w0, [nin, nout]));
  const B = tf.variable(tf.tensor1d(b0));
  const grads = (): Record<string, Float32Array> =>
    tf.tidy(() => {
      const { grads: g } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(X, W), B), Y))) as import('@tensorflow/tfjs-core').Scalar, [W, B]);
      return Object.fromEntries(Object.entries(g).map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
    });
  const dispose = () => tf.dispose([X, Y, W, B]);
  return { grads, dispose, vars: [W, B] as Variable[], starts: [w0, b0] };
}

/**
 * Per-step gradients for the random-gradient tests: a fixed per-element direction plus noise, so each
 * parameter drifts one way (a well-conditioned displacement) while the steps still differ.
 */
function drifting(r: () => number, n: number): () => Float32Array {
  const base = normal(r, n);
  return () => {
    const noise = normal(r, n, 0.3);
    return base.map((b, i) => b + noise[i]);
  };
}

/**
 * Starting parameters of magnitude lo–hi with random signs, lo above the total movement of the test so
 * no parameter ends near 0 (where the comparison relative to max|p| degenerates for a vector of one or
 * three values), and hi not much more: a float32 parameter of size |p| is rounded by ~ulp(|p|)/2 at
 * each step, and that rounding must stay far below 1e-4 of the displacement.
 */
function startParams(r: () => number, n: number, lo: number, hi: number): Float32Array {
  return uniform(r, n, lo, hi).map((v) => (r() < 0.5 ? -v : v));
}

// ---------------------------------------------------------------------------------------------------
describe('Adam', () => {
  const CONFIGS = [
    { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
    { lr: 0.01, beta1: 0.8, beta2: 0.95, epsilon: 1e-3 },
    { lr: 0.05, beta1: 0.5, beta2: 0.9, epsilon: 1e-7 },
  ];

  /** Our ε for step t that makes the Keras form equal tfjs' (see the header). */
  const converted = (eps: number, beta2: number, t: number) => eps * Math.sqrt(1 - beta2 ** t);

  for (const reference of [false, true]) {
    it(`adamStep${reference ? ' (naive)' : ''} vs tf.train.adam on tf.variableGrads of a regression, ${STEPS} steps`, async () => {
      for (const [ci, h] of CONFIGS.entries()) {
        for (const [batch, nin, nout] of [
          [8, 1, 1],
          [32, 17, 3],
          [64, 33, 10],
        ]) {
          const prob = regression(100 + ci, batch, nin, nout);
          const opt = tf.train.adam(h.lr, h.beta1, h.beta2, h.epsilon);
          const ours: K.AdamState[] = prob.starts.map((p) => ({ p: Float32Array.from(p), m: new Float32Array(p.length), v: new Float32Array(p.length) }));
          for (let t = 1; t <= STEPS; t++) {
            const g = prob.grads();
            prob.vars.forEach((v, i) => (ours[i] = K.adamStep(ours[i], g[v.name], { ...h, epsilon: converted(h.epsilon, h.beta2, t), t }, reference)));
            tf.tidy(() => opt.applyGradients(prob.vars.map((v) => ({ name: v.name, tensor: tf.tensor(g[v.name], v.shape) }))));
          }
          for (const [i, v] of prob.vars.entries()) {
            const what = `lr ${h.lr} β1 ${h.beta1} β2 ${h.beta2} ε ${h.epsilon}, ${v.shape} variable ${i}, after ${STEPS} steps`;
            compareParams(`adam${reference ? ' (naive)' : ''}`, what, ours[i].p, Float32Array.from(v.dataSync()), prob.starts[i]);
            expectClose('adam first moment m', what, ours[i].m, await slot(opt, v, 'm'), GRAD);
            expectClose('adam second moment v', what, ours[i].v, await slot(opt, v, 'v'), GRAD);
          }
          opt.dispose();
          prob.dispose();
        }
      }
    });
  }

  it('adamStep vs tf.train.adam on random gradients with tiny and zero entries (odd sizes)', () => {
    const r = rng(110);
    const h = CONFIGS[0];
    for (const n of [1, 3, 16, 17, 1001, 4099]) {
      const p0 = startParams(r, n, 0.1, 0.2);
      const v = tf.variable(tf.tensor1d(p0));
      const opt = tf.train.adam(h.lr, h.beta1, h.beta2, h.epsilon);
      let ours: K.AdamState = { p: Float32Array.from(p0), m: new Float32Array(n), v: new Float32Array(n) };
      const next = drifting(r, n);
      for (let t = 1; t <= STEPS; t++) {
        // Mixed scales: ordinary, 1e-6-sized (where ε matters) and exact zeros.
        const g = next().map((x, i) => (i % 5 === 1 ? x * 1e-6 : i % 7 === 3 ? 0 : x));
        ours = K.adamStep(ours, g, { ...h, epsilon: converted(h.epsilon, h.beta2, t), t });
        tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]));
      }
      compareParams('adam, random gradients', `n=${n}`, ours.p, Float32Array.from(v.dataSync()), p0);
      opt.dispose();
      v.dispose();
    }
  });

  it('unconverted ε (Keras placement): with ε = 1e-8 and |g| ≥ 0.05 the difference is below tolerance', () => {
    const r = rng(120);
    const h = { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
    for (const n of [17, 1001]) {
      const p0 = startParams(r, n, 0.1, 0.2);
      const v = tf.variable(tf.tensor1d(p0));
      const opt = tf.train.adam(h.lr, h.beta1, h.beta2, h.epsilon);
      let ours: K.AdamState = { p: Float32Array.from(p0), m: new Float32Array(n), v: new Float32Array(n) };
      const sign = uniform(r, n).map(Math.sign);
      for (let t = 1; t <= STEPS; t++) {
        const g = uniform(r, n, 0.05, 1).map((x, i) => x * sign[i]);
        // At t = 1 our ε acts like tfjs' ε/√(1 − β2) ≈ 3.2e-7 on √v̂ ≥ 0.05: < 1e-5 of an update.
        ours = K.adamStep(ours, g, { ...h, t });
        tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]));
      }
      compareParams('adam, unconverted ε', `n=${n}`, ours.p, Float32Array.from(v.dataSync()), p0);
      opt.dispose();
      v.dispose();
    }
  });

  /** The fused op: C = Xᵀ·dY is the kernel's gradient and Adam applies it to C in place as it is computed. */
  const gemmAdam = K.gemmAdamStep;

  for (const reference of [false, true]) {
    it(`fused weight-gradient GEMM + Adam${reference ? ' (naive)' : ''} vs tf.grads of a dense layer + tf.train.adam`, () => {
      const r = rng(130);
      const h = CONFIGS[0];
      for (const [batch, nin, nout] of [
        [1, 1, 1],
        [5, 3, 7],
        [32, 65, 10],
        [128, 100, 17],
        [1024, 9, 13],
      ]) {
        const w0 = normal(r, nin * nout, Math.sqrt(2 / nin));
        const W = tf.variable(tf.tensor2d(w0, [nin, nout]));
        const opt = tf.train.adam(h.lr, h.beta1, h.beta2, h.epsilon);
        let ours: K.AdamState = { p: Float32Array.from(w0), m: new Float32Array(nin * nout), v: new Float32Array(nin * nout) };
        // One batch of inputs, and upstream gradients that drift one way, so dW keeps its sign.
        const x = uniform(r, batch * nin, 0, 1);
        const nextDy = drifting(r, batch * nout);
        for (let t = 1; t <= STEPS; t++) {
          const dy = nextDy().map((v) => v / batch);
          const alpha = K.adamAlpha(h.lr, h.beta1, h.beta2, t);
          ours = gemmAdam(x, dy, ours, batch, nin, nout, { ...h, epsilon: converted(h.epsilon, h.beta2, t), alpha }, reference);
          tf.tidy(() => {
            const [dW] = tf.grads((Xt: T, Wt: T) => tf.sum(tf.mul(tf.matMul(Xt, Wt), tf.tensor2d(dy, [batch, nout]))))([tf.tensor2d(x, [batch, nin]), W]).slice(1);
            opt.applyGradients([{ name: W.name, tensor: dW }]);
          });
        }
        compareParams(`gemm+adam${reference ? ' (naive)' : ''}`, `[batch ${batch}, in ${nin}, out ${nout}] after ${STEPS} steps`, ours.p, Float32Array.from(W.dataSync()), w0);
        opt.dispose();
        W.dispose();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------------
describe('SGD', () => {
  it(`plain SGD (no momentum) vs tf.train.sgd, ${STEPS} steps`, () => {
    for (const lr of [0.01, 0.1]) {
      const prob = regression(200, 32, 17, 3);
      const opt = tf.train.sgd(lr);
      const ours: Float32Array[] = prob.starts.map((p) => Float32Array.from(p));
      for (let t = 1; t <= STEPS; t++) {
        const g = prob.grads();
        prob.vars.forEach((v, i) => (ours[i] = K.sgdStep(ours[i], g[v.name], null, { lr, momentum: 0, nesterov: false }).p));
        tf.tidy(() => opt.applyGradients(prob.vars.map((v) => ({ name: v.name, tensor: tf.tensor(g[v.name], v.shape) }))));
      }
      prob.vars.forEach((v, i) => compareParams('sgd', `lr ${lr}, variable ${i} ${v.shape}`, ours[i], Float32Array.from(v.dataSync()), prob.starts[i]));
      opt.dispose();
      prob.dispose();
    }
  });

  for (const nesterov of [false, true]) {
    it(`momentum${nesterov ? ' with Nesterov' : ''} vs tf.train.momentum(useNesterov=${nesterov}), ${STEPS} steps`, async () => {
      for (const [lr, momentum] of [
        [0.01, 0.9],
        [0.1, 0.5],
        [0.05, 0.99],
      ]) {
        for (const [batch, nin, nout] of [
          [8, 1, 1],
          [32, 17, 3],
          [64, 33, 10],
        ]) {
          const prob = regression(210, batch, nin, nout);
          const opt = tf.train.momentum(lr, momentum, nesterov);
          const ours: { p: Float32Array; u: Float32Array | null }[] = prob.starts.map((p) => ({ p: Float32Array.from(p), u: new Float32Array(p.length) }));
          for (let t = 1; t <= STEPS; t++) {
            const g = prob.grads();
            prob.vars.forEach((v, i) => (ours[i] = K.sgdStep(ours[i].p, g[v.name], ours[i].u, { lr, momentum, nesterov })));
            tf.tidy(() => opt.applyGradients(prob.vars.map((v) => ({ name: v.name, tensor: tf.tensor(g[v.name], v.shape) }))));
          }
          for (const [i, v] of prob.vars.entries()) {
            const what = `lr ${lr} μ ${momentum}, ${v.shape} variable ${i}`;
            compareParams(`momentum${nesterov ? ' (Nesterov)' : ''}`, what, ours[i].p, Float32Array.from(v.dataSync()), prob.starts[i]);
            // Keras' velocity u is −lr times tfjs' accumulation.
            const acc = await slot(opt, v, 'momentum');
            expectClose('momentum accumulator (u = −lr·a)', what, ours[i].u!, Float64Array.from(acc, (a) => -lr * a), GRAD);
          }
          opt.dispose();
          prob.dispose();
        }
      }
    });
  }

  it('momentum on random gradients, odd sizes', () => {
    const r = rng(220);
    for (const nesterov of [false, true]) {
      for (const n of [1, 3, 16, 17, 1001, 4099]) {
        const p0 = startParams(r, n, 1, 2);
        const v = tf.variable(tf.tensor1d(p0));
        const opt = tf.train.momentum(0.01, 0.9, nesterov);
        let ours: { p: Float32Array; u: Float32Array | null } = { p: Float32Array.from(p0), u: new Float32Array(n) };
        const next = drifting(r, n);
        for (let t = 1; t <= STEPS; t++) {
          const g = next();
          ours = K.sgdStep(ours.p, g, ours.u, { lr: 0.01, momentum: 0.9, nesterov });
          tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]));
        }
        compareParams(`momentum${nesterov ? ' (Nesterov)' : ''}, random gradients`, `n=${n}`, ours.p, Float32Array.from(v.dataSync()), p0);
        opt.dispose();
        v.dispose();
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe('RMSprop', () => {
  it(`ε = 0 (the two ε placements coincide) vs tf.train.rmsprop on tf.variableGrads of a regression, ${STEPS} steps`, async () => {
    for (const [lr, rho] of [
      [0.001, 0.9],
      [0.01, 0.99],
      [0.01, 0.5],
    ]) {
      for (const [batch, nin, nout] of [
        [8, 1, 1],
        [32, 17, 3],
        [64, 33, 10],
      ]) {
        const prob = regression(300, batch, nin, nout);
        const opt = tf.train.rmsprop(lr, rho, 0, 0, false);
        const ours: { p: Float32Array; ms: Float32Array }[] = prob.starts.map((p) => ({ p: Float32Array.from(p), ms: new Float32Array(p.length) }));
        for (let t = 1; t <= STEPS; t++) {
          const g = prob.grads();
          prob.vars.forEach((v, i) => (ours[i] = K.rmspropStep(ours[i].p, g[v.name], ours[i].ms, { lr, rho, epsilon: 0 })));
          tf.tidy(() => opt.applyGradients(prob.vars.map((v) => ({ name: v.name, tensor: tf.tensor(g[v.name], v.shape) }))));
        }
        for (const [i, v] of prob.vars.entries()) {
          const what = `lr ${lr} ρ ${rho}, ${v.shape} variable ${i}`;
          compareParams('rmsprop (ε = 0)', what, ours[i].p, Float32Array.from(v.dataSync()), prob.starts[i]);
          expectClose('rmsprop mean square', what, ours[i].ms, await slot(opt, v, 'rms'), GRAD);
        }
        opt.dispose();
        prob.dispose();
      }
    }
  });

  it('Keras ε = 1e-7 (ours, outside the root) vs tfjs ε = 1e-14 (under the root), |g| ≥ 0.05, odd sizes', () => {
    const r = rng(310);
    for (const n of [1, 3, 16, 17, 1001, 4099]) {
      const p0 = startParams(r, n, 0.5, 1);
      const v = tf.variable(tf.tensor1d(p0));
      const opt = tf.train.rmsprop(0.01, 0.9, 0, 1e-14, false);
      let ours: { p: Float32Array; ms: Float32Array } = { p: Float32Array.from(p0), ms: new Float32Array(n) };
      const sign = uniform(r, n).map(Math.sign);
      for (let t = 1; t <= STEPS; t++) {
        // s ≥ (1 − ρ)·0.05² so √s ≥ 0.016: ε = 1e-7 outside changes an update by ≤ 6.3e-6 of itself,
        // 1e-14 under the root by ≤ 2e-11.
        const g = uniform(r, n, 0.05, 1).map((x, i) => x * sign[i]);
        ours = K.rmspropStep(ours.p, g, ours.ms, { lr: 0.01, rho: 0.9, epsilon: 1e-7 });
        tf.tidy(() => opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]));
      }
      compareParams('rmsprop (Keras ε), random gradients', `n=${n}`, ours.p, Float32Array.from(v.dataSync()), p0);
      opt.dispose();
      v.dispose();
    }
  });
});
