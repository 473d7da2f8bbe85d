/**
 * Fused vs separate weight updates in training (issue 10; src/model/plan.ts `setFusedWeightUpdates`):
 *   npx tsx bench/ab-fuse.ts [--rounds 6] [--batch 32] [--samples 20000]
 * Two seed models in one process, one planned with the fused GEMM_ADAM and one with a gradient GEMM then
 * ADAM; per round, one epoch of each back to back (order alternating), on 1 thread and on 2. Prints each
 * one's samples/s and, per thread count, the median over rounds of separate/fused (paired by round, so
 * drift slower than a round cancels). The first round warms up and is not counted. A dev tool.
 */
import { backend, init } from '../src/backend/backend.js';
import { datasets, seedModel, tensor } from '../src/index.js';
import { setFusedWeightUpdates } from '../src/model/plan.js';
import { devArgs, usePoolThreads } from './util.js';

const args = devArgs();
const rounds = args.num('rounds', 6);
const batchSize = args.num('batch', 32);
const n = args.num('samples', 20000);

await init({ threads: 2 });
const [[xTrain, yTrain]] = await datasets.mnist.loadData();
const x = tensor((xTrain.dataSync() as Uint8Array).slice(0, n * 784), [n, 28, 28], 'uint8').div(255);
const y = tensor((yTrain.dataSync() as Uint8Array).slice(0, n), [n], 'uint8');
const models = { fused: seedModel({ compile: true }), separate: seedModel({ compile: true }) };
type Kind = keyof typeof models;
const res: Record<string, number[]> = {};
for (let r = 0; r <= rounds; r++) {
  for (const t of [1, 2]) {
    usePoolThreads(backend(), t);
    for (const k of (r % 2 ? ['separate', 'fused'] : ['fused', 'separate']) as Kind[]) {
      // Plans are built at the start of each fit, so the setting applies to this epoch's.
      const was = setFusedWeightUpdates(k === 'fused');
      const t0 = performance.now();
      await models[k].fit(x, y, { batchSize, epochs: 1, verbose: 0 });
      const sps = n / ((performance.now() - t0) / 1e3);
      setFusedWeightUpdates(was);
      if (r > 0) (res[`${k} ${t}T`] ??= []).push(sps);
    }
  }
}
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(12)} median ${med(v).toFixed(0)} samples/s   rounds: ${v.map((s) => s.toFixed(0)).join(' ')}`);
for (const t of [1, 2]) {
  const [f, s] = [res[`fused ${t}T`], res[`separate ${t}T`]];
  const wins = s.filter((v, i) => v > f[i]).length;
  console.log(`${t}T: separate / fused, median of per-round ratios ${med(s.map((v, i) => v / f[i])).toFixed(3)} (separate faster in ${wins} of ${s.length} rounds)`);
}
process.exit(0);
