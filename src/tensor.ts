/**
 * Tensors live in wasm memory (the arena). A tensor is a shape, a dtype and a reference to a storage
 * block; `reshape` and `div` on integer data share the block. `div` on uint8/int32 data does not divide
 * anything: it returns a float32 tensor that reads the integers and scales them when used — this is how
 * `xTrain.div(255)` keeps 60,000 MNIST images as 47 MB of bytes instead of 188 MB of floats, and why the
 * first dense layer's batch assembly does the scaling.
 */
import { backend, type Backend } from './backend/backend.js';

export type DataType = 'float32' | 'int32' | 'uint8';
export type TypedArray = Float32Array | Int32Array | Uint8Array;
type StorageType = DataType;

const BYTES: Record<StorageType, number> = { float32: 4, int32: 4, uint8: 1 };

class Storage {
  refs = 1;
  private cache: { buf: ArrayBufferLike; view: TypedArray } | null = null;
  /** The arena's serial number of our block: it differs once the block was given back (see Arena.scope). */
  private readonly serial: number;

  constructor(
    readonly b: Backend,
    readonly ptr: number,
    readonly length: number,
    readonly dtype: StorageType,
  ) {
    this.serial = b.arena.serialOf(ptr);
  }

  /** The block was given back by a failed operation (out of memory half-way), not by us. */
  get reclaimed(): boolean {
    return !this.b.isDisposed && !this.b.arena.isLive(this.ptr, this.serial);
  }

  /** A view over the wasm memory, re-created when memory has grown (growth detaches old views). */
  view(): TypedArray {
    const buf = this.b.memory.buffer;
    if (!this.cache || this.cache.buf !== buf) {
      const C = this.dtype === 'float32' ? Float32Array : this.dtype === 'int32' ? Int32Array : Uint8Array;
      this.cache = { buf, view: new C(buf as ArrayBuffer, this.ptr, this.length) };
    }
    return this.cache.view;
  }

  release(): void {
    if (--this.refs === 0 && !this.b.isDisposed && !this.reclaimed) this.b.arena.release(this.ptr);
  }
}

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  private disposedFlag = false;

  /** @internal */
  constructor(
    private readonly storage: Storage,
    readonly shape: readonly number[],
    readonly dtype: DataType,
    /** For integer storage read as float32: values are stored / divisor (float32-rounded). */
    readonly divisor = 1,
  ) {}

  get size(): number {
    return sizeOf(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposedFlag || this.storage.b.isDisposed || this.storage.reclaimed;
  }

  /** @internal Storage dtype (uint8 for a lazily scaled image tensor whose dtype is float32). */
  get storageDtype(): StorageType {
    return this.storage.dtype;
  }

  /** @internal Byte offset of the data in wasm memory. */
  get ptr(): number {
    this.assertAlive();
    return this.storage.ptr;
  }

  /** @internal A live view of the stored values (no copy, no scaling). */
  storageView(): TypedArray {
    this.assertAlive();
    return this.storage.view();
  }

  /** @internal */
  get backend(): Backend {
    return this.storage.b;
  }

  private assertAlive(): void {
    if (this.disposedFlag) throw new Error(`wasm-layers: tensor ${this.id} (shape [${this.shape}]) was used after dispose()`);
    if (this.storage.b.isDisposed) throw new Error('wasm-layers: tensor belongs to a disposed backend');
    if (this.storage.reclaimed) throw new Error(`wasm-layers: tensor ${this.id} (shape [${this.shape}]) was freed when the operation that made it failed`);
  }

  /** A copy of the values, as `dtype`. */
  dataSync(): TypedArray {
    const v = this.storageView();
    if (this.dtype === this.storage.dtype && this.divisor === 1) return v.slice();
    const out = new Float32Array(v.length);
    const d = this.divisor;
    for (let i = 0; i < v.length; i++) out[i] = v[i] / d;
    return out;
  }

  async data(): Promise<TypedArray> {
    return this.dataSync();
  }

  /** Nested arrays, like tfjs' arraySync. */
  arraySync(): unknown {
    const d = Array.from(this.dataSync());
    if (this.rank === 0) return d[0];
    const build = (dim: number, off: number): unknown[] => {
      const n = this.shape[dim];
      if (dim === this.rank - 1) return d.slice(off, off + n);
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: n }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** Same data, another shape (one dimension may be -1). Shares storage; dispose each separately. */
  reshape(shape: readonly number[]): Tensor {
    this.assertAlive();
    const s = inferShape(shape, this.size);
    this.storage.refs++;
    return new Tensor(this.storage, s, this.dtype, this.divisor);
  }

  /**
   * @internal Another handle on the same storage, which lives until every handle is disposed: what a
   * running fit() holds on its data, so that a dispose() from a callback cannot hand the memory to others.
   */
  share(): Tensor {
    this.assertAlive();
    this.storage.refs++;
    return new Tensor(this.storage, this.shape, this.dtype, this.divisor);
  }

  /** Division by a scalar. Integer tensors are not converted: the result divides them when read. */
  div(x: number): Tensor {
    this.assertAlive();
    if (typeof x !== 'number' || !Number.isFinite(x) || x === 0) throw new Error(`wasm-layers: div() needs a finite non-zero number, got ${x}`);
    if (this.storage.dtype !== 'float32') {
      this.storage.refs++;
      return new Tensor(this.storage, this.shape, 'float32', Math.fround(this.divisor * x));
    }
    const src = this.storageView() as Float32Array;
    const out = Tensor.alloc(this.shape, 'float32', this.storage.b);
    const dst = out.storageView() as Float32Array;
    for (let i = 0; i < src.length; i++) dst[i] = src[i] / x;
    return out;
  }

  mul(x: number): Tensor {
    return this.div(1 / x);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype})`;
  }

  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.storage.release();
  }

  /** @internal An uninitialised tensor in wasm memory. */
  static alloc(shape: readonly number[], dtype: DataType = 'float32', b: Backend = backend()): Tensor {
    const n = sizeOf(shape);
    const ptr = b.arena.alloc(Math.max(1, n * BYTES[dtype]));
    return new Tensor(new Storage(b, ptr, n, dtype), [...shape], dtype);
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function inferShape(shape: readonly number[], size: number): number[] {
  if (!Array.isArray(shape)) throw new Error(`wasm-layers: reshape: the shape must be an array of integers, got ${shape === null ? 'null' : typeof shape}`);
  const s = [...shape];
  const neg = s.filter((d) => d === -1).length;
  for (const d of s) if (!(Number.isInteger(d) && (d >= 0 || d === -1))) throw new Error(`wasm-layers: reshape: bad dimension ${d} in [${shape}]`);
  if (neg > 1) throw new Error(`wasm-layers: reshape: at most one -1 in [${shape}]`);
  if (neg === 1) {
    const known = sizeOf(s.filter((d) => d !== -1));
    if (known === 0 || size % known !== 0) throw new Error(`wasm-layers: reshape: cannot reshape ${size} values into [${shape}]`);
    s[s.indexOf(-1)] = size / known;
  }
  if (sizeOf(s) !== size) throw new Error(`wasm-layers: reshape: shape [${shape}] needs ${sizeOf(s)} values but the tensor has ${size}`);
  return s;
}

type Nested = number | Nested[];

/** Flattens a nested array, checking it is rectangular: every level all arrays of one length, or all numbers. */
function flatten(v: Nested[], out: number[], shape: number[], depth: number, leafDepth: { d: number }): void {
  const ragged = () => new Error(`wasm-layers: tensor(): ragged nested array at depth ${depth}`);
  if (shape.length === depth) shape.push(v.length);
  else if (shape[depth] !== v.length) throw ragged();
  for (const x of v) {
    if (Array.isArray(x)) {
      if (leafDepth.d !== -1 && leafDepth.d <= depth) throw ragged();
      flatten(x, out, shape, depth + 1, leafDepth);
    } else {
      if (leafDepth.d === -1) leafDepth.d = depth;
      if (leafDepth.d !== depth || typeof x !== 'number') throw ragged();
      out.push(x);
    }
  }
}

/**
 * Creates a tensor. `values`: a typed array, a flat or nested number array; `shape` defaults to the
 * nested array's shape (or [length]); `dtype` defaults to the typed array's type, else float32.
 */
export function tensor(values: TypedArray | Nested[] | number, shape?: readonly number[], dtype?: DataType): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof values === 'number') {
    flat = [values];
    inferred = [];
  } else if (ArrayBuffer.isView(values)) {
    flat = values;
    inferred = [values.length];
  } else if (Array.isArray(values)) {
    const out: number[] = [];
    inferred = [];
    flatten(values, out, inferred, 0, { d: -1 });
    flat = out;
  } else throw new Error(`wasm-layers: tensor(): values must be a typed array or a (nested) number array, got ${typeof values}`);
  const dt: DataType =
    dtype ?? (values instanceof Int32Array ? 'int32' : values instanceof Uint8Array || values instanceof Uint8ClampedArray ? 'uint8' : 'float32');
  if (!(dt in BYTES)) throw new Error(`wasm-layers: unknown dtype '${dt}' (valid: float32, int32, uint8)`);
  const s = shape ? [...shape] : inferred;
  for (const d of s) if (!Number.isInteger(d) || d < 0) throw new Error(`wasm-layers: tensor(): bad dimension ${d} in shape [${s}]`);
  if (sizeOf(s) !== flat.length) throw new Error(`wasm-layers: tensor(): shape [${s}] needs ${sizeOf(s)} values but ${flat.length} were given`);
  const t = Tensor.alloc(s, dt);
  const v = t.storageView();
  // A typed array of the target type fits by construction; only other sources need the range check.
  const native = (dt === 'uint8' && flat instanceof Uint8Array) || (dt === 'int32' && flat instanceof Int32Array);
  if (dt !== 'float32' && !native) {
    for (let i = 0; i < flat.length; i++) {
      const x = flat[i];
      if (!Number.isInteger(x) || (dt === 'uint8' ? x < 0 || x > 255 : x < -(2 ** 31) || x >= 2 ** 31)) {
        t.dispose();
        throw new Error(`wasm-layers: tensor(): value ${x} at index ${i} does not fit ${dt}`);
      }
    }
  }
  v.set(flat as ArrayLike<number>);
  return t;
}

/** Anything with tfjs' tensor surface: our tensors, or tfjs tensors (read through dataSync). */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  dataSync(): ArrayLike<number>;
}

/** Our tensor as is, or a copy of a foreign (tfjs) tensor. `owned` says whether the caller must dispose it. */
export function asTensor(x: Tensor | TensorLike, what: string): { t: Tensor; owned: boolean } {
  if (x instanceof Tensor) return { t: x, owned: false };
  if (x && typeof (x as TensorLike).dataSync === 'function' && Array.isArray((x as TensorLike).shape)) {
    const d = (x as TensorLike).dataSync();
    const dt = (x as TensorLike).dtype === 'int32' ? 'int32' : 'float32';
    return { t: tensor(dt === 'int32' ? Int32Array.from(d) : Float32Array.from(d), (x as TensorLike).shape, dt), owned: true };
  }
  throw new Error(`wasm-layers: ${what} must be a Tensor (or a tfjs tensor), got ${x === null ? 'null' : typeof x}`);
}
