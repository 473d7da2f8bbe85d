/**
 * Issue 12 item 6: degenerate inputs. Zero samples for fit / evaluate / predict / trainOnBatch; every public
 * API argument of the wrong type; a runtime without WebAssembly (`node --jitless`) or without wasm SIMD.
 * Each gets an Error that names the call and what is wrong — never an internal TypeError
 * ("Cannot read properties of undefined …"), a NaN result or a hang.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  callbacks,
  datasets,
  disposeBackend,
  init,
  layers,
  loadModel,
  ops,
  optimizers,
  sequential,
  setSeed,
  tensor,
  type Sequential,
  type Tensor,
} from '../src/index.js';
import { backend } from '../src/backend/backend.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INTERNAL = /Cannot read propert|is not a function|is not iterable|Cannot convert|undefined \(reading|null \(reading|Maximum call stack|Invalid typed array length|Invalid array length/;

let X: Tensor;
let Y: Tensor;
let m: Sequential;

beforeAll(async () => {
  await init({ threads: 1 });
  setSeed(1);
  X = tensor(Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)), [4, 2, 3]);
  Y = tensor(new Int32Array([0, 1, 2, 0]), [4]);
  m = sequential([layers.flatten({ inputShape: [2, 3] }), layers.dense({ units: 3, activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
});
afterAll(() => {
  m.dispose();
  disposeBackend();
});

/** `f` fails (throws or rejects) with an Error matching `re` whose message is ours, not an internal TypeError. */
async function refused(f: () => unknown, re: RegExp): Promise<void> {
  let err: unknown;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an error matching ${re}`).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).not.toMatch(INTERNAL);
  expect(msg).toMatch(re);
}

describe('zero samples', () => {
  it('fit, evaluate, predict, trainOnBatch and validationData refuse an empty x, and nothing leaks', async () => {
    m.evaluate(X, Y); // what a first call keeps for good (the scratch program of the NaN check)
    const inUse = backend().arena.stats().inUse;
    const x0 = tensor(new Float32Array(0), [0, 2, 3]);
    const y0 = tensor(new Int32Array(0), [0]);
    const re = (what: string) => new RegExp(`^${what}: x: has 0 samples \\(shape \\[0,2,3\\]\\); at least one is needed$`);
    await refused(() => m.fit(x0, y0, { verbose: 0 }), re('fit'));
    await refused(() => m.evaluate(x0, y0), re('evaluate'));
    await refused(() => m.predict(x0), re('predict'));
    await refused(() => m.trainOnBatch(x0, y0), re('trainOnBatch'));
    await refused(() => m.fit(X, Y, { verbose: 0, validationData: [x0, y0] }), re('fit: validationData'));
    x0.dispose();
    y0.dispose();
    expect(backend().arena.stats().inUse).toBe(inUse);
    // the model is fine afterwards
    const r = m.evaluate(X, Y) as number[];
    expect(r.every(Number.isFinite)).toBe(true);
  });
});

describe('every public argument of the wrong type', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['sequential(42)', () => sequential(42 as never), /sequential/i],
    ["sequential('x')", () => sequential('x' as never), /sequential/i],
    ['sequential({ layers: 5 })', () => sequential({ layers: 5 as never }), /sequential/i],
    ['layers.dense(null)', () => layers.dense(null as never), /dense/],
    ["layers.dense({ units: 'a' })", () => layers.dense({ units: 'a' as never }), /units/],
    ['layers.dropout(null)', () => layers.dropout(null as never), /dropout/],
    ["layers.dropout({ rate: 'x' })", () => layers.dropout({ rate: 'x' as never }), /rate/],
    ['layers.flatten(42)', () => layers.flatten(42 as never), /flatten/],
    ['compile(null)', () => m.compile(null as never), /compile/],
    ['compile({ optimizer: 42 })', () => m.compile({ optimizer: 42 as never, loss: 'mse' }), /optimizer/],
    ['compile({ loss: 42 })', () => m.compile({ optimizer: 'adam', loss: 42 as never }), /loss/],
    ['compile({ metrics: 42 })', () => m.compile({ optimizer: 'adam', loss: 'mse', metrics: 42 as never }), /metric/],
    ['fit(x, y, 42)', () => m.fit(X, Y, 42 as never), /fit/],
    ["fit({ batchSize: '32' })", () => m.fit(X, Y, { batchSize: '32' as never, verbose: 0 }), /batchSize/],
    ['fit({ callbacks: 42 })', () => m.fit(X, Y, { callbacks: 42 as never, verbose: 0 }), /callbacks/],
    ['fit({ validationData: 42 })', () => m.fit(X, Y, { validationData: 42 as never, verbose: 0 }), /validationData/],
    ["fit({ shuffle: 'yes' })", () => m.fit(X, Y, { shuffle: 'yes' as never, verbose: 0 }), /shuffle/],
    ['fit({ signal: 42 })', () => m.fit(X, Y, { signal: 42 as never, verbose: 0 }), /signal/],
    ['fit(null, y)', () => m.fit(null as never, Y, { verbose: 0 }), /fit: x must be a Tensor/],
    ['evaluate(x, y, 42)', () => m.evaluate(X, Y, 42 as never), /evaluate/],
    ["evaluate(42, y)", () => m.evaluate(42 as never, Y), /evaluate: x must be a Tensor/],
    ['predict(x, 42)', () => m.predict(X, 42 as never), /predict/],
    ["predict('x')", () => m.predict('x' as never), /predict: x must be a Tensor/],
    ['trainOnBatch(x, 42)', () => m.trainOnBatch(X, 42 as never), /trainOnBatch: y must be a Tensor/],
    ['setWeights(null)', () => m.setWeights(null as never), /setWeights/],
    ['setWeights(nested arrays)', () => m.setWeights([[[1, 2, 3]], [1, 2, 3]] as never), /setWeights: weight 0 must be a Tensor \(or a tfjs tensor\), got an array/],
    ['setWeights([42, 42])', () => m.setWeights([42, 42] as never), /setWeights: weight 0 must be a Tensor/],
    ['save(42)', () => m.save(42 as never), /save/],
    ['save(null)', () => m.save(null as never), /save/],
    ['loadModel(42)', () => loadModel(42 as never), /loadModel/],
    ['loadModel(null)', () => loadModel(null as never), /loadModel/],
    ['tensor(null)', () => tensor(null as never), /tensor\(\)/],
    ["tensor('abc')", () => tensor('abc' as never), /tensor\(\)/],
    ["tensor([1, 2], 'x')", () => tensor([1, 2], 'x' as never), /tensor\(\)|shape/],
    ["tensor([1], [1], 'float64')", () => tensor([1], [1], 'float64' as never), /dtype/],
    ['init(42)', () => init(42 as never), /init/],
    ['init(null)', () => init(null as never), /init/],
    ["init({ relaxedSimd: 'no' })", () => init({ relaxedSimd: 'no' as never }), /relaxedSimd/],
    ["optimizers.adam('x')", () => optimizers.adam('x' as never), /adam|optimizer/i],
    ["optimizers.sgd({ learningRate: 'x' })", () => optimizers.sgd({ learningRate: 'x' as never }), /learningRate/],
    ['callbacks.earlyStopping(42)', () => callbacks.earlyStopping(42 as never), /earlyStopping|EarlyStopping/],
    ['callbacks.tensorBoard(42)', () => callbacks.tensorBoard(42 as never), /tensorBoard|TensorBoard|logDir/],
    ['ops.matMul(null, null)', () => ops.matMul(null as never, null as never), /matMul/],
    ["setSeed('x')", () => setSeed('x' as never), /setSeed/],
    ['x.reshape(null)', () => X.reshape(null as never), /reshape/],
    ["x.div('2')", () => X.div('2' as never), /div/],
    ['datasets.mnist.loadData(42)', () => datasets.mnist.loadData(42 as never), /source must be/],
  ];
  for (const [name, f, re] of cases) it(name, () => refused(f, re));

  it('and the model still trains after all of them', async () => {
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const h = await m.fit(X, Y, { epochs: 2, verbose: 0 });
    expect(h.history.loss.every(Number.isFinite)).toBe(true);
  });
});

describe('a runtime without WebAssembly or without wasm SIMD', () => {
  it('node --jitless: importing works, init() says WebAssembly is unavailable and why', () => {
    const code = `const wl = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'src/index.ts')).href)});
try { await wl.init(); console.log('RESOLVED'); } catch (e) { console.log('ERR', e.constructor.name, e.message); }
try { wl.tensor([1, 2]); console.log('RESOLVED'); } catch (e) { console.log('ERR', e.constructor.name, e.message); }`;
    const r = spawnSync(process.execPath, ['--jitless', '--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^ERR Error wasm-layers: this runtime has no WebAssembly \(Node started with --jitless, or WebAssembly disabled by the host\); wasm-layers needs WebAssembly with SIMD/);
  });

  it('no wasm SIMD: init() names the missing feature and the runtimes that have it', async () => {
    const spy = vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    try {
      await refused(() => init({ threads: 1, maxMemoryMB: 64 }), /wasm-layers needs WebAssembly SIMD \(Node ≥ 16\.4, Chrome ≥ 91, Firefox ≥ 89, Safari ≥ 16\.4\); this runtime has none/);
    } finally {
      spy.mockRestore();
    }
    // the backend made before is untouched
    expect(m.predict(X).shape).toEqual([4, 3]);
  });
});
