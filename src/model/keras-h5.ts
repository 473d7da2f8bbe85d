/**
 * The HDF5 side of `.keras` files (their `model.weights.h5`), through h5wasm: the HDF5 C library compiled to
 * WebAssembly, so the files are read and written by the same library Keras' h5py uses rather than by a
 * hand-written parser. h5wasm is 4 MB of JavaScript, so it is imported on first use: users who never touch
 * a `.keras` file never load it.
 *
 * h5wasm opens files by name in its Emscripten file system; the in-memory one works in Node and browsers
 * alike, so bytes go in with `FS.writeFile` and come out with `FS.readFile`, under a name used once and
 * removed afterwards.
 */

type H5wasm = typeof import('h5wasm').default;
type H5Module = Awaited<H5wasm['ready']>;

let loading: Promise<{ h5: H5wasm; FS: NonNullable<H5Module['FS']> }> | undefined;

async function h5wasm() {
  loading ??= (async () => {
    let h5: H5wasm;
    try {
      h5 = (await import('h5wasm')).default;
    } catch (e) {
      loading = undefined;
      throw new Error(`.keras files need the h5wasm package, which could not be loaded (${e instanceof Error ? e.message : String(e)}); npm install h5wasm`);
    }
    const mod = await h5.ready;
    return { h5, FS: mod.FS! };
  })();
  return loading;
}

let serial = 0;
const scratchName = () => `/wasm-layers-${Date.now().toString(36)}-${(serial++).toString(36)}.h5`;

/** What a dataset is, known without reading it. */
export interface H5DatasetInfo {
  name: string;
  shape: number[];
  /** h5wasm's dtype string: '<f' float32, '<d' float64, '<q' int64, '<i' int32, … */
  dtype: string;
  /** Bytes the values take in memory (shape × element size). */
  byteLength: number;
}

export interface H5Reader {
  /** The names in a group, or null when there is no group at that path. */
  groupKeys(path: string): string[] | null;
  /** The datasets directly in a group (sorted by their numeric names, as Keras numbers them), or null. */
  datasets(path: string): H5DatasetInfo[] | null;
  /** A string attribute of a group or dataset, if it has one. */
  stringAttr(path: string, name: string): string | undefined;
  /** The values of a float32 dataset. */
  readFloat32(path: string): Float32Array;
  /** The value of a scalar integer or float dataset. */
  readScalar(path: string): number;
  close(): void;
}

const ELEMENT_BYTES: Record<string, number> = { '<f': 4, '<d': 8, '<q': 8, '<i': 4, '<h': 2, '<e': 2, '<b': 1, '<B': 1 };

/**
 * Opens HDF5 bytes for reading. Values are read only on request, after the caller has checked their shape;
 * a dataset whose size exceeds the file's is refused (Keras stores its weights uncompressed).
 */
export async function openH5(bytes: Uint8Array, what: string): Promise<H5Reader> {
  const { h5, FS } = await h5wasm();
  if (bytes.length < 8 || !(bytes[0] === 0x89 && bytes[1] === 0x48 && bytes[2] === 0x44 && bytes[3] === 0x46))
    throw new Error(`${what} is not an HDF5 file (its first bytes are ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  const name = scratchName();
  FS.writeFile(name, bytes);
  let file: InstanceType<H5wasm['File']>;
  try {
    file = new h5.File(name, 'r');
  } catch (e) {
    FS.unlink(name);
    throw new Error(`${what}: HDF5 could not open it (${e instanceof Error ? e.message : String(e)})`);
  }
  const closed = () => new Error(`${what}: already closed`);
  let open = true;
  const get = (path: string) => file.get(path);
  // h5wasm's own errors ("error - name not defined!" for a damaged link) do not say where: name the file and path.
  const guard = <T>(path: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof Error && e.message.startsWith(`${what}: `)) throw e;
      throw new Error(`${what}: HDF5 could not read ${path || '/'} (${e instanceof Error ? e.message : String(e)}; a damaged file?)`);
    }
  };
  const group = (path: string) => {
    if (!open) throw closed();
    const g = path === '' || path === '/' ? file : get(path);
    return g instanceof h5.Group ? g : null;
  };
  const dataset = (path: string) => {
    if (!open) throw closed();
    const d = get(path);
    if (!(d instanceof h5.Dataset)) throw new Error(`${what}: ${path} is not a dataset`);
    return d;
  };
  const info = (d: InstanceType<H5wasm['Dataset']>, n: string): H5DatasetInfo => {
    const shape = d.shape ?? [];
    const dtype = typeof d.dtype === 'string' ? d.dtype : JSON.stringify(d.dtype);
    const count = shape.reduce((a, b) => a * b, 1);
    const byteLength = count * (ELEMENT_BYTES[dtype] ?? d.metadata.size);
    return { name: n, shape, dtype, byteLength };
  };
  return {
    groupKeys(path) {
      return guard(path, () => group(path)?.keys() ?? null);
    },
    datasets(path) {
      return guard(path, () => {
        const g = group(path);
        if (!g) return null;
        const out: H5DatasetInfo[] = [];
        for (const k of g.keys()) {
          const d = get(`${path}/${k}`);
          if (d instanceof h5.Dataset) out.push(info(d, k));
        }
        return out.sort((a, b) => Number(a.name) - Number(b.name) || (a.name < b.name ? -1 : 1));
      });
    },
    stringAttr(path, attr) {
      return guard(path, () => {
        const g = path === '' ? file : get(path);
        if (!g || !('attrs' in g)) return undefined;
        const v = (g.attrs as Record<string, { value: unknown }>)[attr]?.value;
        return typeof v === 'string' ? v : undefined;
      });
    },
    readFloat32(path) {
      return guard(path, () => {
        const d = dataset(path);
        const i = info(d, path);
        if (i.dtype !== '<f') throw new Error(`${what}: ${path} holds ${i.dtype} values; weights must be float32 ('<f')`);
        if (i.byteLength > bytes.length) throw new Error(`${what}: ${path} claims ${i.byteLength} bytes of values but the file has ${bytes.length}`);
        const v = d.value;
        if (!(v instanceof Float32Array) || v.length * 4 !== i.byteLength) throw new Error(`${what}: ${path} did not read as ${i.byteLength / 4} float32 values`);
        return v;
      });
    },
    readScalar(path) {
      return guard(path, () => {
        const d = dataset(path);
        const i = info(d, path);
        if (i.shape.length !== 0) throw new Error(`${what}: ${path} should be a scalar, its shape is [${i.shape}]`);
        const v = d.value;
        if (typeof v === 'bigint') return Number(v);
        if (typeof v === 'number') return v;
        if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number | bigint>).length === 1) return Number((v as unknown as ArrayLike<number | bigint>)[0]);
        throw new Error(`${what}: ${path} is not a number`);
      });
    },
    close() {
      if (!open) return;
      open = false;
      try {
        file.close();
      } finally {
        FS.unlink(name);
      }
    },
  };
}

/** A group to write: its path (created level by level), string attributes, and datasets. */
export interface H5GroupSpec {
  path: string[];
  attrs?: Record<string, string>;
  datasets?: { name: string; shape: number[]; data: Float32Array | BigInt64Array }[];
}

/** Writes groups and datasets into a new HDF5 file and returns its bytes. */
export async function writeH5(groups: readonly H5GroupSpec[]): Promise<Uint8Array> {
  const { h5, FS } = await h5wasm();
  const name = scratchName();
  const file = new h5.File(name, 'w');
  let closed = false;
  try {
    for (const spec of groups) {
      let g: InstanceType<H5wasm['Group']> = file;
      for (const part of spec.path) {
        const next = g.get(part);
        g = next instanceof h5.Group ? next : g.create_group(part);
      }
      for (const [k, v] of Object.entries(spec.attrs ?? {})) g.create_attribute(k, v);
      for (const d of spec.datasets ?? []) g.create_dataset({ name: d.name, data: d.data, shape: d.shape, dtype: d.data instanceof BigInt64Array ? '<q' : '<f' });
    }
    file.close();
    closed = true;
    return FS.readFile(name);
  } finally {
    if (!closed) file.close();
    FS.unlink(name);
  }
}
