/**
 * Saving and loading models in the format of tfjs-layers, so that models move between the two libraries
 * (and from Keras through tensorflowjs_converter).
 *
 * Two artifacts, as `LayersModel.save('file://…')` (tfjs-node) writes them:
 *
 *  - `model.json`: `{ modelTopology, format: 'layers-model', generatedBy, convertedBy: null,
 *    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'dense/kernel', shape, dtype }, …] }],
 *    trainingConfig? }`. `modelTopology` is Keras' model config: `{ class_name: 'Sequential', config:
 *    { name, layers: [{ class_name, config: { snake_case layer config } }] }, keras_version, backend }`.
 *  - `weights.bin`: the weights as little-endian float32, concatenated in manifest order (Keras order:
 *    layer by layer, kernel then bias).
 *
 * Destinations (`saveModel`): a directory in Node (`'./my-model'` or `'file://./my-model'`; created if
 * missing, files in it overwritten as tfjs-node does), `'memory'` (anywhere: the artifacts are returned), or
 * any tfjs IOHandler (`tf.io.withSaveHandler(…)`, `tf.io.browserDownloads(…)`, `tf.io.http(…)`).
 *
 * Sources (`loadModel`): a directory or a model.json path in Node, an http(s) URL of a model.json
 * (browsers and Node; the weight files are fetched relative to it, as tfjs does), the in-memory artifacts
 * `{ modelJson, weightData }` (what `saveModel(model, 'memory')` returns), tfjs' `ModelArtifacts`
 * (`{ modelTopology, weightSpecs, weightData }`), or any tfjs IOHandler with `load()` (`tf.io.fromMemory`,
 * `tf.io.browserFiles`, …).
 */
import { Dense, Dropout, Flatten, type InitializerName, type Layer } from '../layers.js';
import { Adam, RMSprop, SGD, type Optimizer } from '../optimizers.js';
import { sizeOf } from '../tensor.js';
import { Sequential, type CompileArgs } from './sequential.js';

/** The library version written into `generatedBy` and `keras_version`. */
export const VERSION = '0.1.0';

// ---------------------------------------------------------------------------------------------------
// types

export type WeightDtype = 'float32' | 'int32' | 'bool' | 'string' | 'complex64';

/** One entry of `weightsManifest[].weights` (tfjs' WeightsManifestEntry). */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: WeightDtype;
  /** tfjs writes `'optimizer'` for optimizer state; such weights are skipped on load. */
  group?: 'model' | 'optimizer';
  /** Quantized weights (tfjs-converter's `--quantize_*`): dequantized on load. */
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number; original_dtype?: WeightDtype };
}

export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** A layer in Keras' serialisation: `{ class_name: 'Dense', config: { units: 10, … } }`. */
export interface KerasLayerJSON {
  class_name: string;
  config: Record<string, unknown>;
}

export interface ModelTopology {
  class_name: 'Sequential';
  config: { name: string; layers: KerasLayerJSON[] };
  keras_version: string;
  backend: string;
}

/** Keras' training config, as tfjs-layers writes it (`optimizer_config` uses tfjs' optimizer names). */
export interface TrainingConfig {
  loss: string;
  metrics: string[];
  optimizer_config: { class_name: string; config: Record<string, number | boolean | string> };
}

/** The content of `model.json`. */
export interface ModelJSON {
  modelTopology: ModelTopology;
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  weightsManifest: WeightsManifestGroup[];
  trainingConfig?: TrainingConfig;
}

/** tfjs' ModelArtifacts (what IOHandlers exchange); fields we read are checked at run time. */
export interface ModelArtifacts {
  modelTopology?: NonNullable<unknown>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightSpecs?: WeightSpec[];
  weightData?: ArrayBuffer | ArrayBuffer[];
  trainingConfig?: unknown;
}

/** A tfjs IOHandler (`tf.io.withSaveHandler`, `tf.io.fromMemory`, `tf.io.http`, …), or one of your own. */
export interface IOHandlerLike {
  save?(artifacts: ModelArtifacts): Promise<unknown>;
  load?(): Promise<ModelArtifacts>;
}

/** The artifacts in memory: model.json (an object, or its text) and the bytes of its weight files, concatenated. */
export interface MemoryArtifacts {
  modelJson: ModelJSON | Record<string, unknown> | string;
  weightData: ArrayBuffer | ArrayBufferView | ArrayBuffer[];
}

export type SaveDestination = string | IOHandlerLike;
export type LoadSource = string | MemoryArtifacts | ModelArtifacts | IOHandlerLike;

export interface SaveResult {
  /** The model.json written (also for directories and handlers). */
  modelJson: ModelJSON;
  /** The bytes of weights.bin. */
  weightData: ArrayBuffer;
  /** As tfjs' SaveResult.modelArtifactsInfo. */
  modelArtifactsInfo: { dateSaved: Date; modelTopologyType: 'JSON'; modelTopologyBytes: number; weightSpecsBytes: number; weightDataBytes: number };
  /** The files written, for a directory destination. */
  files?: { modelJson: string; weights: string };
  /** What the IOHandler's save() returned, for a handler destination. */
  handlerResult?: unknown;
}

export interface LoadOptions {
  /** Compile the model from model.json's `trainingConfig` when there is one. Default true. */
  compile?: boolean;
  /** The fetch used for http(s) sources (default: the global fetch). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Passed to every fetch (headers, credentials, …). */
  requestInit?: RequestInit;
}

// ---------------------------------------------------------------------------------------------------
// node modules (loaded only where they exist, specifiers in variables so that bundlers leave them alone)

type FsPromises = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');

let nodeModules: Promise<{ fs: FsPromises; path: NodePath } | null> | undefined;

function loadNode(): Promise<{ fs: FsPromises; path: NodePath } | null> {
  nodeModules ??= (async () => {
    const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
    if (!proc?.versions?.node) return null;
    const specs = ['node:fs/promises', 'node:path'];
    try {
      const [fs, path] = await Promise.all(specs.map((s) => import(/* @vite-ignore */ /* webpackIgnore: true */ s)));
      return { fs: fs as FsPromises, path: path as NodePath };
    } catch {
      return null;
    }
  })();
  return nodeModules;
}

const isHttp = (s: string) => /^https?:\/\//i.test(s);
const FILE_SCHEME = 'file://';
const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

// ---------------------------------------------------------------------------------------------------
// save

const INITIALIZER_CLASS: Record<InitializerName, string> = {
  glorotUniform: 'GlorotUniform',
  glorotNormal: 'GlorotNormal',
  heUniform: 'HeUniform',
  heNormal: 'HeNormal',
  zeros: 'Zeros',
  ones: 'Ones',
};

export function layerToJSON(layer: Layer, first: boolean, inputShape: number[]): KerasLayerJSON {
  const c = layer.getConfig() as Record<string, unknown>;
  const config: Record<string, unknown> = { name: layer.name, trainable: true, dtype: 'float32' };
  if (first) config.batch_input_shape = [null, ...inputShape];
  if (layer instanceof Dense) {
    Object.assign(config, {
      units: layer.units,
      activation: layer.activation,
      use_bias: layer.useBias,
      kernel_initializer: { class_name: INITIALIZER_CLASS[layer.kernelInitializer], config: {} },
      bias_initializer: { class_name: INITIALIZER_CLASS[layer.biasInitializer], config: {} },
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    });
  } else if (layer instanceof Dropout) {
    config.rate = layer.rate;
    config.noise_shape = null;
    if (c.seed !== undefined) config.seed = c.seed;
  } else if (!(layer instanceof Flatten)) {
    throw new Error(`saveModel: layer '${layer.name}' of class ${layer.className} cannot be serialised (supported: Dense, Dropout, Flatten)`);
  }
  return { class_name: layer.className, config };
}

const camelToSnake = (s: string) => s.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);

/** tfjs' optimizer_config (its class names and camelCase keys, so that tfjs.loadLayersModel compiles it). */
function optimizerToJSON(o: Optimizer): TrainingConfig['optimizer_config'] {
  if (o instanceof Adam) return { class_name: 'Adam', config: { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon } };
  if (o instanceof RMSprop)
    return { class_name: 'RMSProp', config: { learningRate: o.learningRate, decay: o.rho, momentum: 0, epsilon: o.epsilon, centered: false } };
  if (o instanceof SGD) {
    if (o.momentum > 0) return { class_name: 'Momentum', config: { learningRate: o.learningRate, momentum: o.momentum, useNesterov: o.nesterov } };
    return { class_name: 'SGD', config: { learningRate: o.learningRate, ...(o.nesterov ? { nesterov: true } : {}) } };
  }
  const { name: _name, ...rest } = o.getConfig();
  return { class_name: o.className, config: rest };
}

interface Serialized {
  modelJson: ModelJSON;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

function serialize(model: Sequential): Serialized {
  model.build();
  const inputShape = model.inputShape;
  const layers = model.layers.map((l, i) => layerToJSON(l, i === 0, inputShape));
  const weights = model.layers.flatMap((l) => l.weights);
  const weightSpecs: WeightSpec[] = weights.map((w) => ({ name: w.name.replace(/:0$/, ''), shape: [...w.tensor.shape], dtype: 'float32' }));
  // Bytes straight from wasm memory, which is little-endian by definition.
  const bytes = new Uint8Array(weights.reduce((n, w) => n + w.tensor.size * 4, 0));
  let off = 0;
  for (const w of weights) {
    const v = w.tensor.storageView() as Float32Array;
    bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), off);
    off += v.byteLength;
  }
  const modelJson: ModelJSON = {
    modelTopology: { class_name: 'Sequential', config: { name: model.name, layers }, keras_version: `wasm-layers ${VERSION}`, backend: 'wasm-layers' },
    format: 'layers-model',
    generatedBy: `wasm-layers v${VERSION}`,
    convertedBy: null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs }],
  };
  // The compile arguments are private to the model; read them without widening its public surface.
  const compiled = model['compiled'];
  if (compiled) {
    modelJson.trainingConfig = {
      loss: camelToSnake(compiled.loss),
      metrics: compiled.metrics.map((m) => (m === 'acc' || m === 'accuracy' ? m : 'accuracy')),
      optimizer_config: optimizerToJSON(compiled.optimizer),
    };
  }
  return { modelJson, weightSpecs, weightData: bytes.buffer };
}

/**
 * Saves a model's topology, weights and (when compiled) training config in tfjs-layers' format.
 *
 * - `'memory'`: nothing is written; the result holds the artifacts (`loadModel(result)` loads them).
 * - a directory (Node; `'./my-model'` or `'file://./my-model'`): writes `model.json` and `weights.bin` in
 *   it, creating it if needed and overwriting those two files if they exist (as tfjs-node does). A path
 *   ending in `.json` names the model.json file itself (weights.bin goes beside it).
 * - a tfjs IOHandler (an object with `save(artifacts)`): called with tfjs' ModelArtifacts.
 *
 * The optimizer's state (Adam's moments, the iteration count) is not saved.
 */
export async function saveModel(model: Sequential, destination: SaveDestination): Promise<SaveResult> {
  if (!(model instanceof Sequential)) throw new Error(`saveModel: expected a Sequential model, got ${model === null ? 'null' : typeof model}`);
  const { modelJson, weightSpecs, weightData } = serialize(model);
  const result: SaveResult = {
    modelJson,
    weightData,
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: utf8Length(JSON.stringify(modelJson.modelTopology)),
      weightSpecsBytes: utf8Length(JSON.stringify(weightSpecs)),
      weightDataBytes: weightData.byteLength,
    },
  };
  if (destination === 'memory') return result;

  if (destination !== null && typeof destination === 'object') {
    if (typeof destination.save !== 'function') throw new Error('saveModel: the destination object has no save() method (expected a tfjs IOHandler, e.g. tf.io.withSaveHandler(...))');
    const artifacts: ModelArtifacts = {
      modelTopology: modelJson.modelTopology,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
      weightSpecs,
      weightData,
      ...(modelJson.trainingConfig ? { trainingConfig: modelJson.trainingConfig } : {}),
    };
    result.handlerResult = await destination.save(artifacts);
    return result;
  }

  if (typeof destination !== 'string' || destination === '')
    throw new Error(`saveModel: destination must be a directory path, 'memory' or a tfjs IOHandler, got ${destination === '' ? "''" : typeof destination}`);
  if (isHttp(destination))
    throw new Error(`saveModel: cannot save to the URL ${destination}; for an HTTP upload pass tf.io.http('${destination}') (tfjs' multipart POST), or save to 'memory' and send the artifacts yourself`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(destination) && !destination.startsWith(FILE_SCHEME))
    throw new Error(`saveModel: unsupported scheme in '${destination}' (use a directory path, 'file://…', 'memory', or a tfjs IOHandler such as tf.io.browserLocalStorage(...))`);

  const node = await loadNode();
  if (!node)
    throw new Error(`saveModel: saving to the directory '${destination}' needs node:fs, which this runtime does not have; use 'memory', or a tfjs IOHandler such as tf.io.browserDownloads('my-model')`);
  const { fs, path } = node;
  const target = destination.startsWith(FILE_SCHEME) ? destination.slice(FILE_SCHEME.length) : destination;
  const jsonTarget = target.toLowerCase().endsWith('.json');
  const dir = jsonTarget ? path.dirname(target) : target;
  const jsonFile = jsonTarget ? target : path.join(dir, MODEL_JSON);
  const weightsFile = path.join(dir, WEIGHTS_BIN);
  const st = await fs.stat(dir).catch(() => null);
  if (st && !st.isDirectory()) throw new Error(`saveModel: '${dir}' exists and is not a directory`);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(weightsFile, new Uint8Array(weightData));
  await fs.writeFile(jsonFile, JSON.stringify(modelJson));
  result.files = { modelJson: jsonFile, weights: weightsFile };
  return result;
}

// ---------------------------------------------------------------------------------------------------
// reading artifacts

/** What every source turns into before the model is built. */
interface RawArtifacts {
  /** For error messages: where the model came from. */
  where: string;
  modelTopology: unknown;
  format?: unknown;
  specs: unknown;
  weightData: Uint8Array;
  trainingConfig?: unknown;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`loadModel: ${where} is not valid JSON (${errorMessage(e)})`);
  }
}

/** Checks model.json's shape and returns its weight manifest groups. */
function checkModelJson(json: unknown, where: string): { json: Record<string, unknown>; groups: WeightsManifestGroup[] } {
  if (!isObject(json)) throw new Error(`loadModel: ${where} must hold a JSON object (a tfjs-layers model.json), got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  if (json.format === 'graph-model')
    throw new Error(`loadModel: ${where} is a tfjs graph model (format 'graph-model'); only layers models (format 'layers-model') can be loaded`);
  if (json.modelTopology === undefined || json.modelTopology === null) throw new Error(`loadModel: ${where} has no modelTopology (is it a tfjs-layers model.json?)`);
  const m = json.weightsManifest;
  if (!Array.isArray(m)) throw new Error(`loadModel: ${where} has no weightsManifest array`);
  m.forEach((g, i) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string') || !Array.isArray(g.weights))
      throw new Error(`loadModel: ${where}: weightsManifest[${i}] must be { paths: string[], weights: [...] }`);
  });
  return { json, groups: m as WeightsManifestGroup[] };
}

function toBytes(d: unknown, what: string): Uint8Array {
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  if (typeof SharedArrayBuffer !== 'undefined' && d instanceof SharedArrayBuffer) return new Uint8Array(d);
  if (Array.isArray(d)) {
    const parts = d.map((p, i) => toBytes(p, `${what}[${i}]`));
    return concat(parts);
  }
  throw new Error(`loadModel: ${what} must be an ArrayBuffer, a typed array or an array of ArrayBuffers, got ${d === null ? 'null' : typeof d}`);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function fromModelJson(json: unknown, weightData: Uint8Array, where: string): RawArtifacts {
  const { json: j, groups } = checkModelJson(json, where);
  return { where, modelTopology: j.modelTopology, format: j.format, specs: groups.flatMap((g) => g.weights), weightData, trainingConfig: j.trainingConfig };
}

async function readFromFiles(source: string): Promise<RawArtifacts> {
  const node = await loadNode();
  if (!node) throw new Error(`loadModel: reading '${source}' needs node:fs, which this runtime does not have`);
  const { fs, path } = node;
  const p = source.startsWith(FILE_SCHEME) ? source.slice(FILE_SCHEME.length) : source;
  const st = await fs.stat(p).catch(() => null);
  if (!st) throw new Error(`loadModel: '${p}' does not exist (expected a directory holding ${MODEL_JSON}, or the path of a model.json)`);
  const jsonFile = st.isDirectory() ? path.join(p, MODEL_JSON) : p;
  const dir = st.isDirectory() ? p : path.dirname(p);
  let text: string;
  try {
    text = await fs.readFile(jsonFile, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(code === 'ENOENT' ? `loadModel: ${jsonFile} not found` : `loadModel: cannot read ${jsonFile}: ${errorMessage(e)}`);
  }
  const json = parseJson(text, jsonFile);
  const { groups } = checkModelJson(json, jsonFile);
  const parts: Uint8Array[] = [];
  for (const file of groups.flatMap((g) => g.paths)) {
    const f = path.join(dir, file);
    try {
      parts.push(new Uint8Array(await fs.readFile(f)));
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new Error(code === 'ENOENT' ? `loadModel: weights file ${f} (listed in ${jsonFile}) not found` : `loadModel: cannot read weights file ${f}: ${errorMessage(e)}`);
    }
  }
  return fromModelJson(json, concat(parts), jsonFile);
}

/** tfjs' rule: weight files live beside model.json, and a query string is kept (signed URLs). */
function weightUrl(modelUrl: string, file: string): string {
  if (isHttp(file)) return file;
  const slash = modelUrl.lastIndexOf('/');
  const q = modelUrl.lastIndexOf('?');
  const suffix = q > slash ? modelUrl.slice(q) : '';
  return modelUrl.slice(0, slash + 1) + file + suffix;
}

async function readFromUrl(source: string, opts: LoadOptions): Promise<RawArtifacts> {
  const f = opts.fetch ?? (globalThis as { fetch?: LoadOptions['fetch'] }).fetch;
  if (typeof f !== 'function') throw new Error(`loadModel: loading ${source} needs fetch, which this runtime does not have (pass options.fetch)`);
  let url = source;
  // A directory URL means its model.json.
  const q = url.search(/[?#]/);
  const base = q < 0 ? url : url.slice(0, q);
  if (base.endsWith('/')) url = base + MODEL_JSON + (q < 0 ? '' : url.slice(q));
  const get = async (u: string, what: string): Promise<Response> => {
    let res: Response;
    try {
      res = await f(u, opts.requestInit);
    } catch (e) {
      throw new Error(`loadModel: fetching ${what} ${u} failed: ${errorMessage(e)}`);
    }
    if (!res.ok) throw new Error(`loadModel: fetching ${what} ${u} failed with HTTP status ${res.status}${res.status === 404 ? ' (not found)' : ''}`);
    return res;
  };
  const text = await (await get(url, 'model.json')).text();
  const json = parseJson(text, url);
  const { groups } = checkModelJson(json, url);
  const parts = await Promise.all(
    groups.flatMap((g) => g.paths).map(async (p) => new Uint8Array(await (await get(weightUrl(url, p), `weights file (listed in ${url})`)).arrayBuffer())),
  );
  return fromModelJson(json, concat(parts), url);
}

async function readSource(source: LoadSource, opts: LoadOptions): Promise<RawArtifacts> {
  if (typeof source === 'string') {
    if (source === '') throw new Error('loadModel: the source is an empty string');
    if (isHttp(source)) return readFromUrl(source, opts);
    const node = await loadNode();
    if (node) return readFromFiles(source);
    if (source.startsWith(FILE_SCHEME)) throw new Error(`loadModel: cannot read ${source}: file:// needs node:fs, which this runtime does not have`);
    return readFromUrl(source, opts); // a relative URL in a browser
  }
  if (!isObject(source)) throw new Error(`loadModel: expected a path, a URL, { modelJson, weightData }, tfjs ModelArtifacts or a tfjs IOHandler, got ${source === null ? 'null' : typeof source}`);
  if (typeof source.load === 'function') {
    let a: unknown;
    try {
      a = await (source as IOHandlerLike).load!();
    } catch (e) {
      throw new Error(`loadModel: the IOHandler's load() failed: ${errorMessage(e)}`);
    }
    if (!isObject(a)) throw new Error('loadModel: the IOHandler\'s load() returned no artifacts');
    return fromArtifacts(a as ModelArtifacts, 'the IOHandler\'s artifacts');
  }
  if ('modelJson' in source) {
    const m = source as unknown as MemoryArtifacts;
    const json = typeof m.modelJson === 'string' ? parseJson(m.modelJson, 'modelJson') : m.modelJson;
    return fromModelJson(json, m.weightData === undefined ? new Uint8Array(0) : toBytes(m.weightData, 'weightData'), 'modelJson');
  }
  if ('modelTopology' in source) return fromArtifacts(source as ModelArtifacts, 'the artifacts');
  throw new Error('loadModel: the source object has none of modelJson, modelTopology or load() (expected { modelJson, weightData }, tfjs ModelArtifacts or a tfjs IOHandler)');
}

function fromArtifacts(a: ModelArtifacts, where: string): RawArtifacts {
  if (a.format === 'graph-model' || a.modelTopology instanceof ArrayBuffer)
    throw new Error(`loadModel: ${where} describe a tfjs graph model; only layers models (format 'layers-model') can be loaded`);
  if (a.modelTopology === undefined || a.modelTopology === null) throw new Error(`loadModel: ${where} have no modelTopology`);
  if (a.weightSpecs !== undefined && !Array.isArray(a.weightSpecs)) throw new Error(`loadModel: ${where}: weightSpecs must be an array`);
  return {
    where,
    modelTopology: a.modelTopology,
    format: a.format,
    specs: a.weightSpecs ?? [],
    weightData: a.weightData === undefined || a.weightData === null ? new Uint8Array(0) : toBytes(a.weightData, 'weightData'),
    trainingConfig: a.trainingConfig,
  };
}

// ---------------------------------------------------------------------------------------------------
// topology → layers

/** First defined value among Keras' snake_case key and tfjs' camelCase one. */
function pick(c: Record<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) if (c[k] !== undefined) return c[k];
  return undefined;
}

const INITIALIZER_BY_KEY: Record<string, InitializerName> = {
  glorotuniform: 'glorotUniform',
  glorotnormal: 'glorotNormal',
  xavieruniform: 'glorotUniform',
  xaviernormal: 'glorotNormal',
  heuniform: 'heUniform',
  henormal: 'heNormal',
  zeros: 'zeros',
  zero: 'zeros',
  ones: 'ones',
  one: 'ones',
};

/**
 * An initializer from Keras / tfjs' serialisation. Loaded weights replace the initial values, so one we
 * cannot reproduce (RandomNormal, Orthogonal, …) falls back to the default rather than failing the load.
 */
function parseInitializer(v: unknown, fallback: InitializerName): InitializerName {
  const key = (s: unknown) => (typeof s === 'string' ? s.replace(/_/g, '').toLowerCase() : '');
  if (typeof v === 'string') return INITIALIZER_BY_KEY[key(v)] ?? fallback;
  if (!isObject(v)) return fallback;
  const cls = key(v.class_name ?? v.className);
  if (INITIALIZER_BY_KEY[cls]) return INITIALIZER_BY_KEY[cls];
  if (cls === 'variancescaling' && isObject(v.config)) {
    const { scale, mode, distribution } = v.config;
    const uniform = distribution === 'uniform';
    const normal = distribution === 'normal' || distribution === 'truncated_normal';
    if (scale === 1 && mode === 'fan_avg' && (uniform || normal)) return uniform ? 'glorotUniform' : 'glorotNormal';
    if (scale === 2 && mode === 'fan_in' && (uniform || normal)) return uniform ? 'heUniform' : 'heNormal';
  }
  return fallback;
}

/** The per-sample shape from batch_input_shape / batch_shape / input_shape / input_dim, if any. */
function declaredShape(c: Record<string, unknown>, what: string): number[] | undefined {
  const batch = pick(c, 'batch_input_shape', 'batchInputShape', 'batch_shape');
  let shape: unknown[] | undefined;
  if (batch !== undefined && batch !== null) {
    if (!Array.isArray(batch) || batch.length < 2) throw new Error(`${what}: batch_input_shape must be [null, ...dims], got ${JSON.stringify(batch)}`);
    shape = batch.slice(1);
  } else {
    const s = pick(c, 'input_shape', 'inputShape');
    const dim = pick(c, 'input_dim', 'inputDim');
    if (Array.isArray(s)) shape = s;
    else if (dim !== undefined && dim !== null) shape = [dim];
  }
  if (shape === undefined) return undefined;
  if (!shape.every((d) => Number.isInteger(d) && (d as number) > 0))
    throw new Error(`${what}: the input shape must be known positive integers (besides the batch dimension), got ${JSON.stringify(shape)}`);
  return shape as number[];
}

function checkCommon(c: Record<string, unknown>, what: string): void {
  if (c.trainable === false) throw new Error(`${what}: non-trainable layers (trainable: false) are not supported`);
  let dtype = c.dtype;
  if (isObject(dtype)) dtype = isObject(dtype.config) ? dtype.config.name : undefined; // Keras 3's DTypePolicy
  if (dtype !== undefined && dtype !== null && dtype !== 'float32') throw new Error(`${what}: dtype ${JSON.stringify(dtype)} is not supported (only float32)`);
}

function checkAbsent(c: Record<string, unknown>, what: string, keys: string[]): void {
  for (const k of keys) {
    const v = c[k];
    if (v !== undefined && v !== null) throw new Error(`${what}: ${k} is not supported (got ${JSON.stringify(v)}); only null`);
  }
}

export interface ParsedTopology {
  name?: string;
  layers: Layer[];
}

export function parseTopology(topology: unknown, where: string): ParsedTopology {
  let t = topology;
  if (isObject(t) && isObject(t.model_config)) t = t.model_config; // tensorflowjs_converter's Keras output
  if (!isObject(t)) throw new Error(`loadModel: ${where}: modelTopology must be an object, got ${Array.isArray(t) ? 'an array' : typeof t}`);
  const cls = t.class_name ?? t.className;
  if (cls !== 'Sequential')
    throw new Error(`loadModel: ${where}: only Sequential models can be loaded; modelTopology.class_name is ${JSON.stringify(cls)}`);
  const config = t.config;
  const list = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(list)) throw new Error(`loadModel: ${where}: modelTopology.config.layers must be an array`);
  const name = isObject(config) && typeof config.name === 'string' && config.name ? config.name : undefined;

  const layers: Layer[] = [];
  let pendingInput: number[] | undefined;
  list.forEach((entry, i) => {
    if (!isObject(entry) || typeof (entry.class_name ?? entry.className) !== 'string' || !isObject(entry.config ?? {}))
      throw new Error(`loadModel: ${where}: layer ${i} must be { class_name, config }, got ${JSON.stringify(entry)?.slice(0, 100)}`);
    const lcls = (entry.class_name ?? entry.className) as string;
    const c = (entry.config ?? {}) as Record<string, unknown>;
    const lname = typeof c.name === 'string' && c.name ? c.name : undefined;
    const what = `loadModel: layer ${i}${lname ? ` '${lname}'` : ''} (${lcls})`;
    if (lcls === 'InputLayer') {
      if (layers.length > 0) throw new Error(`${what}: an InputLayer may only come first`);
      pendingInput = declaredShape(c, what);
      if (!pendingInput) throw new Error(`${what}: has no batch_input_shape`);
      return;
    }
    checkCommon(c, what);
    const first = layers.length === 0;
    const inputShape = first ? (pendingInput ?? declaredShape(c, what)) : undefined;
    const base = { ...(lname ? { name: lname } : {}), ...(inputShape ? { inputShape } : {}) };
    try {
      switch (lcls) {
        case 'Dense': {
          checkAbsent(c, what, ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint', 'lora_rank', 'quantization_config']);
          const useBias = pick(c, 'use_bias', 'useBias');
          if (useBias !== undefined && typeof useBias !== 'boolean') throw new Error(`use_bias must be a boolean, got ${JSON.stringify(useBias)}`);
          const activation = c.activation;
          if (activation !== undefined && activation !== null && typeof activation !== 'string')
            throw new Error(`activation must be a name, got ${JSON.stringify(activation)}`);
          layers.push(
            new Dense({
              ...base,
              units: c.units as number,
              activation: (activation ?? 'linear') as string,
              useBias: (useBias ?? true) as boolean,
              kernelInitializer: parseInitializer(pick(c, 'kernel_initializer', 'kernelInitializer'), 'glorotUniform'),
              biasInitializer: parseInitializer(pick(c, 'bias_initializer', 'biasInitializer'), 'zeros'),
            }),
          );
          break;
        }
        case 'Dropout': {
          checkAbsent(c, what, ['noise_shape', 'noiseShape']);
          const seed = c.seed;
          layers.push(new Dropout({ ...base, rate: c.rate as number, ...(seed !== undefined && seed !== null ? { seed: seed as number } : {}) }));
          break;
        }
        case 'Flatten': {
          const fmt = pick(c, 'data_format', 'dataFormat');
          if (fmt !== undefined && fmt !== null && fmt !== 'channels_last') throw new Error(`data_format ${JSON.stringify(fmt)} is not supported (only channels_last)`);
          layers.push(new Flatten(base));
          break;
        }
        default:
          throw new Error(`unknown layer class '${lcls}' (wasm-layers can load Dense, Dropout, Flatten and InputLayer)`);
      }
    } catch (e) {
      const msg = errorMessage(e);
      throw new Error(msg.startsWith(what) ? msg : `${what}: ${msg}`);
    }
  });
  if (layers.length === 0) throw new Error(`loadModel: ${where}: the model has no layers`);
  if (!layers[0].declaredInputShape)
    throw new Error(`loadModel: ${where}: the first layer '${layers[0].name}' has no batch_input_shape, so the model's input shape is unknown`);
  return { name, layers };
}

// ---------------------------------------------------------------------------------------------------
// weights

const BYTES_PER: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

interface Located {
  spec: WeightSpec;
  offset: number;
  byteLength: number;
}

function checkSpecs(specs: unknown, where: string): WeightSpec[] {
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
  });
  return specs as WeightSpec[];
}

/** Byte ranges of all specs in the concatenated data (tfjs' layout); checks the total against the data. */
function locate(specs: WeightSpec[], data: Uint8Array, where: string): Located[] {
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
  if (!complete || off !== data.length) {
    const floats = specs.filter((s) => s.dtype === 'float32' && !s.quantization).length;
    throw new Error(
      `loadModel: ${where}: the weight data has ${data.length} bytes but the manifest's ${specs.length} weights need ${complete ? off : 'more than ' + data.length}` +
        (floats === specs.length ? ` (${specs.reduce((k, s) => k + sizeOf(s.shape), 0)} float32 values)` : '') +
        ' (truncated or mismatched weights file?)',
    );
  }
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
  if (typeof q.scale !== 'number' || typeof q.min !== 'number') throw new Error(`loadModel: weight '${spec.name}' is quantized to ${q.dtype} without scale and min`);
  const v = q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer);
  for (let i = 0; i < n; i++) out[i] = v[i] * q.scale + q.min;
  return out;
}

const bareName = (n: string) => n.replace(/:0$/, '');

function setWeightsFrom(model: Sequential, located: Located[], data: Uint8Array, where: string): void {
  const targets = model.layers.flatMap((l) => l.weights);
  const mine = located.filter((l) => l.spec.group !== 'optimizer');
  const expected = targets.map((w) => `${bareName(w.name)} [${w.tensor.shape}]`).join(', ');
  if (mine.length !== targets.length)
    throw new Error(`loadModel: ${where}: the weights manifest lists ${mine.length} model weight${mine.length === 1 ? '' : 's'} but the model has ${targets.length}${targets.length ? ` (${expected})` : ''}`);
  const byName = new Map<string, Located>();
  for (const l of mine) {
    const k = bareName(l.spec.name);
    if (byName.has(k)) throw new Error(`loadModel: ${where}: the weights manifest lists '${k}' twice`);
    byName.set(k, l);
  }
  const values = targets.map((w) => {
    const k = bareName(w.name);
    const l = byName.get(k);
    if (!l) throw new Error(`loadModel: ${where}: weight '${k}' is missing from the weights manifest (it lists ${[...byName.keys()].map((n) => `'${n}'`).join(', ')})`);
    if (l.spec.shape.join(',') !== w.tensor.shape.join(','))
      throw new Error(`loadModel: ${where}: weight '${k}' has shape [${l.spec.shape}] in the manifest but the model needs [${w.tensor.shape}]`);
    if (l.spec.dtype !== 'float32') throw new Error(`loadModel: ${where}: weight '${k}' has dtype ${l.spec.dtype}; model weights must be float32`);
    const d = decodeFloat32(l, data);
    return { shape: w.tensor.shape, dtype: 'float32', dataSync: () => d };
  });
  try {
    model.setWeights(values);
  } catch (e) {
    throw new Error(`loadModel: ${where}: ${errorMessage(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// training config

function optimizerFrom(oc: unknown): Optimizer {
  if (!isObject(oc)) throw new Error(`optimizer_config must be { class_name, config }, got ${JSON.stringify(oc)}`);
  const cls = String(oc.class_name ?? oc.className ?? '');
  const c = (isObject(oc.config) ? oc.config : {}) as Record<string, unknown>;
  const num = (v: unknown, what: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') throw new Error(`${cls} ${what} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const learningRate = num(pick(c, 'learningRate', 'learning_rate', 'lr'), 'learning rate');
  // Keras options this library does not implement: refuse rather than train differently.
  for (const k of ['amsgrad', 'centered', 'weight_decay', 'clipnorm', 'clipvalue', 'global_clipnorm', 'use_ema', 'loss_scale_factor', 'gradient_accumulation_steps']) {
    const v = c[k];
    if (v !== undefined && v !== null && v !== false && v !== 0) throw new Error(`${cls} option ${k}=${JSON.stringify(v)} is not supported`);
  }
  switch (cls.replace(/_/g, '').toLowerCase()) {
    case 'adam': {
      if ('rho' in c || ('decay' in c && num(c.decay, 'decay'))) throw new Error(`Adam learning-rate decay is not supported`);
      return new Adam({ learningRate, beta1: num(pick(c, 'beta1', 'beta_1'), 'beta1'), beta2: num(pick(c, 'beta2', 'beta_2'), 'beta2'), epsilon: num(c.epsilon, 'epsilon') });
    }
    case 'sgd': {
      if (num(c.decay, 'decay')) throw new Error('SGD learning-rate decay is not supported');
      const nesterov = pick(c, 'nesterov', 'useNesterov');
      return new SGD({ learningRate, momentum: num(c.momentum, 'momentum'), nesterov: nesterov === true });
    }
    case 'momentum': // tfjs' MomentumOptimizer: the same update as Keras' SGD with momentum
      return new SGD({ learningRate, momentum: num(c.momentum, 'momentum') ?? 0, nesterov: pick(c, 'useNesterov', 'nesterov') === true });
    case 'rmsprop': {
      // tfjs calls rho 'decay'; Keras 2 has rho and an unrelated learning-rate 'decay'.
      const hasRho = c.rho !== undefined;
      if (hasRho && num(c.decay, 'decay')) throw new Error('RMSprop learning-rate decay is not supported');
      if (num(c.momentum, 'momentum')) throw new Error('RMSprop momentum is not supported');
      return new RMSprop({ learningRate, rho: num(hasRho ? c.rho : c.decay, 'rho'), epsilon: num(c.epsilon, 'epsilon') });
    }
    default:
      throw new Error(`unknown optimizer class ${JSON.stringify(cls)} (supported: Adam, SGD, Momentum, RMSprop)`);
  }
}

function metricName(m: unknown): string[] {
  if (typeof m === 'string') return [m];
  if (Array.isArray(m)) return m.flatMap(metricName);
  if (isObject(m)) {
    if (isObject(m.config) && typeof m.config.name === 'string') return [m.config.name];
    return Object.values(m).flatMap(metricName); // per-output dict
  }
  throw new Error(`unsupported metric ${JSON.stringify(m)}`);
}

export function compileArgsFrom(tc: unknown): CompileArgs {
  if (!isObject(tc)) throw new Error(`trainingConfig must be an object, got ${JSON.stringify(tc)}`);
  for (const k of ['weighted_metrics', 'loss_weights', 'sample_weight_mode'])
    if (tc[k] !== undefined && tc[k] !== null) throw new Error(`${k} is not supported`);
  let loss = tc.loss;
  if (Array.isArray(loss) && loss.length === 1) loss = loss[0];
  if (isObject(loss) && typeof loss.class_name !== 'string') {
    const vals = Object.values(loss);
    if (vals.length === 1) loss = vals[0];
  }
  if (isObject(loss)) {
    // Keras ≥ 2.5: { class_name: 'SparseCategoricalCrossentropy', config: { from_logits, … } }
    if (isObject(loss.config) && loss.config.from_logits === true) throw new Error('losses with from_logits: true are not supported');
    loss = loss.class_name;
  }
  if (typeof loss !== 'string') throw new Error(`the loss must be a name, got ${JSON.stringify(tc.loss)}`);
  const metrics = tc.metrics === undefined || tc.metrics === null ? [] : metricName(tc.metrics);
  return { optimizer: optimizerFrom(tc.optimizer_config), loss, metrics };
}

// ---------------------------------------------------------------------------------------------------
// load

/**
 * Loads a model saved by `saveModel` or by tfjs-layers (`model.save(...)`, tensorflowjs_converter's Keras
 * output): a Sequential of Flatten / Dense / Dropout layers (an InputLayer is folded into the first one).
 * Layer and model names are the saved ones; loading does not advance the name counters of `clearSession`.
 *
 * The model comes back compiled when model.json has a `trainingConfig` (tfjs writes one with
 * `includeOptimizer: true`, `saveModel` whenever the model was compiled), else uncompiled, as in tfjs.
 * `{ compile: false }` skips the training config (e.g. one whose optimizer this library lacks).
 */
export async function loadModel(source: LoadSource, options: LoadOptions = {}): Promise<Sequential> {
  const raw = await readSource(source, options);
  const { where } = raw;
  const specs = checkSpecs(raw.specs, where);
  const located = locate(specs, raw.weightData, where);
  const topo = parseTopology(raw.modelTopology, where);
  let model: Sequential;
  try {
    model = new Sequential({ layers: topo.layers, ...(topo.name ? { name: topo.name } : {}) });
  } catch (e) {
    throw new Error(`loadModel: ${where}: ${errorMessage(e)}`);
  }
  try {
    try {
      model.build();
    } catch (e) {
      throw new Error(`loadModel: ${where}: ${errorMessage(e)}`);
    }
    setWeightsFrom(model, located, raw.weightData, where);
    if (raw.trainingConfig !== undefined && raw.trainingConfig !== null && options.compile !== false) {
      try {
        model.compile(compileArgsFrom(raw.trainingConfig));
      } catch (e) {
        throw new Error(`loadModel: ${where}: cannot compile from trainingConfig: ${errorMessage(e).replace(/^compile: /, '')} (pass { compile: false } to load the model uncompiled)`);
      }
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
