// A drawing → a 28×28 MNIST-like image, the way the MNIST digits were made (LeCun et al.): the ink's
// bounding box is scaled to fit a 20×20 box, keeping its aspect ratio, with anti-aliasing (each output
// pixel is the mean ink over the source area it covers, so grey levels appear at the edges), and the
// result is placed in the 28×28 field so that its centre of mass lands on the centre of the field.
// Pure functions on arrays, so test/browser/preprocess.test.ts checks them in Node.

/** Ink below this (0..1) does not count for the bounding box (stray anti-aliasing of the stroke edges). */
const INK_THRESHOLD = 0.05;

/**
 * The bounding box of the ink in a `width`×`height` image of ink amounts 0..1 (row-major), as
 * `{ x0, y0, x1, y1 }` (x1, y1 exclusive), or null when there is no ink.
 */
export function inkBox(ink, width, height) {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (ink[row + x] > INK_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * Weights of an area-average resampling of `n` source samples starting at `from` to `m` output samples:
 * output i covers source [from + i·n/m, from + (i+1)·n/m); each source sample contributes the length of
 * its overlap. Returns, per output sample, the list of [source index, weight] with weights summing to 1.
 */
function areaWeights(from, n, m) {
  const step = n / m;
  const out = [];
  for (let i = 0; i < m; i++) {
    const a = i * step;
    const b = a + step;
    const taps = [];
    for (let s = Math.floor(a); s < Math.min(n, Math.ceil(b)); s++) {
      const w = Math.min(b, s + 1) - Math.max(a, s);
      if (w > 1e-9) taps.push([from + s, w / step]);
    }
    out.push(taps);
  }
  return out;
}

/**
 * MNIST-style 28×28 image (Float32Array of 784 values in 0..1, row-major) from a `width`×`height` image of ink
 * amounts 0..1, or null when nothing is drawn. `box` (default 20) is the size the longer side of the ink's
 * bounding box is scaled to.
 */
export function toMnist(ink, width, height, box = 20) {
  const bb = inkBox(ink, width, height);
  if (!bb) return null;
  const bw = bb.x1 - bb.x0;
  const bh = bb.y1 - bb.y0;
  const scale = box / Math.max(bw, bh);
  const tw = Math.max(1, Math.min(box, Math.round(bw * scale)));
  const th = Math.max(1, Math.min(box, Math.round(bh * scale)));
  // Separable area averaging: rows first (bh × tw), then columns (th × tw).
  const wx = areaWeights(bb.x0, bw, tw);
  const wy = areaWeights(bb.y0, bh, th);
  const rows = new Float32Array(bh * tw);
  for (let y = 0; y < bh; y++) {
    const src = (bb.y0 + y) * width;
    for (let i = 0; i < tw; i++) {
      let acc = 0;
      for (const [s, w] of wx[i]) acc += ink[src + s] * w;
      rows[y * tw + i] = acc;
    }
  }
  const small = new Float32Array(th * tw);
  for (let j = 0; j < th; j++) {
    for (const [s, w] of wy[j]) {
      const r = (s - bb.y0) * tw;
      for (let i = 0; i < tw; i++) small[j * tw + i] += rows[r + i] * w;
    }
  }
  // Centre of mass (pixel centres at +0.5), moved to the field's centre (14, 14) by a whole-pixel shift,
  // kept inside the field.
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let j = 0; j < th; j++) {
    for (let i = 0; i < tw; i++) {
      const v = small[j * tw + i];
      mass += v;
      mx += v * (i + 0.5);
      my += v * (j + 0.5);
    }
  }
  const cx = mass > 0 ? mx / mass : tw / 2;
  const cy = mass > 0 ? my / mass : th / 2;
  const left = Math.min(28 - tw, Math.max(0, Math.round(14 - cx)));
  const top = Math.min(28 - th, Math.max(0, Math.round(14 - cy)));
  const out = new Float32Array(28 * 28);
  for (let j = 0; j < th; j++) {
    for (let i = 0; i < tw; i++) out[(top + j) * 28 + left + i] = Math.min(1, small[j * tw + i]);
  }
  return out;
}

/**
 * Ink amounts 0..1 from canvas RGBA pixels (`ImageData.data`) of dark strokes on a transparent canvas:
 * the alpha channel.
 */
export function inkFromRgba(rgba) {
  const n = rgba.length >> 2;
  const ink = new Float32Array(n);
  for (let i = 0; i < n; i++) ink[i] = rgba[i * 4 + 3] / 255;
  return ink;
}
