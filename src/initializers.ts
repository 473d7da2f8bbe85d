/**
 * Weight initializers: the one table of names (ours, Keras' class names, the aliases Keras and tfjs write)
 * and the initial values they draw.
 */
import { normal, uniform01 } from './random.js';

export type InitializerName = 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal' | 'zeros' | 'ones';

/** Keras' class name and the other spellings serialised configs use (besides our names in any case/underscores). */
const TABLE: Record<InitializerName, { className: string; aliases: string[]; random: boolean }> = {
  glorotUniform: { className: 'GlorotUniform', aliases: ['xavieruniform'], random: true },
  glorotNormal: { className: 'GlorotNormal', aliases: ['xaviernormal'], random: true },
  heUniform: { className: 'HeUniform', aliases: [], random: true },
  heNormal: { className: 'HeNormal', aliases: [], random: true },
  zeros: { className: 'Zeros', aliases: ['zero'], random: false },
  ones: { className: 'Ones', aliases: ['one'], random: false },
};

const NAMES = Object.keys(TABLE) as InitializerName[];
const key = (s: string) => s.replace(/_/g, '').toLowerCase();
const BY_NAME = new Map<string, InitializerName>(NAMES.map((n) => [key(n), n]));
const BY_ALIAS = new Map<string, InitializerName>([...BY_NAME, ...NAMES.flatMap((n) => TABLE[n].aliases.map((a) => [a, n] as const))]);

/** An initializer as users name it (`'glorotUniform'`, `'glorot_uniform'`, `'GlorotUniform'`); throws on others. */
export function resolveInitializer(i: unknown, what: string): InitializerName {
  const r = typeof i === 'string' ? BY_NAME.get(key(i)) : undefined;
  if (!r) throw new Error(`${what}: unknown initializer ${JSON.stringify(i)} (valid: ${NAMES.join(', ')})`);
  return r;
}

/** Keras' class name of an initializer (`GlorotUniform`). */
export function initializerClassName(name: InitializerName): string {
  return TABLE[name].className;
}

/** Whether Keras 3 gives the initializer a `seed` in its config. */
export function initializerIsRandom(name: InitializerName): boolean {
  return TABLE[name].random;
}

/**
 * An initializer from Keras' or tfjs' serialisation: a name, or `{ class_name, config }` (VarianceScaling
 * with Glorot's or He's parameters included). Loaded weights replace the initial values, so one we cannot
 * reproduce (RandomNormal, Orthogonal, …) falls back to the default rather than failing the load.
 */
export function initializerFromConfig(v: unknown, fallback: InitializerName): InitializerName {
  const k = (s: unknown) => (typeof s === 'string' ? key(s) : '');
  if (typeof v === 'string') return BY_ALIAS.get(k(v)) ?? fallback;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return fallback;
  const o = v as Record<string, unknown>;
  const cls = k(o.class_name ?? o.className);
  const named = BY_ALIAS.get(cls);
  if (named) return named;
  const c = o.config as Record<string, unknown> | undefined;
  if (cls === 'variancescaling' && c !== null && typeof c === 'object') {
    const { scale, mode, distribution } = c;
    const uniform = distribution === 'uniform';
    const normalDist = distribution === 'normal' || distribution === 'truncated_normal';
    if (scale === 1 && mode === 'fan_avg' && (uniform || normalDist)) return uniform ? 'glorotUniform' : 'glorotNormal';
    if (scale === 2 && mode === 'fan_in' && (uniform || normalDist)) return uniform ? 'heUniform' : 'heNormal';
  }
  return fallback;
}

/** Keras' truncated normal: resample values beyond two standard deviations. */
function truncatedNormal(std: number): number {
  for (;;) {
    const z = normal();
    if (Math.abs(z) <= 2) return z * std;
  }
}

/** Fills `out` with the initializer's values for a weight of the given fans. */
export function initialize(out: Float32Array, kind: InitializerName, fanIn: number, fanOut: number): void {
  switch (kind) {
    case 'zeros':
      out.fill(0);
      return;
    case 'ones':
      out.fill(1);
      return;
    case 'glorotUniform':
    case 'heUniform': {
      const limit = kind === 'glorotUniform' ? Math.sqrt(6 / (fanIn + fanOut)) : Math.sqrt(6 / fanIn);
      for (let i = 0; i < out.length; i++) out[i] = (uniform01() * 2 - 1) * limit;
      return;
    }
    case 'glorotNormal':
    case 'heNormal': {
      // 0.8796… is the standard deviation of a unit normal truncated at ±2 (Keras' correction).
      const std = (kind === 'glorotNormal' ? Math.sqrt(2 / (fanIn + fanOut)) : Math.sqrt(2 / fanIn)) / 0.8796256610342398;
      for (let i = 0; i < out.length; i++) out[i] = truncatedNormal(std);
      return;
    }
  }
}
