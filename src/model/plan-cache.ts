/**
 * A model's programs, built once per (data source, kind, batch size, index buffer) and reused for every
 * step; a source's plans are freed when its data is released, all of them when the model is recompiled.
 */
import type { Backend } from '../backend/backend.js';
import type { Layer } from '../layers.js';
import type { Compiled } from './compile.js';
import { Plan, type PlanSpec, type Source } from './plan.js';

/** What plans are built from: the model's layers and (for training and evaluation) its compiled state. */
export interface PlannedModel {
  readonly layers: Layer[];
  readonly compiled?: Compiled;
  readonly backend: Backend;
}

export class PlanCache {
  private readonly plans = new Map<Source, Map<string, Plan>>();

  constructor(private readonly model: PlannedModel) {}

  /** The plan of this kind and batch size over `source`, gathering rows through the index buffer at `indexPtr`. */
  get(kind: PlanSpec['kind'], batch: number, source: Source, indexPtr: number): Plan {
    let byKey = this.plans.get(source);
    if (!byKey) this.plans.set(source, (byKey = new Map()));
    const key = `${kind}:${batch}:${indexPtr}`;
    let p = byKey.get(key);
    if (!p) {
      const c = this.model.compiled;
      // A plan that does not fit in memory gives back its buffers and the optimizer state it created.
      p = this.model.backend.arena.scope(() => new Plan(this.model.backend, {
        kind,
        batch,
        source,
        layers: this.model.layers,
        loss: c?.loss,
        accuracy: c?.accuracy,
        optimizer: c?.optimizer,
        indexPtr,
      }));
      byKey.set(key, p);
    }
    return p;
  }

  /** Frees the plans over one source. */
  forget(source: Source): void {
    for (const p of this.plans.get(source)?.values() ?? []) p.dispose();
    this.plans.delete(source);
  }

  /** Frees all plans. */
  clear(): void {
    for (const m of this.plans.values()) for (const p of m.values()) p.dispose();
    this.plans.clear();
  }
}
