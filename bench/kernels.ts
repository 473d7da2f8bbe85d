/**
 * The training step's non-GEMM kernels at the seed model's sizes (batch 32), each as a prebuilt one-op
 * program over operands already in wasm memory, on 1 and 2 threads.
 *
 * Reported: median µs per call and the effective bandwidth (bytes the kernel must read + write / time).
 * At these sizes most operands fit in L1/L2 and a call lasts microseconds, so the fixed cost of one
 * `wl_run` (validation, waking the pool, the final barrier) is a large part of it: the first row, an op
 * with no work, measures that cost alone.
 */
import { backend, disposeBackend, type Backend } from '../src/backend/backend.js';
import { Act, DType, LossFlag, LossKind, ProgramBuilder, ops, type OpCall, type Program } from '../src/backend/program.js';
import { WasmBuffers, contentionSummary, initThreads, fmt, fmtM, measure, printTable, randomF32, type BenchOptions, type BenchReport, type Measurement } from './util.js';

const THREADS = [1, 2];
const BATCH = 32;
const HIDDEN = 512;
const CLASSES = 10;
const PARAMS = 407_050; // 784·512 + 512 + 512·10 + 10
const ROW = 784; // MNIST image
const DATASET_ROWS = 60_000;

interface Case {
  name: string;
  size: string;
  /** Bytes the kernel reads and writes (each operand once). */
  bytes: number;
  /** Builds the program (allocating in `bufs`); returns the function timed. */
  setup(b: Backend, bufs: WasmBuffers): () => void;
}

function oneOp(b: Backend, call: OpCall): Program {
  const pb = new ProgramBuilder();
  pb.add(call);
  return pb.build(b);
}

/** Runs an op once (to prepare realistic inputs). */
function runOnce(b: Backend, call: OpCall): void {
  const p = oneOp(b, call);
  p.run();
  p.dispose();
}

const N = BATCH * HIDDEN;

function activationCases(): Case[] {
  const out: Case[] = [];
  for (const kind of ['relu', 'sigmoid', 'tanh'] as const) {
    out.push({
      name: `${kind} fwd`,
      size: `[${BATCH},${HIDDEN}]`,
      bytes: 8 * N,
      setup(b, bufs) {
        const x = bufs.f32(randomF32(N, 11, -4, 4));
        const y = bufs.f32(N);
        const p = bufs.own(oneOp(b, ops.actFwd({ kind: Act[kind], n: N, x, y })));
        return () => p.run();
      },
    });
    out.push({
      name: `${kind} bwd`,
      size: `[${BATCH},${HIDDEN}]`,
      bytes: 12 * N,
      setup(b, bufs) {
        const x = bufs.f32(randomF32(N, 12, -4, 4));
        const y = bufs.f32(N);
        runOnce(b, ops.actFwd({ kind: Act[kind], n: N, x, y })); // a realistic y
        const dy = bufs.f32(randomF32(N, 13));
        const dx = bufs.f32(N);
        const p = bufs.own(oneOp(b, ops.actBwd({ kind: Act[kind], n: N, y, dy, dx })));
        return () => p.run();
      },
    });
  }
  return out;
}

const CASES: Case[] = [
  {
    name: '(empty op: dispatch only)',
    size: '0',
    bytes: 0,
    setup(b, bufs) {
      const x = bufs.f32(16);
      const p = bufs.own(oneOp(b, ops.actFwd({ kind: Act.linear, n: 0, x, y: x })));
      return () => p.run();
    },
  },
  ...activationCases(),
  {
    name: 'softmax fwd',
    size: `[${BATCH},${CLASSES}]`,
    bytes: 8 * BATCH * CLASSES,
    setup(b, bufs) {
      const x = bufs.f32(randomF32(BATCH * CLASSES, 21, -5, 5));
      const y = bufs.f32(BATCH * CLASSES);
      const p = bufs.own(oneOp(b, ops.softmaxFwd({ rows: BATCH, cols: CLASSES, x, y })));
      return () => p.run();
    },
  },
  {
    name: 'dropout fwd (rate 0.2)',
    size: `[${BATCH},${HIDDEN}]`,
    bytes: 12 * N, // x in; y and mask out
    setup(b, bufs) {
      const x = bufs.f32(randomF32(N, 31));
      const [y, mask] = [bufs.f32(N), bufs.f32(N)];
      const p = bufs.own(oneOp(b, ops.dropoutFwd({ n: N, x, y, mask, rate: 0.2, seed: 1234, salt: 1, step: 0 })));
      return () => p.run();
    },
  },
  {
    name: 'dropout bwd (dy·mask)',
    size: `[${BATCH},${HIDDEN}]`,
    bytes: 12 * N,
    setup(b, bufs) {
      const dy = bufs.f32(randomF32(N, 32));
      const mask = bufs.f32(randomF32(N, 33, 0, 1.25));
      const dx = bufs.f32(N);
      const p = bufs.own(oneOp(b, ops.mul({ n: N, x: dy, m: mask, y: dx })));
      return () => p.run();
    },
  },
  {
    name: 'sparse CE loss + fused grad',
    size: `[${BATCH},${CLASSES}]`,
    bytes: 4 * (2 * BATCH * CLASSES + 2 * BATCH), // pred, grad; labels, per-row loss
    setup(b, bufs) {
      const logits = bufs.f32(randomF32(BATCH * CLASSES, 41, -5, 5));
      const pred = bufs.f32(BATCH * CLASSES);
      runOnce(b, ops.softmaxFwd({ rows: BATCH, cols: CLASSES, x: logits, y: pred }));
      const labels = bufs.i32(Array.from({ length: BATCH }, (_, i) => (i * 7) % CLASSES));
      const [out, grad] = [bufs.f32(BATCH), bufs.f32(BATCH * CLASSES)];
      const p = bufs.own(oneOp(b, ops.loss({ kind: LossKind.sparseCategoricalCrossentropy, rows: BATCH, cols: CLASSES, pred, labels, out, grad, scale: 1 / BATCH, flags: LossFlag.FUSED, eps: 1e-7 })));
      return () => p.run();
    },
  },
  {
    name: 'colsum (bias grad)',
    size: `[${BATCH},${HIDDEN}]`,
    bytes: 4 * (N + HIDDEN),
    setup(b, bufs) {
      const x = bufs.f32(randomF32(N, 51));
      const out = bufs.f32(HIDDEN);
      const p = bufs.own(oneOp(b, ops.colsum({ rows: BATCH, cols: HIDDEN, x, out })));
      return () => p.run();
    },
  },
  {
    name: 'adam',
    size: `${PARAMS.toLocaleString('en-US')} params`,
    bytes: 28 * PARAMS, // p, g, m, v in; p, m, v out
    setup(b, bufs) {
      const p = bufs.f32(randomF32(PARAMS, 61, -0.1, 0.1));
      const g = bufs.f32(randomF32(PARAMS, 62, -0.01, 0.01));
      const [m, v] = [bufs.f32(PARAMS), bufs.f32(PARAMS)];
      const alpha = (0.001 * Math.sqrt(1 - 0.999)) / (1 - 0.9);
      const prog = bufs.own(oneOp(b, ops.adam({ n: PARAMS, p, g, m, v, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, alpha })));
      return () => prog.run();
    },
  },
  {
    name: 'gather u8→f32 ·1/255',
    size: `${BATCH}×${ROW} of ${DATASET_ROWS.toLocaleString('en-US')} rows`,
    bytes: BATCH * ROW * 5 + BATCH * 4, // u8 rows in, f32 out, indices
    setup(b, bufs) {
      // The whole training set in wasm memory (47 MB, as fit() keeps it) and a shuffled epoch's indices:
      // each call gathers the next batch, so rows come from all over the set as in training.
      const src = new Uint8Array(DATASET_ROWS * ROW);
      let rnd = 71;
      for (let i = 0; i < src.length; i++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >>> 17;
        rnd ^= rnd << 5;
        src[i] = rnd & 255;
      }
      const psrc = bufs.u8(src);
      const perm = Int32Array.from({ length: DATASET_ROWS }, (_, i) => i);
      const u = randomF32(DATASET_ROWS, 72, 0, 1);
      for (let i = DATASET_ROWS - 1; i > 0; i--) {
        const j = Math.floor(u[i] * (i + 1));
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const pidx = bufs.i32(perm);
      const dst = bufs.f32(BATCH * ROW);
      const pbld = new ProgramBuilder();
      const gather = pbld.add(ops.gather({ srcKind: DType.u8, dstKind: DType.f32, rows: BATCH, rowLen: ROW, idx: pidx, src: psrc, dst, div: 1 / 255 }));
      const prog = bufs.own(pbld.build(b));
      const steps = Math.floor(DATASET_ROWS / BATCH);
      let step = 0;
      return () => {
        gather.patch.idx(pidx + 4 * BATCH * step);
        step = step + 1 === steps ? 0 : step + 1;
        prog.run();
      };
    },
  },
];

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const notes: string[] = [];
  const meas: Measurement[][] = [];
  for (const t of THREADS) {
    await initThreads(t, notes);
    const b = backend();
    const row: Measurement[] = [];
    for (const c of CASES) {
      const bufs = new WasmBuffers(b);
      try {
        row.push(measure(c.setup(b, bufs), opts));
      } finally {
        bufs.release();
      }
    }
    meas.push(row);
    disposeBackend(); // also frees the programs
  }

  const rows: Record<string, unknown>[] = [];
  const table: string[][] = [];
  for (const [i, c] of CASES.entries()) {
    const [m1, m2] = [meas[0][i], meas[1][i]];
    const [s1, s2] = [m1.seconds, m2.seconds];
    const gbs = (s: number) => (c.bytes ? c.bytes / s / 1e9 : NaN);
    rows.push({ kernel: c.name, size: c.size, bytes: c.bytes, ours1T: m1, ours2T: m2, gbps1T: gbs(s1), gbps2T: gbs(s2), speedup2Tover1T: s1 / s2 });
    table.push([c.name, c.size, c.bytes ? (c.bytes / 1024).toFixed(1) : '0', fmtM(s1 * 1e6, 2, m1), fmt(gbs(s1)), fmtM(s2 * 1e6, 2, m2), fmt(gbs(s2)), fmt(s1 / s2, 2) + '×']);
  }
  console.log('\nTraining kernels (one-op programs, batch 32): median µs per call, effective GB/s (bytes read + written / time)\n');
  printTable(['kernel', 'size', 'KiB moved', '1T µs', '1T GB/s', '2T µs', '2T GB/s', '2T / 1T'], table);
  const summary = contentionSummary(meas.flat());
  console.log(`\n${summary}`);
  notes.push(summary);
  return { name: 'kernels', rows, notes };
}
