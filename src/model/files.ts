/**
 * `loadModel` / `saveModel`: one entry for both formats. A `.keras` path or URL, a Blob/File or raw bytes
 * go to Keras 3's format (keras.ts / keras-save.ts, imported on first use with their zip and HDF5 libraries); everything
 * else to tfjs-layers' model.json + weights.bin (io.ts).
 */
import type { LoadOptions, LoadSource, SaveDestination, SaveOptions, SaveResult } from './artifacts.js';
import { loadModel as loadTfjs, saveModel as saveTfjs } from './io.js';
import type { KerasSource } from './keras.js';
import type { KerasSaveResult } from './keras-save.js';
import type { Sequential } from './sequential.js';

export type { KerasSaveResult, KerasSource };

/** A `.keras` path or URL (query and fragment allowed). */
export type KerasPath = `${string}.keras`;

function isKerasSource(source: unknown): source is KerasSource {
  if (typeof source === 'string') return /\.keras(?:[?#].*)?$/i.test(source);
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return true;
  return typeof Blob !== 'undefined' && source instanceof Blob;
}

/**
 * Loads a model: a Keras 3 `.keras` file (path, URL, File/Blob or bytes; see loadKeras in keras.ts), or a
 * tfjs-layers model (directory, model.json path or URL, artifacts or an IOHandler; see io.ts).
 */
export async function loadModel(source: LoadSource | KerasSource, options: LoadOptions = {}): Promise<Sequential> {
  if (isKerasSource(source))
    // One contract for both formats: every error starts with `loadModel: ` (.keras messages start with the file).
    return (await import('./keras.js')).loadKeras(source, options).catch((e: unknown) => {
      if (e instanceof Error && !e.message.startsWith('loadModel: ')) e.message = `loadModel: ${e.message}`;
      throw e;
    });
  return loadTfjs(source as LoadSource, options);
}

/** Saves a model: to a `.keras` file (Keras 3's format, atomically), else in tfjs-layers' format (io.ts). */
export async function saveModel(model: Sequential, destination: KerasPath, options?: SaveOptions): Promise<KerasSaveResult>;
export async function saveModel(model: Sequential, destination: SaveDestination, options?: SaveOptions): Promise<SaveResult>;
export async function saveModel(model: Sequential, destination: SaveDestination, options: SaveOptions = {}): Promise<SaveResult | KerasSaveResult> {
  if (typeof destination === 'string' && /\.keras$/i.test(destination)) {
    if (!(model instanceof Object) || !('layers' in model)) throw new Error(`saveModel: expected a Sequential model, got ${model === null ? 'null' : typeof model}`);
    return (await import('./keras-save.js')).saveKeras(model, destination);
  }
  return saveTfjs(model, destination, options);
}

/** The `.keras` file of a model as bytes, in any runtime (for a download, IndexedDB, an upload, …). */
export async function kerasBytes(model: Sequential): Promise<Uint8Array> {
  return (await import('./keras-save.js')).kerasBytes(model);
}

/**
 * Keras' `save_weights`: the weights (and, when compiled, the optimizer's state) to a `.weights.h5` file that
 * Keras' `model.load_weights` and `loadWeights` read, replaced atomically.
 */
export async function saveWeights(model: Sequential, file: `${string}.weights.h5`): Promise<{ bytes: Uint8Array; file: string }> {
  if (typeof file !== 'string' || !/\.weights\.h5$/i.test(file)) throw new Error(`saveWeights: the path must end in .weights.h5 (Keras' weights format), got ${JSON.stringify(file)}`);
  return (await import('./keras-save.js')).saveKerasWeights(model, file);
}

/**
 * Keras' `load_weights` from a `.weights.h5` file (path, URL, Blob or bytes) into `model`: the layers'
 * weights and, when the model is compiled (compile it first, as in Keras), the optimizer's state.
 */
export async function loadWeights(model: Sequential, source: KerasSource, options: LoadOptions = {}): Promise<void> {
  return (await import('./keras.js')).loadKerasWeights(model, source, options);
}
