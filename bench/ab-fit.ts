/**
 * A/B of wasm builds on real training (issue 10), in one process:
 *   npx tsx bench/ab-fit.ts [--rounds 6] [--batch 32] [--samples 20000] [--threads 1,2] DIR_A DIR_B …
 * Per round, for each thread count and each build (order alternating by round): init() on that build's
 * threaded binary, a fresh seed model, one warm-up epoch over 2,000 samples, then one timed epoch of `fit`
 * over `samples` MNIST images (shuffled batches, dropout, Adam — what users run, unlike a step program
 * replayed on one batch, which memorises it). Prints samples/s per build and the median over rounds of
 * each build's speed over the first's, paired by round so that drift slower than a round cancels. A dev tool.
 */
import { resolve } from 'node:path';
import { backend, init } from '../src/backend/backend.js';
import { datasets, seedModel, tensor } from '../src/index.js';
import { devArgs, usePoolThreads } from './util.js';

const args = devArgs();
const rounds = args.num('rounds', 6);
const batchSize = args.num('batch', 32);
const n = args.num('samples', 20000);
const threadCounts = args.str('threads', '1,2').split(',').map(Number);
const dirs = args.rest;
if (!dirs.length) throw new Error('usage: npx tsx bench/ab-fit.ts [options] DIR_A DIR_B …');
await init({ threads: 1 });
const [[xTrain, yTrain]] = await datasets.mnist.loadData();
const xs = (xTrain.dataSync() as Uint8Array).slice(0, n * 784);
const ys = (yTrain.dataSync() as Uint8Array).slice(0, n);
const res = dirs.map(() => new Map<number, number[]>());
for (let r = 0; r < rounds; r++) {
  for (const t of threadCounts) {
    for (const d of r % 2 ? [...dirs.keys()].reverse() : [...dirs.keys()]) {
      await init({ threads: Math.max(2, t), wasmUrls: { 'simd-threads': resolve(dirs[d], 'wasm-layers-simd-threads.wasm'), 'relaxed-threads': resolve(dirs[d], 'wasm-layers-relaxed-threads.wasm') } });
      usePoolThreads(backend(), t);
      const x = tensor(xs, [n, 28, 28], 'uint8').div(255);
      const y = tensor(ys, [n], 'uint8');
      const model = seedModel({ compile: true });
      const [xw, yw] = [tensor(xs.subarray(0, 2000 * 784), [2000, 28, 28], 'uint8').div(255), tensor(ys.subarray(0, 2000), [2000], 'uint8')];
      await model.fit(xw, yw, { batchSize, epochs: 1, verbose: 0 });
      const t0 = performance.now();
      await model.fit(x, y, { batchSize, epochs: 1, verbose: 0 });
      const sps = n / ((performance.now() - t0) / 1e3);
      const a = res[d].get(t) ?? [];
      a.push(sps);
      res[d].set(t, a);
      model.dispose();
      for (const q of [x, y, xw, yw]) q.dispose();
    }
  }
}
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
for (const t of threadCounts) {
  for (const [d, dir] of dirs.entries()) {
    const v = res[d].get(t)!;
    const base = res[0].get(t)!;
    const paired = d ? `; / ${dirs[0]} paired median ${med(v.map((s, i) => s / base[i])).toFixed(3)} (faster in ${v.filter((s, i) => s > base[i]).length} of ${v.length})` : '';
    console.log(`${t}T ${dir}: median ${med(v).toFixed(0)} samples/s [${v.map((s) => s.toFixed(0)).join(' ')}]${paired}`);
  }
}
process.exit(0);
