/** Loss and metric names as users write them (tfjs camelCase or Keras snake_case) → kernel kinds. */
import { AccKind, LossKind } from './backend/program.js';
import type { MetricIdentifier, SnakeCase } from './names.js';

export type LossName = keyof typeof LossKind;
/** Every spelling compile() accepts: tfjs' camelCase, Keras' snake_case functions and PascalCase classes, 'mse'. */
export type LossIdentifier = LossName | SnakeCase<LossName> | Capitalize<LossName> | 'mse';
export type { MetricIdentifier };

const LOSS_ALIASES: Record<string, LossName> = {
  sparsecategoricalcrossentropy: 'sparseCategoricalCrossentropy',
  categoricalcrossentropy: 'categoricalCrossentropy',
  meansquarederror: 'meanSquaredError',
  mse: 'meanSquaredError',
  binarycrossentropy: 'binaryCrossentropy',
};

export function resolveLoss(name: unknown): LossName {
  const key = typeof name === 'string' ? name.replace(/_/g, '').toLowerCase() : '';
  const r = LOSS_ALIASES[key];
  if (!r)
    throw new Error(
      `compile: unknown loss ${JSON.stringify(name)} (valid: 'sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'meanSquaredError' ('mse'), 'binaryCrossentropy', or their snake_case forms)`,
    );
  return r;
}

export type MetricName = 'accuracy';

export function resolveMetrics(metrics: unknown): MetricName[] {
  if (metrics === undefined) return [];
  const list = Array.isArray(metrics) ? metrics : [metrics];
  return list.map((m) => {
    const k = typeof m === 'string' ? m.replace(/_/g, '').toLowerCase() : '';
    if (k === 'accuracy' || k === 'acc') return 'accuracy';
    throw new Error(`compile: unknown metric ${JSON.stringify(m)} (valid: 'accuracy')`);
  });
}

/** Which accuracy Keras means by 'accuracy' for this loss and output width. */
export function accuracyKind(loss: LossName, units: number): keyof typeof AccKind {
  if (loss === 'sparseCategoricalCrossentropy') return 'sparse';
  if (loss === 'binaryCrossentropy' || units === 1) return 'binary';
  return 'categorical';
}
