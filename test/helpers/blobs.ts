/** A tiny deterministic generator, independent of the library's setSeed stream: uniform in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * Noisy blobs around `centers` (one class each, classes in turn): x [n, dims] float32, y [n] int32.
 * Each coordinate gets uniform noise in ±`noise`.
 */
export function blobs(n: number, centers: number[][], noise: number, seed = 1): { x: Float32Array; y: Int32Array } {
  const r = lcg(seed);
  const dims = centers[0].length;
  const x = new Float32Array(n * dims);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % centers.length;
    y[i] = c;
    for (let j = 0; j < dims; j++) x[i * dims + j] = centers[c][j] + (r() * 2 - 1) * noise;
  }
  return { x, y };
}
