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
 *    layer by layer, kernel then bias). A directory save names it `weights.<content hash>.bin` instead
 *    (tfjs reads any name model.json gives): model.json is then the only file a save replaces, so saves
 *    are atomic (storage.ts).
 *
 * Destinations (`saveModel`): a directory in Node (`'./my-model'` or `'file://./my-model'`; created if
 * missing, the model in it replaced atomically), `'memory'` (anywhere: the artifacts are returned), or
 * any tfjs IOHandler (`tf.io.withSaveHandler(…)`, `tf.io.browserDownloads(…)`, `tf.io.http(…)`).
 *
 * Sources (`loadModel`): a directory or a model.json path in Node, an http(s) URL of a model.json
 * (browsers and Node; the weight files are fetched relative to it, as tfjs does), the in-memory artifacts
 * `{ modelJson, weightData }` (what `saveModel(model, 'memory')` returns), tfjs' `ModelArtifacts`
 * (`{ modelTopology, weightSpecs, weightData }`), or any tfjs IOHandler with `load()` (`tf.io.fromMemory`,
 * `tf.io.browserFiles`, …).
 */
import { errorMessage } from '../platform.js';
import type { LoadOptions, LoadSource, SaveDestination, SaveOptions, SaveResult } from './artifacts.js';
import { applyOptimizerVariables, applyTrainingState, type OptimizerVariable } from './optimizer-state.js';
import { writeModel } from './save.js';
import { Sequential } from './sequential.js';
import { readSource } from './storage.js';
import { declaredWeights, parseTopology } from './topology.js';
import { compileArgsFrom } from './training-config.js';
import { applyWeights, checkSpecs, locate, matchWeights, type Located } from './weights-format.js';

export {
  VERSION,
  type IOHandlerLike,
  type KerasLayerJSON,
  type LoadOptions,
  type LoadSource,
  type MemoryArtifacts,
  type ModelArtifacts,
  type ModelJSON,
  type ModelTopology,
  type SaveDestination,
  type SaveOptions,
  type SaveResult,
  type TrainingState,
  type TrainingConfig,
  type WeightDtype,
  type WeightSpec,
  type WeightsManifestGroup,
} from './artifacts.js';

/**
 * Saves a model's topology, weights and (when compiled) training config in tfjs-layers' format.
 *
 * - `'memory'`: nothing is written; the result holds the artifacts (`loadModel(result)` loads them).
 * - a directory (Node; `'./my-model'` or `'file://./my-model'`): writes `model.json` and
 *   `weights.<content hash>.bin` in it, creating it if needed. A model already there is replaced
 *   atomically: the weights go to a new file, then model.json is replaced (temporary file, fsync,
 *   rename), then the old weights file is removed — a crash, SIGKILL or full disk at any moment leaves the
 *   old model or the new one, never a mix, and a failed save says which file and why (`no space left on
 *   the device (ENOSPC)`). A path ending in `.json` names the model.json file itself (its weights,
 *   `<name>.weights.<hash>.bin`, go beside it). One process should save to a directory at a time.
 * - a tfjs IOHandler (an object with `save(artifacts)`): called with tfjs' ModelArtifacts.
 *
 * With `{ includeOptimizer: true }` the optimizer's state (Adam's moments, the iteration count) is saved
 * too, as tfjs saves it, with the dropout seed and step and the global random generator: loading it gives
 * a model whose next `fit` continues as this one's would have (see SaveOptions).
 */
export async function saveModel(model: Sequential, destination: SaveDestination, options: SaveOptions = {}): Promise<SaveResult> {
  if (!(model instanceof Sequential)) throw new Error(`saveModel: expected a Sequential model, got ${model === null ? 'null' : typeof model}`);
  if (options === null || typeof options !== 'object') throw new Error(`saveModel: options must be an object such as { includeOptimizer: true }, got ${options === null ? 'null' : typeof options}`);
  if (options.includeOptimizer !== undefined && typeof options.includeOptimizer !== 'boolean') throw new Error(`saveModel: includeOptimizer must be true or false, got ${String(options.includeOptimizer)}`);
  return writeModel(model, destination, options);
}

/**
 * Puts back what a save with includeOptimizer added: the optimizer's variables (group 'optimizer', as tfjs
 * writes them) and the training state. The global random generator goes back to where it was at saving,
 * so the next fit shuffles as the unbroken run would; call setSeed() after loading to choose otherwise.
 */
function restoreTraining(model: Sequential, located: Located[], data: Uint8Array, state: unknown, where: string): void {
  const saved = located.filter((l) => l.spec.group === 'optimizer');
  if (saved.length > 0) {
    const vars: OptimizerVariable[] = saved.map(({ spec, offset, byteLength }) => {
      if (spec.dtype !== 'float32' && spec.dtype !== 'int32') throw new Error(`loadModel: ${where}: optimizer weight '${spec.name}' has dtype ${spec.dtype}`);
      if (spec.quantization) throw new Error(`loadModel: ${where}: optimizer weight '${spec.name}' is quantized; optimizer state must be saved unquantized`);
      const bytes = data.slice(offset, offset + byteLength); // a copy: aligned, and owned
      return { name: spec.name, shape: spec.shape, dtype: spec.dtype, data: spec.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer) };
    });
    applyOptimizerVariables(model.layers, model.compiled!.optimizer, vars, `loadModel: ${where}`);
  }
  if (state !== undefined && state !== null) applyTrainingState(model, model.compiled!.optimizer, state, `loadModel: ${where}`);
}

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
  const topo = parseTopology(raw.modelTopology, `loadModel: ${where}`);
  let model: Sequential;
  try {
    model = new Sequential({ layers: topo.layers, ...(topo.name ? { name: topo.name } : {}) });
  } catch (e) {
    throw new Error(`loadModel: ${where}: ${errorMessage(e)}`);
  }
  try {
    // The file is checked against the weights the layers will have before they are built: a topology
    // declaring a 40000×12000 layer over a small weights file costs nothing.
    let declared: ReturnType<typeof declaredWeights>;
    try {
      declared = declaredWeights(model.layers);
    } catch (e) {
      throw new Error(`loadModel: ${where}: ${errorMessage(e)}`);
    }
    const matched = matchWeights(declared, located, where);
    try {
      model.build();
    } catch (e) {
      throw new Error(`loadModel: ${where}: ${errorMessage(e)}`);
    }
    applyWeights(model, matched, raw.weightData, where);
    if (raw.trainingConfig !== undefined && raw.trainingConfig !== null && options.compile !== false) {
      try {
        model.compile(compileArgsFrom(raw.trainingConfig));
      } catch (e) {
        throw new Error(`loadModel: ${where}: cannot compile from trainingConfig: ${errorMessage(e).replace(/^compile: /, '')} (pass { compile: false } to load the model uncompiled)`);
      }
      restoreTraining(model, located, raw.weightData, raw.trainingState, where);
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
