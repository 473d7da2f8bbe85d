/**
 * An optimizer's state as named variables, in the order and with the names tfjs gives them in a save with
 * `includeOptimizer` (weights of group 'optimizer': `iter`, then every parameter's first slot, then every
 * parameter's second, …: Adam `<weight>/m`, `<weight>/v`; SGD with momentum `<weight>/momentum`; RMSprop
 * `<weight>/rms` and `<weight>/momentum`). Saves with the optimizer and training backups write them; loads
 * put them back, so training resumes with the same moments and step count.
 */
import { isObject } from '../layer-config.js';
import type { Layer, Weight } from '../layers.js';
import { Adam, RMSprop, SGD, type Optimizer } from '../optimizers.js';
import { getRandomState, setRandomState } from '../random.js';
import type { TrainingState } from './artifacts.js';

export interface OptimizerVariable {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** tfjs' suffix of each of our state buffers, and the ones tfjs has that we do not keep (written as zeros). */
function slotNames(o: Optimizer): { ours: string[]; extra: string[] } {
  if (o instanceof Adam) return { ours: ['m', 'v'], extra: [] };
  if (o instanceof SGD) return { ours: o.momentum > 0 ? ['momentum'] : [], extra: [] };
  // tfjs' RMSprop always keeps a momentum accumulator; with momentum 0 (ours) it never matters.
  if (o instanceof RMSprop) return { ours: ['rms'], extra: ['momentum'] };
  throw new Error(`${o.className}: no saved form of this optimizer's state`);
}

const bare = (w: Weight) => w.name.replace(/:0$/, '');

/**
 * The optimizer's variables over these layers' weights. An optimizer that has not stepped yet has no
 * state buffers: then only `iter` (as tfjs writes it).
 */
export function optimizerVariables(layers: readonly Layer[], o: Optimizer): OptimizerVariable[] {
  const params = layers.flatMap((l) => l.weights);
  const { ours, extra } = slotNames(o);
  const out: OptimizerVariable[] = [{ name: 'iter', shape: [], dtype: 'int32', data: Int32Array.of(o.iterations) }];
  const states = params.map((w) => o.getState(w.tensor.id));
  if (ours.length === 0 || !states.every((s) => s.length === ours.length)) return out;
  ours.forEach((suffix, k) => params.forEach((w, i) => out.push({ name: `${bare(w)}/${suffix}`, shape: [...w.tensor.shape], dtype: 'float32', data: states[i][k] })));
  for (const suffix of extra) for (const w of params) out.push({ name: `${bare(w)}/${suffix}`, shape: [...w.tensor.shape], dtype: 'float32', data: new Float32Array(w.tensor.size) });
  return out;
}

/**
 * Puts saved optimizer variables back (matched by name; shapes checked). Only `iter` present: the step count
 * alone (an optimizer saved before its first step). Throws, naming `where`, when they do not belong to
 * this model and optimizer.
 */
export function applyOptimizerVariables(layers: readonly Layer[], o: Optimizer, vars: readonly OptimizerVariable[], where: string): void {
  const byName = new Map(vars.map((v) => [v.name, v]));
  const iter = byName.get('iter') ?? vars.find((v) => /(^|\/)iter(ations)?$/.test(v.name));
  if (!iter || iter.data.length !== 1) throw new Error(`${where}: the optimizer's state has no iteration count ('iter')`);
  const iterations = Number(iter.data[0]);
  if (!Number.isSafeInteger(iterations) || iterations < 0) throw new Error(`${where}: the optimizer's iteration count ${iterations} is not a count`);
  const params = layers.flatMap((l) => l.weights);
  const { ours } = slotNames(o);
  const slots: Float32Array[][] = [];
  if (vars.length > 1 && ours.length > 0) {
    for (const w of params) {
      const s: Float32Array[] = [];
      for (const suffix of ours) {
        const name = `${bare(w)}/${suffix}`;
        const v = byName.get(name);
        if (!v) throw new Error(`${where}: the optimizer's state has no '${name}' (it holds ${[...byName.keys()].slice(0, 6).join(', ')}${byName.size > 6 ? ', …' : ''}); was it saved with another optimizer than ${o.className}?`);
        if (v.shape.join(',') !== w.tensor.shape.join(',') || v.data.length !== w.tensor.size)
          throw new Error(`${where}: optimizer variable '${name}' has shape [${v.shape}] but its weight has [${w.tensor.shape}]`);
        if (!(v.data instanceof Float32Array)) throw new Error(`${where}: optimizer variable '${name}' must be float32`);
        s.push(v.data);
      }
      slots.push(s);
    }
  }
  // Checked in full before anything changes.
  o.iterations = iterations;
  params.forEach((w, i) => {
    if (slots[i]) o.setState(w.tensor.id, slots[i]);
  });
}

/** What a model being saved holds of the training state. */
export interface TrainedState {
  dropoutStep?: number;
  dropoutSeed?: number;
}

/** The training state to save beside the optimizer's variables (see TrainingState). */
export function trainingStateOf(model: TrainedState, o: Optimizer): TrainingState {
  return {
    dropoutStep: model.dropoutStep ?? 0,
    ...(model.dropoutSeed !== undefined ? { dropoutSeed: model.dropoutSeed } : {}),
    randomState: getRandomState(),
    learningRate: o.learningRate,
  };
}

/**
 * Puts a saved training state back: the model's dropout seed and step, the optimizer's exact learning rate
 * (when the file's own, float32 or not, is the same number), and the global random generator, so the next
 * fit shuffles as the unbroken run would (call setSeed() after loading to choose otherwise).
 */
export function applyTrainingState(model: { dropoutStep: number; dropoutSeed?: number }, o: Optimizer, state: unknown, where: string): void {
  const s = state as Partial<TrainingState>;
  const u32 = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
  const ok =
    isObject(state) &&
    Number.isSafeInteger(s.dropoutStep) &&
    (s.dropoutStep as number) >= 0 &&
    (s.dropoutSeed === undefined || u32(s.dropoutSeed)) &&
    Array.isArray(s.randomState) &&
    s.randomState.length === 4 &&
    s.randomState.every(u32) &&
    (s.learningRate === undefined || (typeof s.learningRate === 'number' && s.learningRate > 0 && Number.isFinite(s.learningRate)));
  if (!ok) throw new Error(`${where}: the training state must be { dropoutStep, dropoutSeed?, randomState: [4 × uint32], learningRate? }, got ${JSON.stringify(state)?.slice(0, 200)}`);
  model.dropoutStep = s.dropoutStep as number;
  model.dropoutSeed = s.dropoutSeed;
  // The file's rate may be a float32 copy (.keras holds it so); the exact one, when it is that same number.
  if (s.learningRate !== undefined && Math.fround(s.learningRate) === Math.fround(o.learningRate)) o.learningRate = s.learningRate;
  setRandomState(s.randomState as number[]);
}
