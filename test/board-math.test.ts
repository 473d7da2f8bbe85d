// The numbers behind the board's charts: TensorBoard's smoothing, distribution bands and re-binning, and the
// evaluation summaries (confusion matrix, per-class accuracy), checked against their definitions.
import { describe, expect, it } from 'vitest';
import { argmaxRows, compressHistogram, confusionMatrix, decimate, NORMAL_HISTOGRAM_BPS, perClassAccuracy, rebin, smoothTensorBoard } from '../src/vis/math.js';
import { summarizeKerasModel } from '../src/vis/keras-model.js';
import { scalarColumns, scalarsCsv } from '../src/vis/data.js';

describe('smoothTensorBoard', () => {
  it('is the debiased EMA: last = w·last + (1−w)·y, shown as last / (1 − wⁿ)', () => {
    const w = 0.6;
    const y = [1, 3, 2, 5];
    let last = 0;
    const want = y.map((v, i) => {
      last = last * w + (1 - w) * v;
      return last / (1 - w ** (i + 1));
    });
    const got = smoothTensorBoard(y, w);
    for (let i = 0; i < y.length; i++) expect(got[i]).toBeCloseTo(want[i], 12);
    // Debiasing: the first smoothed point is the first value, not 0.4 of it.
    expect(got[0]).toBeCloseTo(1, 12);
  });

  it('leaves constant series, weight 0 and non-finite points alone', () => {
    expect(Array.from(smoothTensorBoard([2, 2, 2], 0.9))).toEqual([2, 2, 2]);
    expect(Array.from(smoothTensorBoard([1, 5, 3], 0))).toEqual([1, 5, 3]);
    const s = smoothTensorBoard([1, NaN, 3], 0.5);
    expect(s[0]).toBe(1);
    expect(s[1]).toBeNaN();
    // NaN does not enter the average: the third point is the EMA of 1 and 3 only.
    expect(s[2]).toBeCloseTo((0.5 * 0.5 * 1 + 0.5 * 3) / (1 - 0.25), 12);
  });
});

describe('compressHistogram', () => {
  it('gives min, max and the median of a symmetric histogram', () => {
    const buckets = [
      { left: -2, right: -1, count: 10 },
      { left: -1, right: 0, count: 40 },
      { left: 0, right: 1, count: 40 },
      { left: 1, right: 2, count: 10 },
    ];
    const v = compressHistogram(buckets);
    expect(v).toHaveLength(NORMAL_HISTOGRAM_BPS.length);
    expect(v[0]).toBe(-2);
    expect(v[8]).toBe(2);
    expect(v[4]).toBeCloseTo(0, 12);
    // ±1σ of this histogram: 15.87% of the count lies below; the first bucket holds 10%, so 5.87/40 into the second.
    expect(v[2]).toBeCloseTo(-1 + (1587 - 1000) / 4000, 12);
    expect(v[6]).toBeCloseTo(-v[2], 12);
    for (let i = 1; i < v.length; i++) expect(v[i]).toBeGreaterThanOrEqual(v[i - 1]);
  });

  it('handles empty input and all-equal values as TensorBoard does', () => {
    expect(compressHistogram([])).toEqual(NORMAL_HISTOGRAM_BPS.map(() => 0));
    const same = Array.from({ length: 30 }, (_, i) => ({ left: 0.5, right: 0.5, count: i === 29 ? 7 : 0 }));
    expect(compressHistogram(same)).toEqual(NORMAL_HISTOGRAM_BPS.map(() => 0.5));
  });
});

describe('rebin', () => {
  it('keeps the total count and shares a bucket among the bins it overlaps', () => {
    const { x, y } = rebin([{ left: 0, right: 2, count: 8 }], 0, 4, 4);
    expect(Array.from(x)).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(Array.from(y)).toEqual([4, 4, 0, 0]);
    const b = [
      { left: -1, right: 0.3, count: 5 },
      { left: 0.3, right: 0.35, count: 2 },
      { left: 0.35, right: 1, count: 9 },
    ];
    const r = rebin(b, -1, 1, 30);
    expect(r.y.reduce((a, v) => a + v, 0)).toBeCloseTo(16, 10);
  });
});

describe('evaluation summaries', () => {
  it('argmax → confusion matrix → per-class accuracy', () => {
    const probs = [0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4, 0.5, 0.4, 0.1];
    const pred = argmaxRows(probs, 3);
    expect(Array.from(pred)).toEqual([0, 1, 2, 0]);
    const m = confusionMatrix([0, 1, 1, 2], pred, 3);
    expect(m).toEqual([
      [1, 0, 0],
      [0, 1, 1],
      [1, 0, 0],
    ]);
    expect(perClassAccuracy(m)).toEqual([
      { accuracy: 1, count: 1 },
      { accuracy: 0.5, count: 2 },
      { accuracy: 0, count: 1 },
    ]);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/label 3 at index 1/);
    expect(() => argmaxRows([1, 2, 3], 2)).toThrow(/rows of 2/);
  });
});

describe('data helpers', () => {
  it('samples scalar columns evenly, keeping the first and last points, and writes CSV', () => {
    const pts = Array.from({ length: 10 }, (_, i) => ({ step: i, wallTime: 100 + i, value: i * i }));
    const all = scalarColumns(pts);
    expect(all.step).toHaveLength(10);
    const s = scalarColumns(pts, 4);
    expect(s.step).toEqual([0, 3, 6, 9]);
    expect(s.total).toBe(10);
    expect(scalarsCsv({ 'a,b': pts.slice(0, 2) })).toBe('run,step,wall_time,value\n"a,b",0,100,0\n"a,b",1,101,1\n');
  });

  it('decimate keeps at most maxPoints, the ends exactly', () => {
    const x = Array.from({ length: 10_000 }, (_, i) => i);
    const y = x.map((v) => Math.sin(v / 100));
    const d = decimate(x, y, 500);
    expect(d.x.length).toBe(500);
    expect(d.x[0]).toBe(0);
    expect(d.x[499]).toBe(9999);
    expect(d.y[499]).toBe(y[9999]);
    expect(decimate(x.slice(0, 10), y.slice(0, 10), 500).x).toHaveLength(10);
  });
});

describe('summarizeKerasModel', () => {
  it('lays out a Keras 3 Sequential config as summary() does (the seed model: 407,050 params)', () => {
    const layer = (class_name: string, config: object, build?: number[]) => ({ module: 'keras.layers', class_name, config, ...(build ? { build_config: { input_shape: [null, ...build] } } : {}) });
    const cfg = {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          layer('InputLayer', { batch_shape: [null, 28, 28], name: 'input_layer' }),
          layer('Flatten', { name: 'flatten' }, [28, 28]),
          layer('Dense', { name: 'dense', units: 512, activation: 'relu', use_bias: true }, [784]),
          layer('Dropout', { name: 'dropout', rate: 0.2 }),
          layer('Dense', { name: 'dense_1', units: 10, activation: 'softmax', use_bias: true }, [512]),
        ],
        build_input_shape: [null, 28, 28],
      },
      compile_config: { optimizer: { class_name: 'Adam' }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] },
    };
    const s = summarizeKerasModel(cfg);
    expect(s.layers.map((l) => [l.name, l.outputShape, l.params])).toEqual([
      ['flatten', '(None, 784)', 0],
      ['dense', '(None, 512)', 401_920],
      ['dropout', '(None, 512)', 0],
      ['dense_1', '(None, 10)', 5_130],
    ]);
    expect(s.totalParams).toBe(407_050);
    expect(s.compile).toContain('Adam');
    // Without an input shape the counts that depend on it are unknown, not guessed.
    const k2 = summarizeKerasModel({ class_name: 'Sequential', config: { layers: [layer('Dense', { name: 'd', units: 4 })] } });
    expect(k2.layers[0].params).toBeNull();
    expect(k2.totalParams).toBeNull();
    expect(() => summarizeKerasModel('x')).toThrow(/not a JSON object/);
  });
});
