/**
 * Resumable training (issue 12, item 7): backupAndRestore resuming bit for bit inside one process (an
 * interruption thrown from a callback, as Keras documents it) and its options and failure modes;
 * modelCheckpoint's paths, best-only and weights-only saves; saves with the optimizer (tfjs format and
 * .keras) from which training continues bit for bit; and the rollback of a step whose loss is not finite.
 * SIGKILLs of a real process: resume-kill.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { Callback, callbacks, clearSession, init, layers, loadModel, loadWeights, optimizers, sequential, setSeed, tensor, type Logs, type Sequential, type Tensor } from '../src/index.js';
import { formatPath } from '../src/callbacks/model-checkpoint.js';
import { bitwiseEqual } from './helpers/bits.js';
import { blobs as makeBlobs } from './helpers/blobs.js';

const work = mkdtempSync(join(tmpdir(), 'wl-resume-'));
let data: { x: Tensor; y: Tensor };

beforeAll(async () => {
  await init();
  const { x, y } = makeBlobs(200, [[1, 0, -1, 1], [-1, 1, 1, -1], [0, -1, 1, 0]], 1.5, 3);
  data = { x: tensor(x, [200, 4]), y: tensor(y, [200]) };
});
afterAll(() => {
  data.x.dispose();
  data.y.dispose();
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  clearSession();
});

/** The same program every time: seed, model with dropout, compile. */
function program(opt: 'adam' | 'sgd' | 'rmsprop' = 'adam', dropout = 0.3, units = 16): Sequential {
  clearSession();
  setSeed(1234);
  const m = sequential([
    layers.dense({ inputShape: [4], units, activation: 'relu' }),
    ...(dropout > 0 ? [layers.dropout({ rate: dropout })] : []),
    layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  const o = opt === 'adam' ? optimizers.adam({ learningRate: 0.01 }) : opt === 'sgd' ? optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) : optimizers.rmsprop();
  m.compile({ optimizer: o, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** Weights and optimizer state, for bitwise comparison. */
function state(m: Sequential): Float32Array[] {
  return [...m.getWeightsRaw(), ...m.layers.flatMap((l) => l.weights.flatMap((w) => m.optimizer!.getState(w.tensor.id)))];
}

/** Throws at a given (epoch, batch): an interruption from inside fit. */
class Interrupt extends Callback {
  private epoch = 0;
  constructor(
    private readonly atEpoch: number,
    private readonly atBatch: number,
  ) {
    super();
  }
  override onEpochBegin(e: number): void {
    this.epoch = e;
  }
  override onBatchEnd(b: number): void {
    if (this.epoch === this.atEpoch && b === this.atBatch) throw new Error('interrupted');
  }
}

/** How a promise settled: its error's text, or 'resolved' (never a resolved model for vitest to print). */
const failure = (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: unknown) => String(e));

const FIT = { epochs: 3, batchSize: 16, verbose: 0 as const, validationSplit: 0.2 };

describe('backupAndRestore', () => {
  for (const [saveFreq, opt] of [[4, 'adam'], ['epoch', 'adam'], [5, 'sgd'], [3, 'rmsprop']] as const) {
    it(`an interrupted fit restarted from its backup ends bitwise where the unbroken one does (saveFreq ${saveFreq}, ${opt})`, async () => {
      const ref = program(opt);
      const refHist = await ref.fit(data.x, data.y, FIT);
      const want = state(ref);
      ref.dispose();

      const dir = join(work, `backup-${saveFreq}-${opt}`);
      // Interrupted twice: in epoch 2 (mid-epoch), then in epoch 3; each restart is the same program.
      for (const [e, b] of [[1, 6], [2, 2]]) {
        const m = program(opt);
        expect(await failure(m.fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir, { saveFreq }), new Interrupt(e, b)] }))).toMatch('interrupted');
        m.dispose();
        expect(existsSync(join(dir, 'backup.json')), 'a failed fit keeps its backup').toBe(true);
      }
      const m = program(opt);
      const hist = await m.fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir, { saveFreq })] });
      expect(bitwiseEqual(state(m), want)).toBe(true);
      // The last epoch's logs (loss sums carried over a mid-epoch resume, validation) match too.
      expect(hist.history.loss.at(-1)).toBe(refHist.history.loss.at(-1));
      expect(hist.history.val_loss.at(-1)).toBe(refHist.history.val_loss.at(-1));
      expect(existsSync(dir), 'deleted when training completes').toBe(false);
      m.dispose();
    });
  }

  it('resumes from the epoch after the last backup (Keras: only the remaining epochs run)', async () => {
    const dir = join(work, 'epochs');
    const m = program();
    expect(await failure(m.fit(data.x, data.y, { ...FIT, epochs: 5, callbacks: [callbacks.backupAndRestore(dir), new Interrupt(3, 0)] }))).toMatch(/interrupted/);
    m.dispose();
    const m2 = program();
    const h = await m2.fit(data.x, data.y, { ...FIT, epochs: 5, callbacks: [callbacks.backupAndRestore(dir)] });
    expect(h.epoch).toEqual([3, 4]);
    m2.dispose();
  });

  it('deleteCheckpoint: false keeps the backup; the manifest names its data file, which alone is kept', async () => {
    const dir = join(work, 'keep');
    const m = program();
    await m.fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir, { saveFreq: 2, deleteCheckpoint: false })] });
    const manifest = JSON.parse(readFileSync(join(dir, 'backup.json'), 'utf8'));
    expect(readdirSync(dir).sort()).toEqual(['backup.json', manifest.data].sort());
    // Saved every 2 of the 10 batches of each epoch: the last one after the last batch of epoch 3.
    expect(manifest.position).toMatchObject({ epoch: 2, batch: 10 });
    m.dispose();
  });

  it('a backup killed half-way (data file written, manifest not; temporary files left) leaves the previous one in use', async () => {
    const dir = join(work, 'torn');
    const m = program();
    expect(await failure(m.fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir, { saveFreq: 3 }), new Interrupt(1, 4)] }))).toMatch(/interrupted/);
    m.dispose();
    // What a kill between the two renames, or inside a write, leaves: a newer data file, temporaries (of a
    // process that is gone: pid 2^22 + 1 is above Linux's pid_max).
    writeFileSync(join(dir, 'backup.0123456789abcdef.bin'), 'garbage');
    writeFileSync(join(dir, '.backup.json.4194305.x1y2.tmp'), '{"trunc');
    writeFileSync(join(dir, '.backup.0123456789abcdef.bin.4194305.x1y2.tmp'), 'gar');
    writeFileSync(join(dir, 'unrelated.txt'), 'kept');
    const ref = program();
    await ref.fit(data.x, data.y, FIT);
    const m2 = program();
    await m2.fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir, { saveFreq: 3 })] });
    expect(bitwiseEqual(state(m2), state(ref))).toBe(true);
    // Stale files are gone, the user's file stays (so does the directory).
    expect(readdirSync(dir)).toEqual(['unrelated.txt']);
    m2.dispose();
    ref.dispose();
  });

  it('a damaged data file, or a backup of another model or run, is refused with an error that says why', async () => {
    const dir = join(work, 'damaged');
    const m = program();
    expect(await failure(m.fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir, { saveFreq: 3 }), new Interrupt(0, 5)] }))).toMatch(/interrupted/);
    m.dispose();
    const manifest = JSON.parse(readFileSync(join(dir, 'backup.json'), 'utf8'));
    const file = join(dir, manifest.data);
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad[100] ^= 1;
    writeFileSync(file, bad);
    expect(await failure(program().fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir)] }))).toMatch(/damaged/);
    writeFileSync(file, good);
    expect(await failure(program().fit(data.x, data.y, { ...FIT, batchSize: 8, callbacks: [callbacks.backupAndRestore(dir)] }))).toMatch(/batches per epoch/);
    expect(await failure(program('sgd').fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir)] }))).toMatch(/optimizer Adam/);
    // (Checked as settled booleans: a fit that resolved would hand vitest a whole model to print.)
    const err = await program('adam', 0.3, 8)
      .fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore(dir)] })
      .then(() => 'resolved', (e: unknown) => String(e));
    expect(err).toMatch(/holds weights of shapes \[4,16\], \[16\], \[16,3\], \[3\]; this model has \[4,8\]/);
  });

  it('checks its arguments', () => {
    expect(() => callbacks.backupAndRestore('')).toThrow(/non-empty/);
    expect(() => callbacks.backupAndRestore(work, { saveFreq: 0 })).toThrow(/saveFreq/);
    expect(() => callbacks.backupAndRestore(work, { saveFreq: 'batch' as never })).toThrow(/saveFreq/);
    expect(() => callbacks.backupAndRestore(work, { deleteCheckpoint: 1 as never })).toThrow(/deleteCheckpoint/);
    expect(() => callbacks.backupAndRestore('indexeddb://')).toThrow("'indexeddb://' names no backup: use 'indexeddb://<name>'");
  });

  it("says that an 'indexeddb://' backup needs IndexedDB, which Node does not have (test/browser/backup.test.ts runs it)", async () => {
    const m = program();
    const err = await m.fit(data.x, data.y, { ...FIT, callbacks: [callbacks.backupAndRestore('indexeddb://run')] }).then(
      () => 'resolved',
      (e: unknown) => String(e),
    );
    expect(err).toMatch('backupAndRestore: indexeddb://run needs IndexedDB, which this runtime does not have (in Node, back up to a directory)');
    m.dispose();
  });
});

describe('modelCheckpoint', () => {
  it('formats paths as Python does', () => {
    const v = { epoch: 3, batch: 12, val_loss: 0.123456, accuracy: 0.98765, loss: -1.5 };
    expect(formatPath('m-{epoch:02d}-{val_loss:.2f}.keras', v)).toBe('m-03-0.12.keras');
    expect(formatPath('{epoch}_{batch:04d}', v)).toBe('3_0012');
    expect(formatPath('{accuracy:.3e}|{loss:+.1f}|{epoch:>4}|{epoch:<3}|{loss:08.3f}|{{x}}', v)).toBe('9.877e-01|-1.5|   3|3  |-001.500|{x}');
    expect(formatPath('{accuracy:.1%}', v)).toBe('98.8%');
    expect(() => formatPath('{val_acc:.2f}', v)).toThrow(/'val_acc' is not among/);
    expect(() => formatPath('{epoch:q}', v)).toThrow(/format spec/);
  });

  it('saves every epoch to formatted .keras paths that load with the trained weights and optimizer', async () => {
    const dir = join(work, 'ckpt-keras');
    const m = program('adam', 0);
    let last: Float32Array[] = [];
    class Snap extends Callback {
      override onEpochEnd(): void {
        last = state(m);
      }
    }
    const cb = callbacks.modelCheckpoint(join(dir, 'm-{epoch:02d}-{val_loss:.3f}.keras'), { monitor: 'val_loss' });
    const h = await m.fit(data.x, data.y, { ...FIT, callbacks: [cb, new Snap()] });
    expect(readdirSync(dir).sort()).toEqual(h.history.val_loss.map((v, i) => `m-0${i + 1}-${v.toFixed(3)}.keras`).sort());
    const loaded = await loadModel(cb.saved.at(-1)!);
    expect(bitwiseEqual(state(loaded), last)).toBe(true);
    expect(loaded.optimizer!.iterations).toBe(m.optimizer!.iterations);
    m.dispose();
    loaded.dispose();
  });

  it('saveBestOnly saves only improvements (mode from the name, or given); initialValueThreshold is the first bar', async () => {
    const seq = [0.5, 0.4, 0.45, 0.3, 0.35];
    class Inject extends Callback {
      override onEpochEnd(e: number, logs?: Logs): void {
        logs!.val_loss = seq[e];
        logs!.val_accuracy = 1 - seq[e];
      }
    }
    const run = async (args: Parameters<typeof callbacks.modelCheckpoint>[1], name: string) => {
      const m = program('adam', 0);
      const cb = callbacks.modelCheckpoint(join(work, 'best', `${name}-{epoch}`), args);
      // Inject first: checkpoint callbacks see the values it writes.
      await m.fit(data.x, data.y, { ...FIT, epochs: 5, callbacks: [new Inject(), cb] });
      m.dispose();
      return cb.saved.map((p) => Number(p.split('-').at(-1)));
    };
    expect(await run({ saveBestOnly: true }, 'loss')).toEqual([1, 2, 4]);
    expect(await run({ saveBestOnly: true, monitor: 'val_accuracy' }, 'acc')).toEqual([1, 2, 4]);
    expect(await run({ saveBestOnly: true, mode: 'max' }, 'max')).toEqual([1]);
    expect(await run({ saveBestOnly: true, initialValueThreshold: 0.42 }, 'thr')).toEqual([2, 4]);
    expect(await run({}, 'all')).toEqual([1, 2, 3, 4, 5]);
  });

  it('saveWeightsOnly writes a .weights.h5 that loadWeights reads back (weights and optimizer state)', async () => {
    const file = join(work, 'w', 'best.weights.h5');
    const m = program('adam', 0);
    const cb = callbacks.modelCheckpoint(file, { saveWeightsOnly: true, saveFreq: 4 });
    await m.fit(data.x, data.y, { ...FIT, epochs: 1 });
    await m.fit(data.x, data.y, { ...FIT, epochs: 1, callbacks: [cb] });
    // 10 batches: saved after batches 4 and 8; the file holds batch 8's state.
    expect(cb.saved).toEqual([file, file]);
    const fresh = program('adam', 0);
    await loadWeights(fresh, file);
    expect(fresh.optimizer!.iterations).toBe(10 + 8);
    const saved = state(fresh);
    expect(bitwiseEqual(saved, state(m))).toBe(false); // two batches later
    expect(saved.every((a) => a.every(Number.isFinite))).toBe(true);
    m.dispose();
    fresh.dispose();
  });

  it('saves to a directory in tfjs format with the optimizer, {batch} filled with a number saveFreq', async () => {
    const m = program('adam', 0);
    const cb = callbacks.modelCheckpoint(`file://${join(work, 'tfjs')}/e{epoch}-b{batch}`, { saveFreq: 5 });
    await m.fit(data.x, data.y, { ...FIT, epochs: 2, callbacks: [cb] });
    expect(cb.saved.map((p) => p.split('/').at(-1))).toEqual(['e1-b5', 'e1-b10', 'e2-b5', 'e2-b10']);
    const json = JSON.parse(readFileSync(join(work, 'tfjs', 'e2-b10', 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].weights.filter((w: { group?: string }) => w.group === 'optimizer').map((w: { name: string }) => w.name)[0]).toBe('iter');
    const loaded = await loadModel(join(work, 'tfjs', 'e2-b10'));
    expect(bitwiseEqual(state(loaded), state(m))).toBe(true);
    m.dispose();
    loaded.dispose();
  });

  it('checks its arguments as Keras does', () => {
    expect(() => callbacks.modelCheckpoint('m.keras', { saveWeightsOnly: true })).toThrow(/\.weights\.h5/);
    expect(() => callbacks.modelCheckpoint('m.weights.h5')).toThrow(/HDF5/);
    expect(() => callbacks.modelCheckpoint('m.keras', { saveFreq: -1 })).toThrow(/saveFreq/);
    expect(() => callbacks.modelCheckpoint('m.keras', { mode: 'up' as never })).toThrow(/mode/);
    expect(() => callbacks.modelCheckpoint('')).toThrow(/non-empty/);
  });
});

describe('saving with the optimizer, then training on', () => {
  /** fit 2 epochs vs fit 1, save, (other random draws), load, fit 1 more. */
  async function splitRun(save: (m: Sequential) => Promise<string>, opt: 'adam' | 'sgd' | 'rmsprop', dropout: number) {
    const fitArgs = { batchSize: 16, verbose: 0 as const, shuffle: false };
    const ref = program(opt, dropout);
    await ref.fit(data.x, data.y, { ...fitArgs, epochs: 2 });
    const want = state(ref);
    ref.dispose();
    const m = program(opt, dropout);
    await m.fit(data.x, data.y, { ...fitArgs, epochs: 1 });
    const where = await save(m);
    m.dispose();
    setSeed(777); // a new process would have drawn other things before loading
    const loaded = await loadModel(where);
    await loaded.fit(data.x, data.y, { ...fitArgs, epochs: 2, initialEpoch: 1 });
    const got = state(loaded);
    loaded.dispose();
    return { got, want };
  }

  for (const opt of ['adam', 'sgd', 'rmsprop'] as const) {
    it(`tfjs format, includeOptimizer: bitwise the unbroken run (${opt}, dropout)`, async () => {
      const { got, want } = await splitRun(async (m) => {
        const dir = join(work, `inc-${opt}`);
        await m.save(dir, { includeOptimizer: true });
        return dir;
      }, opt, 0.3);
      expect(bitwiseEqual(got, want)).toBe(true);
    });
  }

  it('without includeOptimizer the optimizer starts over (and the run differs)', async () => {
    const { got, want } = await splitRun(async (m) => {
      const dir = join(work, 'no-inc');
      await m.save(dir);
      return dir;
    }, 'adam', 0);
    expect(bitwiseEqual(got, want)).toBe(false);
  });

  it('tfjs-layers reads our optimizer state, and we read its own (Adam: iter, m, v)', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const tfl = await import('@tensorflow/tfjs-layers');
    const m = program('adam', 0);
    await m.fit(data.x, data.y, { epochs: 1, batchSize: 50, verbose: 0 });
    const r = await m.save('memory', { includeOptimizer: true });
    const art = { modelTopology: r.modelJson.modelTopology, weightSpecs: r.modelJson.weightsManifest[0].weights, weightData: r.weightData, trainingConfig: r.modelJson.trainingConfig };
    const t = await tfl.loadLayersModel(tf.io.fromMemory(art as never));
    const tw = await t.optimizer.getWeights();
    expect(tw.map((w) => w.name)).toEqual(r.modelJson.weightsManifest[0].weights.filter((w) => w.group === 'optimizer').map((w) => w.name));
    expect(tw[0].tensor.dataSync()[0]).toBe(4);
    const ours = m.layers.flatMap((l) => l.weights.map((w) => m.optimizer!.getState(w.tensor.id)));
    tw.slice(1, 5).forEach((w, i) => expect(bitwiseEqual([w.tensor.dataSync() as Float32Array], [ours[i][0]])).toBe(true));
    tw.slice(5).forEach((w, i) => expect(bitwiseEqual([w.tensor.dataSync() as Float32Array], [ours[i][1]])).toBe(true));
    // Back: what tfjs saves with includeOptimizer loads into our optimizer.
    let back: unknown;
    await t.save(tf.io.withSaveHandler(async (a) => ((back = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })), { includeOptimizer: true });
    const again = await loadModel(back as never);
    expect(again.optimizer!.iterations).toBe(4);
    expect(bitwiseEqual(state(again), state(m))).toBe(true);
    m.dispose();
    again.dispose();
    t.dispose();
  });

  it('the optimizer weights are written as tfjs writes them: group optimizer, iter then all m then all v', async () => {
    const m = program('adam', 0);
    await m.fit(data.x, data.y, { epochs: 1, batchSize: 50, verbose: 0 });
    const r = await m.save('memory', { includeOptimizer: true });
    const opt = r.modelJson.weightsManifest[0].weights.filter((w) => w.group === 'optimizer');
    const names = ['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias'];
    expect(opt.map((w) => w.name)).toEqual(['iter', ...names.map((n) => `${n}/m`), ...names.map((n) => `${n}/v`)]);
    expect(opt[0]).toMatchObject({ dtype: 'int32', shape: [] });
    expect(new Int32Array(r.weightData, 4 * (4 * 16 + 16 + 16 * 3 + 3), 1)[0]).toBe(4);
    m.dispose();
  });

  for (const opt of ['adam', 'sgd'] as const) {
    it(`.keras (always with the optimizer): bitwise the unbroken run (${opt}, dropout)`, async () => {
      const { got, want } = await splitRun(async (m) => {
        const f = join(work, `split-${opt}.keras`);
        await m.save(f);
        return f;
      }, opt, 0.3);
      expect(bitwiseEqual(got, want)).toBe(true);
    });
  }
});

describe('a loss that becomes non-finite', () => {
  it('fit stops and leaves the weights and optimizer state of the last finite step (SGD, lr 1e30)', async () => {
    setSeed(5);
    const m = sequential([layers.dense({ inputShape: [4], units: 16, activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 1e30, momentum: 0.5 }), loss: 'sparseCategoricalCrossentropy' });
    let good: Float32Array[] = [];
    let steps = 0;
    class Keep extends Callback {
      override onBatchEnd(): void {
        good = state(m);
        steps++;
      }
    }
    expect(await failure(m.fit(data.x, data.y, { epochs: 2, batchSize: 20, verbose: 0, callbacks: [new Keep()] }))).toMatch(/the loss became (NaN|Infinity).*The weights and optimizer state are those of the last step with a finite loss \(this batch was not applied\)/);
    expect(steps).toBeGreaterThan(0);
    const now = state(m);
    expect(now.every((a) => a.every(Number.isFinite))).toBe(true);
    expect(bitwiseEqual(now, good)).toBe(true);
    expect(m.optimizer!.iterations).toBe(steps);
    expect(m.dropoutStep).toBe(steps);
    m.dispose();
  });

  it('trainOnBatch does the same', async () => {
    setSeed(5);
    const m = sequential([layers.dense({ inputShape: [4], units: 16, activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 1e30 }), loss: 'sparseCategoricalCrossentropy' });
    let before: Float32Array[] = [];
    let err: unknown;
    for (let i = 0; i < 10 && !err; i++) {
      before = state(m);
      try {
        m.trainOnBatch(data.x, data.y);
      } catch (e) {
        err = e;
      }
    }
    expect(String(err)).toMatch(/trainOnBatch: the loss became .*the batch was not applied/);
    expect(bitwiseEqual(state(m), before)).toBe(true);
    m.dispose();
  });
});
