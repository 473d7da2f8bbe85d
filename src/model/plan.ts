/**
 * Programs for a model: a training step (gather batch → forward → loss/metrics → backward → update),
 * an evaluation step (forward → loss/metrics) and a prediction step (forward). A plan is built once per
 * (data source, batch size) and reused for every step: per step, JS patches a few words (where the
 * batch's indices start, Adam's αₜ, the dropout step) and makes one call into wasm.
 */
import type { Backend } from '../backend/backend.js';
import { AccKind, DType, LossFlag, LossKind, ProgramBuilder, ops, type Program } from '../backend/program.js';
import type { Flow, Layer, EmitContext, Weight } from '../layers.js';
import type { LossName } from '../losses.js';
import type { Optimizer } from '../optimizers.js';
import type { Tensor } from '../tensor.js';

/** A dataset that stays in its stored dtype in wasm memory; rows are gathered through an index list. */
export interface Source {
  x: Tensor;
  /** Labels: int class ids [N] for sparse losses, else [N, units]. */
  y?: Tensor;
  rowLen: number;
}

export interface PlanSpec {
  kind: 'train' | 'eval' | 'predict';
  batch: number;
  source: Source;
  layers: Layer[];
  loss?: LossName;
  accuracy?: keyof typeof AccKind;
  optimizer?: Optimizer;
  /** Pointer to the Int32 index array the batch is gathered through (patched per step). */
  indexPtr: number;
}

const dtypeCode = (t: Tensor) => (t.storageDtype === 'uint8' ? DType.u8 : t.storageDtype === 'int32' ? DType.i32 : DType.f32);

/**
 * Whether a dense kernel's gradient may be applied by the optimizer inside the GEMM that computes it
 * (GEMM_ADAM: the gradient is never stored) rather than stored by the GEMM and then applied by the
 * optimizer's own op. It is, where the kernel streams the update (`Backend.gemmUpdateStreams`: the gradient
 * of 16 rows is finished on the stack, then those rows of the parameter, m and v are updated in one
 * contiguous run, as the ADAM op walks them): the seed model at batch 32 trains 1.09× as fast on Node 20
 * and 24, 1 and 2 threads (bench/ab-fuse.ts, paired epochs of two models in one process). Elsewhere
 * (wider layers, larger batches) the update would be applied per 4×8 tile, in 32-byte pieces of strided
 * rows that the hardware prefetchers do not follow, which measured 1.09–1.24× slower than storing the
 * gradient (the same bench, 2026-12-01), so those products stay separate.
 * Both give the same bits (test/determinism.test.ts), so this only chooses the faster schedule.
 */
let fusedWeightUpdates = true;

/** Tests and the bench: plans built after this call fuse weight updates (or not). Returns the previous setting. */
export function setFusedWeightUpdates(on: boolean): boolean {
  const was = fusedWeightUpdates;
  fusedWeightUpdates = on;
  return was;
}

export class Plan {
  readonly program: Program;
  /** Setters of the words patched per step. */
  private readonly idxPatches: ((ptr: number) => void)[] = [];
  private readonly stepPatches: ((step: number) => void)[] = [];
  private readonly seedPatches: ((seed: number) => void)[] = [];
  private readonly update?: { patch(t: number): void };
  private readonly owned: number[] = [];
  /** f32 [2]: batch-mean loss and accuracy. */
  readonly statsPtr: number;
  /** Output of the last layer, [batch, units]. */
  readonly outputPtr: number;
  readonly outputCols: number;

  constructor(
    private readonly b: Backend,
    readonly spec: PlanSpec,
  ) {
    const pb = new ProgramBuilder();
    const B = spec.batch;
    const buffer = (cols: number) => this.alloc(B * cols * 4);
    this.statsPtr = this.alloc(16);
    const training = spec.kind === 'train';
    const { x, y, rowLen } = spec.source;

    // 1. the batch, converted and scaled (uint8 images stay bytes until here)
    const x0 = buffer(rowLen);
    const gather = (t: Tensor, dstKind: ops.GatherArgs['dstKind'], rowLen: number, dst: number) =>
      this.idxPatches.push(pb.add(ops.gather({ srcKind: dtypeCode(t), dstKind, rows: B, rowLen, idx: spec.indexPtr, src: t.ptr, dst, div: t.divisor })).patch.idx);
    gather(x, DType.f32, rowLen, x0);
    const last = spec.layers[spec.layers.length - 1] as Layer & { activation?: string; units?: number };
    const units = last.outputShape[0];
    const sparse = spec.loss === 'sparseCategoricalCrossentropy';
    let labels = 0;
    if (spec.kind !== 'predict') {
      if (!y || !spec.loss) throw new Error('internal: eval/train plan without labels or loss');
      const cols = sparse ? 1 : units;
      labels = buffer(cols);
      gather(y, sparse ? DType.i32 : DType.f32, cols, labels);
    }

    // 2. forward, remembering each layer's input and output
    const fused = new Set<number>();
    const fusedPatches: ((t: number) => void)[] = [];
    const ref = (w: Weight) => ({ key: w.tensor.id, size: w.tensor.size, ptr: w.tensor.ptr, gradPtr: w.grad.ptr });
    const ctx: EmitContext = {
      pb,
      batch: B,
      training,
      buffer,
      layerIndex: 0,
      stepPatches: this.stepPatches,
      seedPatches: this.seedPatches,
      fuseUpdate: (w, gemm) => {
        if (!fusedWeightUpdates || !b.gemmUpdateStreams(gemm)) return false;
        const patch = spec.optimizer!.emitFused(pb, ref(w), gemm, b);
        if (!patch) return false;
        fused.add(w.tensor.id);
        fusedPatches.push(patch);
        return true;
      },
    };
    const flows: Flow[] = [{ ptr: x0, cols: rowLen }];
    spec.layers.forEach((layer, i) => {
      ctx.layerIndex = i;
      flows.push(layer.forward(ctx, flows[i]));
    });
    const out = flows[flows.length - 1];
    this.outputPtr = out.ptr;
    this.outputCols = out.cols;

    if (spec.kind !== 'predict') {
      // 3. loss (+ its gradient when training) and accuracy, as batch means in stats[0], stats[1]
      const rows = buffer(1);
      const act = last.activation;
      const fusedLoss =
        training &&
        ((act === 'softmax' && (spec.loss === 'sparseCategoricalCrossentropy' || spec.loss === 'categoricalCrossentropy')) ||
          (act === 'sigmoid' && spec.loss === 'binaryCrossentropy'));
      const grad = training ? buffer(units) : 0;
      pb.add(ops.loss({ kind: LossKind[spec.loss!], rows: B, cols: units, pred: out.ptr, labels, out: rows, grad, scale: 1 / B, flags: fusedLoss ? LossFlag.FUSED : 0, eps: 1e-7 }));
      pb.add(ops.sum({ n: B, x: rows, out: this.statsPtr, scale: 1 / B }));
      if (spec.accuracy) {
        const acc = buffer(1);
        pb.add(ops.accuracy({ kind: AccKind[spec.accuracy], rows: B, cols: units, pred: out.ptr, labels, out: acc }));
        pb.add(ops.sum({ n: B, x: acc, out: this.statsPtr + 4, scale: 1 / B }));
      }

      if (training) {
        // A non-finite loss ends the step here: no gradient, no update (fit then reports it; the model keeps
        // the weights of the last finite step). One word compared in the same call: the loop stays one crossing.
        pb.add(ops.stopIfNonFinite({ x: this.statsPtr }));
        // 4. backward, last layer first; the first layer with weights needs no input gradient
        const firstTrainable = spec.layers.findIndex((l) => l.weights.length > 0);
        let dy = grad;
        for (let i = spec.layers.length - 1; i >= 0 && i >= firstTrainable; i--) {
          ctx.layerIndex = i;
          dy = spec.layers[i].backward(ctx, flows[i], flows[i + 1], dy, i > firstTrainable, i === spec.layers.length - 1 && fusedLoss);
        }
        // 5. the remaining parameter updates (fused ones happened in backward, each after the last use of
        //    its weight), all from gradients of the old weights
        const params = spec.layers.flatMap((l) => l.weights.filter((w) => !fused.has(w.tensor.id)).map(ref));
        this.update = spec.optimizer!.emit(pb, params, b, fusedPatches);
      }
    }
    this.program = pb.build(b);
  }

  private alloc(bytes: number): number {
    const p = this.b.arena.alloc(bytes);
    this.owned.push(p);
    return p;
  }

  /**
   * Runs one step on the rows listed at `indexPtr + offset·4` (offset in rows); `t` is the optimizer's
   * 1-based iteration, `step` the dropout counter and `seed` the dropout seed of layers without their own.
   */
  run(offset: number, t = 0, step = 0, seed = 0): void {
    const prog = this.program;
    const at = this.spec.indexPtr + offset * 4;
    for (const p of this.idxPatches) p(at);
    for (const p of this.stepPatches) p(step);
    for (const p of this.seedPatches) p(seed);
    this.update?.patch(t);
    prog.run();
  }

  loss(): number {
    return this.b.views().f32[this.statsPtr >>> 2];
  }

  accuracy(): number {
    return this.b.views().f32[(this.statsPtr >>> 2) + 1];
  }

  dispose(): void {
    this.program.dispose();
    if (!this.b.isDisposed) for (const p of this.owned) this.b.arena.release(p);
    this.owned.length = 0;
  }
}
