/**
 * Thread settings with one competing CPU-bound process (issue 10), paired by round, in one process:
 *   npx tsx bench/ab-contention.ts [--rounds 10] [--samples 15000] [--configs 1T,auto,pool1,pool2] [--idle]
 * Configurations: `1T` init({ threads: 1 }) (the build without threads), `auto` init({ threads: 'auto' }),
 * `pool1` / `pool2` a 2-thread pool running its programs on 1 / 2 threads. Per round, in an order that rotates
 * by round: a fresh backend and seed model, one warm-up epoch, one timed epoch of `fit` over `samples` MNIST
 * images at batch 32. Prints samples/s per configuration and, for each against the first, the median of the
 * per-round ratios. `--idle`: no competing process. The bench's contention rows (bench/fit.ts) are three such
 * rounds; this tool takes more of them, which this host's noise (±20% between back-to-back runs) needs.
 * A dev tool.
 */
import { spawn } from 'node:child_process';
import { backend } from '../src/backend/backend.js';
import { backendInfo, datasets, init, seedModel, tensor } from '../src/index.js';
import { devArgs, usePoolThreads } from './util.js';

const args = devArgs();
const rounds = args.num('rounds', 10);
const n = args.num('samples', 15000);
const configs = args.str('configs', '1T,auto,pool1').split(',');
const idle = args.flag('idle');
for (const c of configs) if (!['1T', 'auto', 'pool1', 'pool2'].includes(c)) throw new Error(`unknown configuration ${c}: use 1T, auto, pool1, pool2`);

await init({ threads: 1 });
const [[xTrain, yTrain]] = await datasets.mnist.loadData();
const xs = (xTrain.dataSync() as Uint8Array).slice(0, n * 784);
const ys = (yTrain.dataSync() as Uint8Array).slice(0, n);
const hog = idle ? null : spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));
const res = new Map<string, number[]>(configs.map((c) => [c, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < configs.length; k++) {
      const c = configs[(k + r) % configs.length];
      await init({ threads: c === '1T' ? 1 : c === 'auto' ? 'auto' : 2 });
      if (c.startsWith('pool')) usePoolThreads(backend(), Number(c.slice(4)));
      const x = tensor(xs, [n, 28, 28], 'uint8').div(255);
      const y = tensor(ys, [n], 'uint8');
      const model = seedModel({ compile: true });
      await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
      const t0 = performance.now();
      await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
      const sps = n / ((performance.now() - t0) / 1e3);
      res.get(c)!.push(sps);
      console.log(`round ${r + 1} ${c.padEnd(5)} ${Math.round(sps)} samples/s${c === 'auto' ? ` — ${backendInfo().auto?.reason}` : ''}`);
      model.dispose();
      x.dispose();
      y.dispose();
    }
  }
} finally {
  hog?.kill('SIGKILL');
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const base = res.get(configs[0])!;
for (const c of configs) {
  const v = res.get(c)!;
  const ratios = v.map((s, i) => s / base[i]);
  const vs = c === configs[0] ? '' : `; / ${configs[0]} paired median ${median(ratios).toFixed(3)} (faster in ${ratios.filter((x) => x > 1).length} of ${rounds}: ${ratios.map((x) => x.toFixed(2)).join(' ')})`;
  console.log(`${c}: median ${Math.round(median(v))} samples/s${vs}`);
}
process.exit(0);
