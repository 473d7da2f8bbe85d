/**
 * Keras 3's native `.keras` format, in and out (`model.save('m.keras')`, `loadModel('m.keras')`).
 *
 * A `.keras` file is a zip archive (Keras writes its members stored, uncompressed) of
 *  - `metadata.json`: `{ keras_version, date_saved }`;
 *  - `config.json`: the model as `serialize_keras_object` writes it: `{ module, class_name, config,
 *    registered_name, build_config, compile_config }`, layers inside `config.layers` the same way;
 *  - `model.weights.h5`: HDF5, one group per saveable object, its variables numbered in a `vars` subgroup:
 *    `layers/dense/vars/0` (kernel), `layers/dense/vars/1` (bias), `optimizer/vars/0` (iterations, int64),
 *    `optimizer/vars/1` (learning rate), then the optimizer's slots, per trainable variable in model order
 *    (Adam: momentum, velocity). Layer groups are named after the layer's class in snake_case, numbered
 *    when repeated (`dense`, `dense_1`): not after the layer's name, which goes into the group's `name`
 *    attribute. (keras/src/saving/saving_lib.py: `_save_state`, `_save_container_state`, `H5IOStore`.)
 *
 * The layer configs are translated to and from the Keras 2 / tfjs form that `io.ts` reads and writes, so
 * both formats accept and refuse the same layers and options.
 */
import { unzipSync, zipSync, strFromU8, strToU8 } from 'fflate';
import { Dense, type Layer } from '../layers.js';
import { Adam, RMSprop, SGD, type Optimizer } from '../optimizers.js';
import { writeFileAtomic } from '../atomic-write.js';
import { compileArgsFrom, layerToJSON, parseTopology, type LoadOptions } from './io.js';
import { openH5, writeH5, type H5GroupSpec, type H5Reader } from './keras-h5.js';
import { Sequential } from './sequential.js';

/** The Keras version written into metadata.json: the one whose format this follows and is tested against. */
export const KERAS_VERSION = '3.15.1';

const CONFIG = 'config.json';
const METADATA = 'metadata.json';
const WEIGHTS = 'model.weights.h5';

/** Largest JSON member read (config.json of a large model is some hundred kB). */
const MAX_JSON_BYTES = 64 * 2 ** 20;
/** Largest weights member read: more than wasm32 memory could hold next to it. */
const MAX_WEIGHTS_BYTES = 2 ** 31;
/** A deflated member may expand at most this much (Keras' own zip-bomb guard uses the same ratio). */
const MAX_EXPANSION = 100;

export type KerasSource = string | ArrayBuffer | ArrayBufferView | Blob;

export interface KerasSaveResult {
  /** The `.keras` file's bytes. */
  bytes: Uint8Array;
  /** The file written, when the destination was a path. */
  file?: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

// ---------------------------------------------------------------------------------------------------
// zip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * The CRC-32 of each member from the zip's central directory. fflate extracts without checking them, and
 * HDF5 keeps no checksum of raw data, so without this a flipped bit in the weights would load silently.
 */
function centralCrcs(zip: Uint8Array): Map<string, number> {
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--)
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  const out = new Map<string, number>();
  if (eocd < 0) return out;
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  for (let i = 0; i < count && p + 46 <= zip.length && dv.getUint32(p, true) === 0x02014b50; i++) {
    const nameLen = dv.getUint16(p + 28, true);
    const name = strFromU8(zip.subarray(p + 46, p + 46 + nameLen));
    out.set(name, dv.getUint32(p + 16, true));
    p += 46 + nameLen + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  return out;
}

interface Archive {
  config: unknown;
  metadata: unknown;
  weights: Uint8Array;
}

function readArchive(bytes: Uint8Array, where: string): Archive {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b || bytes[2] !== 0x03 || bytes[3] !== 0x04) {
    const head = strFromU8(bytes.subarray(0, 64), true).trimStart().toLowerCase();
    if (head.startsWith('<!doctype') || head.startsWith('<html'))
      throw new Error(`${where} is an HTML page, not a .keras file (a server's fallback page for a missing file?)`);
    if (bytes.length >= 4 && bytes[0] === 0x89 && bytes[1] === 0x48 && bytes[2] === 0x44 && bytes[3] === 0x46)
      throw new Error(`${where} is a bare HDF5 file (Keras' legacy .h5 or a .weights.h5), not a .keras zip archive; only .keras files are read`);
    throw new Error(`${where} is not a .keras file (a .keras file is a zip archive; this one has ${bytes.length} bytes starting ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  }
  const limits: Record<string, number> = { [CONFIG]: MAX_JSON_BYTES, [METADATA]: MAX_JSON_BYTES, [WEIGHTS]: MAX_WEIGHTS_BYTES };
  const names: string[] = [];
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter(f) {
        names.push(f.name);
        const limit = limits[f.name];
        if (limit === undefined) return false;
        if (f.originalSize > limit) throw new Error(`member ${f.name} would expand to ${f.originalSize} bytes (at most ${limit} are read)`);
        if (f.compression !== 0 && f.originalSize > MAX_EXPANSION * f.size + 2 ** 20)
          throw new Error(`member ${f.name} claims to expand ${f.size} → ${f.originalSize} bytes, which looks like a zip bomb`);
        return true;
      },
    });
  } catch (e) {
    throw new Error(`${where}: not a readable zip archive (${message(e)})`);
  }
  if (!files[CONFIG]) {
    const hint = names.some((n) => n.endsWith('.pb')) ? ' (a TensorFlow SavedModel?)' : '';
    throw new Error(`${where}: the archive has no ${CONFIG}${hint}; it holds ${names.length ? names.join(', ') : 'nothing'}`);
  }
  if (!files[WEIGHTS]) {
    if (names.includes('model.weights.npz')) throw new Error(`${where}: the weights are in model.weights.npz (saved with weights_format='npz'); only model.weights.h5 is read`);
    throw new Error(`${where}: the archive has no ${WEIGHTS}; it holds ${names.join(', ')}`);
  }
  const crcs = centralCrcs(bytes);
  for (const [name, data] of Object.entries(files)) {
    const want = crcs.get(name);
    if (want === undefined) throw new Error(`${where}: the zip directory has no entry for ${name} (damaged archive)`);
    if (crc32(data) !== want) throw new Error(`${where}: ${name} is damaged (its CRC-32 does not match the archive's)`);
  }
  const json = (name: string) => {
    const data = files[name];
    if (!data) return undefined;
    try {
      return JSON.parse(strFromU8(data));
    } catch (e) {
      throw new Error(`${where}: ${name} is not valid JSON (${message(e)})`);
    }
  };
  return { config: json(CONFIG), metadata: json(METADATA), weights: files[WEIGHTS] };
}

function writeArchive(config: unknown, metadata: unknown, weights: Uint8Array): Uint8Array {
  // Stored, as Keras writes them: the weights do not compress, and reading needs no inflate pass.
  const mtime = new Date();
  return zipSync(
    {
      [METADATA]: [strToU8(JSON.stringify(metadata)), { level: 0, mtime }],
      [CONFIG]: [strToU8(JSON.stringify(config)), { level: 0, mtime }],
      [WEIGHTS]: [weights, { level: 0, mtime }],
    },
    { level: 0 },
  );
}

// ---------------------------------------------------------------------------------------------------
// config: Keras 3 ⇄ the Keras 2 / tfjs form io.ts speaks

const DTYPE_POLICY = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
const SEEDED_INITIALIZERS = new Set(['GlorotUniform', 'GlorotNormal', 'HeUniform', 'HeNormal']);

function initializer3(v: unknown): unknown {
  if (!isObject(v) || typeof v.class_name !== 'string') return v;
  return { module: 'keras.initializers', class_name: v.class_name, config: SEEDED_INITIALIZERS.has(v.class_name) ? { seed: null } : {}, registered_name: null };
}

/** Keras' `naming.to_snake_case`, which names the weight groups of layers and optimizers. */
export function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Keras' `_get_unique_name` over a container: `dense`, `dense_1`, … by class. */
function groupNames(classNames: readonly string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((c) => {
    const base = snakeCase(c);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return n === undefined ? base : `${base}_${n + 1}`;
  });
}

/** The default name Keras gives each optimizer (also the `name` attribute of its weight group). */
function kerasOptimizerName(o: Optimizer): string {
  return o instanceof SGD ? 'SGD' : o instanceof RMSprop ? 'rmsprop' : snakeCase(o.className);
}

function optimizerConfig3(o: Optimizer): Record<string, unknown> {
  const common = {
    name: kerasOptimizerName(o),
    learning_rate: Math.fround(o.learningRate),
    weight_decay: null,
    clipnorm: null,
    global_clipnorm: null,
    clipvalue: null,
    use_ema: false,
    ema_momentum: 0.99,
    ema_overwrite_frequency: null,
    loss_scale_factor: null,
    gradient_accumulation_steps: null,
  };
  let config: Record<string, unknown>;
  if (o instanceof Adam) config = { ...common, beta_1: o.beta1, beta_2: o.beta2, epsilon: o.epsilon, amsgrad: false };
  else if (o instanceof SGD) config = { ...common, momentum: o.momentum, nesterov: o.nesterov };
  else if (o instanceof RMSprop) config = { ...common, rho: o.rho, momentum: 0, epsilon: o.epsilon, centered: false };
  else throw new Error(`saving .keras: the optimizer ${o.className} has no Keras equivalent`);
  return { module: 'keras.optimizers', class_name: o instanceof RMSprop ? 'RMSprop' : o.className, config, registered_name: null };
}

function modelConfig(model: Sequential): Record<string, unknown> {
  model.build();
  const input = model.inputShape;
  let shape = input;
  const layers: unknown[] = [
    { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, ...input], dtype: 'float32', sparse: false, ragged: false, name: 'input_layer', optional: false }, registered_name: null },
  ];
  model.layers.forEach((l, i) => {
    const { class_name, config } = layerToJSON(l, i === 0, input);
    const c: Record<string, unknown> = { ...config, dtype: DTYPE_POLICY };
    delete c.batch_input_shape;
    delete c.activity_regularizer; // Keras 3 layers keep it out of their config when unset
    for (const k of ['kernel_initializer', 'bias_initializer']) if (k in c) c[k] = initializer3(c[k]);
    if (class_name === 'Dense') c.quantization_config = null;
    if (class_name === 'Flatten') c.data_format = 'channels_last';
    const entry: Record<string, unknown> = { module: 'keras.layers', class_name, config: c, registered_name: null };
    if (l.weights.length > 0 || class_name === 'Flatten') entry.build_config = { input_shape: [null, ...shape] };
    layers.push(entry);
    shape = l.outputShape;
  });
  const out: Record<string, unknown> = {
    module: 'keras',
    class_name: 'Sequential',
    config: { name: model.name, trainable: true, dtype: DTYPE_POLICY, layers, build_input_shape: [null, ...input] },
    registered_name: null,
    build_config: { input_shape: [null, ...input] },
  };
  const compiled = model['compiled'];
  if (compiled) {
    out.compile_config = {
      optimizer: optimizerConfig3(compiled.optimizer),
      loss: snakeCase(compiled.loss),
      loss_weights: null,
      metrics: compiled.metrics.length ? compiled.metrics.map(() => 'accuracy') : null,
      weighted_metrics: null,
      run_eagerly: false,
      steps_per_execution: 1,
      jit_compile: false,
    };
  }
  return out;
}

/** Keras 3's `{ module, class_name, config, registered_name, build_config }` → `{ class_name, config }`. */
function layer2(entry: unknown, i: number, where: string): unknown {
  if (!isObject(entry)) return entry;
  const cls = entry.class_name;
  const reg = entry.registered_name;
  if (typeof reg === 'string' && reg !== cls)
    throw new Error(`${where}: layer ${i} is the custom class '${reg}' (registered with keras.saving.register_keras_serializable); wasm-layers loads only its own layers (Dense, Dropout, Flatten)`);
  const mod = entry.module;
  if (typeof mod === 'string' && mod !== 'keras.layers' && !mod.startsWith('keras.'))
    throw new Error(`${where}: layer ${i} ('${String(cls)}') comes from the module '${mod}', not from Keras; wasm-layers loads only Dense, Dropout and Flatten`);
  return { class_name: cls, config: entry.config };
}

function topology2(config: unknown, where: string): unknown {
  if (!isObject(config)) throw new Error(`${where}: ${CONFIG} must hold an object, got ${Array.isArray(config) ? 'an array' : typeof config}`);
  const cls = config.class_name;
  if (cls !== 'Sequential') {
    const kind = cls === 'Functional' || cls === 'Model' ? `a functional model (class ${String(cls)})` : `a model of class ${JSON.stringify(cls)}`;
    throw new Error(`${where}: this is ${kind}; wasm-layers loads Sequential models only`);
  }
  const c = config.config;
  if (!isObject(c) || !Array.isArray(c.layers)) throw new Error(`${where}: ${CONFIG} has no config.layers list`);
  return { class_name: 'Sequential', config: { name: c.name, layers: c.layers.map((l, i) => layer2(l, i, where)) } };
}

/** Keras 3's compile_config → the trainingConfig io.ts compiles from. */
function trainingConfig2(cc: Record<string, unknown>): Record<string, unknown> {
  // Loss options that change what is trained; the defaults Keras writes are fine.
  const lc = isObject(cc.loss) && isObject(cc.loss.config) ? cc.loss.config : {};
  if (lc.ignore_class !== undefined && lc.ignore_class !== null) throw new Error(`the loss option ignore_class=${JSON.stringify(lc.ignore_class)} is not supported`);
  if (lc.label_smoothing !== undefined && lc.label_smoothing !== 0) throw new Error(`the loss option label_smoothing=${JSON.stringify(lc.label_smoothing)} is not supported`);
  if (lc.reduction !== undefined && lc.reduction !== 'sum_over_batch_size' && lc.reduction !== 'auto')
    throw new Error(`the loss reduction ${JSON.stringify(lc.reduction)} is not supported (only sum_over_batch_size)`);
  return { optimizer_config: cc.optimizer, loss: cc.loss, metrics: cc.metrics, weighted_metrics: cc.weighted_metrics, loss_weights: cc.loss_weights };
}

// ---------------------------------------------------------------------------------------------------
// save

function optimizerGroup(model: Sequential, o: Optimizer): H5GroupSpec {
  const datasets: NonNullable<H5GroupSpec['datasets']> = [
    { name: '0', shape: [], data: BigInt64Array.of(BigInt(o.iterations)) },
    { name: '1', shape: [], data: Float32Array.of(o.learningRate) },
  ];
  const params = model.layers.flatMap((l) => l.weights);
  const states = params.map((w) => o.getState(w.tensor.id));
  // An optimizer that has not stepped has no slots yet; Keras saves such an one with its two scalars only.
  if (o.stateSize > 0 && states.every((s) => s.length === o.stateSize)) {
    let k = 2;
    params.forEach((w, i) => {
      for (const s of states[i]) datasets.push({ name: String(k++), shape: [...w.tensor.shape], data: s });
    });
  }
  return { path: ['optimizer', 'vars'], attrs: { name: kerasOptimizerName(o) }, datasets };
}

/** The `.keras` file of a model, as bytes (in any runtime: hand them to a download, a fetch, IndexedDB, …). */
export async function kerasBytes(model: Sequential): Promise<Uint8Array> {
  if (!(model instanceof Sequential)) throw new Error(`saving .keras: expected a Sequential model, got ${model === null ? 'null' : typeof model}`);
  const config = modelConfig(model);
  const names = groupNames(model.layers.map((l) => l.className));
  const groups: H5GroupSpec[] = model.layers.map((l, i) => ({
    path: ['layers', names[i], 'vars'],
    attrs: { name: l.name },
    datasets: l.weights.map((w, j) => ({ name: String(j), shape: [...w.tensor.shape], data: (w.tensor.storageView() as Float32Array).slice() })),
  }));
  const compiled = model['compiled'];
  if (compiled) groups.push(optimizerGroup(model, compiled.optimizer));
  groups.push({ path: ['vars'], attrs: { name: model.name } });
  const weights = await writeH5(groups);
  const now = new Date();
  const p2 = (n: number) => String(n).padStart(2, '0');
  const dateSaved = `${now.getFullYear()}-${p2(now.getMonth() + 1)}-${p2(now.getDate())}@${p2(now.getHours())}:${p2(now.getMinutes())}:${p2(now.getSeconds())}`;
  return writeArchive(config, { keras_version: KERAS_VERSION, date_saved: dateSaved }, weights);
}

/**
 * Saves a model as a Keras 3 `.keras` file that `keras.saving.load_model` reads: layers, weights, compile
 * config and optimizer state. In Node the file is replaced atomically (a crash mid-save leaves the old file
 * whole); without a path (or in browsers) only the bytes are returned.
 */
export async function saveKeras(model: Sequential, file?: string): Promise<KerasSaveResult> {
  const bytes = await kerasBytes(model);
  if (file === undefined) return { bytes };
  const target = file.startsWith('file://') ? file.slice('file://'.length) : file;
  await writeFileAtomic(target, bytes);
  return { bytes, file: target };
}

// ---------------------------------------------------------------------------------------------------
// load

async function sourceBytes(source: KerasSource, options: LoadOptions): Promise<{ bytes: Uint8Array; where: string }> {
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), where: 'the .keras bytes' };
  if (ArrayBuffer.isView(source)) return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength), where: 'the .keras bytes' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as { name?: unknown }).name;
    const where = typeof name === 'string' && name ? name : 'the .keras Blob';
    if (source.size > MAX_WEIGHTS_BYTES + MAX_JSON_BYTES) throw new Error(`${where} has ${source.size} bytes, more than a .keras file this library can load`);
    return { bytes: new Uint8Array(await source.arrayBuffer()), where };
  }
  if (typeof source !== 'string' || source === '') throw new Error(`loadModel: expected a .keras path, URL, Blob/File or bytes, got ${source === '' ? "''" : typeof source}`);
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  const inNode = typeof proc?.versions?.node === 'string';
  if (/^https?:\/\//i.test(source) || (!inNode && !source.startsWith('file://'))) {
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new Error(`loadModel: fetching ${source} needs fetch, which this runtime does not have`);
    let res: Response;
    try {
      res = await f(source, options.requestInit);
    } catch (e) {
      throw new Error(`loadModel: fetching ${source} failed (${message(e)})`);
    }
    if (!res.ok) throw new Error(`loadModel: fetching ${source} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    const len = Number(res.headers.get('content-length'));
    if (len > MAX_WEIGHTS_BYTES + MAX_JSON_BYTES) throw new Error(`loadModel: ${source} has ${len} bytes, more than a .keras file this library can load`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), where: source };
  }
  const path = source.startsWith('file://') ? source.slice('file://'.length) : source;
  const specs = ['node:fs/promises'];
  const [fs] = (await Promise.all(specs.map((s) => import(/* @vite-ignore */ /* webpackIgnore: true */ s)))) as [typeof import('node:fs/promises')];
  try {
    const st = await fs.stat(path);
    if (st.isDirectory()) throw new Error(`loadModel: ${path} is a directory; a .keras model is one file`);
    if (st.size > MAX_WEIGHTS_BYTES + MAX_JSON_BYTES) throw new Error(`loadModel: ${path} has ${st.size} bytes, more than a .keras file this library can load`);
    const buf = await fs.readFile(path);
    return { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), where: path };
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') throw new Error(`loadModel: ${path} does not exist`);
    throw e;
  }
}

/**
 * An upper bound on the floats `build()` will allocate, from the layer shapes alone, so that a config
 * claiming a huge layer is refused by comparing it with the weights file instead of by running out of memory.
 */
function paramsBound(layers: readonly Layer[]): number {
  let shape = layers[0].declaredInputShape ?? [];
  let n = 0;
  for (const l of layers) {
    if (l instanceof Dense) n += ((shape[shape.length - 1] ?? 0) + 1) * l.units;
    shape = l.computeOutputShape(shape);
  }
  return n;
}

function loadLayerWeights(model: Sequential, h5: H5Reader, where: string): void {
  // Keras 2.13's .keras files named the layer list `_layer_checkpoint_dependencies`.
  const root = h5.groupKeys('layers') ? 'layers' : h5.groupKeys('_layer_checkpoint_dependencies') ? '_layer_checkpoint_dependencies' : 'layers';
  const names = groupNames(model.layers.map((l) => l.className));
  const values: { shape: number[]; dtype: 'float32'; dataSync: () => Float32Array }[] = [];
  model.layers.forEach((l, i) => {
    const path = `${root}/${names[i]}/vars`;
    const ds = h5.datasets(path) ?? [];
    const what = `${where}: layer '${l.name}' (${l.className})`;
    if (ds.length !== l.weights.length)
      throw new Error(`${what} has ${l.weights.length} weight${l.weights.length === 1 ? '' : 's'} but ${WEIGHTS} holds ${ds.length} at ${path}`);
    ds.forEach((d, j) => {
      const w = l.weights[j];
      if (d.shape.join(',') !== w.tensor.shape.join(','))
        throw new Error(`${what}: weight ${j} (${w.name.replace(/:0$/, '')}) has shape [${d.shape}] in the file but the layer needs [${w.tensor.shape}]`);
      const data = h5.readFloat32(`${path}/${d.name}`);
      values.push({ shape: [...w.tensor.shape], dtype: 'float32', dataSync: () => data });
    });
  });
  try {
    model.setWeights(values);
  } catch (e) {
    throw new Error(`loadModel: ${where}: ${message(e)}`);
  }
}

function loadOptimizerState(model: Sequential, o: Optimizer, h5: H5Reader, where: string): void {
  const ds = h5.datasets('optimizer/vars');
  if (!ds || ds.length === 0) return;
  const params = model.layers.flatMap((l) => l.weights);
  const full = 2 + o.stateSize * params.length;
  if (ds.length !== 2 && ds.length !== full) {
    // What Keras does too: warn and train on from fresh optimizer state.
    console.warn(`loadModel: ${where}: the saved optimizer has ${ds.length} variables but ${o.className} over this model has ${full}; its state was not loaded`);
    return;
  }
  const iterations = h5.readScalar('optimizer/vars/0');
  if (!Number.isSafeInteger(iterations) || iterations < 0) throw new Error(`${where}: the optimizer's iteration count ${iterations} is not a count`);
  const lr = h5.readScalar('optimizer/vars/1');
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`${where}: the optimizer's learning rate ${lr} is not a positive number`);
  o.iterations = iterations;
  // The variable, not the config: callbacks such as ReduceLROnPlateau change the variable.
  o.learningRate = lr;
  if (ds.length === 2) return;
  let k = 2;
  for (const w of params) {
    const slots: Float32Array[] = [];
    for (let s = 0; s < o.stateSize; s++, k++) {
      const d = ds[k];
      if (d.shape.join(',') !== w.tensor.shape.join(','))
        throw new Error(`${where}: optimizer variable ${k} has shape [${d.shape}] but belongs to ${w.name.replace(/:0$/, '')} of shape [${w.tensor.shape}]`);
      slots.push(h5.readFloat32(`optimizer/vars/${d.name}`));
    }
    o.setState(w.tensor.id, slots);
  }
}

/**
 * Loads a Keras 3 `.keras` file: a path (Node), an http(s) URL (or any URL in browsers, relative ones
 * included), a `File`/`Blob`, or its bytes. The model comes back compiled when the file has a compile
 * config (unless `{ compile: false }`), with the optimizer's saved state, so training resumes where Keras
 * left it. Layers, activations and options this library lacks are refused with an error naming them.
 */
export async function loadKeras(source: KerasSource, options: LoadOptions = {}): Promise<Sequential> {
  const { bytes, where } = await sourceBytes(source, options);
  const archive = readArchive(bytes, where);
  const config = archive.config;
  const parsed = parseTopology(topology2(config, where), where);
  const bound = paramsBound(parsed.layers);
  if (bound * 4 > archive.weights.length)
    throw new Error(`${where}: the layers in ${CONFIG} need up to ${bound} float32 weights but ${WEIGHTS} has only ${archive.weights.length} bytes`);
  let model: Sequential;
  try {
    model = new Sequential({ layers: parsed.layers, ...(parsed.name ? { name: parsed.name } : {}) });
  } catch (e) {
    throw new Error(`loadModel: ${where}: ${message(e)}`);
  }
  const h5 = await openH5(archive.weights, `${where}: ${WEIGHTS}`);
  try {
    model.build();
    loadLayerWeights(model, h5, where);
    const cc = isObject(config) ? config.compile_config : undefined;
    if (isObject(cc) && options.compile !== false) {
      try {
        model.compile(compileArgsFrom(trainingConfig2(cc)));
      } catch (e) {
        throw new Error(`loadModel: ${where}: cannot compile from compile_config: ${message(e).replace(/^compile: /, '')} (pass { compile: false } to load the model uncompiled)`);
      }
      loadOptimizerState(model, model['compiled']!.optimizer, h5, where);
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    h5.close();
  }
}

