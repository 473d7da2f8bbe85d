/**
 * The reproducibility promise (issue 4): `setSeed(n)` before building a model makes initialization,
 * shuffling and dropout reproducible — two runs give bitwise identical weights, for any thread count.
 *
 * Each run re-initialises the backend (`init({ threads })` replaces it, so the model and the data tensors
 * are re-created from plain arrays after it).
 */
import { beforeAll, describe, expect, it } from 'vitest';

import { backend } from '../src/backend/backend.js';
import { backendInfo, clearSession, datasets, init, layers, sequential, setSeed, tensor, type Sequential } from '../src/index.js';
import { setFusedWeightUpdates } from '../src/model/plan.js';
import { Layout } from '../src/backend/program.js';

const N = 1000;
const V = 200;
let mn: { x: Uint8Array; y: Uint8Array; xv: Uint8Array; yv: Uint8Array };

beforeAll(async () => {
  await init({ threads: 2 });
  const [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
  mn = {
    x: (xTrain.dataSync() as Uint8Array).slice(0, N * 784),
    y: (yTrain.dataSync() as Uint8Array).slice(0, N),
    xv: (xTest.dataSync() as Uint8Array).slice(0, V * 784),
    yv: (yTest.dataSync() as Uint8Array).slice(0, V),
  };
  for (const t of [xTrain, yTrain, xTest, yTest]) t.dispose();
});

interface Run {
  threads: number;
  initial: Float32Array[];
  final: Float32Array[];
  history: Record<string, number[]>;
  predictions: Float32Array;
}

function weightsOf(m: Sequential): Float32Array[] {
  return m.getWeights().map((t) => {
    const d = t.dataSync() as Float32Array;
    t.dispose();
    return d;
  });
}

/** The seed program, scaled down: setSeed, build, fit with shuffling and dropout, on `threads` threads. */
async function run(seed: number, threads: number | 'auto', opts: { validationSplit?: number; delayThread1?: number; fused?: boolean } = {}): Promise<Run & { tiles: number[] }> {
  await init({ threads });
  const b = backend();
  if (opts.delayThread1) b.debugDelay(1, opts.delayThread1);
  const tiles0 = [0, 1].map((t) => b.tilesRun(t));
  const raw = tensor(mn.x, [N, 28, 28], 'uint8');
  const x = raw.div(255);
  const y = tensor(mn.y, [N], 'uint8');
  const rawv = tensor(mn.xv, [V, 28, 28], 'uint8');
  const xv = rawv.div(255);
  const yv = tensor(mn.yv, [V], 'uint8');
  clearSession();
  setSeed(seed);
  const model = sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 128, activation: 'relu' }),
    layers.dropout({ rate: 0.2 }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const initial = weightsOf(model);
  // Unless a test asks otherwise, the default schedule: weight updates fused where the kernel streams them.
  const wasFused = setFusedWeightUpdates(opts.fused ?? true);
  const h = await model
    .fit(x, y, {
      epochs: 2,
      batchSize: 64,
      verbose: 0,
      ...(opts.validationSplit ? { validationSplit: opts.validationSplit } : { validationData: [xv, yv] }),
    })
    .finally(() => setFusedWeightUpdates(wasFused));
  const p = model.predict(xv);
  b.debugDelay(-1, 0);
  const tiles = [0, 1].map((t) => b.tilesRun(t) - tiles0[t]);
  const r = { threads: backendInfo().threads, initial, final: weightsOf(model), history: h.history, predictions: p.dataSync() as Float32Array, tiles };
  p.dispose();
  model.dispose();
  for (const t of [raw, x, y, rawv, xv, yv]) t.dispose();
  return r;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Index of the first differing weight (as "tensor:index"), or null when all are bitwise equal. */
function firstDifference(a: Float32Array[], b: Float32Array[]): string | null {
  if (a.length !== b.length) return `count ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const u = bits(a[i]);
    const v = bits(b[i]);
    if (u.length !== v.length) return `tensor ${i} length`;
    for (let j = 0; j < u.length; j++) if (u[j] !== v[j]) return `${i}:${j} (${a[i][j]} vs ${b[i][j]})`;
  }
  return null;
}

describe('setSeed reproducibility', () => {
  let a: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    a = await run(2024, 2);
  });

  it('the run learns something (so the comparisons below compare real training)', () => {
    expect(a.threads).toBe(2);
    expect(a.history.loss[1]).toBeLessThan(a.history.loss[0]);
    expect(a.history.val_accuracy[1]).toBeGreaterThan(0.75);
    expect(firstDifference(a.initial, a.final)).not.toBeNull();
  });

  it('the same seed twice gives bitwise identical initial and final weights, history and predictions', async () => {
    const b = await run(2024, 2);
    expect(firstDifference(a.initial, b.initial)).toBeNull();
    expect(firstDifference(a.final, b.final)).toBeNull();
    expect(b.history).toEqual(a.history);
    expect(firstDifference([a.predictions], [b.predictions])).toBeNull();
  });

  it('one thread gives the same bits as two threads', async () => {
    const c = await run(2024, 1);
    expect(c.threads).toBe(1);
    expect(firstDifference(a.initial, c.initial)).toBeNull();
    expect(firstDifference(a.final, c.final)).toBeNull();
    expect(c.history).toEqual(a.history);
    expect(firstDifference([a.predictions], [c.predictions])).toBeNull();
  });

  it('three threads (more than the batch splits evenly into) give the same bits too', async () => {
    const d = await run(2024, 3);
    expect(d.threads).toBe(3);
    expect(firstDifference(a.final, d.final)).toBeNull();
    expect(d.history).toEqual(a.history);
  });

  it('a thread running late mid-step (thread 1 stalls before every tile it claims) changes no bit', async () => {
    // Tiles go to whoever claims them, so the stalled thread's share moves to thread 0; each tile is still
    // computed whole by one thread in a fixed order.
    const late = await run(2024, 2, { delayThread1: 50_000 });
    expect(late.tiles[1]).toBeGreaterThan(0); // the late thread did take part (and stalled mid-step)
    expect(late.tiles[0] + late.tiles[1]).toBe(a.tiles[0] + a.tiles[1]); // the same tiles, whoever ran them
    expect(firstDifference(a.final, late.final)).toBeNull();
    expect(late.history).toEqual(a.history);
    expect(firstDifference([a.predictions], [late.predictions])).toBeNull();
  });

  it("threads: 'auto' (the default) gives the same bits", async () => {
    const d = await run(2024, 'auto');
    expect(firstDifference(a.final, d.final)).toBeNull();
    expect(d.history).toEqual(a.history);
  });

  it('the fused weight-gradient + Adam update (GEMM_ADAM, the default here) gives the same bits as a gradient GEMM then ADAM', async () => {
    // The contract of the fused update: a schedule only, never a numerical change.
    // Not vacuous: the model's weight gradients (784 → 128 and 128 → 10 at batch 64) are ones the kernel streams, so
    // the default runs fuse them.
    for (const [n, k] of [[128, 64], [10, 64]]) expect(backend().gemmUpdateStreams({ layout: Layout.TN, n, k, ldc: n })).toBe(true);
    const u = await run(2024, 2, { fused: false });
    expect(firstDifference(a.final, u.final)).toBeNull();
    expect(u.history).toEqual(a.history);
  });

  it('validationSplit runs are reproducible across thread counts as well', async () => {
    const e1 = await run(7, 1, { validationSplit: 0.2 });
    const e2 = await run(7, 2, { validationSplit: 0.2 });
    expect(firstDifference(e1.final, e2.final)).toBeNull();
    expect(e2.history).toEqual(e1.history);
    expect(e1.history.val_loss).toHaveLength(2);
  });

  it('a different seed gives different initial weights, shuffling/dropout and final weights', async () => {
    const f = await run(2025, 2);
    expect(firstDifference(a.initial, f.initial)).not.toBeNull();
    expect(firstDifference(a.final, f.final)).not.toBeNull();
    expect(f.history.loss).not.toEqual(a.history.loss);
  });

  it('setSeed before fit alone makes shuffling and dropout reproducible from given weights', async () => {
    await init({ threads: 2 });
    const raw = tensor(mn.x.subarray(0, 300 * 784), [300, 28, 28], 'uint8');
    const x = raw.div(255);
    const y = tensor(mn.y.subarray(0, 300), [300], 'uint8');
    const make = () => {
      const m = sequential([
        layers.flatten({ inputShape: [28, 28] }),
        layers.dense({ units: 32, activation: 'relu' }),
        layers.dropout({ rate: 0.3, seed: 11 }), // masks from a fixed layer seed
        layers.dense({ units: 10, activation: 'softmax' }),
      ]);
      m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' });
      return m;
    };
    setSeed(1);
    const m1 = make();
    const w0 = m1.getWeights();
    setSeed(2); // a different stream while building the second model
    const m2 = make();
    m2.setWeights(w0);
    setSeed(5);
    await m1.fit(x, y, { epochs: 2, batchSize: 50, verbose: 0 });
    setSeed(5);
    await m2.fit(x, y, { epochs: 2, batchSize: 50, verbose: 0 });
    expect(firstDifference(weightsOf(m1), weightsOf(m2))).toBeNull();
    // another shuffling seed (same weights, same masks) changes the result
    const m3 = make();
    m3.setWeights(w0);
    const m4 = make();
    m4.setWeights(w0);
    setSeed(5);
    await m3.fit(x, y, { epochs: 1, batchSize: 50, verbose: 0 });
    setSeed(6);
    await m4.fit(x, y, { epochs: 1, batchSize: 50, verbose: 0 });
    expect(firstDifference(weightsOf(m3), weightsOf(m4))).not.toBeNull();
    for (const t of [raw, x, y, ...w0]) t.dispose();
    for (const m of [m1, m2, m3, m4]) m.dispose();
  });
});
