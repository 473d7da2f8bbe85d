/**
 * Writing Keras 3 `.keras` files (format in keras-archive.ts): the model config from the layers' own Keras 3
 * configs (topology.ts), the compile config, and the weights and optimizer state in HDF5 (keras-h5.ts), laid
 * out as Keras' `_save_state` lays them out, so that `keras.saving.load_model` restores everything,
 * optimizer moments included, without a warning.
 */
import type { Optimizer } from '../optimizers.js';
import { writeError, writeFileAtomic } from '../platform.js';
import { KERAS_VERSION, TRAINING_STATE_KEY, groupNames, writeArchive } from './keras-archive.js';
import { writeH5, type H5GroupSpec } from './keras-h5.js';
import { trainingStateOf } from './optimizer-state.js';
import type { SavableModel } from './save.js';
import { keras3Config } from './topology.js';
import { kerasCompileConfig, kerasOptimizerName } from './training-config.js';

export interface KerasSaveResult {
  /** The `.keras` file's bytes. */
  bytes: Uint8Array;
  /** The file written, when the destination was a path. */
  file?: string;
}

/** `optimizer/vars`: iterations (int64), learning rate, then each parameter's slots (Adam: m, v) in model order. */
function optimizerGroup(model: SavableModel, o: Optimizer): H5GroupSpec {
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

function dateSaved(now = new Date()): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${p2(now.getMonth() + 1)}-${p2(now.getDate())}@${p2(now.getHours())}:${p2(now.getMinutes())}:${p2(now.getSeconds())}`;
}

/**
 * The weights file of a model (`model.weights.h5` inside a `.keras` file, or what Keras' `save_weights`
 * writes to a `.weights.h5` path): the layers' variables and, when compiled, the optimizer's.
 */
export async function kerasWeightsBytes(model: SavableModel): Promise<Uint8Array> {
  model.build();
  const names = groupNames(model.layers.map((l) => l.className));
  const groups: H5GroupSpec[] = model.layers.map((l, i) => ({
    path: ['layers', names[i], 'vars'],
    attrs: { name: l.name },
    datasets: l.weights.map((w, j) => ({ name: String(j), shape: [...w.tensor.shape], data: (w.tensor.storageView() as Float32Array).slice() })),
  }));
  if (model.compiled) groups.push(optimizerGroup(model, model.compiled.optimizer));
  groups.push({ path: ['vars'], attrs: { name: model.name } });
  return writeH5(groups);
}

/** The `.keras` file of a model, as bytes (in any runtime: hand them to a download, a fetch, IndexedDB, …). */
export async function kerasBytes(model: SavableModel): Promise<Uint8Array> {
  model.build();
  const config = keras3Config(model, 'saving .keras');
  if (model.compiled) config.compile_config = kerasCompileConfig(model.compiled);
  const weights = await kerasWeightsBytes(model);
  const metadata: Record<string, unknown> = { keras_version: KERAS_VERSION, date_saved: dateSaved() };
  // What Keras' format has no place for and an exact resumption needs (Keras ignores unknown metadata keys).
  if (model.compiled) metadata[TRAINING_STATE_KEY] = trainingStateOf(model, model.compiled.optimizer);
  return writeArchive(config, metadata, weights);
}

/** Keras' `save_weights` to a `.weights.h5` file, replaced atomically. */
export async function saveKerasWeights(model: SavableModel, file: string): Promise<{ bytes: Uint8Array; file: string }> {
  const bytes = await kerasWeightsBytes(model);
  const target = file.startsWith('file://') ? file.slice('file://'.length) : file;
  await writeFileAtomic(target, bytes).catch((e: unknown) => {
    throw writeError(e, target, 'saveWeights: ');
  });
  return { bytes, file: target };
}

/**
 * Saves a model as a Keras 3 `.keras` file that `keras.saving.load_model` reads: layers, weights, compile
 * config and optimizer state. In Node the file is replaced atomically (a crash mid-save leaves the old file
 * whole); without a path only the bytes are returned.
 */
export async function saveKeras(model: SavableModel, file?: string): Promise<KerasSaveResult> {
  const bytes = await kerasBytes(model);
  if (file === undefined) return { bytes };
  const target = file.startsWith('file://') ? file.slice('file://'.length) : file;
  await writeFileAtomic(target, bytes).catch((e: unknown) => {
    throw writeError(e, target, 'saveModel: ');
  });
  return { bytes, file: target };
}
