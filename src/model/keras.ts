/**
 * Reading Keras 3 `.keras` files (format in keras-archive.ts) into a Sequential model: the layers from
 * config.json through the layer registry (topology.ts, which reads Keras 3's configs), the weights and the
 * optimizer state from model.weights.h5 (keras-h5.ts), compiled from `compile_config`. Sizes are bounded and
 * shapes checked against the bytes before anything is allocated; what this library lacks is refused by name.
 */
import { isObject } from '../layer-config.js';
import { sizeOf } from '../tensor.js';
import type { Optimizer } from '../optimizers.js';
import { errorMessage as message, isNode, readRegularFile } from '../platform.js';
import type { LoadOptions } from './artifacts.js';
import { CONFIG, MAX_FILE_BYTES, TRAINING_STATE_KEY, WEIGHTS, groupNames, readArchive } from './keras-archive.js';
import { openH5, type H5Reader } from './keras-h5.js';
import { applyTrainingState } from './optimizer-state.js';
import { Sequential } from './sequential.js';
import { declaredWeights, parseTopology } from './topology.js';
import { compileArgsFrom } from './training-config.js';

export type KerasSource = string | ArrayBuffer | ArrayBufferView | Blob;

/** What parseTopology would misreport or not see: a functional model, custom (registered) classes. */
function checkModelConfig(config: unknown, where: string): void {
  if (!isObject(config)) throw new Error(`${where}: ${CONFIG} must hold an object, got ${Array.isArray(config) ? 'an array' : typeof config}`);
  const cls = config.class_name;
  if (cls !== 'Sequential') {
    const kind = cls === 'Functional' || cls === 'Model' ? `a functional model (class ${String(cls)})` : `a model of class ${JSON.stringify(cls)}`;
    throw new Error(`${where}: this is ${kind}; wasm-layers loads Sequential models only`);
  }
  const c = config.config;
  if (!isObject(c) || !Array.isArray(c.layers)) throw new Error(`${where}: ${CONFIG} has no config.layers list`);
  c.layers.forEach((entry, i) => {
    if (!isObject(entry)) return;
    const reg = entry.registered_name;
    if (typeof reg === 'string' && reg !== entry.class_name)
      throw new Error(`${where}: layer ${i} is the custom class '${reg}' (registered with keras.saving.register_keras_serializable); wasm-layers loads only its own layers`);
    const mod = entry.module;
    if (typeof mod === 'string' && !mod.startsWith('keras.'))
      throw new Error(`${where}: layer ${i} ('${String(entry.class_name)}') comes from the module '${mod}', not from Keras; wasm-layers loads only its own layers`);
  });
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
// load

async function sourceBytes(source: KerasSource, options: LoadOptions): Promise<{ bytes: Uint8Array; where: string }> {
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), where: 'the .keras bytes' };
  if (ArrayBuffer.isView(source)) return { bytes: new Uint8Array(source.buffer, source.byteOffset, source.byteLength), where: 'the .keras bytes' };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as { name?: unknown }).name;
    const where = typeof name === 'string' && name ? name : 'the .keras Blob';
    if (source.size > MAX_FILE_BYTES) throw new Error(`${where} has ${source.size} bytes, more than a .keras file this library can load`);
    return { bytes: new Uint8Array(await source.arrayBuffer()), where };
  }
  if (typeof source !== 'string' || source === '') throw new Error(`loadModel: expected a .keras path, URL, Blob/File or bytes, got ${source === '' ? "''" : typeof source}`);
  if (/^https?:\/\//i.test(source) || (!isNode() && !source.startsWith('file://'))) {
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
    if (len > MAX_FILE_BYTES) throw new Error(`loadModel: ${source} has ${len} bytes, more than a .keras file this library can load`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), where: source };
  }
  const path = source.startsWith('file://') ? source.slice('file://'.length) : source;
  // A regular file of bounded size only: a FIFO, a device or a directory is refused before any read.
  const bytes = await readRegularFile(path, MAX_FILE_BYTES).catch((e: unknown) => {
    throw new Error(`loadModel: ${message(e)}${/a directory/.test(message(e)) ? ' (a .keras model is one file)' : ''}`);
  });
  if (!bytes) throw new Error(`loadModel: ${path} does not exist`);
  return { bytes, where: path };
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
  checkModelConfig(config, where);
  const parsed = parseTopology(config, `loadModel: ${where}`);
  // What build() will allocate, from the layer shapes alone: a config claiming a huge layer is refused by
  // comparing it with the weights file instead of by running out of memory.
  let bound: number;
  try {
    bound = declaredWeights(parsed.layers).reduce((n, w) => n + sizeOf(w.shape), 0);
  } catch (e) {
    throw new Error(`loadModel: ${where}: ${message(e)}`);
  }
  if (bound * 4 > archive.weights.length)
    throw new Error(`${where}: the layers in ${CONFIG} need ${bound} float32 weights but ${WEIGHTS} has only ${archive.weights.length} bytes`);
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
      loadOptimizerState(model, model.compiled!.optimizer, h5, where);
      const state = isObject(archive.metadata) ? archive.metadata[TRAINING_STATE_KEY] : undefined;
      if (state !== undefined) applyTrainingState(model, model.compiled!.optimizer, state, `loadModel: ${where}`);
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    h5.close();
  }
}


/**
 * Keras' `load_weights` from a `.weights.h5` file (path, URL, Blob or bytes) into a model: the layers'
 * weights and, when the model is compiled (compile first, as in Keras) and the file holds it, the
 * optimizer's state, so training resumes with its moments and step count.
 */
export async function loadKerasWeights(model: Sequential, source: KerasSource, options: LoadOptions = {}): Promise<void> {
  const { bytes, where } = await sourceBytes(source, options);
  model.build();
  const h5 = await openH5(bytes, where);
  try {
    loadLayerWeights(model, h5, where);
    if (model.compiled) loadOptimizerState(model, model.compiled.optimizer, h5, where);
  } finally {
    h5.close();
  }
}
