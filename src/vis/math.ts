/**
 * The numbers behind the charts, kept free of the DOM so Node tests can check them against TensorBoard's rules.
 */

/** A histogram bucket as the event-file reader returns it (TensorBoard's `[left, right, count]` row). */
export interface Bucket {
  left: number;
  right: number;
  count: number;
}

/**
 * TensorBoard's scalar smoothing (the "classic" debiased exponential moving average of its line charts):
 * `last = last·w + (1−w)·y`, shown as `last / (1 − w^n)` after n finite points, so the first points are not
 * pulled towards the zero the average starts from. A constant series is returned as is (TensorBoard #786),
 * and non-finite values pass through without entering the average.
 */
export function smoothTensorBoard(values: ArrayLike<number>, weight: number): Float64Array {
  const w = Number.isFinite(weight) ? Math.max(0, Math.min(1, weight)) : 0;
  const n = values.length;
  const out = new Float64Array(n);
  let constant = true;
  for (let i = 1; i < n && constant; i++) constant = values[i] === values[0];
  if (constant || w === 0) {
    for (let i = 0; i < n; i++) out[i] = values[i];
    return out;
  }
  let last = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const y = values[i];
    if (!Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * w + (1 - w) * y;
    count++;
    out[i] = w === 1 ? last : last / (1 - Math.pow(w, count));
  }
  return out;
}

/** TensorBoard's distribution bands, in basis points of the cumulative count (a normal's ±1, 2, 3 σ and the median). */
export const NORMAL_HISTOGRAM_BPS = [0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000] as const;

/**
 * TensorBoard's `compress_histogram` (plugins/distribution/compressor.py): the value at each basis point of the
 * cumulative count, linearly interpolated inside the bucket that crosses it, clamped to the overall min/max.
 * Empty input gives zeros; a basis point past the last non-empty bucket gives the max.
 */
export function compressHistogram(buckets: readonly Bucket[], bps: readonly number[] = NORMAL_HISTOGRAM_BPS): number[] {
  if (buckets.length === 0) return bps.map(() => 0);
  const minmin = buckets[0].left;
  const maxmax = buckets[buckets.length - 1].right;
  let total = 0;
  for (const b of buckets) total += b.count;
  const scale = bps[bps.length - 1] / (total || 1);
  const weights: number[] = [];
  let acc = 0;
  for (const b of buckets) weights.push((acc += b.count * scale));
  const out: number[] = [];
  let j = 0;
  while (j < bps.length) {
    // numpy's searchsorted(side='right'): the first index whose weight is > bps[j].
    let i = 0;
    while (i < weights.length && weights[i] <= bps[j]) i++;
    let found = false;
    for (; i < weights.length; i++) {
      const cum = weights[i];
      const prev = i > 0 ? weights[i - 1] : 0;
      if (cum === prev) continue;
      const lhs = !i || !prev ? minmin : Math.max(buckets[i - 1].right, minmin);
      const rhs = Math.min(buckets[i].right, maxmax);
      out.push(lhs + ((bps[j] - prev) * (rhs - lhs)) / (cum - prev));
      found = true;
      break;
    }
    if (!found) break;
    j++;
  }
  while (out.length < bps.length) out.push(maxmax);
  return out;
}

/**
 * Re-bins a histogram onto `n` equal-width bins over [min, max], each old bucket's count shared among the new
 * bins in proportion to their overlap — what TensorBoard's histogram dashboard does (`convertBins`, 30 bins over
 * the range of all steps) so that every step of the offset view is drawn on the same x grid.
 */
export function rebin(buckets: readonly Bucket[], min: number, max: number, n = 30): { x: Float64Array; y: Float64Array } {
  if (!(max > min)) {
    // TensorBoard widens a degenerate range the same way.
    const c = min;
    max = c * 1.1 + 1;
    min = c / 1.1 - 1;
    if (min > max) [min, max] = [max, min];
  }
  const width = (max - min) / n;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let k = 0; k < n; k++) x[k] = min + (k + 0.5) * width;
  for (const b of buckets) {
    if (b.count === 0) continue;
    const span = b.right - b.left;
    if (!(span > 0)) {
      // A zero-width bucket (all values equal) lands in the bin holding it.
      const k = Math.min(n - 1, Math.max(0, Math.floor((b.left - min) / width)));
      y[k] += b.count;
      continue;
    }
    const k0 = Math.max(0, Math.floor((b.left - min) / width));
    const k1 = Math.min(n - 1, Math.floor((b.right - min) / width));
    for (let k = k0; k <= k1; k++) {
      const lo = Math.max(b.left, min + k * width);
      const hi = Math.min(b.right, min + (k + 1) * width);
      if (hi > lo) y[k] += (b.count * (hi - lo)) / span;
    }
  }
  return { x, y };
}

/** The index of the largest value of each row of a row-major [rows, cols] array (ties: the first, as argmax). */
export function argmaxRows(values: ArrayLike<number>, cols: number): Int32Array {
  if (!(cols > 0) || values.length % cols !== 0) throw new RangeError(`argmaxRows: ${values.length} values do not split into rows of ${cols}`);
  const rows = values.length / cols;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bv = values[r * cols];
    for (let c = 1; c < cols; c++) {
      const v = values[r * cols + c];
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Counts[true][predicted], as tfjs-vis' `metrics.confusionMatrix` (rows: labels, columns: predictions). */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, numClasses: number): number[][] {
  if (labels.length !== predictions.length) throw new RangeError(`confusionMatrix: ${labels.length} labels but ${predictions.length} predictions`);
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`confusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    if (!(Number.isInteger(t) && t >= 0 && t < numClasses)) throw new RangeError(`confusionMatrix: label ${t} at index ${i} is not a class index below ${numClasses}`);
    if (!(Number.isInteger(p) && p >= 0 && p < numClasses)) throw new RangeError(`confusionMatrix: prediction ${p} at index ${i} is not a class index below ${numClasses}`);
    m[t][p]++;
  }
  return m;
}

/** Per class: the share of its samples predicted right, and how many it had (tfjs-vis' `metrics.perClassAccuracy`). */
export function perClassAccuracy(matrix: readonly (readonly number[])[]): { accuracy: number; count: number }[] {
  return matrix.map((row, c) => {
    const count = row.reduce((a, b) => a + b, 0);
    return { accuracy: count ? row[c] / count : 0, count };
  });
}

/**
 * Keeps at most `maxPoints` points of an x-sorted series for drawing: the series is cut into that many equal runs
 * of points and each run is replaced by its mean x and mean y (first and last points kept exactly). Smoothing is
 * applied before this, on every point, so the curve's shape does not depend on the zoom. Returns the input when
 * it is already small enough.
 */
export function decimate(x: ArrayLike<number>, y: ArrayLike<number>, maxPoints: number): { x: ArrayLike<number>; y: ArrayLike<number> } {
  const n = x.length;
  if (n <= maxPoints || maxPoints < 3) return { x, y };
  const m = maxPoints;
  const ox = new Float64Array(m);
  const oy = new Float64Array(m);
  ox[0] = x[0];
  oy[0] = y[0];
  ox[m - 1] = x[n - 1];
  oy[m - 1] = y[n - 1];
  const inner = m - 2;
  for (let k = 0; k < inner; k++) {
    const a = 1 + Math.floor((k * (n - 2)) / inner);
    const b = 1 + Math.floor(((k + 1) * (n - 2)) / inner);
    let sx = 0;
    let sy = 0;
    let c = 0;
    for (let i = a; i < b; i++) {
      if (!Number.isFinite(y[i])) continue;
      sx += x[i];
      sy += y[i];
      c++;
    }
    ox[k + 1] = c ? sx / c : x[a];
    oy[k + 1] = c ? sy / c : NaN;
  }
  return { x: ox, y: oy };
}
