/**
 * GEMM throughput at the seed model's shapes (Dense 784→512→10), ours vs tfjs-backend-wasm, same process.
 *
 * Ours: each product is a prebuilt one-op program (ProgramBuilder → Program.run()) over operands that
 * already sit in wasm memory, so the time is the kernel plus one `wl_run` dispatch — no copies. Run with
 * `init({ threads: 1 })` (the `simd` binary) and `init({ threads: 2 })` (`simd-threads`, a worker pool).
 * tfjs: `tf.matMul(a, b, transposeA, transposeB)` inside `tf.tidy`, on tensors made once; its time includes
 * tfjs' op dispatch and the output's allocation/disposal (both inside its wasm heap, no copy to JS).
 * Caveat in tfjs' favour: the same `b` tensor is reused, so XNNPACK's packed weights stay cached between
 * calls (in training, Adam replaces the weight tensor every step and it re-packs).
 * Every result is checked against tfjs' product, and 2 threads against 1 thread bit for bit.
 * Fraction of peak (issue 10): each product against the register-only peak loop measured right before and
 * right after it (the faster of the two), medians of calls for the PASS/FAIL line, and the fastest calls of
 * both beside it — on a VM whose host slows memory-bound code in bursts, the two differ by tens of points.
 */
import { backend, disposeBackend } from '../src/backend/backend.js';
import { Act, Layout, ProgramBuilder, ops } from '../src/backend/program.js';
import { describeTfjsWasm, tfjsWasm } from './tfjs.js';
import { WasmBuffers, contentionSummary, gemmDims, initThreads, fmt, fmtM, measure, printTable, randomF32, type BenchOptions, type BenchReport, type Measurement } from './util.js';

type LayoutName = keyof typeof Layout;

interface Shape {
  batch: number;
  product: string;
  layout: LayoutName;
  m: number;
  n: number;
  k: number;
}

const BATCHES = [32, 128, 256];
/** Rounds of the peak loop per call: ~10 MFLOP, a few hundred µs. */
const PEAK_ITERS = 100_000;
/** Target of issue 10: the main product of each layout at ≥ 85% of the measured peak per thread. */
const PEAK_TARGET = 0.85;
const THREADS = [1, 2];
/**
 * Copies of the product run back to back in one program for the "in a program" columns: inside a training
 * step the pool is awake and GEMMs follow other ops, while a one-op program pays for waking the other thread
 * on every call (20–50 µs of work at batch 32). Each copy rewrites C with the same values.
 */
const IN_PROGRAM = 8;
/**
 * A control: the forward product's kernel path (NN, K = 784, 8-column panels) on operands small enough to stay
 * in this core's L2 (A 98 KiB, B 196 KiB), 12 copies in one program (~40 MFLOP). Main memory cannot slow it:
 * when it falls as far short of the peak as the seed's products, the shortfall is in how the core runs the
 * kernel's mix of loads and arithmetic beside a register-only loop at that moment, not in the memory system.
 */
const CONTROL = { m: 32, n: 64, k: 784, copies: 12 };

function shapes(batch: number): Shape[] {
  return [
    { batch, product: 'fwd1 X·W1', layout: 'NN', m: batch, n: 512, k: 784 },
    { batch, product: 'dW1 = Xᵀ·dY', layout: 'TN', m: 784, n: 512, k: batch },
    { batch, product: 'dX1 = dY·W1ᵀ', layout: 'NT', m: batch, n: 784, k: 512 },
    { batch, product: 'fwd2 H·W2', layout: 'NN', m: batch, n: 10, k: 512 },
  ];
}

function dims(s: Shape): { a: [number, number]; b: [number, number] } {
  return gemmDims(s.layout, s.m, s.n, s.k);
}

function shapeLabel(s: Shape): string {
  const d = dims(s);
  const ta = s.layout === 'TN' ? 'ᵀ' : '';
  const tb = s.layout === 'NT' ? 'ᵀ' : '';
  return `[${d.a}]${ta}·[${d.b}]${tb}`;
}

function maxRelErr(x: Float32Array, ref: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    const d = Math.abs(x[i] - ref[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
  }
  return err / (scale || 1);
}

function bitwiseEqual(x: Float32Array, y: Float32Array): boolean {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface ControlResult {
  /** GFLOP/s per thread of the median call over the peak measured next to it (the faster of before and after). */
  fraction: number;
  /** The same from the fastest calls. */
  fastest: number;
}

/** The control product (CONTROL) on the current backend, against the peak measured around it. */
function measureControl(b: ReturnType<typeof backend>, opts: BenchOptions, peakNow: () => { gflops: number; fastest: number }): ControlResult {
  const { m, n, k, copies } = CONTROL;
  const bufs = new WasmBuffers(b);
  try {
    const a = bufs.f32(randomF32(m * k, 77));
    const bb = bufs.f32(randomF32(k * n, 78));
    const c = bufs.f32(m * n);
    const pb = new ProgramBuilder();
    const op = ops.gemm({ layout: Layout.NN, m, n, k, a, lda: k, b: bb, ldb: n, c, ldc: n, act: Act.linear });
    for (let i = 0; i < copies; i++) pb.add(op);
    const prog = bufs.own(pb.build(b));
    prog.run();
    const before = peakNow();
    const mt = measure(() => prog.run(), opts);
    const after = peakNow();
    const threads = b.info.threads;
    const gf = (sec: number) => (2 * m * n * k * copies) / sec / 1e9 / threads;
    return { fraction: gf(mt.seconds) / Math.max(before.gflops, after.gflops), fastest: gf(mt.best) / Math.max(before.fastest, after.fastest) };
  } finally {
    bufs.release();
  }
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const all = BATCHES.flatMap(shapes);
  const data = all.map((s, i) => {
    const d = dims(s);
    return { a: randomF32(d.a[0] * d.a[1], 1000 + 2 * i), b: randomF32(d.b[0] * d.b[1], 1001 + 2 * i) };
  });
  const notes: string[] = [];

  // --- tfjs-backend-wasm (reference values and timings)
  const tf = await tfjsWasm();
  const tfjsLine = describeTfjsWasm();
  console.log(`tfjs: ${tfjsLine}`);
  notes.push(tfjsLine);
  const refs: Float32Array[] = [];
  const tfjsM: Measurement[] = [];
  for (const [i, s] of all.entries()) {
    const d = dims(s);
    const a = tf.tensor2d(data[i].a, d.a);
    const b = tf.tensor2d(data[i].b, d.b);
    const ta = s.layout === 'TN';
    const tb = s.layout === 'NT';
    const c = tf.matMul(a, b, ta, tb);
    refs.push((c.dataSync() as Float32Array).slice());
    c.dispose();
    tfjsM.push(
      measure(() => {
        tf.tidy(() => {
          tf.matMul(a, b, ta, tb);
        });
      }, opts),
    );
    a.dispose();
    b.dispose();
  }

  // --- ours, 1 and 2 threads
  const oursM: Measurement[][] = [];
  const oursSeqM: Measurement[][] = [];
  const peakM: Measurement[] = [];
  /** Per build and product: the peak (GFLOP/s per thread) measured right before and after that product, the faster. */
  const peakNear: number[][] = [];
  /** The same from the fastest calls of those peak measurements. */
  const peakNearFastest: number[][] = [];
  let peakFlops = 0;
  const control: ControlResult[] = [];
  const errs: number[] = [];
  const identical: boolean[] = [];
  const firstOut: Float32Array[] = [];
  for (const t of THREADS) {
    const info = await initThreads(t, notes);
    const b = backend();
    const ms: Measurement[] = [];
    const msSeq: Measurement[] = [];
    // This build's multiply-add peak on one thread: a register-only loop (no loads or stores), the most a
    // GEMM micro-kernel could reach (see gemm.rs wl_peak_madd). Measured on each build, next to its GEMMs.
    /** One form of the peak loop: its measurement and GFLOP/s from the median and from the fastest call. */
    const peakOf = (form: 0 | 1) => {
      const flops = b.peakMadd(PEAK_ITERS, form);
      const m = measure(() => b.peakMadd(PEAK_ITERS, form), opts);
      return { m, flops, gflops: flops / m.seconds / 1e9, fastest: flops / m.best / 1e9 };
    };
    const byForm = [peakOf(0), peakOf(1)];
    const bestForm = byForm[1].gflops > byForm[0].gflops ? 1 : 0;
    const forms = byForm.map((p, form) => `form ${form}: ${p.gflops.toFixed(1)}`);
    const { m: bm, flops: bf } = byForm[bestForm];
    peakFlops = PEAK_ITERS * 96;
    peakM.push({ ...bm, seconds: bm.seconds * (96 / (bf / PEAK_ITERS)) }); // as seconds per 96·iters flops
    // The host's speed drifts over the tens of seconds the products take: each product is compared with the
    // peak measured just before and just after it (the faster of the two, so drift cannot flatter it), in the
    // form that won above.
    const peakNow = () => peakOf(bestForm);
    const near: number[] = [];
    const nearFastest: number[] = [];
    peakNear.push(near);
    peakNearFastest.push(nearFastest);
    const pk = byForm[bestForm].gflops;
    const pkLine = `peak of the ${info.variant} build, one thread: ${pk.toFixed(1)} GFLOP/s (${info.relaxedSimd ? 'relaxed-SIMD FMA' : 'SIMD128 multiply + add, no FMA'}; the faster of two register-only loops, GFLOP/s ${forms.join(', ')})`;
    console.log(pkLine);
    notes.push(pkLine);
    for (const [i, s] of all.entries()) {
      const bufs = new WasmBuffers(b);
      const pa = bufs.f32(data[i].a);
      const pb = bufs.f32(data[i].b);
      const pc = bufs.f32(s.m * s.n);
      const lda = s.layout === 'TN' ? s.m : s.k;
      const ldb = s.layout === 'NT' ? s.k : s.n;
      const gemm = ops.gemm({ layout: Layout[s.layout], m: s.m, n: s.n, k: s.k, a: pa, lda, b: pb, ldb, c: pc, ldc: s.n, act: Act.linear });
      const pbld = new ProgramBuilder();
      pbld.add(gemm);
      const prog = pbld.build(b);
      try {
        prog.run();
        const out = bufs.readF32(pc, s.m * s.n);
        if (t === THREADS[0]) {
          firstOut[i] = out;
          errs[i] = maxRelErr(out, refs[i]);
        } else {
          identical[i] = bitwiseEqual(out, firstOut[i]);
          errs[i] = Math.max(errs[i], maxRelErr(out, refs[i]));
        }
        const before = peakNow();
        ms.push(measure(() => prog.run(), opts));
        const seqB = new ProgramBuilder();
        for (let r = 0; r < IN_PROGRAM; r++) seqB.add(gemm);
        const seq = seqB.build(b);
        try {
          const m = measure(() => seq.run(), opts);
          msSeq.push({ ...m, seconds: m.seconds / IN_PROGRAM, mean: m.mean / IN_PROGRAM, best: m.best / IN_PROGRAM });
        } finally {
          seq.dispose();
        }
        const after = peakNow();
        near.push(Math.max(before.gflops, after.gflops));
        nearFastest.push(Math.max(before.fastest, after.fastest));
      } finally {
        prog.dispose();
        bufs.release();
      }
    }
    oursM.push(ms);
    oursSeqM.push(msSeq);
    // One thread only: the question is the core's, and small ops on two threads would measure the pool too.
    if (t === 1) control.push(measureControl(b, opts, peakNow));
  }
  disposeBackend();

  // --- report
  const gf = (s: Shape, sec: number) => (2 * s.m * s.n * s.k) / sec / 1e9;
  const peak = peakM.map((m) => peakFlops / m.seconds / 1e9); // per thread, [1T build, 2T build], at the start
  const rows: Record<string, unknown>[] = [];
  const table: string[][] = [];
  for (const [i, s] of all.entries()) {
    const [m1, m2, mt] = [oursM[0][i], oursM[1][i], tfjsM[i]];
    const g1 = gf(s, m1.seconds);
    const g2 = gf(s, m2.seconds);
    const [q1, q2] = [oursSeqM[0][i], oursSeqM[1][i]];
    const gq1 = gf(s, q1.seconds);
    const gq2 = gf(s, q2.seconds);
    const gt = gf(s, mt.seconds);
    const pk = [peakNear[0][i], peakNear[1][i]];
    // Fastest calls against the fastest peak calls: what the kernel reaches when nothing disturbs it.
    const fastest = [gf(s, m1.best) / peakNearFastest[0][i], gf(s, m2.best) / 2 / peakNearFastest[1][i]];
    rows.push({
      batch: s.batch,
      product: s.product,
      shape: shapeLabel(s),
      layout: s.layout,
      m: s.m,
      n: s.n,
      k: s.k,
      flops: 2 * s.m * s.n * s.k,
      ours1T: m1,
      ours2T: m2,
      tfjs: mt,
      ours1TGflops: g1,
      ours2TGflops: g2,
      tfjsGflops: gt,
      ratioOurs2TToTfjs: g2 / gt,
      speedup2Tover1T: g2 / g1,
      peakPerThreadGflops: pk,
      peakPerThreadGflopsAtStart: peak,
      fractionOfPeak1T: g1 / pk[0],
      fractionOfPeak2TPerThread: g2 / 2 / pk[1],
      fractionOfPeakFastestCalls: fastest,
      ours1TInProgram: q1,
      ours2TInProgram: q2,
      fractionOfPeak1TInProgram: gq1 / pk[0],
      fractionOfPeak2TPerThreadInProgram: gq2 / 2 / pk[1],
      maxRelErrVsTfjs: errs[i],
      bitwiseSame1T2T: identical[i],
    });
    table.push([
      String(s.batch),
      s.product,
      shapeLabel(s),
      s.layout,
      `${s.m}×${s.n}×${s.k}`,
      fmtM(g1, 1, m1),
      fmtM(g2, 1, m2),
      fmtM(gt, 1, mt),
      fmt(g2 / gt, 2) + '×',
      fmt(g2 / g1, 2) + '×',
      `${fmt(pk[0], 1)} / ${fmt(pk[1], 1)}`,
      fmt((100 * g1) / pk[0], 0) + '%',
      fmt((100 * g2) / 2 / pk[1], 0) + '%',
      fmt((100 * gq1) / pk[0], 0) + '%',
      fmt((100 * gq2) / 2 / pk[1], 0) + '%',
      errs[i].toExponential(0),
      identical[i] ? 'yes' : 'NO',
    ]);
  }
  console.log(`\nGEMM, GFLOP/s (2·m·n·k / median time per call: a one-op program; the "in a program" columns: ${IN_PROGRAM} copies back to back in one program, as GEMMs run inside a training step, time / ${IN_PROGRAM}); tfjs-wasm is single-threaded in Node\n`);
  printTable(
    ['batch', 'product', 'shape', 'layout', 'm×n×k', 'ours 1T', 'ours 2T', 'tfjs-wasm (1T)', 'ours 2T / tfjs', '2T / 1T', 'peak next to it, 1T / 2T build', '1T % of peak', '2T % of peak per thread', `1T % of peak, ${IN_PROGRAM} in a program`, `2T % per thread, ${IN_PROGRAM} in a program`, 'max rel err vs tfjs', '2T ≡ 1T bitwise'],
    table,
  );
  const range = (v: number[]) => `${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)}`;
  console.log(
    `\nPeak (register-only multiply-add loop), per thread: at the start ${peak.map((p, i) => `${p.toFixed(1)} GFLOP/s (${THREADS[i]}T build)`).join(', ')}; ` +
      `next to the products ${peakNear.map((v, i) => `${range(v)} (${THREADS[i]}T build)`).join(', ')}. Each product's % is of the peak measured next to it.`,
  );
  const targets: string[] = [];
  for (const batch of [32, 128])
    for (const layout of ['NN', 'TN', 'NT'] as const) {
      const i = all.findIndex((s) => s.batch === batch && s.layout === layout);
      const f = Math.min(rows[i].fractionOfPeak1T as number, rows[i].fractionOfPeak2TPerThread as number);
      const fq = Math.min(rows[i].fractionOfPeak1TInProgram as number, rows[i].fractionOfPeak2TPerThreadInProgram as number);
      targets.push(
        `${f >= PEAK_TARGET ? 'PASS' : 'FAIL'}  ${layout} ${all[i].product}, batch ${batch}: ≥ ${PEAK_TARGET * 100}% of peak per thread (1T and 2T): ` +
          `${(100 * f).toFixed(0)}% as a one-op program, ${(100 * fq).toFixed(0)}% ${IN_PROGRAM} in a program (${fq >= PEAK_TARGET ? 'PASS' : 'FAIL'}); ` +
          `fastest calls ${(rows[i].fractionOfPeakFastestCalls as number[]).map((x, t) => `${(100 * x).toFixed(0)}% (${THREADS[t]}T)`).join(', ')}`,
      );
    }
  console.log(targets.join('\n'));
  notes.push(...targets);
  const { m: cm, n: cn, k: ck, copies } = CONTROL;
  const controlLine =
    `Control (operands in L2: NN ${cm}×${cn}×${ck}, ${copies} copies in one program): ` +
    control.map((c) => `${(100 * c.fraction).toFixed(0)}% of peak on one thread (fastest calls ${(100 * c.fastest).toFixed(0)}%)`).join(', ') +
    ' — a product that memory cannot slow, measured the same way.';
  console.log(controlLine);
  notes.push(controlLine);
  const summary = contentionSummary([...oursM.flat(), ...oursSeqM.flat(), ...tfjsM, ...peakM]);
  console.log(`\n${summary}`);
  notes.push(summary);
  const bad = rows.filter((r) => (r.maxRelErrVsTfjs as number) > 1e-4 || !r.bitwiseSame1T2T);
  if (bad.length) {
    const msg = `WRONG RESULTS: ${bad.map((r) => `${r.product} b=${r.batch}`).join(', ')} (error vs tfjs > 1e-4 or 2T ≠ 1T)`;
    console.log(`\n${msg}`);
    notes.push(msg);
  }
  console.log(
    '\nNotes: dX1 (the NT product) is measured as asked, but the seed model never needs it (first layer). ' +
      'tfjs reuses one B tensor here, so XNNPACK keeps its packed weights (NN only); transposed tfjs matMuls use its scalar fallback.',
  );
  return { name: 'gemm', rows, notes };
}
