/**
 * The model as its training and inference loops see it: the state they share with the model class,
 * without the loops importing the class (which imports them).
 */
import type { CallbackModel } from '../callbacks/base.js';
import type { History } from '../callbacks/history.js';
import type { Layer } from '../layers.js';
import type { Compiled } from './compile.js';
import type { IndexBuffers, InputModel } from './inputs.js';
import type { PlanCache, PlannedModel } from './plan-cache.js';

export interface ModelCore extends CallbackModel, InputModel, PlannedModel {
  readonly name: string;
  /** True once `dispose()` ran (a callback may dispose the model it is training). */
  readonly isDisposed: boolean;
  readonly layers: Layer[];
  history?: History;
  readonly plans: PlanCache;
  readonly indexBuffers: IndexBuffers;
  /** Counts training steps for dropout masks (fit and trainOnBatch). */
  dropoutStep: number;
  /** The dropout seed of layers without their own, drawn at the model's first fit. */
  dropoutSeed?: number;
  /** The compiled state, or an error naming `what` when the model is not compiled (or disposed). */
  requireCompiled(what: string): Compiled;
  /** Builds the model if needed (throws when it is disposed). */
  build(): void;
}
