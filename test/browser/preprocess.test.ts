/**
 * The demo's drawing → MNIST preprocessing (examples/browser/preprocess.js), in Node: the ink's bounding box
 * is scaled to fit 20×20 keeping its aspect ratio, anti-aliased, and centred in 28×28 by its centre of mass.
 * Also: on real MNIST digits (whose ink already fits 20×20, centred by mass) it changes little.
 */
import { describe, expect, it } from 'vitest';
import { inkBox, toMnist } from '../../examples/browser/preprocess.js';
import { loadMnist } from '../../src/data/sources.js';

/** A w×h ink image with the rectangle [x0, x1) × [y0, y1) fully inked. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Float32Array {
  const a = new Float32Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) a[y * w + x] = 1;
  return a;
}

/** Bounding box (threshold 0) and centre of mass of a 28×28 image. */
function stats(img: Float32Array) {
  let x0 = 28, y0 = 28, x1 = -1, y1 = -1, m = 0, mx = 0, my = 0;
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const v = img[y * 28 + x];
      if (v > 0) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
      m += v; mx += v * (x + 0.5); my += v * (y + 0.5);
    }
  return { w: x1 - x0 + 1, h: y1 - y0 + 1, cx: mx / m, cy: my / m, mass: m };
}

describe('examples/browser/preprocess.js', () => {
  it('nothing drawn: null', () => {
    expect(toMnist(new Float32Array(280 * 280), 280, 280)).toBeNull();
    expect(inkBox(new Float32Array(100), 10, 10)).toBeNull();
  });

  it('a tall bar in a corner: 20 px tall, aspect kept, centred by mass, ink conserved up to the scale', () => {
    // 20 px wide × 200 px tall, at the pad's top-left: becomes 2 × 20 px, in the middle of the field.
    const img = toMnist(rect(280, 280, 5, 10, 25, 210), 280, 280)!;
    expect(img).toHaveLength(784);
    const s = stats(img);
    expect(s.h).toBe(20);
    expect(s.w).toBe(2);
    expect(Math.abs(s.cx - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(s.cy - 14)).toBeLessThanOrEqual(0.5);
    expect(s.mass).toBeCloseTo(2 * 20, 3);
    expect(Math.max(...img)).toBeLessThanOrEqual(1);
  });

  it('a wide bar: its width becomes 20, anti-aliased edges are grey', () => {
    // 150 × 45 → 20 × 6 exactly: scale 2/15; a bar at a fractional position gets grey borders.
    const img = toMnist(rect(300, 300, 100, 50, 250, 95), 300, 300)!;
    const s = stats(img);
    expect(s.w).toBe(20);
    expect(s.h).toBe(6);
    // A 15-px stroke in a 200-px box: 1.5 output pixels, so its lower edge row is half grey (area average).
    const ink = rect(200, 200, 0, 0, 200, 15);
    for (let y = 0; y < 200; y++) for (let x = 190; x < 200; x++) ink[y * 200 + x] = 1;
    const img2 = toMnist(ink, 200, 200)!;
    const greys = Array.from(img2).filter((v) => v > 0.01 && v < 0.99);
    expect(greys.length).toBe(19);
    for (const g of greys) expect(g).toBeCloseTo(0.5, 5);
  });

  it('mass, not the box, is centred: an L shape sits off-centre by its box', () => {
    const w = 200;
    const ink = rect(w, w, 0, 0, 20, 200); // vertical stroke
    for (let y = 180; y < 200; y++) for (let x = 0; x < 200; x++) ink[y * w + x] = 1; // foot
    const s = stats(toMnist(ink, w, w)!);
    expect(Math.abs(s.cx - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(s.cy - 14)).toBeLessThanOrEqual(0.5);
    expect(s.w).toBe(20);
    expect(s.h).toBe(20);
  });

  it('real MNIST digits (already 20×20 by mass-centred): the result stays close to the original', async () => {
    const { test } = await loadMnist();
    let worse = 0;
    for (let i = 0; i < 50; i++) {
      const src = Float32Array.from(test.images.data.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
      const out = toMnist(src, 28, 28)!;
      // Mean absolute difference per pixel: small (the bounding box is refitted to exactly 20 px).
      let d = 0;
      for (let k = 0; k < 784; k++) d += Math.abs(out[k] - src[k]);
      if (d / 784 > 0.12) worse++;
      const s = stats(out);
      expect(Math.max(s.w, s.h)).toBeLessThanOrEqual(21);
      expect(Math.abs(s.cx - 14)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(s.cy - 14)).toBeLessThanOrEqual(0.5);
    }
    expect(worse).toBeLessThan(5);
  });
});
