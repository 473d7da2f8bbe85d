/**
 * `loadModel` / `saveModel`: one entry for both formats. A `.keras` path or URL, a Blob/File or raw bytes
 * go to Keras 3's format (keras.ts / keras-save.ts, imported on first use with their zip and HDF5 libraries); everything
 * else to tfjs-layers' model.json + weights.bin (io.ts).
 */
import type { LoadOptions, LoadSource, SaveDestination, SaveResult } from './artifacts.js';
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
export async function saveModel(model: Sequential, destination: KerasPath): Promise<KerasSaveResult>;
export async function saveModel(model: Sequential, destination: SaveDestination): Promise<SaveResult>;
export async function saveModel(model: Sequential, destination: SaveDestination): Promise<SaveResult | KerasSaveResult> {
  if (typeof destination === 'string' && /\.keras$/i.test(destination)) {
    if (!(model instanceof Object) || !('layers' in model)) throw new Error(`saveModel: expected a Sequential model, got ${model === null ? 'null' : typeof model}`);
    return (await import('./keras-save.js')).saveKeras(model, destination);
  }
  return saveTfjs(model, destination);
}

/** The `.keras` file of a model as bytes, in any runtime (for a download, IndexedDB, an upload, …). */
export async function kerasBytes(model: Sequential): Promise<Uint8Array> {
  return (await import('./keras-save.js')).kerasBytes(model);
}
