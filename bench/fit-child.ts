/**
 * Child process of the `fit` bench (bench/fit.ts): runs ONE training configuration in a fresh Node process so
 * that its peak RSS (VmHWM from /proc/self/status, read at the end) belongs to that configuration alone, and
 * prints one JSON line (the last line of stdout).
 *
 *   node --import tsx bench/fit-child.ts empty
 *       imports nothing: what Node + tsx cost
 *   node --import tsx bench/fit-child.ts baseline [--init T]
 *       only imports wasm-layers (and with --init, calls init({ threads: T })); nothing else
 *   node --import tsx bench/fit-child.ts ours --threads 2 --batch 32 --epochs 5 [--validation] [--samples N]
 *       the seed program: datasets.mnist.loadData(), xTrain.div(255), the seed model, fit(verbose 0)
 *   node --import tsx bench/fit-child.ts tfjs --backend wasm|cpu --batch 32 --steps 300 [--warmup 5] [--evaluate]
 *       the same model in tfjs-layers 4.22 on tfjs-backend-wasm or tfjs-backend-cpu, MNIST as float32 tensors
 *       (/255); trains `steps` batches (after `warmup` batches), then with --evaluate runs model.evaluate on
 *       the 10,000 test images (what fit's validation does once per epoch)
 *
 * `tsx` itself adds ~30 MB to every child's RSS (hence the baseline). The helpers exported here are shared
 * with bench/fit.ts; this module imports nothing heavy statically, so `baseline` measures the library alone.
 */
import { readFileSync } from 'node:fs';
import { cpuSnapshot } from './cpu.js';
import { pathToFileURL } from 'node:url';
import type * as TFC from '@tensorflow/tfjs-core';
import type * as TFL from '@tensorflow/tfjs-layers';

export type Lib = typeof import('../src/index.js');
export type SeedSpec = typeof import('../src/seed-spec.js');
export type Tfc = typeof TFC;
export type Tfl = typeof TFL;

/** FLOPs per training sample of the seed model (forward 813,056 + backward dW1, dW2, dX2 823,296). */
export const SEED_FLOPS = 1_636_352;
export const MNIST_TRAIN = 60_000;

/** VmHWM (peak RSS) and VmRSS of this process, MB (2^20 bytes); NaN where /proc is missing. */
export function procStatus(): { hwmMB: number; rssMB: number } {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { hwmMB: kb('VmHWM') / 1024, rssMB: kb('VmRSS') / 1024 };
  } catch {
    return { hwmMB: NaN, rssMB: NaN };
  }
}

const cpuNow = cpuSnapshot;

/** Cores' worth of CPU this process used, and that other processes (+ steal) used, between two snapshots. */
export function cpuBetween(a: ReturnType<typeof cpuNow>, b: ReturnType<typeof cpuNow>): { ownCores: number; otherCores: number } {
  const wall = (b.wall - a.wall) / 1e3;
  const own = (b.own - a.own) / 1e6 / wall;
  const busy = (b.busy - a.busy) / 100 / wall;
  const steal = (b.steal - a.steal) / 100 / wall;
  return { ownCores: own, otherCores: Number.isFinite(busy) ? Math.max(0, busy - own) + steal : NaN };
}
export { cpuNow };

/**
 * Fraction of the optimizer's first-moment entries (Adam's m, all parameters) that are subnormal floats —
 * slow on x86 (microcode assists) in every kernel that reads them. Reads optimizer internals (bench only).
 */
export function denormalFraction(opt: unknown): number {
  const o = opt as { state?: Map<number, unknown>; getState?(key: number): Float32Array[] } | undefined;
  if (!o?.state || !o.getState) return NaN;
  let den = 0;
  let n = 0;
  for (const key of o.state.keys()) {
    const m = o.getState(key)[0];
    if (!m) continue;
    for (let i = 0; i < m.length; i++) {
      const a = Math.abs(m[i]);
      if (a !== 0 && a < 1.1754943508222875e-38) den++;
    }
    n += m.length;
  }
  return n ? den / n : NaN;
}

/** The seed model on wasm-layers, compiled as in examples/mnist.ts. */
export function oursSeedModel(lib: Lib) {
  return lib.seedModel({ compile: true });
}

/** The same model in tfjs-layers (Adam with its defaults, sparse categorical CE, accuracy). */
export function tfjsSeedModel(tfl: Tfl, spec: SeedSpec): TFL.Sequential {
  const layer = (l: ReturnType<SeedSpec['seedLayers']>[number]) =>
    l.type === 'flatten' ? tfl.layers.flatten(l.args) : l.type === 'dense' ? tfl.layers.dense(l.args) : tfl.layers.dropout(l.args);
  const model = tfl.sequential({ layers: spec.seedLayers().map(layer) });
  model.compile(spec.seedCompileArgs());
  return model;
}

/**
 * MNIST images as a float32 [n, 28, 28] tf tensor (/255) and labels as float32 [n, 1] (tfjs' sparse format).
 * The images are scaled in JS and uploaded once — the lightest of the usual ways (`tf.tensor(u8).div(255)`
 * would hold a second float copy in the backend's heap, which tfjs-backend-wasm never gives back).
 */
export function tfjsData(tf: Tfc, images: Uint8Array, labels: Uint8Array): { x: TFC.Tensor; y: TFC.Tensor } {
  const n = labels.length;
  const f = new Float32Array(n * 784);
  for (let i = 0; i < f.length; i++) f[i] = images[i] / 255;
  const x = tf.tensor3d(f, [n, 28, 28], 'float32');
  const y = tf.tensor2d(Float32Array.from(labels), [n, 1], 'float32');
  return { x, y };
}

/**
 * Trains a tfjs model for exactly `steps` batches of the full data (shuffled, as Keras does; an epoch is
 * cut short by `model.stopTraining` from a callback that reads no logs, so nothing extra is synchronised).
 * Returns the wall time of the `fit` call and the samples trained.
 */
export async function tfjsFitSteps(tfl: Tfl, model: TFL.Sequential, x: TFC.Tensor, y: TFC.Tensor, batchSize: number, steps: number): Promise<{ seconds: number; samples: number }> {
  const perEpoch = Math.ceil(x.shape[0] / batchSize);
  let done = 0;
  let samples = 0;
  class StopAfter extends tfl.Callback {
    override async onBatchEnd(_batch: number, logs?: TFL.Logs): Promise<void> {
      done++;
      samples += Number(logs?.size ?? batchSize);
      if (done >= steps) this.model.stopTraining = true;
    }
  }
  const t0 = performance.now();
  await model.fit(x, y, { batchSize, epochs: Math.ceil(steps / perEpoch), verbose: 0, shuffle: true, callbacks: [new StopAfter()] });
  const seconds = (performance.now() - t0) / 1e3;
  if (done !== steps) throw new Error(`tfjs fit ran ${done} batches, expected ${steps}`);
  return { seconds, samples };
}

// ---------------------------------------------------------------------------------------------------------
// The child's modes

function args(): { mode: string; get(name: string, dflt?: number): number; has(name: string): boolean; str(name: string, dflt: string): string } {
  const a = process.argv.slice(2);
  const idx = (name: string) => a.indexOf(`--${name}`);
  return {
    mode: a[0] ?? '',
    get: (name, dflt) => {
      const i = idx(name);
      if (i < 0) {
        if (dflt === undefined) throw new Error(`fit-child: --${name} is required`);
        return dflt;
      }
      const v = Number(a[i + 1]);
      if (!Number.isFinite(v)) throw new Error(`fit-child: --${name} needs a number`);
      return v;
    },
    has: (name) => idx(name) >= 0,
    str: (name, dflt) => (idx(name) >= 0 ? a[idx(name) + 1] : dflt),
  };
}

async function empty(): Promise<Record<string, unknown>> {
  await new Promise((r) => setTimeout(r, 200));
  return { mode: 'empty' };
}

async function baseline(a: ReturnType<typeof args>): Promise<Record<string, unknown>> {
  const lib: Lib = await import('../src/index.js');
  const threads = a.has('init') ? a.get('init') : 0;
  if (threads) await lib.init({ threads });
  await new Promise((r) => setTimeout(r, 200));
  return { mode: 'baseline', init: threads || null, ...(threads ? { backend: lib.backendInfo() } : {}) };
}

async function ours(a: ReturnType<typeof args>): Promise<Record<string, unknown>> {
  const lib: Lib = await import('../src/index.js');
  const { backend } = await import('../src/backend/backend.js');
  const threads = a.get('threads');
  const batchSize = a.get('batch');
  const epochs = a.get('epochs');
  const validation = a.has('validation');
  const info = await lib.init({ threads });
  const tLoad = performance.now();
  let [[xTrain, yTrain], [xTest, yTest]] = await lib.datasets.mnist.loadData();
  const after = lib.backendInfo();
  let problem: string | null = null;
  if (after.threads !== info.threads || after.variant !== info.variant) {
    // loadData() re-inits with default options, replacing this backend; work around it (see bench/fit.ts)
    problem = `datasets.mnist.loadData() replaced the init({ threads: ${threads} }) backend by a default one (${after.variant}, ${after.threads}T)`;
    await lib.init({ threads });
    const { loadMnist } = await import('../src/data/sources.js');
    const d = await loadMnist();
    const t = (x: { data: ArrayLike<number>; shape: number[] }) => lib.tensor(x.data as Uint8Array, x.shape, 'uint8');
    [[xTrain, yTrain], [xTest, yTest]] = [
      [t(d.train.images), t(d.train.labels)],
      [t(d.test.images), t(d.test.labels)],
    ];
  }
  const loadSeconds = (performance.now() - tLoad) / 1e3;
  let x = xTrain.div(255);
  let y = yTrain;
  const n = a.has('samples') ? a.get('samples') : xTrain.shape[0];
  if (n < xTrain.shape[0]) {
    const u8 = xTrain.dataSync() as Uint8Array;
    const l8 = yTrain.dataSync() as Uint8Array;
    x = lib.tensor(u8.subarray(0, n * 784), [n, 28, 28], 'uint8').div(255);
    y = lib.tensor(l8.subarray(0, n), [n], 'uint8');
  }
  const xt = xTest.div(255);
  const model = oursSeedModel(lib);
  const epochSeconds: number[] = [];
  const epochCpuSeconds: number[] = [];
  const rssAfterEpochMB: number[] = [];
  const wasmAfterEpochMB: number[] = [];
  const adamDenormalAfterEpoch: number[] = [];
  let e0 = 0;
  let u0 = process.cpuUsage();
  class EpochClock extends lib.Callback {
    override onEpochBegin(): void {
      e0 = performance.now();
      u0 = process.cpuUsage();
    }
    override onEpochEnd(): void {
      epochSeconds.push((performance.now() - e0) / 1e3);
      const u = process.cpuUsage(u0);
      epochCpuSeconds.push((u.user + u.system) / 1e6);
      rssAfterEpochMB.push(procStatus().rssMB);
      wasmAfterEpochMB.push(backend().memory.buffer.byteLength / 2 ** 20);
      adamDenormalAfterEpoch.push(denormalFraction(model.optimizer));
    }
  }
  const c0 = cpuNow();
  const h = await model.fit(x, y, {
    epochs,
    batchSize,
    verbose: 0,
    ...(validation ? { validationData: [xt, yTest] as [typeof xt, typeof yTest] } : {}),
    callbacks: [new EpochClock()],
  });
  const c1 = cpuNow();
  const seconds = (c1.wall - c0.wall) / 1e3;
  const hist = h.history as Record<string, number[]>;
  const out = {
    mode: 'ours',
    backend: lib.backendInfo(),
    problem,
    threads,
    batchSize,
    epochs,
    samplesPerEpoch: n,
    validation,
    loadSeconds,
    seconds,
    samplesPerSecond: (n * epochs) / seconds,
    epochSeconds,
    epochCpuSeconds,
    adamDenormalAfterEpoch,
    rssAfterEpochMB,
    wasmAfterEpochMB,
    wasmMemoryMB: backend().memory.buffer.byteLength / 2 ** 20,
    history: hist,
    finalValAccuracy: hist.val_accuracy?.[hist.val_accuracy.length - 1] ?? null,
    ...cpuBetween(c0, c1),
  };
  model.dispose();
  return out;
}

async function tfjs(a: ReturnType<typeof args>): Promise<Record<string, unknown>> {
  const which = a.str('backend', 'wasm');
  const batchSize = a.get('batch');
  const steps = a.get('steps');
  const warmup = a.get('warmup', 5);
  const tf: Tfc = await import('@tensorflow/tfjs-core');
  if (which === 'wasm') {
    const { tfjsWasm } = await import('./tfjs.js');
    await tfjsWasm();
  } else if (which === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) throw new Error('tfjs: the cpu backend failed to initialise');
    await tf.ready();
  } else throw new Error(`fit-child: unknown tfjs backend ${which}`);
  const tfl: Tfl = await import('@tensorflow/tfjs-layers');
  // The raw files, without wasm-layers (its wasm memory would count against tfjs' RSS).
  const { loadMnist } = await import('../src/data/sources.js');
  const d = await loadMnist();
  const train = tfjsData(tf, d.train.images.data as Uint8Array, d.train.labels.data as Uint8Array);
  const test = a.has('evaluate') ? tfjsData(tf, d.test.images.data as Uint8Array, d.test.labels.data as Uint8Array) : null;
  const model = tfjsSeedModel(tfl, await import('../src/seed-spec.js'));
  if (warmup > 0) await tfjsFitSteps(tfl, model, train.x, train.y, batchSize, warmup);
  const c0 = cpuNow();
  const r = await tfjsFitSteps(tfl, model, train.x, train.y, batchSize, steps);
  const c1 = cpuNow();
  let evaluation: number[] | null = null;
  let evalSeconds: number | null = null;
  if (test) {
    const t0 = performance.now();
    const ev = model.evaluate(test.x, test.y, { batchSize }) as TFC.Scalar[];
    evaluation = ev.map((s) => s.dataSync()[0]);
    ev.forEach((s) => s.dispose());
    evalSeconds = (performance.now() - t0) / 1e3;
  }
  return {
    mode: 'tfjs',
    backend: tf.getBackend(),
    tfjs: tf.version_core,
    multithread: which === 'wasm' ? tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') : false,
    batchSize,
    steps,
    warmup,
    seconds: r.seconds,
    samples: r.samples,
    samplesPerSecond: r.samples / r.seconds,
    evaluation,
    evalSeconds,
    tfMemoryMB: tf.memory().numBytes / 2 ** 20,
    ...cpuBetween(c0, c1),
  };
}

async function main(): Promise<void> {
  const a = args();
  const modes: Record<string, (a: ReturnType<typeof args>) => Promise<Record<string, unknown>>> = { empty, baseline, ours, tfjs };
  const f = modes[a.mode];
  if (!f) throw new Error(`fit-child: unknown mode "${a.mode}" (empty | baseline | ours | tfjs)`);
  const result = await f(a);
  const st = procStatus();
  process.stdout.write('\n' + JSON.stringify({ ...result, peakRssMB: st.hwmMB, finalRssMB: st.rssMB }) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
