/** Saving a model in tfjs-layers' format: its artifacts (model.json, weights.bin) and where they go. */
import type { Layer } from '../layers.js';
import { bytesOf, concatBytes } from '../platform.js';
import { VERSION, WEIGHTS_BIN, type ModelJSON, type SaveDestination, type SaveOptions, type SaveResult, type WeightSpec } from './artifacts.js';
import { optimizerVariables, trainingStateOf } from './optimizer-state.js';
import type { Compiled } from './compile.js';
import { writeArtifacts } from './storage.js';
import { tfjsTopology } from './topology.js';
import { trainingConfigOf } from './training-config.js';
import { weightBytes, weightSpecsOf } from './weights-format.js';

/** What saving needs of a model. */
export interface SavableModel {
  readonly name: string;
  readonly layers: Layer[];
  readonly inputShape: number[];
  readonly compiled?: Compiled;
  readonly dropoutStep?: number;
  readonly dropoutSeed?: number;
  build(): void;
}

export interface Serialized {
  modelJson: ModelJSON;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

/**
 * The model's artifacts in tfjs-layers' format (builds the model if needed). With `includeOptimizer` (and a
 * compiled model) the optimizer's variables follow the weights as tfjs writes them (group 'optimizer', see
 * optimizer-state.ts), and `trainingState` keeps what else the next fit draws from: the dropout seed and
 * step, and the global random generator (random.ts).
 */
export function serialize(model: SavableModel, options: SaveOptions = {}): Serialized {
  model.build();
  let weightSpecs = weightSpecsOf(model.layers);
  let weightData = weightBytes(model.layers);
  const modelJson: ModelJSON = {
    modelTopology: tfjsTopology(model),
    format: 'layers-model',
    generatedBy: `wasm-layers v${VERSION}`,
    convertedBy: null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs }],
  };
  if (model.compiled) modelJson.trainingConfig = trainingConfigOf(model.compiled);
  if (options.includeOptimizer && model.compiled) {
    const vars = optimizerVariables(model.layers, model.compiled.optimizer);
    weightSpecs = [...weightSpecs, ...vars.map((v): WeightSpec => ({ name: v.name, shape: v.shape, dtype: v.dtype, group: 'optimizer' }))];
    weightData = concatBytes([new Uint8Array(weightData), ...vars.map((v) => bytesOf(v.data))]).buffer as ArrayBuffer;
    modelJson.weightsManifest = [{ paths: [WEIGHTS_BIN], weights: weightSpecs }];
    modelJson.trainingState = trainingStateOf(model, model.compiled.optimizer);
  }
  return { modelJson, weightSpecs, weightData };
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Serialises the model and writes it to `destination` (see saveModel in io.ts). */
export async function writeModel(model: SavableModel, destination: SaveDestination, options: SaveOptions = {}): Promise<SaveResult> {
  const { modelJson, weightSpecs, weightData } = serialize(model, options);
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
  return Object.assign(result, await writeArtifacts(destination, modelJson, weightSpecs, weightData));
}
