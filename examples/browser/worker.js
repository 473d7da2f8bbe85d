// The demo's dedicated module worker: all of wasm-layers runs here, so the page never freezes while it
// trains. When the page is cross-origin isolated, init() starts the library's thread pool from inside this
// worker (nested workers on shared wasm memory); otherwise it runs on this one thread.
//
// Page → worker: { cmd: 'init' | 'train' | 'stop' | 'predict' | 'export' | 'load' | 'forget', … }
// Worker → page: { type: 'ready' | 'status' | 'data' | 'fit' (wasm-layers/vis' FitEvents) | 'batch' | 'epoch' |
//                  'trainEnd' | 'evaluation' | 'model' | 'prediction' | 'artifacts' | 'tensorboard' | 'error', … }
// Training logs are posted as they happen; the page feeds them to the charts.
/* global self, performance, AbortController */
import { Callback, FitEventsCallback, backendInfo, callbacks, datasets, init, loadModel, saveModel, seedModel, setSeed, tensor } from '../../dist/index.js';
import { deleteModel, getModel, putModel } from './store.js';

const MNIST = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

const post = (msg, transfer) => self.postMessage(msg, transfer ?? []);
const status = (text) => post({ type: 'status', text });

let model = null; // the model that predicts (being trained, trained, or loaded)
let data = null; // the MNIST tensors, loaded once
let abort = null; // AbortController of the running fit

/** MNIST as uint8 tensors, fetched gzip-compressed from `base` (the library inflates them with DecompressionStream). */
async function loadMnist(base) {
  if (data) return data;
  status('downloading MNIST (gzip)…');
  const t0 = performance.now();
  const urls = Object.fromEntries(Object.entries(MNIST).map(([k, name]) => [k, new URL(name, base)]));
  const [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData(urls);
  // What crossed the network: the compressed sizes, from Resource Timing.
  const entries = performance.getEntriesByType('resource').filter((e) => Object.values(MNIST).some((n) => e.name.endsWith(n)));
  const compressedBytes = entries.reduce((s, e) => s + (e.encodedBodySize || 0), 0);
  const rawBytes = [xTrain, yTrain, xTest, yTest].reduce((s, t) => s + t.size, 0) + 4 * 16; // + IDX headers (≤ 16 bytes each)
  data = { xTrain, yTrain, xTest, yTest };
  post({ type: 'data', compressedBytes, rawBytes, files: entries.length, seconds: (performance.now() - t0) / 1000 });
  return data;
}

/** The first `n` samples of a uint8 tensor ([N, …] → [n, …]); the tensor itself when n covers it. */
function firstSamples(t, n) {
  if (n >= t.shape[0]) return t;
  const per = t.size / t.shape[0];
  return tensor(t.dataSync().subarray(0, n * per), [n, ...t.shape.slice(1)], 'uint8');
}

/** Posts every batch's and epoch's logs for the progress line and the epoch table (the charts get FitEvents). */
class PostLogs extends Callback {
  onEpochBegin(epoch) {
    this.epoch = epoch;
    this.t0 = performance.now();
  }
  onBatchEnd(batch, logs) {
    // `logs` is reused by fit: copy the numbers.
    post({ type: 'batch', epoch: this.epoch, batch, steps: this.params.steps, logs: { loss: logs.loss, accuracy: logs.accuracy }, seconds: (performance.now() - this.t0) / 1000 });
  }
  onEpochEnd(epoch, logs) {
    post({ type: 'epoch', epoch, logs: { ...logs }, seconds: (performance.now() - this.t0) / 1000 });
  }
}

/** Confusion matrix (rows: true class, columns: predicted) and per-class accuracy of `m` on (x, y). */
function confusion(m, x, y) {
  const probs = m.predict(x, { batchSize: 256 });
  const p = probs.dataSync();
  const labels = y.dataSync();
  const matrix = Array.from({ length: 10 }, () => new Array(10).fill(0));
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (p[i * 10 + k] > p[i * 10 + best]) best = k;
    matrix[labels[i]][best]++;
  }
  probs.dispose();
  const perClass = matrix.map((row, k) => {
    const count = row.reduce((a, b) => a + b, 0);
    return { count, accuracy: count ? row[k] / count : 0 };
  });
  const correct = matrix.reduce((s, row, k) => s + row[k], 0);
  return { matrix, perClass, accuracy: correct / labels.length, samples: labels.length };
}

async function persist(m, info) {
  const saved = await saveModel(m, 'memory');
  try {
    await putModel({ modelJson: saved.modelJson, weightData: saved.weightData }, info);
    return true;
  } catch (e) {
    post({ type: 'status', text: `trained, but the model could not be kept in IndexedDB: ${e.message}` });
    return false;
  }
}

async function train({ epochs, samples, batchSize, val, mnistBase }) {
  if (abort) throw new Error('already training');
  const d = await loadMnist(mnistBase);
  const xs = firstSamples(d.xTrain, samples);
  const y = firstSamples(d.yTrain, samples);
  const xts = firstSamples(d.xTest, val);
  const yt = firstSamples(d.yTest, val);
  const x = xs.div(255); // stays uint8 in memory, scaled when read
  const xt = xts.div(255);
  const m = seedModel({ compile: true }); // flatten 28×28 → dense 512 relu → dropout 0.2 → dense 10 softmax, Adam
  model?.dispose();
  model = m; // predictions during training use the weights as they are
  post({ type: 'model', source: 'training', params: m.countParams() });
  const tb = callbacks.tensorBoard('logs/fit/browser', { histogramFreq: 1 }); // kept in memory in a browser
  abort = new AbortController();
  status(`training: ${epochs} epoch(s) of ${samples.toLocaleString('en')} samples, batch ${batchSize}…`);
  const t0 = performance.now();
  let done, evaluation;
  try {
    const signal = abort.signal;
    let history;
    try {
      history = await m.fit(x, y, { epochs, batchSize, validationData: [xt, yt], verbose: 0, callbacks: [new PostLogs(), new FitEventsCallback((event) => post({ type: 'fit', event })), tb], signal });
    } catch (e) {
      // Stop: fit rejects with an AbortError; the model keeps the weights and the History of the finished epochs.
      if (!signal.aborted || !m.history) throw e;
      history = m.history;
    }
    const seconds = (performance.now() - t0) / 1000;
    const h = history.history;
    done = h.loss?.length ?? 0;
    post({ type: 'trainEnd', history: h, epochs: done, seconds, samplesPerSecond: (samples * done) / seconds, stopped: done < epochs });
    post({ type: 'tensorboard', files: tb.files().map((f) => ({ path: f.path, bytes: f.bytes })) });
    status('evaluating on the validation images…');
    const [loss, accuracy] = m.evaluate(xt, yt, { batchSize: 256 });
    evaluation = { loss, accuracy, ...confusion(m, xt, yt) };
  } finally {
    abort = null;
    for (const t of [x, xt]) t.dispose(); // views of the bytes below: they only drop a reference
    for (const t of new Set([xs, y, xts, yt])) if (!Object.values(d).includes(t)) t.dispose();
  }
  post({ type: 'evaluation', ...evaluation });
  const { accuracy } = evaluation;
  const stored = await persist(m, { accuracy, samples, epochs: done });
  post({ type: 'model', source: 'trained', stored, accuracy, params: m.countParams() });
}

function predict(pixels) {
  if (!model) throw new Error('no model yet: train one or load one');
  const x = tensor(pixels, [1, 28, 28]);
  const yhat = model.predict(x);
  const probs = Float32Array.from(yhat.dataSync());
  x.dispose();
  yhat.dispose();
  return probs;
}

async function startup({ threads, seed }) {
  if (seed !== undefined) setSeed(seed);
  await init(threads === undefined ? {} : { threads });
  const info = backendInfo();
  post({ type: 'ready', backend: info, crossOriginIsolated: self.crossOriginIsolated === true, hardwareConcurrency: self.navigator?.hardwareConcurrency ?? 1 });
  let saved;
  try {
    saved = await getModel();
  } catch (e) {
    status(`IndexedDB is not available (${e.message}); the model will not survive a reload`);
  }
  if (saved) {
    model = await loadModel({ modelJson: saved.modelJson, weightData: saved.weightData });
    post({ type: 'model', source: 'indexeddb', savedAt: saved.savedAt, accuracy: saved.accuracy, params: model.countParams() });
  } else post({ type: 'model', source: null });
}

const handlers = {
  init: (m) => startup(m),
  train: (m) => train(m),
  stop: () => abort?.abort(),
  predict: (m) => {
    const probs = predict(m.pixels);
    post({ type: 'prediction', id: m.id, probs }, [probs.buffer]);
  },
  export: async () => {
    if (!model) throw new Error('no model to save');
    const saved = await saveModel(model, 'memory');
    post({ type: 'artifacts', modelJson: saved.modelJson, weightData: saved.weightData }, [saved.weightData]);
  },
  load: async (m) => {
    const loaded = await loadModel({ modelJson: m.modelJson, weightData: m.weightData });
    model?.dispose();
    model = loaded;
    const stored = await persist(model, { loadedFrom: m.name });
    post({ type: 'model', source: 'file', name: m.name, stored, params: model.countParams() });
  },
  forget: async () => {
    await deleteModel();
    post({ type: 'forgotten' });
  },
};

self.onmessage = async (ev) => {
  const m = ev.data;
  try {
    await handlers[m.cmd](m);
  } catch (e) {
    post({ type: 'error', cmd: m.cmd, id: m.id, message: e instanceof Error ? e.message : String(e) });
  }
};
