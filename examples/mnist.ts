// The classic Keras MNIST program, line by line, on wasm-layers:
//   npm run mnist            then   tensorboard --logdir logs
// Options: --epochs N, --threads N, --batch-size N (defaults: 5 epochs, all cores, 32).
import { backendInfo, callbacks, datasets, init, seedModel } from '../src/index.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

await init({ threads: arg('threads', 0) || undefined });
const info = backendInfo();
console.log(`wasm-layers backend: ${info.variant}, ${info.threads} thread(s)${info.reason ? ` (${info.reason})` : ''}`);

const [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
const x = xTrain.div(255);
const xt = xTest.div(255);

// The seed model (src/seed-model.ts): flatten 28×28 → dense 512 relu → dropout 0.2 → dense 10 softmax
const model = seedModel();
model.summary();
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
const logDir = `logs/fit/${stamp}`;
const t0 = performance.now();
const history = await model.fit(x, yTrain, {
  epochs: arg('epochs', 5),
  batchSize: arg('batch-size', 32),
  validationData: [xt, yTest],
  callbacks: [callbacks.tensorBoard(logDir, { histogramFreq: 1 })],
});
const seconds = (performance.now() - t0) / 1000;
const h = history.history;
const epochs = h.loss.length;
console.log(`\nTrained ${epochs} epoch(s) in ${seconds.toFixed(1)} s (${((60000 * epochs) / seconds).toFixed(0)} samples/s including validation).`);
console.log(`Test accuracy: ${h.val_accuracy[epochs - 1].toFixed(4)}  test loss: ${h.val_loss[epochs - 1].toFixed(4)}`);
console.log(`TensorBoard logs: ${logDir}/{train,validation}  →  tensorboard --logdir logs`);
model.dispose();
