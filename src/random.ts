/**
 * Seeded randomness for initialisation, shuffling and dropout seeds. One global stream (like Keras'
 * `set_random_seed`): `setSeed(n)` makes everything that draws from it reproducible in order.
 * The generator is xoshiro128** seeded through splitmix32.
 */
let state = new Uint32Array(4);
let seeded = false;

function splitmix32(x: number): () => number {
  let s = x >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Seeds the global generator. */
export function setSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`setSeed: seed must be an integer, got ${seed}`);
  const sm = splitmix32(seed);
  state = Uint32Array.from([sm(), sm(), sm(), sm()]);
  if (!state.some((v) => v !== 0)) state[0] = 1;
  seeded = true;
}

/**
 * The generator's state (four uint32 words; all zero while it was never seeded or drawn from), so that a
 * resumed run draws what the unbroken one would have drawn next (backups, saves with their optimizer).
 */
export function getRandomState(): number[] {
  return seeded ? Array.from(state) : [0, 0, 0, 0];
}

/** Puts the generator back to a state from `getRandomState()`. */
export function setRandomState(s: readonly number[]): void {
  if (!Array.isArray(s) || s.length !== 4 || !s.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff))
    throw new Error(`setRandomState: expected four uint32 words, got ${JSON.stringify(s)}`);
  if (s.every((v) => v === 0)) {
    // Never seeded when it was captured: it seeds itself on first use, as it would have.
    seeded = false;
    return;
  }
  state = Uint32Array.from(s);
  seeded = true;
}

function ensureSeeded(): void {
  if (!seeded) setSeed((Math.random() * 2 ** 32) >>> 0);
}

/** Next uint32 of the global stream. */
export function nextU32(): number {
  ensureSeeded();
  const s = state;
  const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Uniform in [0, 1) with 32 random bits. */
export function uniform01(): number {
  return nextU32() / 4294967296;
}

/** Standard normal (Box–Muller). */
export function normal(): number {
  let u = 0;
  while (u === 0) u = uniform01();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform01());
}

/** Fisher–Yates shuffle of `a` in place. */
export function shuffleInPlace(a: Int32Array): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(uniform01() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
