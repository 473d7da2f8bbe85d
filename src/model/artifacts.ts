/**
 * The artifacts of a saved model in tfjs-layers' format, as they exist in memory and as tfjs' IOHandlers
 * exchange them (model.json's content, the weight specs, the weight bytes), and the options of saving and
 * loading.
 */
import type { KerasLayerJSON } from '../layer-config.js';

export type { KerasLayerJSON };

/** The library version written into `generatedBy` and `keras_version`. */
export const VERSION = '0.1.0';

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
  /** Saved with `includeOptimizer` (wasm-layers only; tfjs ignores it): what the next fit draws from. */
  trainingState?: TrainingState;
}

/** What a resumed fit needs besides weights and optimizer variables to continue bit for bit. */
export interface TrainingState {
  /** The model's dropout step counter and seed (seed absent: the model had never been fitted). */
  dropoutStep: number;
  dropoutSeed?: number;
  /** The global random generator's state (random.ts), which shuffling draws from. */
  randomState: number[];
  /** The optimizer's learning rate as a double (.keras keeps only its float32). */
  learningRate?: number;
}

export interface SaveOptions {
  /**
   * Also save the optimizer's state (tfjs' `includeOptimizer`: its variables as weights of group
   * 'optimizer') and the training state, so that a loaded model trains on exactly as this one would.
   * Default false, as in tfjs. (`.keras` files always hold the optimizer's state.)
   */
  includeOptimizer?: boolean;
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

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** A directory save names its weights file `weights.<content hash>.bin` (see writeArtifacts in storage.ts). */
export const WEIGHTS_PREFIX = 'weights';
