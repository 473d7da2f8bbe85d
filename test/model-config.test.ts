/**
 * Layer and model configs in Keras' serialisation: each layer writes and reads its own config, in
 * tfjs-layers' flavour (model.json) and Keras 3's (config.json of a .keras file).
 *
 * fixtures/model-config/keras3.15-seed-config.json is config.json of the seed model saved by Keras 3.15.1
 * (`keras.Sequential([keras.Input((28, 28)), Flatten(), Dense(512, 'relu'), Dropout(0.2),
 * Dense(10, 'softmax')])`, compiled with adam / sparse_categorical_crossentropy / accuracy, `model.save`).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

import { Adam, clearSession, Dense, Dropout, Flatten, init, layers, optimizers, RMSprop, SGD, seedModel, sequential } from '../src/index.js';
import { layerClass } from '../src/layer-config.js';
import { keras3Config, parseTopology, tfjsTopology } from '../src/model/topology.js';
import { compileArgsFrom, kerasCompileConfig } from '../src/model/training-config.js';

const keras = JSON.parse(readFileSync(new URL('./fixtures/model-config/keras3.15-seed-config.json', import.meta.url), 'utf8'));

/** Keras' config without what Keras adds for its own bookkeeping or only in its newest versions. */
function comparable(x: unknown): unknown {
  // shared_object_id: Keras' object sharing; quantization_config, input_axes/output_axes, optional: options
  // of recent Keras 3 releases that we leave out so that older Keras 3 versions load our files.
  const dropped = new Set(['shared_object_id', 'quantization_config', 'input_axes', 'output_axes', 'optional', 'compile_config']);
  if (Array.isArray(x)) return x.map(comparable);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).filter(([k]) => !dropped.has(k)).map(([k, v]) => [k, comparable(v)]));
  return x;
}

function builtSeedModel() {
  clearSession();
  const m = seedModel();
  m.build();
  return m;
}

beforeAll(async () => {
  await init({ threads: 1 });
});

describe('Keras 3 configs', () => {
  it("the seed model's Keras 3 config is the one Keras 3.15 writes", () => {
    const m = builtSeedModel();
    expect(keras3Config(m)).toEqual(comparable(keras));
    m.dispose();
  });

  it("reads Keras 3.15's config: layers, names, options and the InputLayer's shape", () => {
    const { name, layers: ls } = parseTopology(keras, 'keras');
    expect(name).toBe('sequential');
    expect(ls.map((l) => [l.className, l.name])).toEqual([
      ['Flatten', 'flatten'],
      ['Dense', 'dense'],
      ['Dropout', 'dropout'],
      ['Dense', 'dense_1'],
    ]);
    expect(ls[0].declaredInputShape).toEqual([28, 28]);
    const d = ls[1] as Dense;
    expect([d.units, d.activation, d.useBias, d.kernelInitializer, d.biasInitializer]).toEqual([512, 'relu', true, 'glorotUniform', 'zeros']);
    expect((ls[2] as Dropout).rate).toBe(0.2);
    // and writes it back as Keras did
    const m = sequential({ layers: ls, name });
    m.build();
    expect(keras3Config(m)).toEqual(comparable(keras));
    m.dispose();
  });

  it('round-trips options through both flavours: seeds, initializers, no bias', () => {
    clearSession();
    const m = sequential({
      name: 'opts',
      layers: [
        layers.dense({ units: 3, inputShape: [4], useBias: false, kernelInitializer: 'heNormal', activation: 'tanh' }),
        layers.dropout({ rate: 0.1, seed: 3 }),
        layers.dense({ units: 2, kernelInitializer: 'ones', biasInitializer: 'ones', activation: 'sigmoid' }),
      ],
    });
    m.build();
    for (const topology of [tfjsTopology(m), keras3Config(m)]) {
      const back = parseTopology(JSON.parse(JSON.stringify(topology)), 'round trip');
      expect(back.name).toBe('opts');
      expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
    }
    // Keras 3: a seed on Dropout, seed: null on random initializers only
    const k = keras3Config(m) as { config: { layers: { config: Record<string, unknown> }[] } };
    expect(k.config.layers[2].config.seed).toBe(3);
    expect((k.config.layers[1].config.kernel_initializer as { config: unknown }).config).toEqual({ seed: null });
    expect((k.config.layers[3].config.kernel_initializer as { config: unknown }).config).toEqual({});
    m.dispose();
  });

  it('refuses what it cannot honour, naming the layer and the key', () => {
    const withEntry = (entry: Record<string, unknown>) => ({ ...keras, config: { ...keras.config, layers: [keras.config.layers[0], entry] } });
    const dense = keras.config.layers[2];
    expect(() => parseTopology(withEntry({ ...dense, config: { ...dense.config, kernel_regularizer: { class_name: 'L2' } } }), 'k')).toThrow(
      /k: layer 1 'dense' \(Dense\): kernel_regularizer is not supported/,
    );
    expect(() => parseTopology(withEntry({ ...dense, config: { ...dense.config, dtype: { class_name: 'DTypePolicy', config: { name: 'mixed_float16' } } } }), 'k')).toThrow(
      /dtype "mixed_float16" is not supported/,
    );
    expect(() => parseTopology(withEntry({ ...dense, class_name: 'Conv2D' }), 'k')).toThrow(/unknown layer class 'Conv2D' \(wasm-layers can load Dense, Dropout, Flatten and InputLayer\)/);
  });
});

describe('Keras 3 compile configs', () => {
  it("the seed program's compile_config is Keras 3.15's, and Keras' reads back as the same compile arguments", () => {
    clearSession();
    const m = seedModel({ compile: true });
    const ours = kerasCompileConfig(m.compiled!);
    const theirs = keras.compile_config;
    // The same object Keras 3.15 writes, down to the float32 learning rate and every default option.
    expect(ours).toEqual(theirs);
    m.dispose();

    const args = compileArgsFrom(theirs);
    expect(args.loss).toBe('sparse_categorical_crossentropy');
    expect(args.metrics).toEqual(['accuracy']);
    const adam = args.optimizer as Adam;
    expect(adam).toBeInstanceOf(Adam);
    expect([adam.learningRate, adam.beta1, adam.beta2, adam.epsilon]).toEqual([theirs.optimizer.config.learning_rate, 0.9, 0.999, 1e-7]);
  });

  it('round-trips SGD with momentum and RMSprop; refuses Keras options it does not implement', () => {
    for (const o of [optimizers.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), optimizers.rmsprop({ learningRate: 0.01, rho: 0.8, epsilon: 1e-6 })]) {
      const cfg = kerasCompileConfig({ optimizer: o, loss: 'meanSquaredError', metrics: [] });
      const back = compileArgsFrom(JSON.parse(JSON.stringify(cfg))).optimizer as SGD | RMSprop;
      expect(back.constructor).toBe(o.constructor);
      // Keras writes the value of its float32 variable; the kernels only ever see that value.
      expect(back.getConfig()).toEqual({ ...o.getConfig(), learningRate: Math.fround(o.learningRate) });
    }
    const amsgrad = { ...keras.compile_config, optimizer: { ...keras.compile_config.optimizer, config: { ...keras.compile_config.optimizer.config, amsgrad: true } } };
    expect(() => compileArgsFrom(amsgrad)).toThrow(/amsgrad=true is not supported/);
  });
});

describe('the layer registry', () => {
  it('maps Keras class names to the layer classes', () => {
    expect(layerClass('Dense')).toBe(Dense);
    expect(layerClass('Dropout')).toBe(Dropout);
    expect(layerClass('Flatten')).toBe(Flatten);
    expect(layerClass('Conv2D')).toBeUndefined();
  });
});
