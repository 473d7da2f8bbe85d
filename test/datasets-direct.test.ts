/**
 * datasets.mnist.loadData() without a source reads the IDX files straight into wasm memory (src/datasets.ts,
 * to keep the seed workflow's peak RSS down): the tensors must be exactly what the general path decodes.
 */
import { describe, expect, it } from 'vitest';
import { datasets, init } from '../src/index.js';
import { loadMnist } from '../src/data/sources.js';

describe('datasets.mnist.loadData() straight into wasm memory', () => {
  it('gives the same shapes, dtypes and bytes as decoding the files (loadMnist)', async () => {
    await init({ threads: 1 });
    const [[x, y], [xt, yt]] = await datasets.mnist.loadData();
    const d = await loadMnist();
    const pairs = [
      [x, d.train.images],
      [y, d.train.labels],
      [xt, d.test.images],
      [yt, d.test.labels],
    ] as const;
    for (const [t, a] of pairs) {
      expect(t.shape).toEqual(a.shape);
      expect(t.dtype).toBe('uint8');
      const got = t.dataSync() as Uint8Array;
      expect(got.length).toBe(a.data.length);
      expect(Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.length), Buffer.from(a.data.buffer, a.data.byteOffset, a.data.length))).toBe(0);
      t.dispose();
    }
  });
});
