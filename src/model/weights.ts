/** A model's weights as copies: Keras order (layer by layer, kernel then bias), checked on the way in. */
import type { Backend } from '../backend/backend.js';
import type { Layer, Weight } from '../layers.js';
import { Tensor, type TensorLike } from '../tensor.js';

const weightsOf = (layers: readonly Layer[]): Weight[] => layers.flatMap((l) => l.weights);

/** Copies of all weights as tensors. */
export function getWeights(layers: readonly Layer[], b: Backend): Tensor[] {
  return weightsOf(layers).map((w) => {
    const t = Tensor.alloc(w.tensor.shape, 'float32', b);
    (t.storageView() as Float32Array).set(w.tensor.storageView() as Float32Array);
    return t;
  });
}

/** Sets all weights from tensors (or tfjs tensors) in getWeights() order; shapes must match, values be finite. */
export function setWeights(layers: readonly Layer[], weights: (Tensor | TensorLike)[]): void {
  const targets = weightsOf(layers);
  if (!Array.isArray(weights) || weights.length !== targets.length)
    throw new Error(`setWeights: expected ${targets.length} tensors (kernel and bias per Dense layer), got ${Array.isArray(weights) ? weights.length : weights === null ? 'null' : typeof weights}`);
  weights.forEach((w, i) => {
    const ok = w instanceof Tensor || (!!w && typeof (w as TensorLike).dataSync === 'function' && Array.isArray((w as TensorLike).shape));
    if (!ok)
      throw new Error(`setWeights: weight ${i} must be a Tensor (or a tfjs tensor), got ${Array.isArray(w) ? 'an array (wrap it with tensor(...))' : w === null ? 'null' : typeof w}`);
    if (w instanceof Tensor && w.isDisposed) throw new Error(`setWeights: weight ${i} (tensor ${w.id}) was used after dispose()`);
  });
  targets.forEach((w, i) => {
    const s = weights[i].shape;
    if (s.join(',') !== w.tensor.shape.join(',')) throw new Error(`setWeights: weight ${i} (${w.name}) has shape [${w.tensor.shape}], got [${s}]`);
  });
  targets.forEach((w, i) => {
    const d = weights[i].dataSync();
    for (let j = 0; j < d.length; j++) if (!Number.isFinite(d[j])) throw new Error(`setWeights: weight ${i} (${w.name}) contains NaN or Infinity`);
    (w.tensor.storageView() as Float32Array).set(d);
  });
}

/** Copies of all weights as raw arrays (for callbacks). */
export function getWeightsRaw(layers: readonly Layer[]): Float32Array[] {
  return weightsOf(layers).map((w) => (w.tensor.storageView() as Float32Array).slice());
}

/** Sets all weights from raw arrays in getWeightsRaw() order, unchecked (callbacks restoring a copy). */
export function setWeightsRaw(layers: readonly Layer[], values: Float32Array[]): void {
  weightsOf(layers).forEach((w, i) => (w.tensor.storageView() as Float32Array).set(values[i]));
}
