/**
 * Byte offsets above 2 GiB (issue 12, item 0). Wasm memory reaches 4 GiB, so every pointer that crosses into
 * JS must stay unsigned: a signed `>> 2` on an offset ≥ 2³¹ turns it negative and a view index goes wrong
 * silently. The same seeded program runs with its buffers at the start of the heap, just above 2 GiB and
 * just below the 4 GiB limit; weights, history, predictions, evaluate and the NaN input check must agree bit
 * for bit. A filler block taken first from an empty arena pushes everything created after it above it.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { backend, disposeBackend, init } from '../src/backend/backend.js';
import { clearSession, layers, sequential, setSeed, tensor } from '../src/index.js';

const N = 256;
const MB = 2 ** 20;

function data(): { x: Float32Array; y: Int32Array } {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(N * 20);
  const y = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    let sum = 0;
    for (let j = 0; j < 20; j++) sum += (x[i * 20 + j] = rnd() * 2 - 1);
    y[i] = sum > 0 ? 1 : 0;
  }
  return { x, y };
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

interface Outcome {
  lowest: number;
  weights: Float32Array[];
  loss: number[];
  predictions: Float32Array;
  evaluated: number[];
  nanError: string;
}

async function runWithFiller(fillerBytes: number, threads: number): Promise<Outcome> {
  disposeBackend(); // a fresh, empty arena: the filler then takes its start and everything after lies above
  await init({ threads, maxMemoryMB: 4096 });
  const b = backend();
  const filler = fillerBytes > 0 ? b.arena.alloc(fillerBytes) : -1;
  const { x: xs, y: ys } = data();
  const x = tensor(xs, [N, 20]);
  const y = tensor(ys, [N], 'int32');
  clearSession();
  setSeed(7);
  const model = sequential([
    layers.dense({ units: 16, activation: 'relu', inputShape: [20] }),
    layers.dropout({ rate: 0.25 }),
    layers.dense({ units: 2, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const h = await model.fit(x, y, { epochs: 3, batchSize: 32, verbose: 0 });
  const weights = model.getWeights().map((t) => {
    const d = t.dataSync() as Float32Array;
    t.dispose();
    return d;
  });
  const lowest = Math.min(x.ptr, y.ptr);
  const p = model.predict(x);
  const predictions = p.dataSync() as Float32Array;
  p.dispose();
  const evaluated = model.evaluate(x, y) as number[];
  const bad = xs.slice();
  bad[N * 20 - 3] = NaN;
  const xb = tensor(bad, [N, 20]);
  let nanError = '';
  try {
    await model.fit(xb, y, { epochs: 1, batchSize: 32, verbose: 0 });
  } catch (e) {
    nanError = (e as Error).message;
  }
  const out = { lowest, weights, loss: h.history.loss as number[], predictions, evaluated, nanError };
  for (const t of [x, y, xb]) t.dispose();
  model.dispose();
  if (filler >= 0) b.arena.release(filler);
  return out;
}

describe('buffers above 2 GiB of wasm memory', () => {
  afterAll(() => disposeBackend());

  for (const threads of [1, 2]) {
    it(`gives the same bits as below 2 GiB (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const low = await runWithFiller(0, threads);
      expect(low.lowest).toBeLessThan(2 ** 31);
      expect(low.nanError).toMatch(/NaN|Infinity/);
      for (const filler of [2048 * MB + 64 * MB, 4096 * MB - 48 * MB]) {
        const high = await runWithFiller(filler, threads);
        expect(high.lowest).toBeGreaterThanOrEqual(filler);
        expect(high.loss).toEqual(low.loss);
        expect(high.evaluated).toEqual(low.evaluated);
        expect(bits(high.predictions)).toEqual(bits(low.predictions));
        expect(high.weights.map(bits)).toEqual(low.weights.map(bits));
        expect(high.nanError).toBe(low.nanError);
      }
    }, 120_000);
  }
});
