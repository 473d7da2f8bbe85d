/**
 * A Sequential model's architecture as Keras serialises it (its "model config"): written in tfjs-layers'
 * flavour (model.json's `modelTopology`) or Keras 3's (config.json of a `.keras` file), and read from
 * either. Each layer writes and reads its own config (layers.ts); this module frames the list.
 */
import { checkCommon, declaredShape, dtypeConfig, isObject, kerasObject, layerClass, registeredLayerNames, type ConfigFormat, type KerasLayerJSON } from '../layer-config.js';
import type { Layer } from '../layers.js';
import { errorMessage } from '../platform.js';
import { VERSION, type ModelTopology } from './artifacts.js';

/** What serialising needs of a model. */
export interface ModelDescription {
  readonly name: string;
  readonly layers: readonly Layer[];
  readonly inputShape: number[];
}

function checkSerialisable(layer: Layer, what: string): void {
  if (!layerClass(layer.className))
    throw new Error(`${what}: layer '${layer.name}' of class ${layer.className} cannot be serialised (supported: ${registeredLayerNames().join(', ')})`);
}

/** The layer entries in tfjs-layers' flavour: the first layer carries `batch_input_shape`. */
function tfjsLayers(model: ModelDescription, what: string): KerasLayerJSON[] {
  return model.layers.map((l, i) => {
    checkSerialisable(l, what);
    return { class_name: l.className, config: l.toConfig({ format: 'tfjs', ...(i === 0 ? { batchInputShape: [null, ...model.inputShape] } : {}) }) };
  });
}

/** model.json's `modelTopology` (tfjs-layers' format). The model must be built. */
export function tfjsTopology(model: ModelDescription, what = 'saveModel'): ModelTopology {
  return { class_name: 'Sequential', config: { name: model.name, layers: tfjsLayers(model, what) }, keras_version: `wasm-layers ${VERSION}`, backend: 'wasm-layers' };
}

/**
 * Keras 3's serialisation of the model (config.json of a `.keras` file without `compile_config`): an
 * InputLayer first, each layer as `{ module, class_name, config, registered_name, build_config }`. The
 * model must be built.
 */
export function keras3Config(model: ModelDescription, what = 'saveModel'): Record<string, unknown> {
  const batchShape = [null, ...model.inputShape];
  const input = kerasObject('keras.layers', 'InputLayer', { batch_shape: batchShape, dtype: 'float32', sparse: false, ragged: false, name: 'input_layer' });
  const layers = model.layers.map((l) => {
    checkSerialisable(l, what);
    const entry = kerasObject('keras.layers', l.className, l.toConfig({ format: 'keras3' }));
    if (l.hasBuildConfig) entry.build_config = { input_shape: [null, ...l.inputShape] };
    return entry;
  });
  return {
    ...kerasObject('keras', 'Sequential', { name: model.name, trainable: true, dtype: dtypeConfig('keras3'), layers: [input, ...layers], build_input_shape: batchShape }),
    build_config: { input_shape: batchShape },
  };
}

/** Writes the model config in the given flavour. */
export function modelConfig(model: ModelDescription, format: ConfigFormat, what?: string): Record<string, unknown> {
  return format === 'keras3' ? keras3Config(model, what) : (tfjsTopology(model, what) as unknown as Record<string, unknown>);
}

export interface ParsedTopology {
  name?: string;
  layers: Layer[];
}

/**
 * The layers (new, unbuilt) of a Sequential model config in either flavour: tfjs' modelTopology (also
 * tensorflowjs_converter's `{ model_config }` wrapper), Keras 2's or Keras 3's config. An InputLayer is
 * folded into the first layer. `what` prefixes errors (e.g. `loadModel: model.json`).
 */
export function parseTopology(topology: unknown, what: string): ParsedTopology {
  let t = topology;
  if (isObject(t) && isObject(t.model_config)) t = t.model_config; // tensorflowjs_converter's Keras output
  if (!isObject(t)) throw new Error(`${what}: modelTopology must be an object, got ${Array.isArray(t) ? 'an array' : typeof t}`);
  const cls = t.class_name ?? t.className;
  if (cls !== 'Sequential') throw new Error(`${what}: only Sequential models can be loaded; modelTopology.class_name is ${JSON.stringify(cls)}`);
  const config = t.config;
  const list = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(list)) throw new Error(`${what}: modelTopology.config.layers must be an array`);
  const name = isObject(config) && typeof config.name === 'string' && config.name ? config.name : undefined;
  // Keras 3 also records the input shape on the model (build_input_shape) when there is no InputLayer.
  const buildShape = isObject(config) ? declaredShape({ batch_input_shape: config.build_input_shape ?? undefined }, `${what}: build_input_shape`) : undefined;
  let pendingInput: number[] | undefined;

  const layers: Layer[] = [];
  list.forEach((entry, i) => {
    if (!isObject(entry) || typeof (entry.class_name ?? entry.className) !== 'string' || !isObject(entry.config ?? {}))
      throw new Error(`${what}: layer ${i} must be { class_name, config }, got ${JSON.stringify(entry)?.slice(0, 100)}`);
    const lcls = (entry.class_name ?? entry.className) as string;
    const c = (entry.config ?? {}) as Record<string, unknown>;
    const lname = typeof c.name === 'string' && c.name ? c.name : undefined;
    const lwhat = `${what}: layer ${i}${lname ? ` '${lname}'` : ''} (${lcls})`;
    if (lcls === 'InputLayer') {
      if (layers.length > 0) throw new Error(`${lwhat}: an InputLayer may only come first`);
      pendingInput = declaredShape(c, lwhat);
      if (!pendingInput) throw new Error(`${lwhat}: has no batch_input_shape`);
      return;
    }
    checkCommon(c, lwhat);
    const first = layers.length === 0;
    const inputShape = first ? (pendingInput ?? declaredShape(c, lwhat) ?? buildShape) : undefined;
    const base = { ...(lname ? { name: lname } : {}), ...(inputShape ? { inputShape } : {}) };
    const cls = layerClass(lcls);
    try {
      if (!cls) throw new Error(`unknown layer class '${lcls}' (wasm-layers can load ${registeredLayerNames().join(', ')} and InputLayer)`);
      layers.push(cls.fromConfig(c, base));
    } catch (e) {
      const msg = errorMessage(e);
      throw new Error(msg.startsWith(lwhat) ? msg : `${lwhat}: ${msg}`);
    }
  });
  if (layers.length === 0) throw new Error(`${what}: the model has no layers`);
  if (!layers[0].declaredInputShape) throw new Error(`${what}: the first layer '${layers[0].name}' has no batch_input_shape, so the model's input shape is unknown`);
  return { name, layers };
}

/**
 * The weights (names without `:0`, shapes) parsed layers will have once built, from the shapes alone:
 * nothing is allocated, so a file declaring a huge layer is refused before it can cost memory.
 */
export function declaredWeights(layers: readonly Layer[]): { name: string; shape: number[] }[] {
  let shape = layers[0]?.declaredInputShape ?? [];
  return layers.flatMap((l) => {
    const w = l.weightShapes(shape);
    shape = l.computeOutputShape(shape);
    return w;
  });
}
