import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import type { CallbackModel, FitParams, WeightView } from '../src/callbacks/base.js';
// Registers the layer classes: the callback serialises only models of known Keras layer classes.
import '../src/layers.js';
import { TensorBoard, histogramTag, tensorBoard } from '../src/callbacks/tensorboard.js';
import { crc32c, maskCrc, maskedCrc32c, unmaskCrc } from '../src/tensorboard/crc32c.js';
import { encodeEvent } from '../src/tensorboard/proto.js';
import {
  EventFileWriter,
  frameRecord,
  histogramBuckets,
  histogramSummaryValue,
  scalarSummaryValue,
} from '../src/tensorboard/writer.js';
import {
  crc32cBitwise,
  decodeEventBytes,
  eventFilesIn,
  points,
  readEventFile,
  readTfRecords,
  type DecodedEvent,
  type DecodedValue,
} from './helpers/tfevents-reader.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..');
const sharedDir = resolve(repoRoot, '../shared');
const kerasRef = join(sharedDir, 'reference/tensorboard-events/keras-tf2.13-imdb');
const hasKerasRef = existsSync(kerasRef);
const SKIP_NOTE = `Keras reference event files not found at ${kerasRef} (../shared is absent): skipped`;

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'wasm-layers-tb-'));
  tmpDirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

const FILE_NAME = /^events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+)\.v2$/;

function rows(v: DecodedValue): [number, number, number][] {
  const t = v.tensor!;
  expect(t.shape.length).toBe(2);
  expect(t.shape[1]).toBe(3);
  const out: [number, number, number][] = [];
  for (let i = 0; i < t.values.length; i += 3) out.push([t.values[i], t.values[i + 1], t.values[i + 2]]);
  expect(out.length).toBe(t.shape[0]);
  return out;
}

function rowsOf(buckets: Float64Array): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < buckets.length; i += 3) out.push([buckets[i], buckets[i + 1], buckets[i + 2]]);
  return out;
}

/** Deterministic pseudo-random floats in [-1, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

// ---------------------------------------------------------------------------------------------------------

describe('crc32c', () => {
  const vectors: [string, Uint8Array, number][] = [
    ['"123456789"', new TextEncoder().encode('123456789'), 0xe3069283],
    ['32 zero bytes', new Uint8Array(32), 0x8a9136aa],
    ['32 0xff bytes', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['0..31 ascending', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ['31..0 descending', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    ['empty', new Uint8Array(0), 0],
  ];
  for (const [name, bytes, expected] of vectors) {
    it(`matches the published vector for ${name}`, () => {
      expect(crc32c(bytes)).toBe(expected);
      expect(crc32cBitwise(bytes)).toBe(expected);
    });
  }

  it('agrees with the independent bitwise implementation, also when continued', () => {
    const rnd = lcg(7);
    for (let n = 0; n < 300; n += 7) {
      const b = Uint8Array.from({ length: n }, () => Math.floor((rnd() + 1) * 128));
      expect(crc32c(b)).toBe(crc32cBitwise(b));
      const cut = n >> 1;
      expect(crc32c(b.subarray(cut), crc32c(b.subarray(0, cut)))).toBe(crc32cBitwise(b));
    }
  });

  it('masks as TFRecord does and unmasks back', () => {
    const crc = 0xe3069283;
    const expected = ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) % 2 ** 32;
    expect(maskCrc(crc)).toBe(expected);
    for (const c of [0, 1, 0xffffffff, 0x80000000, crc]) expect(unmaskCrc(maskCrc(c))).toBe(c);
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(expected);
  });
});

describe('histogramBuckets (TensorBoard 2.13 _buckets)', () => {
  it('uses 30 equal-width buckets from min to max, the max in the last bucket', () => {
    const values = Float32Array.from([0, 1, 2, 3, 3, 29.5, 30]);
    const r = rowsOf(histogramBuckets(values));
    expect(r.length).toBe(30);
    expect(r[0][0]).toBe(0);
    expect(r[29][1]).toBe(30);
    for (let i = 0; i < 30; i++) {
      expect(r[i][0]).toBe(i);
      expect(r[i][1]).toBe(i + 1);
      if (i > 0) expect(r[i][0]).toBe(r[i - 1][1]);
    }
    expect(r.map((x) => x[2])).toEqual([1, 1, 1, 2, ...new Array(25).fill(0), 2]);
  });

  it('computes edges as min + i·((max-min)/k) in float64, last edge exactly max', () => {
    const rnd = lcg(3);
    const values = Float32Array.from({ length: 1000 }, () => rnd() * 0.3 - 0.01);
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const w = (max - min) / 30;
    const r = rowsOf(histogramBuckets(values));
    for (let i = 0; i < 30; i++) {
      expect(r[i][0]).toBe(i === 0 ? min : min + w * i);
      expect(r[i][1]).toBe(i === 29 ? max : min + w * (i + 1));
    }
    for (const v of values) {
      const b = Math.min(29, Math.floor((v - min) / w));
      expect(b).toBeGreaterThanOrEqual(0);
    }
    expect(r.reduce((s, x) => s + x[2], 0)).toBe(1000);
  });

  it('all-equal values: k buckets [v, v, 0] with every value counted in the last', () => {
    const r = rowsOf(histogramBuckets(new Float32Array(7).fill(0.25)));
    expect(r.length).toBe(30);
    for (let i = 0; i < 30; i++) expect(r[i]).toEqual([0.25, 0.25, i === 29 ? 7 : 0]);
    expect(rowsOf(histogramBuckets([5], 4))).toEqual([
      [5, 5, 0],
      [5, 5, 0],
      [5, 5, 0],
      [5, 5, 1],
    ]);
  });

  it('empty input: k rows of zeros; zero buckets: no rows', () => {
    expect(rowsOf(histogramBuckets(new Float32Array(0)))).toEqual(new Array(30).fill([0, 0, 0]));
    expect(histogramBuckets([1, 2, 3], 0).length).toBe(0);
    expect(histogramBuckets([1, 2, 3], -4).length).toBe(0);
    expect(() => histogramBuckets([1], 2.5)).toThrow(RangeError);
  });

  it('ignores NaN and infinities', () => {
    const r = rowsOf(histogramBuckets([NaN, 1, Infinity, 2, -Infinity], 2));
    expect(r).toEqual([
      [1, 1.5, 1],
      [1.5, 2, 1],
    ]);
  });
});

describe('EventFileWriter (memory)', () => {
  it('writes file_version first, then TF2 tensor scalars and DT_DOUBLE [k,3] histograms', async () => {
    let clock = 1_700_000_000_500;
    const w = await EventFileWriter.open('logs/run', { writeTo: 'memory', now: () => clock });
    expect(w.kind).toBe('memory');
    expect(basename(w.path)).toMatch(FILE_NAME);
    expect(w.path.startsWith('logs/run/events.out.tfevents.1700000000.')).toBe(true);
    const weights = Float32Array.from({ length: 97 }, lcg(11));
    w.scalar('epoch_loss', 0.5, 0);
    clock += 1000;
    w.scalar('epoch_loss', 0.25, 1);
    w.scalar('big_step', 1.5, 2 ** 40 + 3);
    w.histogram('dense/kernel_0/histogram', weights, 1);
    w.histogram('tiny', weights, 1, 5);
    await w.flush();
    const { events, stop } = decodeEventBytes(w.bytes());
    expect(stop).toBeNull();
    expect(events[0].fileVersion).toBe('brain.Event:2');
    expect(events[0].wallTime).toBe(1_700_000_000);
    expect(events[0].values).toEqual([]);
    expect(events.length).toBe(6);

    const ps = points(events);
    expect(ps.map((p) => [p.value.tag, p.step])).toEqual([
      ['epoch_loss', 0],
      ['epoch_loss', 1],
      ['big_step', 2 ** 40 + 3],
      ['dense/kernel_0/histogram', 1],
      ['tiny', 1],
    ]);
    expect(ps[0].wallTime).toBe(1_700_000_000.5);
    expect(ps[1].wallTime).toBe(1_700_000_001.5);
    for (const p of ps.slice(0, 3)) {
      expect(p.value.pluginName).toBe('scalars');
      expect(p.value.tensor!.dtype).toBe(1);
      expect(p.value.tensor!.shape).toEqual([]);
      expect(p.value.tensor!.content.length).toBe(4);
    }
    expect(ps.map((p) => p.value.tensor!.values[0]).slice(0, 3)).toEqual([0.5, 0.25, 1.5]);

    const hist = ps[3].value;
    expect(hist.pluginName).toBe('histograms');
    expect(hist.tensor!.dtype).toBe(2);
    expect(hist.tensor!.shape).toEqual([30, 3]);
    const r = rows(hist);
    const min = Math.min(...weights);
    const max = Math.max(...weights);
    expect(r[0][0]).toBe(min);
    expect(r[29][1]).toBe(max);
    expect(r.reduce((s, x) => s + x[2], 0)).toBe(weights.length);
    expect(rows(ps[4].value).length).toBe(5);
    expect(rows(ps[4].value).reduce((s, x) => s + x[2], 0)).toBe(weights.length);

    expect(w.toBlob().size).toBe(w.bytes().length);
    await w.close();
    expect(() => w.scalar('x', 1, 0)).toThrow(/closed/);
    await w.close();
  });

  it('bytes() includes records not yet flushed; steps must be integers', async () => {
    const w = await EventFileWriter.open('', { writeTo: 'memory' });
    expect(w.path).toMatch(FILE_NAME);
    w.scalar('a', 1, 0);
    expect(decodeEventBytes(w.bytes()).events.length).toBe(2);
    expect(() => w.scalar('a', 1, 0.5)).toThrow(RangeError);
  });
});

describe('EventFileWriter (node file)', () => {
  it('creates the directory and a TF2-named file, readable after each flush', async () => {
    const dir = join(await tmp(), 'nested', 'train');
    const w = await EventFileWriter.open(dir);
    expect(w.kind).toBe('node');
    expect(dirname(w.path)).toBe(dir);
    const m = FILE_NAME.exec(basename(w.path));
    expect(m).not.toBeNull();
    expect(m![2]).toBe(hostname());
    expect(Number(m![3])).toBe(process.pid);
    // The file_version record is on disk as soon as the writer is open.
    expect(readEventFile(w.path).events.map((e) => e.fileVersion)).toEqual(['brain.Event:2']);
    w.scalar('epoch_loss', 1, 0);
    expect(readEventFile(w.path).events.length).toBe(1);
    await w.flush();
    expect(readEventFile(w.path).events.length).toBe(2);
    w.scalar('epoch_loss', 0.5, 1);
    await w.close();
    const file = readEventFile(w.path);
    expect(file.stop).toBeNull();
    expect(points(file.events).map((p) => [p.value.tag, p.step, p.value.tensor!.values[0]])).toEqual([
      ['epoch_loss', 0, 1],
      ['epoch_loss', 1, 0.5],
    ]);
    expect(() => w.bytes()).toThrow();
  });

  it('a second writer in the same directory never overwrites the first file', async () => {
    const dir = await tmp();
    const now = () => 1_234_567_890_000;
    const a = await EventFileWriter.open(dir, { now });
    a.scalar('a', 1, 0);
    await a.flush();
    const before = await readFile(a.path);
    const b = await EventFileWriter.open(dir, { now });
    b.scalar('b', 2, 0);
    await b.close();
    expect(b.path).not.toBe(a.path);
    expect(await readFile(a.path)).toEqual(before);
    await a.close();

    // Pre-existing files with every name the next writer could pick (same second, host and pid) are skipped.
    const host = hostname();
    const taken: string[] = [];
    for (let n = 0; n < 300; n++) {
      const p = join(dir, `events.out.tfevents.1234567890.${host}.${process.pid}.${n}.v2`);
      if (!existsSync(p)) {
        await writeFile(p, `not ours ${n}`);
        taken.push(p);
      }
    }
    const c = await EventFileWriter.open(dir, { now });
    await c.close();
    expect(readdirSync(dir)).toContain(basename(c.path));
    for (const p of taken) expect(readFileSync(p, 'utf8')).toMatch(/^not ours \d+$/);
    expect(readEventFile(c.path).events[0].fileVersion).toBe('brain.Event:2');
    expect(readEventFile(a.path).events.length).toBe(2);
  });

  it('a file cut mid-record still yields every complete record', async () => {
    const dir = await tmp();
    const w = await EventFileWriter.open(dir);
    for (let s = 0; s < 4; s++) w.scalar('epoch_loss', 1 / (s + 1), s);
    w.histogram('w/histogram', Float32Array.from([1, 2, 3, 4]), 0, 3);
    await w.close();
    const full = new Uint8Array(await readFile(w.path));
    const { records } = readTfRecords(full);
    expect(records.length).toBe(6);
    const ends: number[] = [];
    let pos = 0;
    for (const r of records) ends.push((pos += r.length + 16));
    expect(pos).toBe(full.length);
    for (let cut = 0; cut <= full.length; cut++) {
      const part = readTfRecords(full.subarray(0, cut));
      const complete = ends.filter((e) => e <= cut).length;
      expect(part.records.length).toBe(complete);
      expect(part.stop).toBe(ends.includes(cut) || cut === 0 ? null : 'truncated');
    }
    // Cut a file on disk and read it back.
    const cutPath = join(dir, 'events.out.tfevents.cut');
    await writeFile(cutPath, full.subarray(0, ends[3] + 20));
    const cutFile = readEventFile(cutPath);
    expect(cutFile.stop).toBe('truncated');
    expect(points(cutFile.events).map((p) => p.step)).toEqual([0, 1, 2]);
    // A corrupted byte stops reading at that record.
    const bad = full.slice();
    bad[ends[2] + 14] ^= 0x01;
    const badRead = readTfRecords(bad);
    expect(badRead.records.length).toBe(3);
    expect(badRead.stop).toBe('bad-data-crc');
  });
});

// ---------------------------------------------------------------------------------------------------------

interface FakeModel extends CallbackModel {
  readonly name: string;
  readonly inputShape: number[];
  readonly optimizer?: { className: string; learningRate: number };
  bump(): void;
}

/**
 * A model as callbacks see it, with what the Keras config needs (class names, configs, built input shapes),
 * named `sequential` as Keras names the first Sequential. `lr` gives it an optimizer with that learning rate.
 */
function fakeModel(layerNames = ['dense', 'dense_1'], lr?: number): FakeModel {
  const rnd = lcg(42);
  const shapes: number[][][] = [
    [[8, 4], [4]],
    [[4, 1], [1]],
  ];
  const layers = layerNames.map((name, li) => {
    const weightViews = shapes[li % shapes.length].map((shape, wi): WeightView & { data: Float32Array } => {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = wi === 1 ? new Float32Array(size) : Float32Array.from({ length: size }, () => rnd() * 0.5);
      return { name: `${name}/${wi === 0 ? 'kernel' : 'bias'}:0`, shape, data, read: () => data.slice() };
    });
    const [inputs, units] = shapes[li % shapes.length][0];
    const toConfig = (o?: { batchInputShape?: unknown }) => ({
      name,
      trainable: true,
      dtype: 'float32',
      ...(o?.batchInputShape ? { batch_input_shape: o.batchInputShape } : {}),
      units,
      activation: 'relu',
    });
    return { name, className: 'Dense', inputShape: [inputs], hasBuildConfig: true, toConfig, weightViews };
  });
  return {
    name: 'sequential',
    inputShape: [shapes[0][0][0]],
    ...(lr !== undefined ? { optimizer: { className: 'Adam', learningRate: lr } } : {}),
    layers,
    stopTraining: false,
    getWeightsRaw: () => layers.flatMap((l) => l.weightViews.map((w) => w.read())),
    setWeightsFrom: () => {},
    bump() {
      for (const l of layers) for (const w of l.weightViews) for (let i = 0; i < w.data.length; i++) w.data[i] += rnd() * 0.01;
    },
  };
}

const PARAMS: FitParams = {
  epochs: 3,
  initialEpoch: 0,
  steps: 5,
  batchSize: 32,
  samples: 160,
  verbose: 0,
  doValidation: true,
  metrics: ['loss', 'accuracy', 'val_loss', 'val_accuracy'],
};

const epochLogs = (e: number) => ({
  loss: 1 / (e + 1),
  accuracy: 0.5 + e / 10,
  val_loss: 1.5 / (e + 1),
  val_accuracy: 0.4 + e / 10,
});

/** Runs the callback's hooks like `fit` would, for `epochs` epochs of `steps` batches. */
async function drive(cb: TensorBoard, model: FakeModel, epochs = 3, withBatches = true): Promise<void> {
  cb.setModel(model);
  cb.setParams(PARAMS);
  await cb.onTrainBegin();
  for (let e = 0; e < epochs; e++) {
    await cb.onEpochBegin(e);
    if (withBatches) {
      for (let b = 0; b < PARAMS.steps; b++) {
        await cb.onBatchBegin(b);
        model.bump();
        await cb.onBatchEnd(b, { loss: 2 - (e * PARAMS.steps + b) / 10, accuracy: b / 10 });
      }
    }
    await cb.onEpochEnd(e, epochLogs(e));
  }
  await cb.onTrainEnd();
}

function byTag(events: DecodedEvent[]): Map<string, { step: number; value: DecodedValue }[]> {
  const m = new Map<string, { step: number; value: DecodedValue }[]>();
  for (const p of points(events)) {
    if (!m.has(p.value.tag)) m.set(p.value.tag, []);
    m.get(p.value.tag)!.push({ step: p.step, value: p.value });
  }
  return m;
}

const scalarOf = (v: DecodedValue) => v.tensor!.values[0];

describe('TensorBoard callback', () => {
  it('writes train/ and validation/ runs with Keras 3 tags, steps and values (files on disk)', async () => {
    const logDir = await tmp();
    const cb = tensorBoard(logDir, { histogramFreq: 1, updateFreq: 2 });
    const model = fakeModel(undefined, 0.001);
    await drive(cb, model);

    expect(readdirSync(logDir).sort()).toEqual(['train', 'validation']);
    const [trainPath] = eventFilesIn(join(logDir, 'train'));
    const [valPath] = eventFilesIn(join(logDir, 'validation'));
    expect(eventFilesIn(join(logDir, 'train')).length).toBe(1);
    expect(eventFilesIn(join(logDir, 'validation')).length).toBe(1);
    expect(cb.paths().sort()).toEqual([trainPath, valPath].sort());
    expect(cb.files()).toEqual([]);
    expect(basename(trainPath)).toMatch(FILE_NAME);

    const train = readEventFile(trainPath);
    const val = readEventFile(valPath);
    expect(train.stop).toBeNull();
    expect(val.stop).toBeNull();
    expect(train.events[0].fileVersion).toBe('brain.Event:2');
    expect(val.events[0].fileVersion).toBe('brain.Event:2');

    const t = byTag(train.events);
    const v = byTag(val.events);
    expect([...t.keys()].sort()).toEqual([
      'batch_accuracy',
      'batch_loss',
      'epoch_accuracy',
      'epoch_learning_rate',
      'epoch_loss',
      'keras',
      'sequential/dense/bias/histogram',
      'sequential/dense/kernel/histogram',
      'sequential/dense_1/bias/histogram',
      'sequential/dense_1/kernel/histogram',
    ]);
    // The model config first, at step 0, for the Graphs dashboard.
    expect(points(train.events)[0].value.tag).toBe('keras');
    expect(t.get('epoch_learning_rate')!.map((p) => [p.step, scalarOf(p.value)])).toEqual([0, 1, 2].map((e) => [e, Math.fround(0.001)]));
    expect([...v.keys()].sort()).toEqual([
      'epoch_accuracy',
      'epoch_loss',
      'evaluation_accuracy_vs_iterations',
      'evaluation_loss_vs_iterations',
    ]);

    for (const tag of ['epoch_loss', 'epoch_accuracy']) {
      const key = tag.slice('epoch_'.length) as 'loss' | 'accuracy';
      expect(t.get(tag)!.map((p) => p.step)).toEqual([0, 1, 2]);
      expect(t.get(tag)!.map((p) => scalarOf(p.value))).toEqual([0, 1, 2].map((e) => Math.fround(epochLogs(e)[key])));
      expect(v.get(tag)!.map((p) => p.step)).toEqual([0, 1, 2]);
      const valKey = `val_${key}` as 'val_loss' | 'val_accuracy';
      expect(v.get(tag)!.map((p) => scalarOf(p.value))).toEqual([0, 1, 2].map((e) => Math.fround(epochLogs(e)[valKey])));
    }
    // 15 batches, updateFreq 2: global steps 2, 4, …, 14.
    expect(t.get('batch_loss')!.map((p) => p.step)).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(scalarOf(t.get('batch_loss')![0].value)).toBe(Math.fround(2 - 1 / 10));
    expect(v.get('evaluation_loss_vs_iterations')!.map((p) => p.step)).toEqual([5, 10, 15]);

    const sizes: Record<string, number> = {
      'sequential/dense/kernel/histogram': 32,
      'sequential/dense/bias/histogram': 4,
      'sequential/dense_1/kernel/histogram': 4,
      'sequential/dense_1/bias/histogram': 1,
    };
    for (const [tag, pts] of t) {
      if (tag === 'keras') continue;
      if (!tag.endsWith('/histogram')) {
        for (const p of pts) expect([p.value.pluginName, p.value.tensor!.dtype, p.value.tensor!.shape]).toEqual(['scalars', 1, []]);
        continue;
      }
      expect(pts.map((p) => p.step)).toEqual([0, 1, 2]);
      const n = sizes[tag];
      for (const p of pts) {
        expect(p.value.pluginName).toBe('histograms');
        expect(p.value.tensor!.dtype).toBe(2);
        expect(p.value.tensor!.shape).toEqual([30, 3]);
        const r = rows(p.value);
        expect(r.reduce((s, x) => s + x[2], 0)).toBe(n);
        for (let i = 1; i < r.length; i++) expect(r[i][0]).toBe(r[i - 1][1]);
      }
    }
    // Edges cover [min, max] of the weight at that epoch: check the last epoch against the model's weights now.
    const kernel = model.layers[0].weightViews[0].read();
    const last = rows(t.get('sequential/dense/kernel/histogram')![2].value);
    expect(last[0][0]).toBe(Math.min(...kernel));
    expect(last[29][1]).toBe(Math.max(...kernel));
    expect(last).toEqual(rowsOf(histogramBuckets(kernel)));
  });

  it('memory mode: files() returns both runs to download', async () => {
    const cb = new TensorBoard('logs/fit', { histogramFreq: 2, writeTo: 'memory' });
    await drive(cb, fakeModel(), 3, false);
    const files = cb.files();
    expect(files.map((f) => dirname(f.path)).sort()).toEqual(['logs/fit/train', 'logs/fit/validation']);
    for (const f of files) expect(basename(f.path)).toMatch(FILE_NAME);
    const train = decodeEventBytes(files.find((f) => f.path.includes('/train/'))!.bytes);
    const val = decodeEventBytes(files.find((f) => f.path.includes('/validation/'))!.bytes);
    const t = byTag(train.events);
    expect(t.get('epoch_loss')!.map((p) => p.step)).toEqual([0, 1, 2]);
    // histogramFreq 2: epochs 0 and 2 only (epoch % 2 === 0, as Keras).
    expect(t.get('sequential/dense/kernel/histogram')!.map((p) => p.step)).toEqual([0, 2]);
    expect(t.has('batch_loss')).toBe(false);
    // No batch hooks: the iteration step falls back to params.steps per epoch.
    expect(byTag(val.events).get('evaluation_loss_vs_iterations')!.map((p) => p.step)).toEqual([5, 10, 15]);
  });

  it('only onTrainBegin/onEpochEnd/onTrainEnd, no validation logs: no validation run', async () => {
    const logDir = await tmp();
    const cb = tensorBoard(logDir);
    cb.setModel(fakeModel());
    await cb.onTrainBegin();
    for (let e = 0; e < 3; e++) await cb.onEpochEnd(e, { loss: 1 / (e + 1) });
    // Flushed at each epoch end: the data is on disk before onTrainEnd.
    const [trainPath] = eventFilesIn(join(logDir, 'train'));
    // No optimizer in this model: no epoch_learning_rate.
    expect(points(readEventFile(trainPath).events).map((p) => p.value.tag)).toEqual(['keras', 'epoch_loss', 'epoch_loss', 'epoch_loss']);
    await cb.onTrainEnd();
    expect(readdirSync(logDir)).toEqual(['train']);
    expect(histogramTag('conv2d/kernel:0')).toBe('conv2d/kernel_0/histogram');
    expect(histogramTag('conv2d/kernel:0', 'functional')).toBe('functional/conv2d/kernel/histogram');
    expect(histogramTag('conv2d/kernel:0', 'functional', 'keras2')).toBe('conv2d/kernel_0/histogram');
  });

  it('a second fit with the same callback writes new files and leaves the first ones alone', async () => {
    const logDir = await tmp();
    const cb = tensorBoard(logDir, { histogramFreq: 1 });
    const model = fakeModel();
    await drive(cb, model, 1);
    const first = cb.paths();
    const firstBytes = await Promise.all(first.map((p) => readFile(p)));
    await drive(cb, model, 1);
    expect(cb.paths().length).toBe(4);
    expect(new Set(cb.paths()).size).toBe(4);
    expect(await Promise.all(first.map((p) => readFile(p)))).toEqual(firstBytes);
    expect(eventFilesIn(join(logDir, 'train')).length).toBe(2);
  });

  it('validates options', () => {
    expect(() => tensorBoard('x', { histogramFreq: -1 })).toThrow(RangeError);
    expect(() => tensorBoard('x', { updateFreq: 0 })).toThrow(RangeError);
    expect(tensorBoard('x', { updateFreq: 'batch' }).updateFreq).toBe(1);
    expect(() => tensorBoard('x', { tagStyle: 'keras4' as 'keras3' })).toThrow(/tagStyle/);
  });

  it("tagStyle 'keras2': tf.keras 2 histogram names, no epoch_learning_rate, Keras 2's config dialect; writeGraph: false", async () => {
    const cb = tensorBoard('logs', { histogramFreq: 1, writeTo: 'memory', tagStyle: 'keras2' });
    await drive(cb, fakeModel(undefined, 0.001), 1);
    const t = byTag(decodeEventBytes(cb.files().find((f) => f.path.includes('/train/'))!.bytes).events);
    expect([...t.keys()].sort()).toEqual([
      'dense/bias_0/histogram',
      'dense/kernel_0/histogram',
      'dense_1/bias_0/histogram',
      'dense_1/kernel_0/histogram',
      'epoch_accuracy',
      'epoch_loss',
      'keras',
    ]);
    // Keras 2's dialect (as tfjs-layers writes it): no module/registered_name, batch_input_shape on the first layer.
    const config = JSON.parse(new TextDecoder().decode(t.get('keras')![0].value.tensor!.stringVal[0]));
    expect(config.class_name).toBe('Sequential');
    expect(config.module).toBeUndefined();
    expect(config.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual(['Dense', 'Dense']);
    expect(config.config.layers[0].config.batch_input_shape).toEqual([null, 8]);

    const plain = tensorBoard('logs', { writeTo: 'memory', writeGraph: false });
    await drive(plain, fakeModel(), 1);
    const tags = points(decodeEventBytes(plain.files()[0].bytes).events).map((p) => p.value.tag);
    expect(tags).not.toContain('keras');
  });
});

// ---------------------------------------------------------------------------------------------------------

interface Signature {
  plugin: string | undefined;
  dtype: number | undefined;
  shape: string;
}

const signature = (v: DecodedValue): Signature => ({
  plugin: v.pluginName,
  dtype: v.tensor?.dtype,
  shape: JSON.stringify(v.tensor?.shape),
});

function runSignatures(events: DecodedEvent[]): Map<string, Signature[]> {
  const m = new Map<string, Signature[]>();
  for (const p of points(events)) {
    const key = p.value.tag.endsWith('/histogram') ? '<layer>/<weight>_0/histogram' : p.value.tag;
    const sig = signature(p.value);
    const list = m.get(key) ?? [];
    if (!list.some((s) => JSON.stringify(s) === JSON.stringify(sig))) list.push(sig);
    m.set(key, list);
  }
  return m;
}

describe('compared with real Keras 2.13 event files (../shared)', () => {
  const refRun = (run: 'train' | 'validation') => {
    const files = eventFilesIn(join(kerasRef, run));
    expect(files.length).toBe(1);
    return { path: files[0], ...readEventFile(files[0]) };
  };

  it('reads the reference files with verified CRCs and the expected layout', (ctx) => {
    ctx.skip(!hasKerasRef, SKIP_NOTE);
    expect(readdirSync(kerasRef).sort()).toEqual(['train', 'validation']);
    const train = refRun('train');
    const val = refRun('validation');
    expect(train.stop).toBeNull();
    expect(val.stop).toBeNull();
    expect(basename(train.path)).toMatch(FILE_NAME);
    for (const f of [train, val]) {
      expect(f.events[0].fileVersion).toBe('brain.Event:2');
      expect(Number.isInteger(f.events[0].wallTime)).toBe(true);
      expect(f.events[0].sourceWriter).toBe('tensorflow.core.util.events_writer');
    }
    const t = byTag(train.events);
    const v = byTag(val.events);
    expect(t.get('epoch_loss')!.map((p) => p.step)).toEqual([...Array(20).keys()]);
    expect(v.get('epoch_loss')!.map((p) => p.step)).toEqual([...Array(20).keys()]);
    expect(v.get('evaluation_loss_vs_iterations')!.map((p) => p.step)).toEqual([...Array(20).keys()].map((e) => 30 * (e + 1)));
    const hists = [...t.keys()].filter((k) => k.endsWith('/histogram'));
    expect(hists.length).toBe(6);
    for (const h of hists) {
      expect(h).toMatch(/^[^/]+\/(kernel|bias)_0\/histogram$/);
      expect(t.get(h)!.map((p) => p.step)).toEqual([...Array(20).keys()]);
    }
    // The `keras` model-config summary (Graphs dashboard), which we write too, and one graph_def event (a traced
    // TF graph), which we do not.
    expect(t.get('keras')![0].value.pluginName).toBe('graph_keras_model');
    expect(t.get('keras')![0].value.tensor!.dtype).toBe(7);
    expect(train.events.filter((e) => e.hasGraphDef).length).toBe(1);
  });

  it("tagStyle 'keras2': our runs have the same plugin names, dtypes, shapes and tag patterns", async (ctx) => {
    ctx.skip(!hasKerasRef, SKIP_NOTE);
    const ref = { train: runSignatures(refRun('train').events), validation: runSignatures(refRun('validation').events) };

    const cb = tensorBoard('logs', { histogramFreq: 1, writeTo: 'memory', tagStyle: 'keras2' });
    await drive(cb, fakeModel(['L1_16_Dense_RELU', 'L3_1_Dense_SIG']), 3);
    const ours = Object.fromEntries(
      cb.files().map((f) => [basename(dirname(f.path)), runSignatures(decodeEventBytes(f.bytes).events)]),
    );
    expect(Object.keys(ours).sort()).toEqual(['train', 'validation']);
    expect(ours.validation).toEqual(ref.validation);
    expect(ours.train).toEqual(ref.train);
    expect([...ref.train.keys()].sort()).toEqual(['<layer>/<weight>_0/histogram', 'epoch_accuracy', 'epoch_loss', 'keras']);
    expect(ref.train.get('keras')).toEqual([{ plugin: 'graph_keras_model', dtype: 7, shape: '[]' }]);
    expect(ref.train.get('epoch_loss')).toEqual([{ plugin: 'scalars', dtype: 1, shape: '[]' }]);
    expect(ref.train.get('<layer>/<weight>_0/histogram')).toEqual([{ plugin: 'histograms', dtype: 2, shape: '[30,3]' }]);

    // Same histogram tags for the same layer names.
    const ourTrain = byTag(decodeEventBytes(cb.files().find((f) => f.path.includes('/train/'))!.bytes).events);
    const refTrain = byTag(refRun('train').events);
    for (const tag of ['L1_16_Dense_RELU/kernel_0/histogram', 'L3_1_Dense_SIG/bias_0/histogram']) {
      expect(ourTrain.has(tag)).toBe(true);
      expect(refTrain.has(tag)).toBe(true);
    }
  });

  it('re-encodes reference scalar and histogram events byte for byte, and frames them identically', (ctx) => {
    ctx.skip(!hasKerasRef, SKIP_NOTE);
    let checkedScalars = 0;
    let checkedHists = 0;
    for (const run of ['train', 'validation'] as const) {
      const file = refRun(run);
      const bytes = new Uint8Array(readFileSync(file.path));
      let pos = 0;
      for (const e of file.events) {
        // Framing: our uint64 length + masked CRCs reproduce the reference record exactly.
        const framed = frameRecord(e.raw);
        expect(bytes.subarray(pos, pos + framed.length)).toEqual(framed);
        pos += framed.length;
        if (e.values.length !== 1) continue;
        const v = e.values[0];
        let summary;
        if (v.pluginName === 'scalars') {
          summary = scalarSummaryValue(v.tag, scalarOf(v));
          checkedScalars++;
        } else if (v.pluginName === 'histograms') {
          summary = histogramSummaryValue(v.tag, Float64Array.from(v.tensor!.values));
          checkedHists++;
        } else continue;
        expect(encodeEvent({ wallTime: e.wallTime, step: e.step, summary: [summary] })).toEqual(e.raw);
      }
      expect(pos).toBe(bytes.length);
    }
    expect(checkedScalars).toBe(40 + 80);
    expect(checkedHists).toBe(120);
  });

  it('reproduces the reference bucket edges and the single-value (all-equal) layout', (ctx) => {
    ctx.skip(!hasKerasRef, SKIP_NOTE);
    const t = byTag(refRun('train').events);
    let singles = 0;
    for (const [tag, pts] of t) {
      if (!tag.endsWith('/histogram')) continue;
      for (const p of pts) {
        const r = rows(p.value);
        const min = r[0][0];
        const max = r[r.length - 1][1];
        const n = r.reduce((s, x) => s + x[2], 0);
        if (min === max) {
          // A one-element bias: every edge is the value, the last bucket holds the count.
          expect(r).toEqual(rowsOf(histogramBuckets(new Float64Array(n).fill(min))));
          singles++;
        } else {
          // Edges depend only on min and max: bucketing [min, max] gives the same edges.
          const ours = rowsOf(histogramBuckets([min, max]));
          expect(ours.map((x) => [x[0], x[1]])).toEqual(r.map((x) => [x[0], x[1]]));
        }
      }
    }
    expect(singles).toBe(20);
  });
});

// ---------------------------------------------------------------------------------------------------------

const keras3Ref = join(sharedDir, 'reference/tensorboard-events/keras3.15-tf2.21-seed-mnist');
const hasKeras3Ref = existsSync(keras3Ref);
const SKIP_NOTE_3 = `Keras 3.15 reference event files not found at ${keras3Ref} (../shared is absent): skipped`;

describe('compared with real Keras 3.15 event files (../shared)', () => {
  const refEvents = (run: 'train' | 'validation') => {
    const files = eventFilesIn(join(keras3Ref, run));
    expect(files.length).toBe(1);
    const f = readEventFile(files[0]);
    expect(f.stop).toBeNull();
    return f.events;
  };
  /** tag → distinct (plugin, dtype, shape) and the steps, per run. */
  const layout = (events: DecodedEvent[]) => {
    const m = new Map<string, { sigs: Signature[]; steps: number[]; content?: string }>();
    for (const p of points(events)) {
      const e = m.get(p.value.tag) ?? { sigs: [], steps: [] };
      const sig = signature(p.value);
      if (!e.sigs.some((x) => JSON.stringify(x) === JSON.stringify(sig))) e.sigs.push(sig);
      e.steps.push(p.step);
      if (p.value.pluginContent) e.content = new TextDecoder().decode(p.value.pluginContent);
      m.set(p.value.tag, e);
    }
    return m;
  };

  it('same tags, plugins, dtypes, shapes and epoch steps as Keras 3.15 on the seed model, tag by tag', async (ctx) => {
    ctx.skip(!hasKeras3Ref, SKIP_NOTE_3);
    const cb = tensorBoard('logs', { histogramFreq: 1, writeTo: 'memory' });
    const params = { ...PARAMS, epochs: 5, steps: 1875 };
    const model = fakeModel(['dense', 'dense_1'], 0.001);
    cb.setModel(model);
    cb.setParams(params);
    await cb.onTrainBegin();
    for (let e = 0; e < 5; e++) await cb.onEpochEnd(e, epochLogs(e));
    await cb.onTrainEnd();
    for (const run of ['train', 'validation'] as const) {
      const ref = layout(refEvents(run));
      const ours = layout(decodeEventBytes(cb.files().find((f) => f.path.includes(`/${run}/`))!.bytes).events);
      expect([...ours.keys()].sort(), run).toEqual([...ref.keys()].sort());
      for (const [tag, r] of ref) expect(ours.get(tag), `${run} ${tag}`).toEqual(r);
    }
    expect([...layout(refEvents('train')).keys()].sort()).toEqual([
      'epoch_accuracy',
      'epoch_learning_rate',
      'epoch_loss',
      'keras',
      'sequential/dense/bias/histogram',
      'sequential/dense/kernel/histogram',
      'sequential/dense_1/bias/histogram',
      'sequential/dense_1/kernel/histogram',
    ]);
  });

  it('the `keras` tag holds the model config Keras 3.15 writes for the seed model', async (ctx) => {
    ctx.skip(!hasKeras3Ref, SKIP_NOTE_3);
    const wl = await import('../src/index.js');
    await wl.init({ threads: 1 });
    wl.clearSession();
    const model = wl.sequential([
      wl.layers.flatten({ inputShape: [28, 28] }),
      wl.layers.dense({ units: 512, activation: 'relu' }),
      wl.layers.dropout({ rate: 0.2 }),
      wl.layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = wl.tensor(new Float32Array(8 * 784).fill(0.5), [8, 28, 28]);
    const y = wl.tensor(Int32Array.from({ length: 8 }, (_, i) => i), [8]);
    const cb = tensorBoard('logs', { writeTo: 'memory' });
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [cb] });
    const keras = (events: DecodedEvent[]) => {
      const v = points(events).find((p) => p.value.tag === 'keras')!;
      expect(v.step).toBe(0);
      return JSON.parse(new TextDecoder().decode(v.value.tensor!.stringVal[0]));
    };
    const ours = keras(decodeEventBytes(cb.files()[0].bytes).events);
    const ref = keras(refEvents('train'));
    // Options of the newest Keras 3 releases that src/model/topology.ts leaves out (so that older Keras 3
    // versions load our configs); everything else, compile_config included, is as Keras 3.15 writes it.
    const dropped = new Set(['quantization_config', 'input_axes', 'output_axes', 'optional']);
    const comparable = (x: unknown): unknown =>
      Array.isArray(x)
        ? x.map(comparable)
        : x && typeof x === 'object'
          ? Object.fromEntries(Object.entries(x).filter(([k]) => !dropped.has(k)).map(([k, v]) => [k, comparable(v)]))
          : x;
    expect(ours.compile_config).toEqual(ref.compile_config);
    expect(comparable(ours)).toEqual(comparable(ref));
    model.dispose();
  });
});
