/** Tensor operations on the kernels. */
import { Act, Layout, ops, runOp } from './backend/program.js';
import { Tensor, asTensor, type TensorLike } from './tensor.js';

export interface MatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/** Float32 data of a 2-D tensor: the tensor itself, or a converted copy the caller must dispose. */
function asF32Matrix(x: Tensor | TensorLike, name: string): { t: Tensor; owned: boolean } {
  const { t, owned } = asTensor(x, `matMul: ${name}`);
  if (t.rank !== 2) {
    if (owned) t.dispose();
    throw new Error(`matMul: ${name} must be 2-D, got shape [${t.shape}]`);
  }
  if (t.storageDtype === 'float32' && t.divisor === 1) return { t, owned };
  const f = Tensor.alloc(t.shape, 'float32', t.backend);
  (f.storageView() as Float32Array).set(t.dataSync());
  if (owned) t.dispose();
  return { t: f, owned: true };
}

/** Transposed copy of a 2-D float32 tensor (only for transposeA && transposeB, which has no kernel). */
function transposed(t: Tensor): Tensor {
  const [r, c] = t.shape;
  const out = Tensor.alloc([c, r], 'float32', t.backend);
  const s = t.storageView() as Float32Array;
  const d = out.storageView() as Float32Array;
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) d[j * r + i] = s[i * c + j];
  return out;
}

/** C = op(A)·op(B) for 2-D float32 tensors, on the SIMD GEMM kernels and the thread pool. */
export function matMul(a: Tensor | TensorLike, b: Tensor | TensorLike, opts: MatMulOptions = {}): Tensor {
  const A = asF32Matrix(a, 'a');
  let B: { t: Tensor; owned: boolean };
  try {
    B = asF32Matrix(b, 'b');
  } catch (e) {
    if (A.owned) A.t.dispose();
    throw e;
  }
  const tmp: Tensor[] = [];
  if (A.owned) tmp.push(A.t);
  if (B.owned) tmp.push(B.t);
  try {
    let ta = !!opts.transposeA;
    let at = A.t;
    if (ta && opts.transposeB) {
      at = transposed(A.t);
      tmp.push(at);
      ta = false;
    }
    const tb = !!opts.transposeB;
    const [m, k] = ta ? [at.shape[1], at.shape[0]] : [at.shape[0], at.shape[1]];
    const [kb, n] = tb ? [B.t.shape[1], B.t.shape[0]] : [B.t.shape[0], B.t.shape[1]];
    if (k !== kb)
      throw new Error(
        `matMul: inner dimensions differ: a is [${A.t.shape}]${opts.transposeA ? 'ᵀ' : ''} and b is [${B.t.shape}]${tb ? 'ᵀ' : ''} (${k} ≠ ${kb})`,
      );
    const layout = ta ? Layout.TN : tb ? Layout.NT : Layout.NN;
    const c = Tensor.alloc([m, n], 'float32', at.backend);
    try {
      runOp(ops.gemm({ layout, m, n, k, a: at.ptr, lda: at.shape[1], b: B.t.ptr, ldb: B.t.shape[1], c: c.ptr, ldc: n, act: Act.linear }), at.backend);
    } catch (e) {
      c.dispose();
      throw e;
    }
    return c;
  } finally {
    for (const t of tmp) t.dispose();
  }
}
