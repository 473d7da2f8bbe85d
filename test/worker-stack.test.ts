/**
 * Worker stacks. Wasm has no guard pages, and the first worker's stack lies right above the module's static
 * data (the pool's control block among it): a kernel whose frame outgrows the stack would corrupt memory
 * with no trap. Inlining decides frame sizes (a GEMM keeps a 32 KiB panel buffer on the stack, and an
 * `exec` inlined into the interpreter once merged several such frames), so:
 *  - every op a training step, an evaluation and a prediction run, with each optimizer, must stay far below
 *    the stack size (half of it), so that a build change that doubles the frames fails here, not in a user's
 *    training run;
 *  - a stack that grows into its guard anyway breaks the pool with an error that says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_STACK, backend } from '../src/backend/backend.js';
import { init, layers, optimizers, sequential, setSeed, tensor, type Optimizer } from '../src/index.js';
import { seedModel } from '../src/seed-model.js';

const N = 256;

beforeAll(async () => {
  await init({ threads: 2 });
});
afterAll(async () => {
  await init({ threads: 1 });
});

function data(features: number, classes: number) {
  return [
    tensor(Float32Array.from({ length: N * features }, (_, i) => (Math.sin(i * 0.37) + 1) / 2), [N, features]),
    tensor(Int32Array.from({ length: N }, (_, i) => (i * 7) % classes), [N]),
  ] as const;
}

describe('worker stacks', () => {
  it('a pool of two threads has a worker whose stack is watched', () => {
    expect(backend().threads).toBe(2);
    expect(backend().stackHighWater()).toHaveLength(1);
  });

  it('training, evaluation and prediction of the seed model and the theory models use under half of a worker stack', async () => {
    setSeed(7);
    const [x, y] = data(784, 10);
    const seed = seedModel({ compile: true });
    const xs = tensor(x.dataSync() as Float32Array, [N, 28, 28]);
    for (const batchSize of [32, 128, 256]) await seed.fit(xs, y, { epochs: 1, batchSize, verbose: 0 });
    seed.evaluate(xs, y, { batchSize: 64 });
    seed.predict(xs).dispose();
    seed.dispose();
    xs.dispose();
    const theory: Optimizer[] = [optimizers.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), optimizers.rmsprop({ learningRate: 0.01 }), optimizers.sgd({ learningRate: 0.5 })];
    for (const optimizer of theory) {
      const m = sequential([layers.dense({ units: 30, inputShape: [784], activation: 'sigmoid' }), layers.dense({ units: 10, activation: 'tanh' })]);
      m.compile({ optimizer, loss: 'meanSquaredError', metrics: ['accuracy'] });
      const onehot = tensor(Float32Array.from({ length: N * 10 }, (_, i) => (i % 10 === (y.dataSync()[Math.floor(i / 10)] as number) ? 1 : 0)), [N, 10]);
      await m.fit(x, onehot, { epochs: 1, batchSize: 32, verbose: 0 });
      m.evaluate(x, onehot);
      m.dispose();
      onehot.dispose();
    }
    x.dispose();
    y.dispose();
    const [deepest] = backend().stackHighWater();
    // The worker ran tiles (else this measures nothing), and its deepest frame chain is well inside the stack.
    expect(deepest).toBeGreaterThan(1024);
    expect(deepest).toBeLessThan(WORKER_STACK / 2);
  });

  it('a stack grown into its guard breaks the pool with an error that says so, and init() recovers', async () => {
    const [x, y] = data(16, 4);
    const m = sequential([layers.dense({ units: 32, inputShape: [16], activation: 'relu' }), layers.dense({ units: 4, activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0 });
    backend().debugSmashStackGuard(0);
    await expect(m.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0 })).rejects.toThrow(/worker thread 1 overflowed its 256 KiB stack; memory below it may be corrupt/);
    expect(() => m.predict(x)).toThrow(/thread pool is broken .*overflowed/);
    await init({ threads: 2 });
    const [x2, y2] = data(16, 4);
    const m2 = sequential([layers.dense({ units: 4, inputShape: [16], activation: 'softmax' })]);
    m2.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
    const h = await m2.fit(x2, y2, { epochs: 1, batchSize: 64, verbose: 0 });
    expect(Number.isFinite(h.history.loss[0])).toBe(true);
  });
});
