/* global performance */
// The seed workflow as a user runs it — plain Node on the compiled package (dist/), no tsx — for its peak
// RSS: loadData, /255, the seed model, fit 5 epochs with validation on the test set and the TensorBoard
// callback (histograms every epoch) into a temporary folder. Prints one JSON line (the last line).
//
//   node bench/seed-dist.mjs [--epochs 5] [--batch 32] [--threads auto|N] [--no-tensorboard]
// (bench/fit.ts runs it after `npm run build`.)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const epochs = Number(opt('epochs', '5'));
const batchSize = Number(opt('batch', '32'));
const threadsArg = opt('threads', 'auto');
const threads = threadsArg === 'auto' ? 'auto' : Number(threadsArg);
const withTb = !argv.includes('--no-tensorboard');

function status() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
  return { hwmMB: kb('VmHWM'), rssMB: kb('VmRSS') };
}

const lib = await import('../dist/index.js');
const { init, datasets, sequential, layers, callbacks, backendInfo, Callback } = lib;
await init({ threads });
const [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
const x = xTrain.div(255);
const xt = xTest.div(255);
const model = sequential([
  layers.flatten({ inputShape: [28, 28] }),
  layers.dense({ units: 512, activation: 'relu' }),
  layers.dropout({ rate: 0.2 }),
  layers.dense({ units: 10, activation: 'softmax' }),
]);
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
const logDir = mkdtempSync(join(tmpdir(), 'wl-seed-dist-'));
const rssAfterEpochMB = [];
class Rss extends Callback {
  onEpochEnd() {
    rssAfterEpochMB.push(status().rssMB);
  }
}
const cbs = [new Rss()];
if (withTb) cbs.push(callbacks.tensorBoard(logDir, { histogramFreq: 1 }));
const t0 = performance.now();
const h = await model.fit(x, yTrain, { epochs, batchSize, verbose: 0, validationData: [xt, yTest], callbacks: cbs });
const seconds = (performance.now() - t0) / 1e3;
const end = status();
rmSync(logDir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    mode: 'seed-dist',
    epochs,
    batchSize,
    tensorBoard: withTb,
    backend: backendInfo(),
    seconds,
    samplesPerSecond: (epochs * x.shape[0]) / seconds,
    finalValAccuracy: h.history.val_accuracy.at(-1),
    rssAfterEpochMB,
    peakRssMB: end.hwmMB,
    finalRssMB: end.rssMB,
  }),
);
process.exit(0);
