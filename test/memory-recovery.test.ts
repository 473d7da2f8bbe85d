/**
 * Issue 12 item 4: memory that comes back. An operation that runs out of wasm memory half-way — building a
 * model too large for the limit, fit / evaluate / predict whose batch buffers do not fit — gives back what
 * it took: the arena's `inUse` is where it was before the call, disposing the model afterwards brings it
 * back to where it was before the model existed, and a normal model then trains. wasm memory itself never
 * shrinks; `memory()` reports what is reserved beside what is in use.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutOfMemoryError, disposeBackend, init, layers, memory, sequential, setSeed, tensor, type Tensor } from '../src/index.js';

const LIMIT_MB = 256;

beforeAll(async () => {
  await init({ threads: 1, maxMemoryMB: LIMIT_MB });
  setSeed(5);
  await trainsNormally(); // what a first fit keeps for good (the scratch program of the NaN check)
});
afterAll(() => disposeBackend());

function small(): ReturnType<typeof sequential> {
  const m = sequential([layers.dense({ units: 16, inputShape: [8], activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

async function trainsNormally(): Promise<void> {
  const x = tensor(Float32Array.from({ length: 64 * 8 }, (_, i) => Math.cos(i)), [64, 8]);
  const y = tensor(Int32Array.from({ length: 64 }, (_, i) => i % 3), [64]);
  const m = small();
  const h = await m.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0 });
  expect(h.history.loss.every(Number.isFinite)).toBe(true);
  expect(h.history.loss[2]).toBeLessThan(h.history.loss[0]);
  m.dispose();
  x.dispose();
  y.dispose();
}

describe('after an OutOfMemoryError the arena is back where it was', () => {
  it('memory() reports in use, peak, reserved and the limit', () => {
    const s = memory();
    expect(Object.keys(s).sort()).toEqual(['inUse', 'limit', 'peak', 'reserved']);
    expect(s.limit).toBe(LIMIT_MB * 2 ** 20);
    expect(s.reserved).toBeGreaterThanOrEqual(s.inUse);
    expect(s.peak).toBeGreaterThanOrEqual(s.inUse);
  });

  it('a model too large for memory (kernel fits, its gradient does not): OutOfMemoryError, nothing kept, dispose is clean', async () => {
    const before = memory().inUse;
    // 150 MB kernel + 150 MB gradient > 256 MB: the second allocation fails after the first succeeded
    const m = sequential([layers.dense({ units: 39_000, inputShape: [1000], kernelInitializer: 'zeros' })]); // zeros: a quick fill
    expect(() => m.summary(() => undefined)).toThrow(OutOfMemoryError);
    expect(memory().inUse).toBe(before);
    expect(() => m.compile({ optimizer: 'adam', loss: 'mse' })).toThrow(OutOfMemoryError);
    expect(memory().inUse).toBe(before);
    m.dispose();
    expect(memory().inUse).toBe(before);
    // wasm memory does not shrink: what was reserved stays reserved (and is reused)
    expect(memory().reserved).toBeGreaterThan(1000 * 39_000 * 4);
    await trainsNormally();
    expect(memory().inUse).toBe(before);
  });

  it('fit, evaluate and predict whose batch buffers exceed memory: the error, then inUse as before the call; smaller batches work', async () => {
    const m = sequential([layers.dense({ units: 4096, inputShape: [64], activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const n = 20_000;
    const x: Tensor = tensor(new Float32Array(n * 64).map((_, i) => Math.sin(i)), [n, 64]);
    const y: Tensor = tensor(Int32Array.from({ length: n }, (_, i) => i % 3), [n]);
    m.summary(() => undefined);
    const before = memory().inUse;
    // one batch of 20,000 × 4096 floats is 328 MB of activations
    await expect(m.fit(x, y, { batchSize: n, epochs: 1, verbose: 0 })).rejects.toThrow(OutOfMemoryError);
    expect(memory().inUse).toBe(before);
    expect(() => m.evaluate(x, y, { batchSize: n })).toThrow(OutOfMemoryError);
    expect(memory().inUse).toBe(before);
    expect(() => m.predict(x, { batchSize: n })).toThrow(OutOfMemoryError);
    expect(memory().inUse).toBe(before);
    expect(() => m.trainOnBatch(x, y)).toThrow(OutOfMemoryError);
    expect(memory().inUse).toBe(before);
    const h = await m.fit(x, y, { batchSize: 256, epochs: 1, verbose: 0 });
    expect(Number.isFinite(h.history.loss[0])).toBe(true);
    m.dispose();
    x.dispose();
    y.dispose();
    await trainsNormally();
  });
});
