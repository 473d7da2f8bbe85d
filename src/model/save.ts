/** Saving a model in tfjs-layers' format: its artifacts (model.json, weights.bin) and where they go. */
import type { Layer } from '../layers.js';
import { VERSION, WEIGHTS_BIN, type ModelJSON, type SaveDestination, type SaveResult, type WeightSpec } from './artifacts.js';
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
  build(): void;
}

export interface Serialized {
  modelJson: ModelJSON;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

/** The model's artifacts in tfjs-layers' format (builds the model if needed). */
export function serialize(model: SavableModel): Serialized {
  model.build();
  const weightSpecs = weightSpecsOf(model.layers);
  const modelJson: ModelJSON = {
    modelTopology: tfjsTopology(model),
    format: 'layers-model',
    generatedBy: `wasm-layers v${VERSION}`,
    convertedBy: null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs }],
  };
  if (model.compiled) modelJson.trainingConfig = trainingConfigOf(model.compiled);
  return { modelJson, weightSpecs, weightData: weightBytes(model.layers) };
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Serialises the model and writes it to `destination` (see saveModel in io.ts). */
export async function writeModel(model: SavableModel, destination: SaveDestination): Promise<SaveResult> {
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
  return Object.assign(result, await writeArtifacts(destination, modelJson, weightSpecs, weightData));
}
