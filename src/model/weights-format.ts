/**
 * Weights in tfjs' binary layout: the manifest's specs (name, shape, dtype, quantization) and the bytes of
 * all weight files concatenated in manifest order, little-endian. Written from a model's layers, read back
 * by name into a model.
 */
import { isObject } from '../layer-config.js';
import type { Layer } from '../layers.js';
import { bytesOf, concatBytes, errorMessage } from '../platform.js';
import { sizeOf, type TensorLike } from '../tensor.js';
import type { WeightSpec } from './artifacts.js';

/** The specs of a model's weights (Keras order: layer by layer, kernel then bias). */
export function weightSpecsOf(layers: readonly Layer[]): WeightSpec[] {
  return layers.flatMap((l) => l.weights).map((w) => ({ name: w.name.replace(/:0$/, ''), shape: [...w.tensor.shape], dtype: 'float32' }));
}

/** The weights' bytes in spec order, straight from wasm memory (which is little-endian by definition). */
export function weightBytes(layers: readonly Layer[]): ArrayBuffer {
  const views = layers.flatMap((l) => l.weights).map((w) => bytesOf(w.tensor.storageView()));
  // A copy either way: a lone view would still be wasm memory.
  return (views.length === 1 ? views[0].slice() : concatBytes(views)).buffer as ArrayBuffer;
}

const BYTES_PER: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

export interface Located {
  spec: WeightSpec;
  offset: number;
  byteLength: number;
}

export function checkSpecs(specs: unknown, where: string): WeightSpec[] {
  if (!Array.isArray(specs)) throw new Error(`loadModel: ${where}: the weight specs must be an array`);
  specs.forEach((s, i) => {
    const ok =
      isObject(s) &&
      typeof s.name === 'string' &&
      Array.isArray(s.shape) &&
      s.shape.every((d) => Number.isInteger(d) && (d as number) >= 0) &&
      typeof s.dtype === 'string' &&
      (s.dtype === 'string' || s.dtype in BYTES_PER);
    if (!ok) throw new Error(`loadModel: ${where}: weight spec ${i} must be { name, shape: int[], dtype: 'float32' | 'int32' | … }, got ${JSON.stringify(s)?.slice(0, 120)}`);
    const q = (s as Record<string, unknown>).quantization;
    if (q !== undefined && (!isObject(q) || !['uint8', 'uint16', 'float16'].includes(q.dtype as string)))
      throw new Error(`loadModel: ${where}: weight '${s.name}' has an unknown quantization ${JSON.stringify(q)} (supported: uint8, uint16, float16)`);
    if (isObject(q) && q.dtype !== 'float16' && !(Number.isFinite(q.scale) && Number.isFinite(q.min)))
      throw new Error(`loadModel: ${where}: weight '${s.name}' is quantized to ${q.dtype as string} without a finite scale and min`);
  });
  return specs as WeightSpec[];
}

/** The bytes the specs need in tfjs' layout, or null when a string weight makes it depend on the data. */
export function neededBytes(specs: readonly WeightSpec[]): number | null {
  let n = 0;
  for (const spec of specs) {
    if (spec.dtype === 'string' && !spec.quantization) return null;
    n += sizeOf(spec.shape) * BYTES_PER[spec.quantization ? spec.quantization.dtype : spec.dtype];
  }
  return n;
}

/** The error for weight data of `have` bytes where the specs need `need` (null: more than there is). */
export function byteLengthError(specs: readonly WeightSpec[], have: number, need: number | null, where: string): Error {
  const floats = specs.filter((s) => s.dtype === 'float32' && !s.quantization).length;
  return new Error(
    `loadModel: ${where}: the weight data has ${have} bytes but the manifest's ${specs.length} weights need ${need ?? 'more than ' + have}` +
      (floats === specs.length ? ` (${specs.reduce((k, s) => k + sizeOf(s.shape), 0)} float32 values)` : '') +
      ' (truncated or mismatched weights file?)',
  );
}

/** Byte ranges of all specs in the concatenated data (tfjs' layout); checks the total against the data. */
export function locate(specs: WeightSpec[], data: Uint8Array, where: string): Located[] {
  const out: Located[] = [];
  let off = 0;
  let complete = true;
  for (const spec of specs) {
    const n = sizeOf(spec.shape);
    let len: number;
    if (spec.quantization) len = n * BYTES_PER[spec.quantization.dtype];
    else if (spec.dtype === 'string') {
      // Each value: a uint32 length, then its bytes.
      len = 0;
      for (let i = 0; i < n; i++) {
        if (off + len + 4 > data.length) {
          complete = false;
          break;
        }
        len += 4 + new DataView(data.buffer, data.byteOffset + off + len, 4).getUint32(0, true);
      }
      if (!complete) break;
    } else len = n * BYTES_PER[spec.dtype];
    out.push({ spec, offset: off, byteLength: len });
    off += len;
  }
  if (!complete || off !== data.length) throw byteLengthError(specs, data.length, complete ? off : null, where);
  return out;
}

function float16ToFloat32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function decodeFloat32(l: Located, data: Uint8Array): Float32Array {
  const { spec, offset, byteLength } = l;
  const bytes = data.slice(offset, offset + byteLength); // a copy: aligned, and owned
  const q = spec.quantization;
  if (!q) return new Float32Array(bytes.buffer);
  const n = sizeOf(spec.shape);
  const out = new Float32Array(n);
  if (q.dtype === 'float16') {
    const h = new Uint16Array(bytes.buffer);
    for (let i = 0; i < n; i++) out[i] = float16ToFloat32(h[i]);
    return out;
  }
  const v = q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer);
  const scale = q.scale!; // checkSpecs: finite
  const min = q.min!;
  for (let i = 0; i < n; i++) out[i] = v[i] * scale + min;
  return out;
}

const bareName = (n: string) => n.replace(/:0$/, '');

/**
 * The located data of each weight the model will have (`declaredWeights`, in model order), matched by
 * name; errors say what does not fit. Runs before the model is built, so a mismatch costs no memory.
 */
export function matchWeights(targets: readonly { name: string; shape: readonly number[] }[], located: Located[], where: string): Located[] {
  const mine = located.filter((l) => l.spec.group !== 'optimizer');
  const expected = targets.map((w) => `${w.name} [${w.shape}]`).join(', ');
  if (mine.length !== targets.length)
    throw new Error(`loadModel: ${where}: the weights manifest lists ${mine.length} model weight${mine.length === 1 ? '' : 's'} but the model has ${targets.length}${targets.length ? ` (${expected})` : ''}`);
  const byName = new Map<string, Located>();
  for (const l of mine) {
    const k = bareName(l.spec.name);
    if (byName.has(k)) throw new Error(`loadModel: ${where}: the weights manifest lists '${k}' twice`);
    byName.set(k, l);
  }
  return targets.map((w) => {
    const k = w.name;
    const l = byName.get(k);
    if (!l) throw new Error(`loadModel: ${where}: weight '${k}' is missing from the weights manifest (it lists ${[...byName.keys()].map((n) => `'${n}'`).join(', ')})`);
    if (l.spec.shape.join(',') !== w.shape.join(','))
      throw new Error(`loadModel: ${where}: weight '${k}' has shape [${l.spec.shape}] in the manifest but the model needs [${w.shape}]`);
    if (l.spec.dtype !== 'float32') throw new Error(`loadModel: ${where}: weight '${k}' has dtype ${l.spec.dtype}; model weights must be float32`);
    return l;
  });
}

/** Sets the built model's weights from the data `matchWeights` matched to them, in model order. */
export function applyWeights(model: { readonly layers: readonly Layer[]; setWeights(w: TensorLike[]): void }, matched: Located[], data: Uint8Array, where: string): void {
  const targets = model.layers.flatMap((l) => l.weights);
  const values = targets.map((w, i) => {
    const d = decodeFloat32(matched[i], data);
    return { shape: w.tensor.shape, dtype: 'float32', dataSync: () => d } as TensorLike;
  });
  try {
    model.setWeights(values);
  } catch (e) {
    throw new Error(`loadModel: ${where}: ${errorMessage(e)}`);
  }
}
