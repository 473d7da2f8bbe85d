/**
 * Fingerprints of training results, to check that a refactoring changes no bit:
 *   npx tsx scripts/weights-hash.ts [threads…]      (default: 1 2)
 * prints, per thread count, the SHA-256 of the final weights + history + predictions of
 *  - the seed model (flatten → dense 512 relu → dropout 0.2 → dense 10 softmax, Adam, sparse CE,
 *    accuracy; fused GEMM+Adam updates) on 6,400 MNIST images, 400 steps of batch 32;
 *  - the theory model (dense sigmoid → dense tanh → dense softmax, MSE + categorical CE paths, SGD with
 *    Nesterov momentum, RMSprop) so every optimizer and activation kernel takes part.
 * Run it before and after a change with the same Node (the relaxed-SIMD build on Node ≥ 22 gives other,
 * equally reproducible, bits than the SIMD128 one on Node 20).
 */
import { createHash } from 'node:crypto';

import { backendInfo, clearSession, datasets, init, layers, sequential, setSeed, tensor, type Sequential } from '../src/index.js';

const N = 6400;
const V = 500;

function hashModel(h: ReturnType<typeof createHash>, m: Sequential): void {
  for (const t of m.getWeights()) {
    const d = t.dataSync() as Float32Array;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    t.dispose();
  }
}

async function main(): Promise<void> {
  const threadCounts = process.argv.slice(2).map(Number);
  await init({ threads: 1 });
  const [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
  const mn = {
    x: (xTrain.dataSync() as Uint8Array).slice(0, N * 784),
    y: (yTrain.dataSync() as Uint8Array).slice(0, N),
    xv: (xTest.dataSync() as Uint8Array).slice(0, V * 784),
    yv: (yTest.dataSync() as Uint8Array).slice(0, V),
  };
  for (const threads of threadCounts.length ? threadCounts : [1, 2]) {
    await init({ threads });
    const x = tensor(mn.x, [N, 28, 28], 'uint8').div(255);
    const y = tensor(mn.y, [N], 'uint8');
    const xv = tensor(mn.xv, [V, 28, 28], 'uint8').div(255);
    const yv = tensor(mn.yv, [V], 'uint8');
    const out: string[] = [];
    const configs: { name: string; build: () => Sequential; compile: Parameters<Sequential['compile']>[0]; oneHot?: boolean }[] = [
      {
        name: 'seed',
        build: () =>
          sequential([
            layers.flatten({ inputShape: [28, 28] }),
            layers.dense({ units: 512, activation: 'relu' }),
            layers.dropout({ rate: 0.2 }),
            layers.dense({ units: 10, activation: 'softmax' }),
          ]),
        compile: { optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] },
      },
      {
        name: 'theory-sgd',
        build: () =>
          sequential([
            layers.flatten({ inputShape: [28, 28] }),
            layers.dense({ units: 64, activation: 'sigmoid' }),
            layers.dense({ units: 32, activation: 'tanh' }),
            layers.dense({ units: 10, activation: 'softmax' }),
          ]),
        compile: { optimizer: 'sgd', loss: 'meanSquaredError', metrics: ['accuracy'] },
        oneHot: true,
      },
      {
        name: 'theory-rmsprop',
        build: () =>
          sequential([layers.flatten({ inputShape: [28, 28] }), layers.dense({ units: 64, activation: 'tanh' }), layers.dense({ units: 10, activation: 'softmax' })]),
        compile: { optimizer: 'rmsprop', loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
        oneHot: true,
      },
    ];
    for (const c of configs) {
      clearSession();
      setSeed(2024);
      const m = c.build();
      m.compile(c.compile);
      const oh = (labels: Uint8Array) => {
        const a = new Float32Array(labels.length * 10);
        labels.forEach((l, i) => (a[i * 10 + l] = 1));
        return tensor(a, [labels.length, 10]);
      };
      const yt = c.oneHot ? oh(mn.y) : y;
      const yvt = c.oneHot ? oh(mn.yv) : yv;
      const hist = await m.fit(x, yt, { epochs: 2, batchSize: 32, verbose: 0, validationData: [xv, yvt] });
      const h = createHash('sha256');
      hashModel(h, m);
      h.update(JSON.stringify(hist.history));
      const p = m.predict(xv);
      const pd = p.dataSync() as Float32Array;
      h.update(new Uint8Array(pd.buffer, pd.byteOffset, pd.byteLength));
      p.dispose();
      out.push(`${c.name}=${h.digest('hex').slice(0, 16)} (loss ${hist.history.loss.at(-1)!.toFixed(6)})`);
      m.dispose();
      if (c.oneHot) {
        yt.dispose();
        yvt.dispose();
      }
    }
    const info = backendInfo();
    console.log(`threads=${info.threads} variant=${info.variant} node=${process.versions.node}: ${out.join('  ')}`);
    for (const t of [x, y, xv, yv]) t.dispose();
  }
  for (const t of [xTrain, yTrain, xTest, yTest]) t.dispose();
}

await main();
