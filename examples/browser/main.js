// The seed Keras MNIST model trained in a browser page on wasm-layers (plain ES module, no bundler).
// Served by scripts/serve-examples.mjs (`npm run example:browser`), which sets COOP/COEP so the page is
// cross-origin isolated and the threaded kernels can run. The final result is left in `window.wlResult`
// (or the error message in `window.wlError`) for test/browser/example.test.ts.
/* global document, window, location, performance, Blob, URLSearchParams, setTimeout, crossOriginIsolated */
import { Callback, backendInfo, callbacks, datasets, init, seedModel, setSeed, tensor } from '../../dist/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
/** A positive integer query parameter, or `dflt`. */
function intParam(name, dflt) {
  const raw = params.get(name);
  if (raw === null || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`?${name}= must be a positive integer, got "${raw}"`);
  return v;
}

/** The first `n` samples of a uint8 tensor ([N, …] → [n, …]); the tensor itself when n covers it. */
function firstSamples(t, n) {
  if (n >= t.shape[0]) return t;
  const per = t.size / t.shape[0];
  return tensor(t.dataSync().subarray(0, n * per), [n, ...t.shape.slice(1)], 'uint8');
}

const fmt = (v, digits = 4) => (typeof v === 'number' ? v.toFixed(digits) : '–');
const nextFrame = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Updates the page: a progress line every `every` batches, a table row per epoch. */
class PageLogger extends Callback {
  constructor(every) {
    super();
    this.every = every;
  }
  onTrainBegin() {
    $('epochs').hidden = false;
  }
  onEpochBegin(epoch) {
    this.epoch = epoch;
    this.epochStart = performance.now();
    $('status').textContent = `training epoch ${epoch + 1}/${this.params.epochs}…`;
  }
  async onBatchEnd(batch, logs) {
    if ((batch + 1) % this.every !== 0 && batch + 1 !== this.params.steps) return;
    const s = (performance.now() - this.epochStart) / 1000;
    const seen = Math.min((batch + 1) * this.params.batchSize, this.params.samples);
    $('progress').textContent =
      `epoch ${this.epoch + 1}/${this.params.epochs}: batch ${batch + 1}/${this.params.steps}` +
      ` — loss ${fmt(logs?.loss)}, accuracy ${fmt(logs?.accuracy)} — ${Math.round(seen / s)} samples/s`;
    await nextFrame(); // let the page repaint
  }
  async onEpochEnd(epoch, logs) {
    const row = document.createElement('tr');
    const cells = [String(epoch + 1), fmt(logs?.loss), fmt(logs?.accuracy), fmt(logs?.val_loss), fmt(logs?.val_accuracy),
      ((performance.now() - this.epochStart) / 1000).toFixed(1)];
    for (const c of cells) row.appendChild(document.createElement('td')).textContent = c;
    $('epochs').querySelector('tbody').appendChild(row);
    await nextFrame();
  }
}

async function main() {
  const epochs = intParam('epochs', 5);
  const samples = Math.min(intParam('samples', 60000), 60000);
  const batchSize = intParam('batch', 32);
  const every = intParam('every', 100);
  const threads = params.has('threads') ? intParam('threads', 1) : undefined;
  const valSamples = Math.min(intParam('val', Math.ceil(samples / 6)), 10000);
  if (params.has('seed')) setSeed(intParam('seed', 1));

  await init({ threads }); // the threaded build when this page is cross-origin isolated
  const info = backendInfo();
  $('backend').textContent =
    `${info.variant}, ${info.threads} thread(s), SIMD ${info.simd}, relaxed SIMD ${info.relaxedSimd}` +
    (info.reason ? ` — ${info.reason}` : '');

  $('status').textContent = 'loading MNIST from /mnist/…';
  const [[xTrainAll, yTrainAll], [xTestAll, yTestAll]] = await datasets.mnist.loadData(new URL('/mnist/', location.href));
  const xs = firstSamples(xTrainAll, samples);
  const y = firstSamples(yTrainAll, samples);
  const xts = firstSamples(xTestAll, valSamples);
  const yt = firstSamples(yTestAll, valSamples);
  const x = xs.div(255); // stays uint8 in memory, scaled when read
  const xt = xts.div(255);

  // The seed model: flatten 28×28 → dense 512 relu → dropout 0.2 → dense 10 softmax, Adam (src/seed-spec.ts)
  const model = seedModel({ compile: true });

  const tb = callbacks.tensorBoard('logs/fit/browser', { histogramFreq: 1 }); // in memory in a browser
  const t0 = performance.now();
  const history = await model.fit(x, y, {
    epochs,
    batchSize,
    validationData: [xt, yt],
    verbose: 0,
    callbacks: [new PageLogger(every), tb],
  });
  const seconds = (performance.now() - t0) / 1000;
  const h = history.history;
  const done = h.loss.length;
  const samplesPerSecond = (samples * done) / seconds;
  $('status').textContent =
    `done: ${done} epoch(s) of ${samples} samples in ${seconds.toFixed(1)} s (${Math.round(samplesPerSecond)} samples/s ` +
    `including validation on ${valSamples}); validation accuracy ${fmt(h.val_accuracy?.[done - 1])}.`;

  const files = tb.files();
  const list = $('downloads').querySelector('ul');
  for (const f of files) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([f.bytes], { type: 'application/octet-stream' }));
    a.download = f.path.split('/').pop();
    a.textContent = f.path;
    const li = list.appendChild(document.createElement('li'));
    li.append(a, ` (${f.bytes.length.toLocaleString()} bytes)`);
  }
  $('downloads').hidden = files.length === 0;

  model.dispose();
  for (const t of new Set([x, xs, y, xt, xts, yt, xTrainAll, yTrainAll, xTestAll, yTestAll])) t.dispose();

  window.wlResult = {
    backend: info,
    crossOriginIsolated: typeof crossOriginIsolated === 'boolean' ? crossOriginIsolated : false,
    epochs: done,
    history: h,
    seconds,
    samplesPerSecond,
    tensorboardFiles: files.map((f) => ({ path: f.path, bytes: f.bytes.length })),
  };
}

main().catch((e) => {
  const msg = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  $('status').textContent = 'failed';
  $('error').textContent = msg;
  window.wlError = e instanceof Error ? e.message : String(e);
  throw e;
});
