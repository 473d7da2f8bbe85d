/**
 * A/B of the seed training step's program between wasm builds, in one process (dev tool for issue 10):
 *   npx tsx bench/ab-step.ts [--rounds 6] [--batch 32] DIR_A DIR_B …
 * Per round and build: init() on that build's simd-threads binary, the seed model trained for 100 steps
 * (which builds the step's program), then the fastest and the median of 100 runs of that program on 1
 * thread and on 2 (the pool switched between them). The fastest runs are the least disturbed ones on a
 * busy machine. Rounds alternate the builds' order. The program replays one batch, which the model then
 * memorises, so its later steps are not typical of training: for kernels alone; bench/ab-fit.ts compares builds on
 * real epochs.
 */
import { resolve } from 'node:path';
import { backend, init } from '../src/backend/backend.js';
import { datasets, seedModel, tensor } from '../src/index.js';
import { captureTrainProgram, devArgs, usePoolThreads } from './util.js';

const args = devArgs();
const rounds = args.num('rounds', 6);
const batch = args.num('batch', 32);
const samples = 100 * batch;
const dirs = args.rest;
await init({ threads: 1 });
const [[xTrain, yTrain]] = await datasets.mnist.loadData();
const xs = (xTrain.dataSync() as Uint8Array).slice(0, samples * 784);
const ys = (yTrain.dataSync() as Uint8Array).slice(0, samples);
const res = dirs.map(() => ({ min1: Infinity, min2: Infinity, med1: [] as number[], med2: [] as number[], p1: [] as number[], p2: [] as number[] }));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [...dirs.keys()].reverse() : [...dirs.keys()];
  for (const d of order) {
    await init({ threads: 2, wasmUrls: { 'simd-threads': resolve(dirs[d], 'wasm-layers-simd-threads.wasm') } });
    const b = backend();
    const x = tensor(xs, [samples, 28, 28], 'uint8').div(255);
    const y = tensor(ys, [samples], 'uint8');
    const model = seedModel({ compile: true });
    const p = await captureTrainProgram(() => model.fit(x, y, { batchSize: batch, epochs: 1, verbose: 0 }));
    for (const t of r % 2 ? [2, 1] : [1, 2]) {
      usePoolThreads(b, t);
      const ts: number[] = [];
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        b.run(p.ptr, p.nwords);
        ts.push(performance.now() - t0);
      }
      ts.sort((u, v) => u - v);
      const o = res[d];
      (t === 1 ? o.p1 : o.p2).push(ts[10]);
      if (t === 1) {
        o.min1 = Math.min(o.min1, ts[0]);
        o.med1.push(ts[50]);
      } else {
        o.min2 = Math.min(o.min2, ts[0]);
        o.med2.push(ts[50]);
      }
    }
  }
}
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
for (const [d, dir] of dirs.entries()) {
  const o = res[d];
  console.log(
    `${dir}: fastest step 1T ${(o.min1 * 1e3).toFixed(0)} µs, 2T ${(o.min2 * 1e3).toFixed(0)} µs (2T/1T speed-up ${(o.min1 / o.min2).toFixed(2)}); ` +
      `median of round medians 1T ${(med(o.med1) * 1e3).toFixed(0)} µs, 2T ${(med(o.med2) * 1e3).toFixed(0)} µs (${(med(o.med1) / med(o.med2)).toFixed(2)})`,
  );
}
// Paired: per round, each build's time over the first build's (same round, minutes apart at most), then
// the median over rounds: drift that lasts longer than a round cancels.
const r0 = res[0];
for (const [d, dir] of dirs.entries()) {
  if (d === 0) continue;
  const o = res[d];
  const ratio = (a: number[], b: number[]) => med(a.map((v, i) => v / b[i]));
  console.log(
    `${dir} / ${dirs[0]}, paired by round (median of ratios; < 1 = faster): ` +
      `1T p10 ${ratio(o.p1, r0.p1).toFixed(3)} median ${ratio(o.med1, r0.med1).toFixed(3)}; 2T p10 ${ratio(o.p2, r0.p2).toFixed(3)} median ${ratio(o.med2, r0.med2).toFixed(3)}`,
  );
}
process.exit(0);
