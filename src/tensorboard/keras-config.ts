/**
 * Keras 3's `compile_config` (as `model.to_json()` writes it under the TensorBoard `keras` tag): the
 * optimizer in Keras 3's serialisation plus the loss and metrics. The architecture part of the config comes
 * from src/model/topology.ts (`keras3Config`).
 */
import { KERAS3_OPTIMIZER_OPTIONS } from '../model/training-config.js';

export interface CompileDescription {
  optimizer?: { readonly className?: string; getConfig?(): Record<string, unknown> };
  loss?: string;
  metrics?: readonly string[];
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Keras 3's optimizer config: the options every Keras 3 optimizer has, then its own (snake_case). */
export function keras3OptimizerConfig(o: NonNullable<CompileDescription['optimizer']>): Record<string, unknown> | null {
  const cls = o.className;
  if (!cls) return null;
  const own = o.getConfig?.() ?? {};
  const lr = own.learningRate;
  const config: Record<string, unknown> = {
    name: snake(cls).replace(/^_/, ''),
    // Keras holds the learning rate in a float32 variable and serialises its value.
    learning_rate: typeof lr === 'number' ? Math.fround(lr) : lr,
    ...KERAS3_OPTIMIZER_OPTIONS,
  };
  for (const [k, v] of Object.entries(own)) {
    if (k === 'name' || k === 'learningRate') continue;
    config[k === 'beta1' ? 'beta_1' : k === 'beta2' ? 'beta_2' : snake(k)] = v;
  }
  if (cls === 'Adam' && !('amsgrad' in config)) config.amsgrad = false;
  return { module: 'keras.optimizers', class_name: cls, config, registered_name: null };
}

/** `compile_config` of a model compiled with `c`. */
export function keras3CompileConfig(c: CompileDescription): Record<string, unknown> {
  return {
    optimizer: c.optimizer ? keras3OptimizerConfig(c.optimizer) : null,
    loss: c.loss === undefined ? null : snake(c.loss),
    loss_weights: null,
    metrics: c.metrics && c.metrics.length > 0 ? [...c.metrics] : null,
    weighted_metrics: null,
    run_eagerly: false,
    steps_per_execution: 1,
    jit_compile: false,
  };
}
