/**
 * Callbacks during a real `fit` (issue 4): the hooks (order, counts, logs, params, awaiting), stopping from a
 * callback, EarlyStopping (monitor, patience, minDelta, mode, restoreBestWeights), AbortSignal, and the
 * TensorBoard callback on a real MNIST fit, decoded with the independent test reader.
 */
import { blobs as makeBlobs } from './helpers/blobs.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  Callback,
  EarlyStopping,
  Sequential,
  callbacks,
  clearSession,
  datasets,
  init,
  layers,
  sequential,
  setSeed,
  tensor,
  type FitParams,
  type Logs,
  type Tensor,
} from '../src/index.js';
import { eventFilesIn, points, readEventFile, type Point } from './helpers/tfevents-reader.js';
import { bitwiseEqual } from './helpers/bits.js';

// ---------------------------------------------------------------------------------------------------
// helpers

/** Three noisy blobs in 4-D (learnable, not trivially). */
function blobs(n: number, seed = 1): { x: Tensor; y: Tensor } {
  const { x, y } = makeBlobs(n, [[1, 0, -1, 1], [-1, 1, 1, -1], [0, -1, 1, 0]], 1.5, seed);
  return { x: tensor(x, [n, 4]), y: tensor(y, [n]) };
}

function smallModel(dropout = 0): Sequential {
  const m = sequential([
    layers.dense({ inputShape: [4], units: 16, activation: 'relu' }),
    ...(dropout > 0 ? [layers.dropout({ rate: dropout })] : []),
    layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** Writes a scripted value into the epoch logs (callbacks share the logs object, as in Keras). */
class Inject extends Callback {
  constructor(
    private readonly key: string,
    private readonly seq: number[],
  ) {
    super();
  }
  override onEpochEnd(epoch: number, logs?: Logs): void {
    logs![this.key] = this.seq[epoch];
  }
}

/** Records the weights at every epoch end. */
class Recorder extends Callback {
  readonly weights: Float32Array[][] = [];
  override onEpochEnd(): void {
    this.weights.push(this.model.getWeightsRaw());
  }
}

function raw(m: Sequential): Float32Array[] {
  return m.getWeightsRaw();
}

let data: { x: Tensor; y: Tensor };

beforeAll(async () => {
  await init();
  data = blobs(120);
});

afterAll(() => {
  data.x.dispose();
  data.y.dispose();
});

beforeEach(() => {
  clearSession();
  setSeed(99);
});

// ---------------------------------------------------------------------------------------------------

describe('custom callbacks', () => {
  it('hooks run in Keras order, with the expected counts and logs', async () => {
    const m = smallModel();
    const events: string[] = [];
    const batchLogs: Logs[] = [];
    const epochLogs: Logs[] = [];
    class Spy extends Callback {
      override onTrainBegin() {
        events.push('trainBegin');
      }
      override onTrainEnd() {
        events.push('trainEnd');
      }
      override onEpochBegin(e: number) {
        events.push(`epochBegin ${e}`);
      }
      override onEpochEnd(e: number, logs?: Logs) {
        events.push(`epochEnd ${e}`);
        epochLogs.push({ ...logs });
      }
      override onBatchBegin(b: number) {
        events.push(`batchBegin ${b}`);
      }
      override onBatchEnd(b: number, logs?: Logs) {
        events.push(`batchEnd ${b}`);
        batchLogs.push({ ...logs });
      }
    }
    // 120 samples, batch 50: steps of 50, 50, 20
    const h = await m.fit(data.x, data.y, { epochs: 2, batchSize: 50, verbose: 0, validationData: [data.x, data.y], callbacks: [new Spy()] });
    const epoch = (e: number) => [`epochBegin ${e}`, ...[0, 1, 2].flatMap((b) => [`batchBegin ${b}`, `batchEnd ${b}`]), `epochEnd ${e}`];
    expect(events).toEqual(['trainBegin', ...epoch(0), ...epoch(1), 'trainEnd']);

    expect(batchLogs.map((l) => [l.batch, l.size])).toEqual([
      [0, 50],
      [1, 50],
      [2, 20],
      [0, 50],
      [1, 50],
      [2, 20],
    ]);
    for (const l of batchLogs) {
      expect(Number.isFinite(l.loss)).toBe(true);
      expect(l.accuracy).toBeGreaterThanOrEqual(0);
      expect(l.accuracy).toBeLessThanOrEqual(1);
      expect(l).not.toHaveProperty('val_loss');
    }
    // batch logs hold the epoch's running (sample-weighted) means; the epoch logs hold the final ones
    for (const e of [0, 1]) {
      const last = batchLogs[e * 3 + 2];
      expect(epochLogs[e].loss).toBe(last.loss);
      expect(epochLogs[e].accuracy).toBe(last.accuracy);
      expect(Object.keys(epochLogs[e]).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
      expect(epochLogs[e].val_loss).toBe(h.history.val_loss[e]);
    }
    // accuracy of 50 samples is a multiple of 1/50
    expect(Math.abs(batchLogs[0].accuracy * 50 - Math.round(batchLogs[0].accuracy * 50))).toBeLessThan(1e-4);
    m.dispose();
  });

  it('callbacks get the model and the run parameters before training starts', async () => {
    const m = smallModel();
    let seen: { params: FitParams; model: unknown } | undefined;
    class P extends Callback {
      override onTrainBegin() {
        seen = { params: { ...this.params }, model: this.model };
      }
    }
    const cb = new P();
    await m.fit(data.x, data.y, { epochs: 3, batchSize: 25, verbose: 0, validationSplit: 0.2, initialEpoch: 1, callbacks: cb });
    expect(seen!.model).toBe(m);
    expect(seen!.params).toEqual({
      epochs: 3,
      initialEpoch: 1,
      steps: 4, // 96 training samples / 25
      batchSize: 25,
      samples: 96,
      verbose: 0,
      doValidation: true,
      metrics: ['loss', 'accuracy', 'val_loss', 'val_accuracy'],
    });
    m.dispose();
  });

  it('logs objects handed to a callback are not changed afterwards (each batch gets its own)', async () => {
    const m = smallModel();
    const kept: Logs[] = [];
    class Keep extends Callback {
      override onBatchEnd(_b: number, logs?: Logs) {
        kept.push(logs!);
      }
    }
    await m.fit(data.x, data.y, { epochs: 1, batchSize: 40, verbose: 0, callbacks: [new Keep()] });
    expect(kept.map((l) => l.batch)).toEqual([0, 1, 2]);
    m.dispose();
  });

  it('async hooks are awaited before training goes on', async () => {
    const m = smallModel();
    const order: string[] = [];
    class Slow extends Callback {
      override async onEpochEnd(e: number) {
        await new Promise((r) => setTimeout(r, 20));
        order.push(`slow end ${e}`);
      }
      override async onBatchEnd(b: number) {
        await Promise.resolve();
        order.push(`batch ${b}`);
      }
    }
    class After extends Callback {
      override onEpochBegin(e: number) {
        order.push(`begin ${e}`);
      }
    }
    await m.fit(data.x, data.y, { epochs: 2, batchSize: 60, verbose: 0, callbacks: [new Slow(), new After()] });
    expect(order).toEqual(['begin 0', 'batch 0', 'batch 1', 'slow end 0', 'begin 1', 'batch 0', 'batch 1', 'slow end 1']);
    m.dispose();
  });

  it('callbacks may evaluate and predict with the model mid-fit without changing the run', async () => {
    const m = smallModel(0.2);
    const w0 = m.getWeights();
    const seen: [number, number][] = [];
    class Eval extends Callback {
      override onEpochEnd(_e: number, logs?: Logs) {
        const [loss] = m.evaluate(data.x, data.y) as number[];
        seen.push([loss, logs!.val_loss]);
        m.predict(data.x).dispose();
      }
      override onBatchEnd() {
        m.predict(data.x, { batchSize: 7 }).dispose();
      }
    }
    setSeed(5);
    const h1 = await m.fit(data.x, data.y, { epochs: 2, batchSize: 30, verbose: 0, validationData: [data.x, data.y], callbacks: [new Eval()] });
    const w1 = raw(m);
    for (const [loss, val] of seen) expect(loss).toBeCloseTo(val, 6);
    // the same run without the callback
    const m2 = smallModel(0.2);
    m2.setWeights(w0);
    setSeed(5);
    const h2 = await m2.fit(data.x, data.y, { epochs: 2, batchSize: 30, verbose: 0, validationData: [data.x, data.y] });
    expect(h2.history).toEqual(h1.history);
    expect(bitwiseEqual(raw(m2), w1)).toBe(true);
    w0.forEach((t) => t.dispose());
    m.dispose();
    m2.dispose();
  });

  it('the progress logger runs after user callbacks, so values they add to the logs are printed (Keras order)', async () => {
    const m = smallModel();
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((s: string) => {
      chunks.push(String(s));
      return true;
    }) as never);
    try {
      await m.fit(data.x, data.y, { epochs: 2, batchSize: 60, verbose: 2, callbacks: [new Inject('lr', [0.5, 0.25])] });
    } finally {
      spy.mockRestore();
    }
    const lines = chunks.join('').split('\n').filter((l) => l.includes('loss:'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ - lr: 0\.5000$/);
    expect(lines[1]).toMatch(/ - lr: 0\.2500$/);
    m.dispose();
  });

  it('model.stopTraining set in onBatchEnd ends fit after that batch (the epoch still ends, as in Keras)', async () => {
    const m = smallModel();
    let batches = 0;
    let epochEnds = 0;
    let trainEnds = 0;
    class Stop extends Callback {
      override onBatchEnd(b: number) {
        batches++;
        if (b === 1) this.model.stopTraining = true;
      }
      override onEpochEnd() {
        epochEnds++;
      }
      override onTrainEnd() {
        trainEnds++;
      }
    }
    const h = await m.fit(data.x, data.y, { epochs: 5, batchSize: 10, verbose: 0, callbacks: [new Stop()] });
    expect(batches).toBe(2);
    expect(epochEnds).toBe(1);
    expect(trainEnds).toBe(1);
    expect(h.epoch).toEqual([0]);
    expect(m.stopTraining).toBe(true);
    // the flag is reset by the next fit
    const h2 = await m.fit(data.x, data.y, { epochs: 2, batchSize: 60, verbose: 0 });
    expect(h2.epoch).toEqual([0, 1]);
    m.dispose();
  });

  it('model.stopTraining set in onEpochEnd ends fit after that epoch', async () => {
    const m = smallModel();
    class Stop extends Callback {
      override onEpochEnd(e: number) {
        if (e === 2) this.model.stopTraining = true;
      }
    }
    const h = await m.fit(data.x, data.y, { epochs: 10, batchSize: 60, verbose: 0, callbacks: [new Stop()] });
    expect(h.epoch).toEqual([0, 1, 2]);
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('earlyStopping', () => {
  it('stops after `patience` epochs without improvement and restores the best epoch weights', async () => {
    const m = smallModel();
    const rec = new Recorder();
    const es = callbacks.earlyStopping({ monitor: 'score', patience: 2, restoreBestWeights: true });
    expect(es).toBeInstanceOf(EarlyStopping);
    // best at epoch 1; epochs 2 and 3 do not improve → stop at epoch 3
    const h = await m.fit(data.x, data.y, {
      epochs: 10,
      batchSize: 30,
      verbose: 0,
      callbacks: [new Inject('score', [0.5, 0.3, 0.4, 0.35, 0.1, 0.1]), rec, es],
    });
    expect(h.epoch).toEqual([0, 1, 2, 3]);
    expect(h.history.score).toEqual([0.5, 0.3, 0.4, 0.35]);
    expect(es.stoppedEpoch).toBe(3);
    expect(es.bestEpoch).toBe(1);
    expect(es.best).toBe(0.3);
    expect(rec.weights).toHaveLength(4);
    expect(bitwiseEqual(rec.weights[1], rec.weights[3])).toBe(false);
    expect(bitwiseEqual(raw(m), rec.weights[1])).toBe(true);
    m.dispose();
  });

  it('without restoreBestWeights the last epoch weights stay', async () => {
    const m = smallModel();
    const rec = new Recorder();
    const h = await m.fit(data.x, data.y, {
      epochs: 10,
      batchSize: 30,
      verbose: 0,
      callbacks: [new Inject('score', [0.5, 0.3, 0.4, 0.35]), rec, callbacks.earlyStopping({ monitor: 'score', patience: 2 })],
    });
    expect(h.epoch).toHaveLength(4);
    expect(bitwiseEqual(raw(m), rec.weights[3])).toBe(true);
    m.dispose();
  });

  it('restores the first epoch weights when nothing ever improves on it', async () => {
    const m = smallModel();
    const rec = new Recorder();
    const h = await m.fit(data.x, data.y, {
      epochs: 10,
      batchSize: 30,
      verbose: 0,
      callbacks: [new Inject('score', [0.2, 0.3, 0.4]), rec, callbacks.earlyStopping({ monitor: 'score', patience: 1, restoreBestWeights: true })],
    });
    expect(h.epoch).toEqual([0, 1]);
    expect(bitwiseEqual(raw(m), rec.weights[0])).toBe(true);
    m.dispose();
  });

  it('minDelta: changes smaller than minDelta are not improvements', async () => {
    const seq = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75];
    const m = smallModel();
    const h1 = await m.fit(data.x, data.y, {
      epochs: 6,
      batchSize: 60,
      verbose: 0,
      callbacks: [new Inject('score', seq), callbacks.earlyStopping({ monitor: 'score', patience: 1 })],
    });
    expect(h1.epoch).toHaveLength(6); // every epoch improves by 0.05
    const es = callbacks.earlyStopping({ monitor: 'score', patience: 1, minDelta: 0.1 });
    const h2 = await m.fit(data.x, data.y, { epochs: 6, batchSize: 60, verbose: 0, callbacks: [new Inject('score', seq), es] });
    expect(h2.epoch).toEqual([0, 1]);
    expect(es.stoppedEpoch).toBe(1);
    // a negative minDelta means the same as its absolute value
    const h3 = await m.fit(data.x, data.y, {
      epochs: 6,
      batchSize: 60,
      verbose: 0,
      callbacks: [new Inject('score', seq), callbacks.earlyStopping({ monitor: 'score', patience: 2, minDelta: -0.1 })],
    });
    expect(h3.epoch).toEqual([0, 1, 2]);
    m.dispose();
  });

  it("mode 'auto' maximizes metrics named like accuracy; 'max' and 'min' can be forced", async () => {
    const m = smallModel();
    const up = [0.5, 0.7, 0.6, 0.65, 0.9];
    const auto = await m.fit(data.x, data.y, {
      epochs: 5,
      batchSize: 60,
      verbose: 0,
      callbacks: [new Inject('val_acc_custom', up), callbacks.earlyStopping({ monitor: 'val_acc_custom', patience: 1 })],
    });
    expect(auto.epoch).toEqual([0, 1, 2]);
    const forcedMin = await m.fit(data.x, data.y, {
      epochs: 5,
      batchSize: 60,
      verbose: 0,
      callbacks: [new Inject('val_acc_custom', up), callbacks.earlyStopping({ monitor: 'val_acc_custom', patience: 1, mode: 'min' })],
    });
    expect(forcedMin.epoch).toEqual([0, 1]);
    const forcedMax = await m.fit(data.x, data.y, {
      epochs: 5,
      batchSize: 60,
      verbose: 0,
      callbacks: [new Inject('score', up), callbacks.earlyStopping({ monitor: 'score', patience: 1, mode: 'max' })],
    });
    expect(forcedMax.epoch).toEqual([0, 1, 2]);
    m.dispose();
  });

  it('monitors val_loss by default on a real run; stops when it cannot improve by minDelta', async () => {
    const m = smallModel();
    const es = callbacks.earlyStopping({ minDelta: 100, patience: 0 });
    expect(es.monitor).toBe('val_loss');
    const h = await m.fit(data.x, data.y, { epochs: 8, batchSize: 30, verbose: 0, validationSplit: 0.25, callbacks: [es] });
    expect(h.epoch).toEqual([0, 1]);
    expect(es.best).toBe(h.history.val_loss[0]);
    m.dispose();
  });

  it('a monitor missing from the logs warns (listing what is there) and never stops training', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const m = smallModel();
      const h = await m.fit(data.x, data.y, { epochs: 3, batchSize: 60, verbose: 0, callbacks: [callbacks.earlyStopping({ patience: 0 })] });
      expect(h.epoch).toEqual([0, 1, 2]);
      expect(warn).toHaveBeenCalled();
      expect(String(warn.mock.calls[0][0])).toMatch(/val_loss.*not in the logs.*loss, accuracy/);
      m.dispose();
    } finally {
      warn.mockRestore();
    }
  });

  it('rejects bad arguments', () => {
    expect(() => callbacks.earlyStopping({ patience: -1 })).toThrow(/patience must be a non-negative integer/);
    expect(() => callbacks.earlyStopping({ patience: 1.5 })).toThrow(/patience/);
    expect(() => callbacks.earlyStopping({ mode: 'up' as never })).toThrow(/mode must be 'auto', 'min' or 'max'/);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('AbortSignal', { timeout: 20_000 }, () => {
  let big: { x: Tensor; y: Tensor };
  beforeAll(() => {
    big = blobs(3000, 5);
  });
  afterAll(() => {
    big.x.dispose();
    big.y.dispose();
  });

  async function expectAbort(p: Promise<unknown>): Promise<Error> {
    const e = await p.then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(e, 'fit should have rejected').toBeInstanceOf(Error);
    expect(e!.name).toBe('AbortError');
    expect(e!.message).toMatch(/abort/i);
    return e!;
  }

  it('an already aborted signal rejects at once, before any callback runs', async () => {
    const m = smallModel();
    let began = 0;
    class C extends Callback {
      override onTrainBegin() {
        began++;
      }
    }
    const ac = new AbortController();
    ac.abort();
    await expectAbort(m.fit(data.x, data.y, { epochs: 2, verbose: 0, signal: ac.signal, callbacks: [new C()] }));
    expect(began).toBe(0);
    m.dispose();
  });

  it('AbortSignal.timeout ends a long fit promptly (no hang), and the model keeps working', async () => {
    const m = smallModel(0.1);
    const t0 = performance.now();
    await expectAbort(m.fit(big.x, big.y, { epochs: 100000, batchSize: 16, verbose: 0, signal: AbortSignal.timeout(150) }));
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(3000);
    const h = await m.fit(data.x, data.y, { epochs: 1, verbose: 0 });
    expect(h.epoch).toEqual([0]);
    m.dispose();
  });

  it('an AbortController aborted from a timer rejects the running fit', async () => {
    const m = smallModel();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 100);
    let trainEnd = 0;
    class C extends Callback {
      override onTrainEnd() {
        trainEnd++;
      }
    }
    await expectAbort(m.fit(big.x, big.y, { epochs: 100000, batchSize: 16, verbose: 0, signal: ac.signal, callbacks: [new C()] }));
    clearTimeout(timer);
    expect(trainEnd).toBe(1);
    m.dispose();
  });

  it('aborting from onBatchEnd stops training after that batch', async () => {
    const m = smallModel();
    await m.fit(big.x, big.y, { epochs: 1, batchSize: 16, verbose: 0 }); // warm: later batches take microseconds
    const ac = new AbortController();
    let abortedAt = -1;
    let batchesAfter = 0;
    class C extends Callback {
      override onBatchBegin() {
        if (abortedAt >= 0) batchesAfter++;
      }
      override onBatchEnd(b: number) {
        if (b === 2) {
          abortedAt = b;
          ac.abort();
        }
      }
    }
    await expectAbort(m.fit(big.x, big.y, { epochs: 3, batchSize: 16, verbose: 0, signal: ac.signal, callbacks: [new C()] }));
    expect(abortedAt).toBe(2);
    expect(batchesAfter).toBe(0);
    m.dispose();
  });

  it('an abort during the very last batch still rejects', async () => {
    const m = smallModel();
    await m.fit(big.x, big.y, { epochs: 1, batchSize: 16, verbose: 0 });
    const ac = new AbortController();
    const steps = Math.ceil(3000 / 16);
    class C extends Callback {
      override onBatchEnd(b: number) {
        if (b === steps - 1) ac.abort();
      }
    }
    await expectAbort(m.fit(big.x, big.y, { epochs: 1, batchSize: 16, verbose: 0, signal: ac.signal, callbacks: [new C()] }));
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------

describe('tensorBoard on a real MNIST fit', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasm-layers-cb-tb-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes train/ and validation/ runs: epoch scalars equal to History, weight histograms every epoch', async () => {
    const N = 1000;
    const V = 200;
    const [[xTrain, yTrain], [xTest, yTest]] = await datasets.mnist.loadData();
    const sub = (t: Tensor, n: number, shape: number[]) => tensor((t.dataSync() as Uint8Array).slice(0, n * shape.reduce((a, b) => a * b, 1)), [n, ...shape], 'uint8');
    const xu = sub(xTrain, N, [28, 28]);
    const yu = sub(yTrain, N, []);
    const xvu = sub(xTest, V, [28, 28]);
    const yvu = sub(yTest, V, []);
    for (const t of [xTrain, yTrain, xTest, yTest]) t.dispose();
    const x = xu.div(255);
    const xv = xvu.div(255);

    const model = sequential([
      layers.flatten({ inputShape: [28, 28] }),
      layers.dense({ units: 32, activation: 'relu' }),
      layers.dropout({ rate: 0.2 }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const logDir = join(dir, 'fit', 'run1');
    const tb = callbacks.tensorBoard(logDir, { histogramFreq: 1 });
    const rec = new Recorder();
    const E = 3;
    const h = await model.fit(x, yu, { epochs: E, validationData: [xv, yvu], verbose: 0, callbacks: [tb, rec] });
    expect(h.history.val_accuracy[E - 1]).toBeGreaterThan(0.5);

    const trainFiles = eventFilesIn(join(logDir, 'train'));
    const valFiles = eventFilesIn(join(logDir, 'validation'));
    expect(trainFiles).toHaveLength(1);
    expect(valFiles).toHaveLength(1);
    expect(tb.paths().sort()).toEqual([...trainFiles, ...valFiles].sort());
    const train = readEventFile(trainFiles[0]);
    const val = readEventFile(valFiles[0]);
    expect(train.stop).toBeNull();
    expect(val.stop).toBeNull();
    const tp = points(train.events);
    const vp = points(val.events);
    const byTag = (ps: Point[], tag: string) => ps.filter((p) => p.value.tag === tag);
    const scalar = (p: Point) => {
      expect(p.value.pluginName).toBe('scalars');
      return p.value.tensor!.values[0];
    };
    const steps = [...Array(E).keys()];

    for (const [ps, prefix] of [
      [tp, ''],
      [vp, 'val_'],
    ] as const) {
      for (const m of ['loss', 'accuracy']) {
        const pts = byTag(ps, `epoch_${m}`);
        expect(pts.map((p) => p.step)).toEqual(steps);
        expect(pts.map(scalar)).toEqual(h.history[prefix + m].map((v) => Math.fround(v)));
      }
    }
    // nothing validation-only in train/, and no weights in validation/
    expect(tp.some((p) => p.value.tag.startsWith('epoch_val_'))).toBe(false);
    expect(vp.some((p) => p.value.tag.endsWith('/histogram'))).toBe(false);
    // Keras' evaluation_<metric>_vs_iterations, at the number of training batches so far
    const perEpoch = Math.ceil(N / 32);
    expect(byTag(vp, 'evaluation_loss_vs_iterations').map((p) => [p.step, scalar(p)])).toEqual(
      steps.map((e) => [perEpoch * (e + 1), Math.fround(h.history.val_loss[e])]),
    );

    // Keras 3's tags: the weight's path under the model.
    const weights = [
      [`${model.name}/dense/kernel/histogram`, 0, 784 * 32],
      [`${model.name}/dense/bias/histogram`, 1, 32],
      [`${model.name}/dense_1/kernel/histogram`, 2, 32 * 10],
      [`${model.name}/dense_1/bias/histogram`, 3, 10],
    ] as const;
    const histTags = [...new Set(tp.filter((p) => p.value.tag.endsWith('/histogram')).map((p) => p.value.tag))].sort();
    expect(histTags).toEqual(weights.map((w) => w[0]).sort());
    for (const [tag, index, size] of weights) {
      const pts = byTag(tp, tag);
      expect(pts.map((p) => p.step)).toEqual(steps);
      pts.forEach((p, e) => {
        expect(p.value.pluginName).toBe('histograms');
        const t = p.value.tensor!;
        expect(t.shape[1]).toBe(3);
        const rows = t.shape[0];
        let count = 0;
        for (let r = 0; r < rows; r++) count += t.values[r * 3 + 2];
        expect(count).toBe(size);
        // the histogram spans exactly the weights of that epoch
        const w = rec.weights[e][index];
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of w) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        expect(t.values[0]).toBe(lo);
        expect(t.values[(rows - 1) * 3 + 1]).toBe(hi);
      });
    }
    // the weights moved between epochs, so the histograms differ
    const k = byTag(tp, weights[0][0]);
    expect(k[0].value.tensor!.values).not.toEqual(k[E - 1].value.tensor!.values);

    for (const t of [xu, yu, xvu, yvu, x, xv]) t.dispose();
    model.dispose();
  });
});

describe('concurrent fit', () => {
  it('a second fit() on the same model while one runs is refused; the first completes', async () => {
    const data = blobs(300, 3);
    const m = smallModel();
    const first = m.fit(data.x, data.y, { epochs: 2, batchSize: 10, verbose: 0 });
    await expect(m.fit(data.x, data.y, { epochs: 1, verbose: 0 })).rejects.toThrow(/already being trained/);
    const h = await first;
    expect(h.history.loss).toHaveLength(2);
    // and afterwards fit works again
    expect((await m.fit(data.x, data.y, { epochs: 1, verbose: 0 })).history.loss).toHaveLength(1);
    m.dispose();
    data.x.dispose();
    data.y.dispose();
  });
});
