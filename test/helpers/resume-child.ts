/**
 * The program test/resume-kill.test.ts kills and restarts: a seeded 3-epoch fit on an MNIST subset (dense
 * relu → dropout → softmax, Adam, shuffled, validation split) with backupAndRestore every few batches.
 *   node --import tsx test/helpers/resume-child.ts <backupDir> <threads> [plain]
 * Prints `resume <epoch> <batch>` (from the backup it found, or `resume none`), then `started` once fit is
 * running, `b` after every batch (and its backup, when one is due), then `done <sha256 of the final weights
 * and optimizer state>`. With `plain` it trains without the
 * callback: the uninterrupted reference.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Callback, callbacks, datasets, init, layers, sequential, setSeed, tensor } from '../../src/index.js';

const [backupDir, threadsArg, mode] = process.argv.slice(2);
const N = 1600;

await init({ threads: Number(threadsArg) });
setSeed(20261201);
const [[xAll, yAll]] = await datasets.mnist.loadData();
const x = tensor((xAll.dataSync() as Uint8Array).slice(0, N * 784), [N, 28, 28], 'uint8').div(255);
const y = tensor((yAll.dataSync() as Uint8Array).slice(0, N), [N], 'uint8');
const model = sequential([
  layers.flatten({ inputShape: [28, 28] }),
  layers.dense({ units: 128, activation: 'relu' }),
  layers.dropout({ rate: 0.2 }),
  layers.dense({ units: 10, activation: 'softmax' }),
]);
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

let found = 'none';
try {
  const m = JSON.parse(readFileSync(join(backupDir, 'backup.json'), 'utf8')) as { position: { epoch: number; batch: number } };
  found = `${m.position.epoch} ${m.position.batch}`;
} catch {
  /* no backup yet */
}
process.stdout.write(`resume ${found}\n`);

class Report extends Callback {
  override readonly keepsBatchLogs = false;
  override onTrainBegin(): void {
    process.stdout.write('started\n');
  }
  override onBatchEnd(): void {
    process.stdout.write('b\n');
  }
}
const cbs = mode === 'plain' ? [new Report()] : [callbacks.backupAndRestore(backupDir, { saveFreq: 3 }), new Report()];
await model.fit(x, y, { epochs: 3, batchSize: 32, validationSplit: 0.1, verbose: 0, callbacks: cbs });

const h = createHash('sha256');
const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
for (const w of model.getWeightsRaw()) h.update(bytes(w));
for (const l of model.layers) for (const w of l.weights) for (const s of model.optimizer!.getState(w.tensor.id)) h.update(bytes(s));
h.update(`iterations=${model.optimizer!.iterations} dropoutStep=${model.dropoutStep}`);
process.stdout.write(`done ${h.digest('hex')}\n`);
