/**
 * The training config of a saved model: the compile arguments (loss, metrics, optimizer) in the form
 * tfjs-layers writes (`trainingConfig` in model.json) or Keras 3 writes (`compile_config` in a .keras
 * file's config.json), and read back from tfjs' or Keras' (2 or 3) forms.
 */
import { isObject, kerasObject, pick, snakeCase } from '../layer-config.js';
import { Adam, RMSprop, SGD, type Optimizer } from '../optimizers.js';
import type { TrainingConfig } from './artifacts.js';
import type { CompileArgs, Compiled } from './compile.js';
import type { LossIdentifier, MetricIdentifier } from '../losses.js';


/** tfjs' optimizer_config (its class names and camelCase keys, so that tfjs.loadLayersModel compiles it). */
export function optimizerToJSON(o: Optimizer): TrainingConfig['optimizer_config'] {
  if (o instanceof Adam) return { class_name: 'Adam', config: { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon } };
  if (o instanceof RMSprop)
    return { class_name: 'RMSProp', config: { learningRate: o.learningRate, decay: o.rho, momentum: 0, epsilon: o.epsilon, centered: false } };
  if (o instanceof SGD) {
    if (o.momentum > 0) return { class_name: 'Momentum', config: { learningRate: o.learningRate, momentum: o.momentum, useNesterov: o.nesterov } };
    return { class_name: 'SGD', config: { learningRate: o.learningRate, ...(o.nesterov ? { nesterov: true } : {}) } };
  }
  const { name: _name, ...rest } = o.getConfig();
  return { class_name: o.className, config: rest };
}

/** model.json's `trainingConfig` for a compiled model. */
export function trainingConfigOf(compiled: Compiled): TrainingConfig {
  return {
    loss: snakeCase(compiled.loss),
    metrics: compiled.metrics.map((m) => (m === 'acc' || m === 'accuracy' ? m : 'accuracy')),
    optimizer_config: optimizerToJSON(compiled.optimizer),
  };
}

/** The `name` Keras 3 gives its optimizers by default (`adam`, `rmsprop`, but `SGD`). */
export function kerasOptimizerName(o: Optimizer): string {
  return o.className === 'SGD' ? 'SGD' : o.className === 'RMSprop' ? 'rmsprop' : snakeCase(o.className);
}

/** The options every Keras 3.15 optimizer serialises, at their defaults (which is all we support). */
export const KERAS3_OPTIMIZER_OPTIONS = Object.freeze({
  weight_decay: null,
  clipnorm: null,
  global_clipnorm: null,
  clipvalue: null,
  use_ema: false,
  ema_momentum: 0.99,
  ema_overwrite_frequency: null,
  loss_scale_factor: null,
  gradient_accumulation_steps: null,
});

/**
 * Keras 3's serialisation of the optimizer, as Keras 3.15 writes it in a `.keras` file's `compile_config`
 * and in TensorBoard's `keras` tag: its class name, snake_case keys, every common option, and the
 * learning rate as the float32 value of Keras' variable.
 */
export function kerasOptimizerConfig(o: Optimizer): Record<string, unknown> {
  const common = { name: kerasOptimizerName(o), learning_rate: Math.fround(o.learningRate), ...KERAS3_OPTIMIZER_OPTIONS };
  let config: Record<string, unknown>;
  if (o instanceof Adam) config = { ...common, beta_1: o.beta1, beta_2: o.beta2, epsilon: o.epsilon, amsgrad: false };
  else if (o instanceof SGD) config = { ...common, momentum: o.momentum, nesterov: o.nesterov };
  else if (o instanceof RMSprop) config = { ...common, rho: o.rho, momentum: 0, epsilon: o.epsilon, centered: false };
  else throw new Error(`the optimizer ${o.className} has no Keras equivalent`);
  return kerasObject('keras.optimizers', o.className, config);
}

/** Keras 3's `compile_config` of a compiled model (Keras writes `accuracy` for `acc` too). */
export function kerasCompileConfig(compiled: Compiled): Record<string, unknown> {
  return {
    optimizer: kerasOptimizerConfig(compiled.optimizer),
    loss: snakeCase(compiled.loss),
    loss_weights: null,
    metrics: compiled.metrics.length ? compiled.metrics.map(() => 'accuracy') : null,
    weighted_metrics: null,
    run_eagerly: false,
    steps_per_execution: 1,
    jit_compile: false,
  };
}

/** An optimizer from tfjs' optimizer_config, Keras 2's or Keras 3's optimizer config, or a bare class name. */
export function optimizerFrom(config: unknown): Optimizer {
  const oc = typeof config === 'string' ? { class_name: config, config: {} } : config;
  if (!isObject(oc)) throw new Error(`optimizer_config must be { class_name, config }, got ${JSON.stringify(oc)}`);
  const cls = String(oc.class_name ?? oc.className ?? '');
  const c = (isObject(oc.config) ? oc.config : {}) as Record<string, unknown>;
  const num = (v: unknown, what: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') throw new Error(`${cls} ${what} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const learningRate = num(pick(c, 'learningRate', 'learning_rate', 'lr'), 'learning rate');
  // Keras options this library does not implement: refuse rather than train differently.
  for (const k of ['amsgrad', 'centered', 'weight_decay', 'clipnorm', 'clipvalue', 'global_clipnorm', 'use_ema', 'loss_scale_factor', 'gradient_accumulation_steps']) {
    const v = c[k];
    if (v !== undefined && v !== null && v !== false && v !== 0) throw new Error(`${cls} option ${k}=${JSON.stringify(v)} is not supported`);
  }
  switch (cls.replace(/_/g, '').toLowerCase()) {
    case 'adam': {
      if ('rho' in c || ('decay' in c && num(c.decay, 'decay'))) throw new Error(`Adam learning-rate decay is not supported`);
      return new Adam({ learningRate, beta1: num(pick(c, 'beta1', 'beta_1'), 'beta1'), beta2: num(pick(c, 'beta2', 'beta_2'), 'beta2'), epsilon: num(c.epsilon, 'epsilon') });
    }
    case 'sgd': {
      if (num(c.decay, 'decay')) throw new Error('SGD learning-rate decay is not supported');
      const nesterov = pick(c, 'nesterov', 'useNesterov');
      return new SGD({ learningRate, momentum: num(c.momentum, 'momentum'), nesterov: nesterov === true });
    }
    case 'momentum': // tfjs' MomentumOptimizer: the same update as Keras' SGD with momentum
      return new SGD({ learningRate, momentum: num(c.momentum, 'momentum') ?? 0, nesterov: pick(c, 'useNesterov', 'nesterov') === true });
    case 'rmsprop': {
      // tfjs calls rho 'decay'; Keras 2 has rho and an unrelated learning-rate 'decay'.
      const hasRho = c.rho !== undefined;
      if (hasRho && num(c.decay, 'decay')) throw new Error('RMSprop learning-rate decay is not supported');
      if (num(c.momentum, 'momentum')) throw new Error('RMSprop momentum is not supported');
      return new RMSprop({ learningRate, rho: num(hasRho ? c.rho : c.decay, 'rho'), epsilon: num(c.epsilon, 'epsilon') });
    }
    default:
      throw new Error(`unknown optimizer class ${JSON.stringify(cls)} (supported: Adam, SGD, Momentum, RMSprop)`);
  }
}

function metricName(m: unknown): string[] {
  if (typeof m === 'string') return [m];
  if (Array.isArray(m)) return m.flatMap(metricName);
  if (isObject(m)) {
    if (isObject(m.config) && typeof m.config.name === 'string') return [m.config.name];
    return Object.values(m).flatMap(metricName); // per-output dict
  }
  throw new Error(`unsupported metric ${JSON.stringify(m)}`);
}

/** Compile arguments from model.json's trainingConfig (tfjs, Keras 2) or a .keras file's compile_config (Keras 3). */
export function compileArgsFrom(tc: unknown): CompileArgs {
  if (!isObject(tc)) throw new Error(`trainingConfig must be an object, got ${JSON.stringify(tc)}`);
  for (const k of ['weighted_metrics', 'loss_weights', 'sample_weight_mode'])
    if (tc[k] !== undefined && tc[k] !== null) throw new Error(`${k} is not supported`);
  let loss = tc.loss;
  if (Array.isArray(loss) && loss.length === 1) loss = loss[0];
  if (isObject(loss) && typeof loss.class_name !== 'string') {
    const vals = Object.values(loss);
    if (vals.length === 1) loss = vals[0];
  }
  if (isObject(loss)) {
    // Keras ≥ 2.5: { class_name: 'SparseCategoricalCrossentropy', config: { from_logits, … } }
    if (isObject(loss.config) && loss.config.from_logits === true) throw new Error('losses with from_logits: true are not supported');
    loss = loss.class_name;
  }
  if (typeof loss !== 'string') throw new Error(`the loss must be a name, got ${JSON.stringify(tc.loss)}`);
  const metrics = tc.metrics === undefined || tc.metrics === null ? [] : metricName(tc.metrics);
  // names from a file: compile() checks them and names the valid ones when it refuses one
  return { optimizer: optimizerFrom(tc.optimizer_config ?? tc.optimizer), loss: loss as LossIdentifier, metrics: metrics as MetricIdentifier[] };
}
