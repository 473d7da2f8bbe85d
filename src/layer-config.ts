/**
 * Layer serialisation: the registry of layer classes by Keras class name, and the config conventions all
 * layers share. Each layer class writes its own config (`toConfig`) and reads it back (`fromConfig`); this
 * module only knows how a config is framed.
 *
 * Two flavours of Keras' layer config are written and both are read:
 *  - `'tfjs'`: tfjs-layers' model.json (`{ class_name, config }`, `dtype: 'float32'`, the first layer holding
 *    `batch_input_shape`), which is also what tensorflowjs_converter makes of Keras 2 models;
 *  - `'keras3'`: Keras 3's config.json inside `.keras` files (`{ module, class_name, config, registered_name,
 *    build_config }`, `dtype` a DTypePolicy, the input shape on an InputLayer).
 * Reading accepts either spelling of keys (Keras' snake_case, tfjs' camelCase) in both.
 */
import type { Layer, LayerArgs } from './layers.js';

export type ConfigFormat = 'tfjs' | 'keras3';

export interface ToConfigOptions {
  /** Default `'tfjs'`. */
  format?: ConfigFormat;
  /** `[null, ...inputShape]`: written as `batch_input_shape` (tfjs' first layer). */
  batchInputShape?: (number | null)[];
}

/** A layer in Keras' serialisation: `{ class_name: 'Dense', config: { units: 10, … } }` (Keras 3 adds module, registered_name, build_config). */
export interface KerasLayerJSON {
  class_name: string;
  config: Record<string, unknown>;
  module?: string;
  registered_name?: string | null;
  build_config?: { input_shape: (number | null)[] };
}

/** What the registry holds for a layer class: how to build one from its config. */
export interface LayerClass {
  /**
   * A layer from its serialised config (either flavour). `base` carries what the model decides: the name
   * (when the config has one) and the input shape (for the first layer). Throws on what it cannot honour.
   */
  fromConfig(config: Record<string, unknown>, base: LayerArgs): Layer;
}

const registry = new Map<string, LayerClass>();

/** Registers a layer class under its Keras class name, so that saved models holding it can be loaded. */
export function registerLayer(className: string, cls: LayerClass): void {
  registry.set(className, cls);
}

/** The class registered for a Keras class name, if any. */
export function layerClass(className: string): LayerClass | undefined {
  return registry.get(className);
}

export function registeredLayerNames(): string[] {
  return [...registry.keys()];
}

// ---------------------------------------------------------------------------------------------------
// conventions shared by all layers

export function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** First defined value among Keras' snake_case key and tfjs' camelCase one. */
export function pick(c: Record<string, unknown>, ...keys: string[]): unknown {
  for (const k of keys) if (c[k] !== undefined) return c[k];
  return undefined;
}

/** A Keras 3 serialised object: `{ module, class_name, config, registered_name: null }`. */
export function kerasObject(module: string, className: string, config: Record<string, unknown>): Record<string, unknown> {
  return { module, class_name: className, config, registered_name: null };
}

/** Keras' `naming.to_snake_case` (loss names, layer and optimizer weight groups). */
export function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** The dtype entry of a layer config: a name for tfjs, a DTypePolicy for Keras 3. */
export function dtypeConfig(format: ConfigFormat): unknown {
  return format === 'keras3' ? kerasObject('keras', 'DTypePolicy', { name: 'float32' }) : 'float32';
}

/** The per-sample shape from batch_input_shape / batch_shape / input_shape / input_dim, if any. */
export function declaredShape(c: Record<string, unknown>, what: string): number[] | undefined {
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

/** What every layer config must say for this library to honour it: trainable, float32. */
export function checkCommon(c: Record<string, unknown>, what: string): void {
  if (c.trainable === false) throw new Error(`${what}: non-trainable layers (trainable: false) are not supported`);
  let dtype = c.dtype;
  if (isObject(dtype)) dtype = isObject(dtype.config) ? dtype.config.name : undefined; // Keras 3's DTypePolicy
  if (dtype !== undefined && dtype !== null && dtype !== 'float32') throw new Error(`${what}: dtype ${JSON.stringify(dtype)} is not supported (only float32)`);
}

/** Options this library does not implement must be absent or null. Errors name the key (the caller adds the layer). */
export function checkAbsent(c: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) {
    const v = c[k];
    if (v !== undefined && v !== null) throw new Error(`${k} is not supported (got ${JSON.stringify(v)}); only null`);
  }
}
