/** `compile`'s arguments and what the model keeps of them. */
import { accuracyKind, resolveLoss, resolveMetrics, type LossIdentifier, type LossName, type MetricIdentifier } from '../losses.js';
import type { OptimizerName } from '../names.js';
import { getOptimizer, type Optimizer } from '../optimizers.js';

export interface CompileArgs {
  /** `'adam' | 'sgd' | 'rmsprop'` (any case) with default settings, or `optimizers.adam({...})` etc. */
  optimizer: OptimizerName | Capitalize<OptimizerName> | 'SGD' | 'RMSprop' | Optimizer;
  /** tfjs' camelCase name, Keras' snake_case function or PascalCase class name, or `'mse'`. */
  loss: LossIdentifier;
  metrics?: MetricIdentifier | MetricIdentifier[];
}

/** A compiled model's loss, metrics and optimizer. */
export interface Compiled {
  optimizer: Optimizer;
  loss: LossName;
  metrics: string[]; // display names as given ('accuracy' or 'acc')
  accuracy?: ReturnType<typeof accuracyKind>;
}

/** Checks the arguments (before the model is built, so that a bad name fails first). */
export function parseCompileArgs(args: CompileArgs): { optimizer: Optimizer; loss: LossName; metrics: string[] } {
  if (!args || typeof args !== 'object') throw new Error('compile: expected { optimizer, loss, metrics? }');
  const optimizer = getOptimizer(args.optimizer);
  const loss = resolveLoss(args.loss);
  const names = args.metrics === undefined ? [] : Array.isArray(args.metrics) ? args.metrics : [args.metrics];
  resolveMetrics(names);
  return { optimizer, loss, metrics: names.map(String) };
}

/** The compiled state for a built model whose last layer outputs `outputShape`. */
export function compiledFor(parsed: ReturnType<typeof parseCompileArgs>, outputShape: number[]): Compiled {
  const units = outputShape[0];
  if (outputShape.length !== 1) throw new Error(`compile: the last layer must output [units], got [${outputShape}]`);
  const { optimizer, loss, metrics } = parsed;
  return { optimizer, loss, metrics, accuracy: metrics.length ? accuracyKind(loss, units) : undefined };
}
