// The live charts' training side: FitEventsCallback during a real fit reports what fit's logs and weights hold.
import { beforeAll, describe, expect, it } from 'vitest';
import { blobs as makeBlobs } from './helpers/blobs.js';
import { FitEventsCallback, type FitEvent } from '../src/vis/fit-events.js';
import { History, init, layers, sequential, setSeed, tensor } from '../src/index.js';

beforeAll(async () => {
  await init({ threads: 1 });
});

describe('FitEventsCallback', () => {
  it('sends begin, batch, epoch (train and validation) and weight histograms that match the fit', async () => {
    setSeed(3);
    const n = 96;
    const { x, y } = makeBlobs(n, [[1, 0, -1, 1], [-1, 1, 1, -1], [0, -1, 1, 0]], 1.5, 2);
    const xt = tensor(x, [n, 4]);
    const yt = tensor(y, [n]);
    const m = sequential([layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const events: FitEvent[] = [];
    const history = (await m.fit(xt, yt, {
      epochs: 3,
      batchSize: 16,
      validationSplit: 0.25,
      verbose: 0,
      callbacks: [new FitEventsCallback((e) => events.push(structuredClone(e)), { batchEvery: 2 })],
    })) as History;
    expect(events[0]).toMatchObject({ type: 'begin', epochs: 3 });
    const steps = (events[0] as Extract<FitEvent, { type: 'begin' }>).steps;
    expect(steps).toBe(Math.ceil(72 / 16));
    const batches = events.filter((e) => e.type === 'batch') as Extract<FitEvent, { type: 'batch' }>[];
    expect(batches.map((b) => b.step)).toEqual(Array.from({ length: Math.floor((3 * steps) / 2) }, (_, i) => 2 * (i + 1)));
    for (const b of batches) expect(Object.keys(b.logs).sort()).toEqual(['accuracy', 'loss']);
    const epochs = events.filter((e) => e.type === 'epoch') as Extract<FitEvent, { type: 'epoch' }>[];
    expect(epochs.map((e) => e.logs.val_loss)).toEqual(history.history.val_loss);
    expect(epochs.map((e) => e.logs.loss)).toEqual(history.history.loss);
    const hists = events.filter((e) => e.type === 'histograms') as Extract<FitEvent, { type: 'histograms' }>[];
    expect(hists).toHaveLength(3);
    const sizes = m.layers.flatMap((l) => l.weightViews.map((w) => [w.name, w.shape.reduce((a, b) => a * b, 1)]));
    for (const h of hists) {
      expect(h.weights.map((w) => [w.name, w.buckets.reduce((a, b) => a + b.count, 0)])).toEqual(sizes);
      for (const w of h.weights) expect(w.buckets).toHaveLength(30);
    }
    expect(events[events.length - 1].type).toBe('end');
    m.dispose();
  });
});
