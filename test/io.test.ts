/**
 * Saving and loading (src/model/io.ts) in tfjs-layers' format: round trips through memory, a directory
 * and HTTP; the exact model.json / weights.bin layout; interop both ways with tfjs-layers itself (on
 * tfjs-core's CPU backend); the training config; name counters; and one clear error per failure.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  Adam,
  RMSprop,
  SGD,
  Sequential,
  clearSession,
  init,
  layers,
  loadModel,
  optimizers,
  saveModel,
  seedModel,
  sequential,
  setSeed,
  tensor,
  type ModelJSON,
  type SaveResult,
  type Tensor,
  type WeightSpec,
  type LossIdentifier,
  type MetricIdentifier,
} from '../src/index.js';
import { VERSION } from '../src/model/io.js';
import { mulberry32 } from './helpers/rand.js';

// ---------------------------------------------------------------------------------------------------
// helpers

let tmp: string;
let server: Server;
let origin: string;
const requests: string[] = [];

/** mulberry32 in [-1, 1). */
function rand(seed: number): () => number {
  const r = mulberry32(seed);
  return () => r() * 2 - 1;
}

function values(n: number, seed: number): Float32Array {
  const r = rand(seed);
  return Float32Array.from({ length: n }, r);
}

const N = 16;
const X = values(N * 6, 99); // [N, 2, 3]

/** Flatten → Dense(8, relu) → Dropout(0.25, seed 7) → Dense(3, softmax), with random weights and biases. */
function makeModel(): Sequential {
  const m = sequential([
    layers.flatten({ inputShape: [2, 3] }),
    layers.dense({ units: 8, activation: 'relu' }),
    layers.dropout({ rate: 0.25, seed: 7 }),
    layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  randomizeWeights(m, 5);
  return m;
}

function randomizeWeights(m: Sequential, seed: number): void {
  const ws = m.getWeights();
  m.setWeights(ws.map((w, i) => tensor(values(w.size, seed * 100 + i), w.shape)));
  ws.forEach((w) => w.dispose());
}

function predict(m: Sequential, x: Float32Array = X, shape: number[] = [N, 2, 3]): Float32Array {
  const xt = tensor(x, shape);
  const y = m.predict(xt);
  const d = y.dataSync() as Float32Array;
  xt.dispose();
  y.dispose();
  return d;
}

function tfPredict(m: tfl.LayersModel, x: Float32Array = X, shape: number[] = [N, 2, 3]): Float32Array {
  return tf.tidy(() => (m.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
}

function weightsOf(m: Sequential): Float32Array[] {
  return m.getWeights().map((t: Tensor) => {
    const d = t.dataSync() as Float32Array;
    t.dispose();
    return d;
  });
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const silent = () => undefined;

/** Artifacts for tf.io.fromMemory from our save result. */
function forTfjs(r: SaveResult) {
  return {
    modelTopology: r.modelJson.modelTopology,
    weightSpecs: r.modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: r.weightData,
    ...(r.modelJson.trainingConfig ? { trainingConfig: r.modelJson.trainingConfig } : {}),
  };
}

/** Captures what a tfjs model saves. */
async function tfjsArtifacts(m: tfl.LayersModel, includeOptimizer = false): Promise<tf.io.ModelArtifacts> {
  let art: tf.io.ModelArtifacts | undefined;
  await m.save(
    tf.io.withSaveHandler(async (a) => {
      art = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer },
  );
  return art!;
}

async function expectReject(p: Promise<unknown>, ...fragments: (string | RegExp)[]): Promise<string> {
  let msg = '';
  try {
    await p;
  } catch (e) {
    msg = (e as Error).message;
  }
  expect(msg, 'expected a rejection').not.toBe('');
  for (const f of fragments) expect(msg).toMatch(f);
  return msg;
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

beforeAll(async () => {
  await init();
  const warn = vi.spyOn(console, 'warn').mockImplementation(silent);
  await tf.setBackend('cpu');
  await tf.ready();
  tf.tensor([0]).dispose();
  warn.mockRestore();
  tmp = await mkdtemp(join(tmpdir(), 'wl-io-'));
  // A static server over `tmp` (with CORS, like a CDN), recording the paths requested.
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname + url.search);
    try {
      const body = await readFile(join(tmp, decodeURIComponent(url.pathname)));
      res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': url.pathname.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Access-Control-Allow-Origin': '*' }).end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  clearSession();
  setSeed(1234);
});

// ---------------------------------------------------------------------------------------------------

describe('round trips', () => {
  it("memory: identical predictions (bitwise), summary, configs and weights; uncompiled stays uncompiled", async () => {
    const m = makeModel();
    const r = await saveModel(m, 'memory');
    expect(r.files).toBeUndefined();
    const back = await loadModel(r);
    expect(back).toBeInstanceOf(Sequential);
    expect(back.name).toBe(m.name);
    expect(back.layers.map((l) => l.name)).toEqual(m.layers.map((l) => l.name));
    expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
    expect(back.summary(silent)).toBe(m.summary(silent));
    expect(back.optimizer).toBeUndefined();
    const a = weightsOf(m);
    const b = weightsOf(back);
    a.forEach((w, i) => expect(bits(b[i])).toEqual(bits(w)));
    expect(bits(predict(back))).toEqual(bits(predict(m)));
    m.dispose();
    back.dispose();
  });

  it('memory: model.save(), a JSON string and a Buffer are accepted too', async () => {
    const m = makeModel();
    const r = await m.save('memory');
    const back = await loadModel({ modelJson: JSON.stringify(r.modelJson), weightData: Buffer.from(r.weightData) });
    expect(bits(predict(back))).toEqual(bits(predict(m)));
    // tfjs' ModelArtifacts shape as a plain object, and as an IOHandler
    const back2 = await loadModel(forTfjs(r));
    const back3 = await loadModel(tf.io.fromMemory(forTfjs(r)));
    expect(bits(predict(back2))).toEqual(bits(predict(m)));
    expect(bits(predict(back3))).toEqual(bits(predict(m)));
    for (const x of [m, back, back2, back3]) x.dispose();
  });

  it('directory: model.json and weights.<hash>.bin with the expected fields and bytes; loads back identically', async () => {
    const m = makeModel();
    const dir = join(tmp, 'roundtrip', 'nested');
    const r = await saveModel(m, dir); // the parents are created
    // the weights file is named after its content, so that a save replaces model.json alone (save-atomic.test.ts)
    const wname = r.modelJson.weightsManifest[0].paths[0];
    expect(wname).toMatch(/^weights\.[0-9a-f]{16}\.bin$/);
    expect(r.files).toEqual({ modelJson: join(dir, 'model.json'), weights: join(dir, wname) });
    expect((await readdir(dir)).sort()).toEqual(['model.json', wname]);

    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJSON;
    expect(json).toEqual(r.modelJson);
    const glorot = { class_name: 'GlorotUniform', config: {} };
    const zeros = { class_name: 'Zeros', config: {} };
    const nulls = { kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null };
    expect(json).toEqual({
      modelTopology: {
        class_name: 'Sequential',
        config: {
          name: 'sequential',
          layers: [
            { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', batch_input_shape: [null, 2, 3] } },
            {
              class_name: 'Dense',
              config: { name: 'dense', trainable: true, dtype: 'float32', units: 8, activation: 'relu', use_bias: true, kernel_initializer: glorot, bias_initializer: zeros, ...nulls },
            },
            { class_name: 'Dropout', config: { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.25, noise_shape: null, seed: 7 } },
            {
              class_name: 'Dense',
              config: { name: 'dense_1', trainable: true, dtype: 'float32', units: 3, activation: 'softmax', use_bias: true, kernel_initializer: glorot, bias_initializer: zeros, ...nulls },
            },
          ],
        },
        keras_version: `wasm-layers ${VERSION}`,
        backend: 'wasm-layers',
      },
      format: 'layers-model',
      generatedBy: `wasm-layers v${VERSION}`,
      convertedBy: null,
      weightsManifest: [
        {
          paths: [wname],
          weights: [
            { name: 'dense/kernel', shape: [6, 8], dtype: 'float32' },
            { name: 'dense/bias', shape: [8], dtype: 'float32' },
            { name: 'dense_1/kernel', shape: [8, 3], dtype: 'float32' },
            { name: 'dense_1/bias', shape: [3], dtype: 'float32' },
          ],
        },
      ],
    });
    expect('trainingConfig' in json).toBe(false);

    // the weights: little-endian float32, Keras order, nothing else
    const bin = await readFile(join(dir, wname));
    expect(bin.length).toBe(m.countParams() * 4);
    expect(bin.length).toBe((6 * 8 + 8 + 8 * 3 + 3) * 4);
    const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    const flat = weightsOf(m).flatMap((w) => Array.from(w));
    flat.forEach((v, i) => expect(dv.getFloat32(i * 4, true)).toBe(v));
    expect(new Uint8Array(r.weightData)).toEqual(new Uint8Array(bin));

    expect(r.modelArtifactsInfo.weightDataBytes).toBe(bin.length);
    expect(r.modelArtifactsInfo.modelTopologyType).toBe('JSON');
    expect(r.modelArtifactsInfo.modelTopologyBytes).toBe(JSON.stringify(json.modelTopology).length);

    for (const src of [dir, `file://${dir}`, join(dir, 'model.json')]) {
      const back = await loadModel(src);
      expect(bits(predict(back))).toEqual(bits(predict(m)));
      expect(back.summary(silent)).toBe(m.summary(silent));
      back.dispose();
    }
    m.dispose();
  });

  it('directory: file:// destinations, model.save(), overwriting, and a .json path', async () => {
    const dir = join(tmp, 'overwrite');
    const a = makeModel();
    await a.save(`file://${dir}`);
    const b = makeModel(); // other names (sequential_1, dense_2, …) and other weights
    randomizeWeights(b, 9);
    await saveModel(b, dir); // overwrites both files, as tfjs-node does
    const back = await loadModel(dir);
    expect(back.name).toBe('sequential_1');
    expect(bits(predict(back))).toEqual(bits(predict(b)));
    expect(maxAbsDiff(predict(back), predict(a))).toBeGreaterThan(0);

    const file = join(tmp, 'asjson', 'my.json');
    const r = await saveModel(a, file);
    expect(r.files).toEqual({ modelJson: file, weights: join(tmp, 'asjson', r.modelJson.weightsManifest[0].paths[0]) });
    expect(r.files!.weights).toMatch(/my\.weights\.[0-9a-f]{16}\.bin$/);
    const back2 = await loadModel(file);
    expect(bits(predict(back2))).toEqual(bits(predict(a)));
    for (const x of [a, b, back, back2]) x.dispose();
  });

  it('http: loads model.json and the weights beside it (also from a directory URL, keeping a query string)', async () => {
    const m = makeModel();
    const wname = (await saveModel(m, join(tmp, 'served'))).modelJson.weightsManifest[0].paths[0];
    requests.length = 0;
    const back = await loadModel(`${origin}/served/model.json`);
    expect(requests).toEqual(['/served/model.json', `/served/${wname}`]);
    expect(bits(predict(back))).toEqual(bits(predict(m)));
    requests.length = 0;
    const back2 = await loadModel(`${origin}/served/?v=3`);
    expect(requests).toEqual(['/served/model.json?v=3', `/served/${wname}?v=3`]);
    expect(bits(predict(back2))).toEqual(bits(predict(m)));
    // a custom fetch (auth headers, …) is used for every request
    const seen: string[] = [];
    const back3 = await loadModel(`${origin}/served/model.json`, {
      fetch: (u, init) => {
        seen.push(`${u} ${JSON.stringify(init?.headers)}`);
        return fetch(u, init);
      },
      requestInit: { headers: { authorization: 'Bearer x' } },
    });
    expect(seen).toEqual([`${origin}/served/model.json {"authorization":"Bearer x"}`, `${origin}/served/${wname} {"authorization":"Bearer x"}`]);
    for (const x of [m, back, back2, back3]) x.dispose();
  });

  it('a large model (MNIST-sized) round-trips bitwise', async () => {
    const m = seedModel();
    const dir = join(tmp, 'mnist');
    const r = await m.save(dir);
    expect((await stat(r.files!.weights)).size).toBe(407_050 * 4);
    const back = await loadModel(dir);
    const x = values(8 * 784, 3).map((v) => (v + 1) / 2);
    expect(bits(predict(back, x, [8, 28, 28]))).toEqual(bits(predict(m, x, [8, 28, 28])));
    // 407,050 values: compare the bits in a loop (toEqual on arrays this long is slow)
    const w = weightsOf(m);
    const firstDiff = (a: Float32Array, b: Float32Array) => {
      const [u, v] = [bits(a), bits(b)];
      return u.length !== v.length ? 0 : u.findIndex((x, j) => x !== v[j]);
    };
    weightsOf(back).forEach((b, i) => expect(firstDiff(b, w[i]), `weight ${i}`).toBe(-1));
    m.dispose();
    back.dispose();
  });
});

describe('names', () => {
  it('keeps the saved names and leaves the name counters alone', async () => {
    const m = makeModel(); // sequential, flatten, dense, dropout, dense_1
    const r = await saveModel(m, 'memory');
    m.dispose();

    clearSession();
    const back = await loadModel(r);
    expect(back.name).toBe('sequential');
    expect(back.layers.map((l) => l.name)).toEqual(['flatten', 'dense', 'dropout', 'dense_1']);
    // Keras semantics: explicit (saved) names do not advance the counters.
    expect(layers.dense({ units: 1 }).name).toBe('dense');
    expect(sequential().name).toBe('sequential');

    // Loading the same model twice, and next to models using those names, is fine.
    const again = await loadModel(r);
    expect(again.layers.map((l) => l.name)).toEqual(['flatten', 'dense', 'dropout', 'dense_1']);
    expect(layers.dense({ units: 1 }).name).toBe('dense_1');
    const fresh = makeModel();
    expect(fresh.layers.map((l) => l.name)).toEqual(['flatten', 'dense_2', 'dropout', 'dense_3']);
    for (const x of [back, again, fresh]) x.dispose();
  });
});

describe('interop with tfjs-layers', () => {
  it('tfjs loads our artifacts (memory and HTTP) and predicts the same within 1e-5', async () => {
    const m = makeModel();
    const r = await saveModel(m, 'memory');
    const t = await tfl.loadLayersModel(tf.io.fromMemory(forTfjs(r)));
    expect(t.layers.map((l) => l.name)).toEqual(m.layers.map((l) => l.name));
    expect(t.layers.map((l) => l.getClassName())).toEqual(['Flatten', 'Dense', 'Dropout', 'Dense']);
    expect(maxAbsDiff(tfPredict(t), predict(m))).toBeLessThanOrEqual(1e-5);
    // the weights, value for value
    const ours = weightsOf(m);
    t.getWeights().forEach((w, i) => expect(bits(w.dataSync() as Float32Array)).toEqual(bits(ours[i])));

    // from our files on disk, through tfjs' own HTTP loader
    await saveModel(m, join(tmp, 'for-tfjs'));
    const t2 = await tfl.loadLayersModel(`${origin}/for-tfjs/model.json`);
    expect(maxAbsDiff(tfPredict(t2), predict(m))).toBeLessThanOrEqual(1e-5);
    t.dispose();
    t2.dispose();
    m.dispose();
  });

  it('tfjs compiles our trainingConfig (Adam, SGD, Momentum, RMSProp)', async () => {
    const cases: [() => unknown, LossIdentifier, string, MetricIdentifier[]][] = [
      [() => optimizers.adam({ learningRate: 0.01, beta1: 0.8 }), 'sparseCategoricalCrossentropy', 'Adam', ['accuracy']],
      [() => optimizers.sgd({ learningRate: 0.1 }), 'categoricalCrossentropy', 'SGD', []],
      [() => optimizers.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), 'meanSquaredError', 'Momentum', ['acc']],
      [() => optimizers.rmsprop({ learningRate: 0.002, rho: 0.8 }), 'binaryCrossentropy', 'RMSProp', ['accuracy']],
    ];
    for (const [opt, loss, cls, metrics] of cases) {
      const m = makeModel();
      m.compile({ optimizer: opt() as Adam, loss, metrics });
      const r = await saveModel(m, 'memory');
      const t = await tfl.loadLayersModel(tf.io.fromMemory(forTfjs(r)));
      expect(t.optimizer.getClassName()).toBe(cls);
      expect(t.optimizer.getConfig()).toEqual(expect.objectContaining(r.modelJson.trainingConfig!.optimizer_config.config));
      expect(t.loss).toBe(loss);
      t.dispose();
      m.dispose();
    }
  });

  it('we load a tfjs model (withSaveHandler artifacts, fromMemory handler, HTTP) and predict the same within 1e-5', async () => {
    const t = tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [2, 3] }),
        tfl.layers.dense({ units: 8, activation: 'tanh' }), // tfjs' default initializer: glorotNormal (VarianceScaling)
        tfl.layers.dropout({ rate: 0.1 }),
        tfl.layers.dense({ units: 4, activation: 'sigmoid', kernelInitializer: 'heUniform', biasInitializer: 'ones' }),
        tfl.layers.dense({ units: 2, useBias: false }),
      ],
    });
    const art = await tfjsArtifacts(t);
    const ours = await loadModel(art);
    expect(ours.layers.map((l) => l.name)).toEqual(t.layers.map((l) => l.name));
    expect(ours.layers.map((l) => l.getConfig())).toEqual([
      { name: t.layers[0].name, inputShape: [2, 3] },
      { name: t.layers[1].name, units: 8, activation: 'tanh', useBias: true, kernelInitializer: 'glorotNormal', biasInitializer: 'zeros' },
      { name: t.layers[2].name, rate: 0.1 },
      { name: t.layers[3].name, units: 4, activation: 'sigmoid', useBias: true, kernelInitializer: 'heUniform', biasInitializer: 'ones' },
      { name: t.layers[4].name, units: 2, activation: 'linear', useBias: false, kernelInitializer: 'glorotNormal', biasInitializer: 'zeros' },
    ]);
    expect(ours.name).toBe(t.name);
    expect(ours.optimizer).toBeUndefined(); // tfjs' loadLayersModel also returns it uncompiled
    expect(maxAbsDiff(predict(ours), tfPredict(t))).toBeLessThanOrEqual(1e-5);
    const tw = t.getWeights().map((w) => w.dataSync() as Float32Array);
    weightsOf(ours).forEach((w, i) => expect(bits(w)).toEqual(bits(tw[i])));

    const ours2 = await loadModel(tf.io.fromMemory(art));
    expect(bits(predict(ours2))).toEqual(bits(predict(ours)));

    // As tfjs-node would write it: model.json + weights.bin, served over HTTP.
    const dir = join(tmp, 'from-tfjs');
    await mkdir(dir, { recursive: true });
    const modelJson = {
      modelTopology: art.modelTopology,
      format: art.format,
      generatedBy: art.generatedBy,
      convertedBy: art.convertedBy,
      weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }],
    };
    await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
    await writeFile(join(dir, 'weights.bin'), new Uint8Array(art.weightData as ArrayBuffer));
    const ours3 = await loadModel(`${origin}/from-tfjs/model.json`);
    const ours4 = await loadModel(dir);
    expect(bits(predict(ours3))).toEqual(bits(predict(ours)));
    expect(bits(predict(ours4))).toEqual(bits(predict(ours)));
    for (const x of [ours, ours2, ours3, ours4]) x.dispose();
    t.dispose();
  });

  it('a tfjs model saved with includeOptimizer comes back compiled, with its optimizer state (resume.test.ts checks the values)', async () => {
    const t = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 5, activation: 'relu' }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
    t.compile({ optimizer: tf.train.adam(0.005, 0.85, 0.995), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const xs = tf.tensor(values(12 * 6, 4), [12, 6]);
    const ys = tf.tensor(Array.from({ length: 12 }, (_, i) => i % 3), [12], 'float32');
    await t.fit(xs, ys, { epochs: 2, batchSize: 4, verbose: 0 });
    const art = await tfjsArtifacts(t, true);
    expect(art.weightSpecs!.some((s) => s.group === 'optimizer')).toBe(true); // iter, and Adam's m and v
    const ours = await loadModel(art);
    expect(ours.optimizer).toBeInstanceOf(Adam);
    expect(ours.optimizer!.getConfig()).toEqual({ name: 'Adam', learningRate: 0.005, beta1: 0.85, beta2: 0.995, epsilon: 1e-7 });
    const x6 = values(12 * 6, 4);
    expect(maxAbsDiff(predict(ours, x6, [12, 6]), tfPredict(t, x6, [12, 6]))).toBeLessThanOrEqual(1e-5);
    // evaluate agrees with tfjs' (same loss and metric)
    const [loss, acc] = ours.evaluate(tensor(x6, [12, 6]), tensor(Int32Array.from({ length: 12 }, (_, i) => i % 3))) as number[];
    const [tl, ta] = (t.evaluate(xs, ys) as tf.Scalar[]).map((s) => s.dataSync()[0]);
    expect(Math.abs(loss - tl)).toBeLessThanOrEqual(1e-5);
    expect(acc).toBeCloseTo(ta, 6);
    const un = await loadModel(art, { compile: false });
    expect(un.optimizer).toBeUndefined();
    for (const x of [ours, un]) x.dispose();
    xs.dispose();
    ys.dispose();
    t.dispose();
  });

  it("Keras' converter layout: model_config, an InputLayer, shards and quantized weights (checked against tfjs' decoder)", async () => {
    const W = values(4 * 3, 8);
    // kernel as uint8 (affine), bias as float16 (these three values are exact in half precision)
    const min = Math.min(...W);
    const scale = (Math.max(...W) - min) / 255;
    const q8 = Uint8Array.from(W, (v) => Math.round((v - min) / scale));
    const h16 = Uint16Array.from([0x3800, 0xbd00, 0x4200]);
    const specs: WeightSpec[] = [
      { name: 'dense/kernel', shape: [4, 3], dtype: 'float32', quantization: { dtype: 'uint8', scale, min } },
      { name: 'dense/bias', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
    ];
    const data = new Uint8Array(12 + 6);
    data.set(q8, 0);
    data.set(new Uint8Array(h16.buffer), 12);
    const modelJson = {
      format: 'layers-model',
      generatedBy: 'keras v2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: {
        keras_version: '2.15.0',
        backend: 'tensorflow',
        model_config: {
          class_name: 'Sequential',
          config: {
            name: 'sequential_7',
            layers: [
              { class_name: 'InputLayer', config: { batch_input_shape: [null, 4], dtype: 'float32', sparse: false, ragged: false, name: 'input_1' } },
              {
                class_name: 'Dense',
                config: {
                  name: 'dense',
                  trainable: true,
                  dtype: 'float32',
                  units: 3,
                  activation: 'softmax',
                  use_bias: true,
                  kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
                  bias_initializer: { class_name: 'Zeros', config: {} },
                  kernel_regularizer: null,
                  bias_regularizer: null,
                  activity_regularizer: null,
                  kernel_constraint: null,
                  bias_constraint: null,
                },
              },
            ],
          },
        },
      },
      weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: specs }],
    };
    const dir = join(tmp, 'keras');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
    await writeFile(join(dir, 'group1-shard1of2.bin'), data.subarray(0, 10)); // a shard boundary inside a weight
    await writeFile(join(dir, 'group1-shard2of2.bin'), data.subarray(10));

    const ours = await loadModel(dir);
    expect(ours.name).toBe('sequential_7');
    expect(ours.layers.map((l) => l.name)).toEqual(['dense']);
    expect(ours.inputShape).toEqual([4]);
    const ref = tf.io.decodeWeights(data.buffer, specs);
    const [k, b] = weightsOf(ours);
    expect(bits(k)).toEqual(bits(ref['dense/kernel'].dataSync() as Float32Array));
    expect(Array.from(b)).toEqual([0.5, -1.25, 3]);
    expect(bits(b)).toEqual(bits(ref['dense/bias'].dataSync() as Float32Array));

    const t = await tfl.loadLayersModel(`${origin}/keras/model.json`);
    const x4 = values(5 * 4, 2);
    expect(maxAbsDiff(predict(ours, x4, [5, 4]), tfPredict(t, x4, [5, 4]))).toBeLessThanOrEqual(1e-5);
    ours.dispose();
    t.dispose();
  });
});

describe('trainingConfig', () => {
  it('is written when compiled and restores the optimizer, loss and metrics; training continues identically', async () => {
    const m = makeModel();
    m.compile({ optimizer: optimizers.adam({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 }), loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
    const r = await saveModel(m, join(tmp, 'compiled'));
    const json = JSON.parse(await readFile(join(tmp, 'compiled', 'model.json'), 'utf8')) as ModelJSON;
    expect(json.trainingConfig).toEqual({
      loss: 'sparse_categorical_crossentropy',
      metrics: ['acc'],
      optimizer_config: { class_name: 'Adam', config: { learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 } },
    });
    expect(r.modelJson.trainingConfig).toEqual(json.trainingConfig);

    const back = await loadModel(join(tmp, 'compiled'));
    expect(back.optimizer).toBeInstanceOf(Adam);
    expect(back.optimizer!.getConfig()).toEqual(m.optimizer!.getConfig());
    const y = tensor(Int32Array.from({ length: N }, (_, i) => i % 3));
    const x = tensor(X, [N, 2, 3]);
    expect(back.evaluate(x, y)).toEqual(m.evaluate(x, y));

    // Same fresh optimizer state, same seed → the same training, bit for bit (dropout included).
    setSeed(77);
    const h1 = await m.fit(x, y, { epochs: 3, batchSize: 5, verbose: 0 });
    setSeed(77);
    const h2 = await back.fit(x, y, { epochs: 3, batchSize: 5, verbose: 0 });
    expect(h2.history).toEqual(h1.history);
    expect(Object.keys(h2.history)).toEqual(['loss', 'acc']);
    const w1 = weightsOf(m);
    weightsOf(back).forEach((w, i) => expect(bits(w)).toEqual(bits(w1[i])));

    // a save after training restores the trained weights, still compiled
    const again = await loadModel(await back.save('memory'));
    expect(bits(predict(again))).toEqual(bits(predict(m)));
    expect(again.optimizer).toBeInstanceOf(Adam);
    for (const t of [m, back, again, x, y]) t.dispose();
  });

  it('SGD, SGD with momentum, RMSprop; mse without metrics; { compile: false }', async () => {
    const cases: { opt: () => SGD | RMSprop; cls: typeof SGD | typeof RMSprop; loss: LossIdentifier; metrics: MetricIdentifier[]; json: Record<string, unknown> }[] = [
      { opt: () => new SGD({ learningRate: 0.05 }), cls: SGD, loss: 'meanSquaredError', metrics: [], json: { loss: 'mean_squared_error', metrics: [], optimizer_config: { class_name: 'SGD', config: { learningRate: 0.05 } } } },
      {
        opt: () => new SGD({ learningRate: 0.05, momentum: 0.5, nesterov: true }),
        cls: SGD,
        loss: 'categoricalCrossentropy',
        metrics: ['accuracy'],
        json: { loss: 'categorical_crossentropy', metrics: ['accuracy'], optimizer_config: { class_name: 'Momentum', config: { learningRate: 0.05, momentum: 0.5, useNesterov: true } } },
      },
      {
        opt: () => new RMSprop({ learningRate: 0.003, rho: 0.7, epsilon: 1e-5 }),
        cls: RMSprop,
        loss: 'binaryCrossentropy',
        metrics: ['accuracy'],
        json: {
          loss: 'binary_crossentropy',
          metrics: ['accuracy'],
          optimizer_config: { class_name: 'RMSProp', config: { learningRate: 0.003, decay: 0.7, momentum: 0, epsilon: 1e-5, centered: false } },
        },
      },
    ];
    for (const c of cases) {
      const m = makeModel();
      const o = c.opt();
      m.compile({ optimizer: o, loss: c.loss, metrics: c.metrics });
      const r = await saveModel(m, 'memory');
      expect(r.modelJson.trainingConfig).toEqual(c.json);
      const back = await loadModel(r);
      expect(back.optimizer).toBeInstanceOf(c.cls);
      expect(back.optimizer!.getConfig()).toEqual(o.getConfig());
      const x = tensor(X, [N, 2, 3]);
      const y = tensor(values(N * 3, 6).map((v) => (v > 0 ? 1 : 0)), [N, 3]);
      expect(back.evaluate(x, y)).toEqual(m.evaluate(x, y));
      const un = await loadModel(r, { compile: false });
      expect(un.optimizer).toBeUndefined();
      for (const t of [m, back, un, x, y]) t.dispose();
    }
  });

  it("Keras' spelling of the training config (snake_case optimizer keys, loss objects, nested metrics)", async () => {
    const m = makeModel();
    const r = await saveModel(m, 'memory');
    const json = clone(r.modelJson) as unknown as Record<string, unknown>;
    json.trainingConfig = {
      loss: { class_name: 'SparseCategoricalCrossentropy', config: { reduction: 'auto', name: 'sparse_categorical_crossentropy', from_logits: false } },
      metrics: [[{ class_name: 'MeanMetricWrapper', config: { name: 'accuracy', dtype: 'float32' } }]],
      optimizer_config: { class_name: 'RMSprop', config: { name: 'RMSprop', learning_rate: 0.004, rho: 0.85, momentum: 0.0, epsilon: 1e-7, centered: false, decay: 0.0 } },
    };
    const back = await loadModel({ modelJson: json, weightData: r.weightData });
    expect(back.optimizer!.getConfig()).toEqual({ name: 'RMSprop', learningRate: 0.004, rho: 0.85, epsilon: 1e-7 });
    const y = tensor(Int32Array.from({ length: N }, (_, i) => i % 3));
    const x = tensor(X, [N, 2, 3]);
    expect((back.evaluate(x, y) as number[]).length).toBe(2);
    for (const t of [m, back, x, y]) t.dispose();
  });
});

describe('errors', () => {
  let good: SaveResult;
  let dir: string;

  beforeAll(async () => {
    clearSession();
    const m = makeModel();
    good = await saveModel(m, 'memory');
    dir = join(tmp, 'good');
    await saveModel(m, dir);
    m.dispose();
  });

  const withJson = (edit: (j: ModelJSON) => void, weightData: ArrayBuffer = good.weightData) => {
    const j = clone(good.modelJson);
    edit(j);
    return { modelJson: j, weightData };
  };

  it('missing files', async () => {
    await expectReject(loadModel(join(tmp, 'nope')), `'${join(tmp, 'nope')}' does not exist`);
    const empty = join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    await expectReject(loadModel(empty), `${join(empty, 'model.json')} not found`);
    const noWeights = join(tmp, 'no-weights');
    await mkdir(noWeights, { recursive: true });
    await writeFile(join(noWeights, 'model.json'), JSON.stringify(good.modelJson));
    await expectReject(loadModel(noWeights), `weights file ${join(noWeights, 'weights.bin')} (listed in ${join(noWeights, 'model.json')}) not found`);
    await expectReject(loadModel(`${origin}/nope/model.json`), `fetching model.json ${origin}/nope/model.json failed with HTTP status 404`);
    await mkdir(join(tmp, 'served-nw'), { recursive: true });
    await writeFile(join(tmp, 'served-nw', 'model.json'), JSON.stringify(good.modelJson));
    await expectReject(loadModel(`${origin}/served-nw/model.json`), `weights file (listed in ${origin}/served-nw/model.json) ${origin}/served-nw/weights.bin failed with HTTP status 404`);
    await expectReject(loadModel('http://127.0.0.1:1/model.json'), 'fetching model.json http://127.0.0.1:1/model.json failed: ');
  });

  it('corrupt JSON', async () => {
    const bad = join(tmp, 'corrupt');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'model.json'), JSON.stringify(good.modelJson).slice(0, 50));
    await expectReject(loadModel(bad), `${join(bad, 'model.json')} is not valid JSON (`);
    await expectReject(loadModel({ modelJson: '{"modelTopology": ', weightData: good.weightData }), 'modelJson is not valid JSON');
    await expectReject(loadModel({ modelJson: '[1, 2]', weightData: good.weightData }), 'must hold a JSON object', 'got an array');
    await expectReject(loadModel(withJson((j) => delete (j as Partial<ModelJSON>).modelTopology)), 'has no modelTopology');
    await expectReject(loadModel(withJson((j) => delete (j as Partial<ModelJSON>).weightsManifest)), 'has no weightsManifest array');
    await expectReject(loadModel(withJson((j) => ((j.weightsManifest[0].weights[1] as unknown as Record<string, unknown>).shape = 'eight'))), "weight spec 1 must be { name, shape: int[]");
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers = 'x' as never))), 'modelTopology.config.layers must be an array');
  });

  it('unknown layer class, unsupported models and options', async () => {
    const conv = { class_name: 'Conv2D', config: { name: 'conv2d', filters: 4, kernel_size: [3, 3] } };
    await expectReject(loadModel(withJson((j) => j.modelTopology.config.layers.splice(1, 0, conv))), "layer 1 'conv2d' (Conv2D): unknown layer class 'Conv2D'", 'Dense, Dropout, Flatten');
    await expectReject(loadModel(withJson((j) => ((j.modelTopology as { class_name: string }).class_name = 'Functional'))), 'only Sequential models', '"Functional"');
    await expectReject(loadModel(withJson((j) => ((j as { format: string }).format = 'graph-model'))), "tfjs graph model (format 'graph-model')");
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers[1].config.activation = 'elu'))), "layer 1 'dense' (Dense): unknown activation \"elu\"");
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers[1].config.kernel_regularizer = { class_name: 'L2', config: { l2: 0.01 } }))), "layer 1 'dense' (Dense): kernel_regularizer is not supported");
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers[3].config.trainable = false))), "layer 3 'dense_1' (Dense): non-trainable layers");
    await expectReject(loadModel(withJson((j) => delete j.modelTopology.config.layers[0].config.batch_input_shape)), "the first layer 'flatten' has no batch_input_shape");
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers[3].config.name = 'dense'))), "a layer named 'dense' is already in the model");
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers[0].config.batch_input_shape = [null, 2, null]))), 'the input shape must be known positive integers');
  });

  it('weight count, names, shapes and byte length', async () => {
    // one weight fewer (the last bias), with its bytes
    await expectReject(
      loadModel(withJson((j) => j.weightsManifest[0].weights.pop(), good.weightData.slice(0, good.weightData.byteLength - 12))),
      'the weights manifest lists 3 model weights but the model has 4',
      'dense_1/bias [3]',
    );
    // a bias dropped from the model (use_bias: false) but still in the file
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers[3].config.use_bias = false))), 'lists 4 model weights but the model has 3');
    // same byte count, transposed shape
    await expectReject(loadModel(withJson((j) => (j.weightsManifest[0].weights[0].shape = [8, 6]))), "weight 'dense/kernel' has shape [8,6] in the manifest but the model needs [6,8]");
    // a layer's units changed: the kernel no longer fits
    await expectReject(loadModel(withJson((j) => (j.modelTopology.config.layers[3].config.units = 4))), "weight 'dense_1/kernel' has shape [8,3] in the manifest but the model needs [8,4]");
    await expectReject(loadModel(withJson((j) => (j.weightsManifest[0].weights[2].name = 'other/kernel'))), "weight 'dense_1/kernel' is missing from the weights manifest", "'other/kernel'");
    await expectReject(loadModel(withJson((j) => (j.weightsManifest[0].weights[2].name = 'dense/kernel'))), "the weights manifest lists 'dense/kernel' twice");
    await expectReject(loadModel(withJson((j) => (j.weightsManifest[0].weights[3].dtype = 'int32'))), "weight 'dense_1/bias' has dtype int32");
    // truncated and padded data
    const total = good.weightData.byteLength;
    await expectReject(loadModel({ modelJson: good.modelJson, weightData: good.weightData.slice(0, total - 4) }), `the weight data has ${total - 4} bytes but the manifest's 4 weights need ${total}`, '(83 float32 values)');
    await expectReject(loadModel({ modelJson: good.modelJson, weightData: new ArrayBuffer(total + 1) }), `has ${total + 1} bytes but the manifest's 4 weights need ${total}`);
    const short = join(tmp, 'short');
    await mkdir(short, { recursive: true });
    await writeFile(join(short, 'model.json'), JSON.stringify(good.modelJson));
    await writeFile(join(short, 'weights.bin'), new Uint8Array(good.weightData).subarray(0, 100));
    await expectReject(loadModel(short), join(short, 'model.json'), `the weight data has 100 bytes but the manifest's 4 weights need ${total}`);
    // NaN in the weights
    const nan = new Float32Array(good.weightData.slice(0));
    nan[5] = NaN;
    await expectReject(loadModel({ modelJson: good.modelJson, weightData: nan.buffer }), 'weight 0 (dense/kernel:0) contains NaN or Infinity');
  });

  it('training configs we cannot honour name the problem and suggest { compile: false }', async () => {
    const tc = (optimizer_config: unknown, loss: unknown = 'mse', metrics: unknown = []) =>
      withJson((j) => ((j as unknown as Record<string, unknown>).trainingConfig = { loss, metrics, optimizer_config }));
    const adagrad = tc({ class_name: 'Adagrad', config: { learningRate: 0.1 } });
    await expectReject(loadModel(adagrad), 'cannot compile from trainingConfig: unknown optimizer class "Adagrad"', 'pass { compile: false }');
    const m = await loadModel(adagrad, { compile: false });
    expect(m.optimizer).toBeUndefined();
    m.dispose();
    await expectReject(loadModel(tc({ class_name: 'Adam', config: { learning_rate: 0.1, amsgrad: true } })), 'Adam option amsgrad=true is not supported');
    await expectReject(loadModel(tc({ class_name: 'Adam', config: {} }, 'hinge')), 'unknown loss "hinge"');
    await expectReject(loadModel(tc({ class_name: 'Adam', config: {} }, 'mse', ['mae'])), 'unknown metric "mae"');
  });

  it('save errors', async () => {
    const m = makeModel();
    const file = join(tmp, 'a-file');
    await writeFile(file, 'x');
    await expectReject(saveModel(m, file), `'${file}' exists and is not a directory`);
    await expectReject(saveModel(m, 'https://example.com/upload'), 'cannot save to the URL https://example.com/upload', 'tf.io.http');
    await expectReject(saveModel(m, 'indexeddb://my-model'), "unsupported scheme in 'indexeddb://my-model'");
    await expectReject(saveModel(m, {} as never), 'has no save() method');
    await expectReject(saveModel({} as never, 'memory'), 'saveModel: expected a Sequential model');
    m.dispose();
    await expectReject(loadModel(42 as never), 'loadModel: expected a path, a URL');
    await expectReject(loadModel({ foo: 1 } as never), 'none of modelJson, modelTopology or load()');
    await expectReject(loadModel({ load: async () => Promise.reject(new Error('denied')) }), "the IOHandler's load() failed: denied");
  });

  it('a failed load frees what it built', async () => {
    const b = (await import('../src/backend/backend.js')).backend();
    const before = b.arena.stats().inUse;
    await expectReject(loadModel(withJson((j) => (j.weightsManifest[0].weights[0].shape = [8, 6]))), 'has shape [8,6]');
    expect(b.arena.stats().inUse).toBe(before);
  });
});
