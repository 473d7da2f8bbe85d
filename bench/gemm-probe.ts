/**
 * Quick GEMM-vs-peak probe for kernel work (issue 10): for the seed's main products at batch 32 and 128,
 * alternates the register-only peak loop and each GEMM, and reports each GEMM's fastest of 30 calls as a
 * fraction of the fastest peak call just before it (fastest calls: the least disturbed on a busy machine).
 * With several wasm directories, alternates between their builds round by round (A/B in one process):
 *   npx tsx bench/gemm-probe.ts [--threads 1] [--rounds 7] [--only NN32,TN32] [--mnist] [--relaxed] [DIR …]   (default DIR: wasm)
 * --mnist: A of NN and TN is a batch of MNIST images (/255, 81% zeros), as in the seed's forward and weight
 * gradient, instead of dense random values; the fraction is then of the dense product's flops.
 * --relaxed: the relaxed-SIMD builds (fused multiply-add; Node ≥ 22), against their own FMA peak.
 * The published figures come from `npm run bench -- gemm`.
 */
import { resolve } from 'node:path';
import { backend, init } from '../src/backend/backend.js';
import { Act, Layout, ProgramBuilder, ops } from '../src/backend/program.js';
import { datasets } from '../src/index.js';
import { WasmBuffers, devArgs, gemmDims, randomF32 } from './util.js';

const args = devArgs();
const threads = args.num('threads', 1);
const rounds = args.num('rounds', 7);
const only = args.str('only', '');
const mnist = args.flag('mnist');
const relaxed = args.flag('relaxed');
const dirs = args.rest.length ? args.rest : ['wasm'];
const PEAK_ITERS = 20_000;
const shapes = [32, 128]
  .flatMap((B) => [
    { B, layout: 'NN' as const, m: B, n: 512, k: 784 },
    { B, layout: 'TN' as const, m: 784, n: 512, k: B },
    { B, layout: 'NT' as const, m: B, n: 784, k: 512 },
    { B, layout: 'TN' as const, m: 784, n: 512, k: B, adam: true },
    { B, layout: 'TN' as const, m: 784, n: 512, k: B, adamOnly: true },
  ])
  .map((s) => ({ adam: false, adamOnly: false, ...s }))
  .filter((s) => !only || only.split(',').includes(`${s.layout}${s.adam ? 'A' : s.adamOnly ? 'O' : ''}${s.B}`));
const frac: number[][][] = dirs.map(() => shapes.map(() => []));
/** Per build: the fastest peak (GFLOP/s) and each GEMM's fastest GFLOP/s over all rounds. */
const bestPeak = dirs.map(() => 0);
const bestGemm = dirs.map(() => shapes.map(() => 0));

async function runBuild(dir: string, out: number[][], d: number) {
  const v = `${relaxed ? 'relaxed' : 'simd'}${threads > 1 ? '-threads' : ''}`;
  await init({ threads, relaxedSimd: relaxed, wasmUrls: { [v]: resolve(dir, `wasm-layers-${v}.wasm`) } });
  if (backend().info.variant !== v) throw new Error(`gemm-probe: asked for ${v}, got ${backend().info.variant}`);
  const b = backend();
  const peak = () => {
    let best = Infinity; // ms per flop
    for (const form of [0, 1] as const)
      for (let i = 0; i < 15; i++) {
        const t0 = performance.now();
        const f = b.peakMadd(PEAK_ITERS, form);
        best = Math.min(best, (performance.now() - t0) / f);
      }
    return 1 / best / 1e6;
  };
  for (const [i, s] of shapes.entries()) {
    const bufs = new WasmBuffers(b);
    const { a: [ar, ac], b: [br, bc] } = gemmDims(s.layout, s.m, s.n, s.k);
    // NN's A is [B, 784] and TN's [B, 784]: both a batch of images when --mnist.
    const pa = bufs.f32(images && s.layout !== 'NT' ? images.subarray(0, ar * ac) : randomF32(ar * ac, 7 + i));
    const pbb = bufs.f32(randomF32(br * bc, 8 + i));
    const pc = bufs.f32(s.m * s.n);
    const pb = new ProgramBuilder();
    const gm = { layout: Layout[s.layout], m: s.m, n: s.n, k: s.k, a: pa, lda: ac, b: pbb, ldb: bc, c: pc, ldc: s.n };
    if (s.adamOnly) {
      // Adam alone over the same parameters (its time counted as if it did the GEMM's flops: compare with TN+Adam − TN)
      const [am, av] = [bufs.f32(new Float32Array(s.m * s.n)), bufs.f32(new Float32Array(s.m * s.n))];
      const pg = bufs.f32(randomF32(s.m * s.n, 99));
      pb.add(ops.adam({ n: s.m * s.n, p: pc, g: pg, m: am, v: av, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, alpha: 1e-9 }));
    } else if (s.adam) {
      // the fused weight-gradient + Adam update of training (moments start at 0, tiny step: stays finite)
      const [am, av] = [bufs.f32(new Float32Array(s.m * s.n)), bufs.f32(new Float32Array(s.m * s.n))];
      pb.add(ops.gemmAdam({ ...gm, adamM: am, adamV: av, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, alpha: 1e-9 }));
    } else pb.add(ops.gemm({ ...gm, act: Act.linear }));
    const prog = pb.build(b);
    prog.run();
    const pk = peak();
    let best = Infinity;
    for (let j = 0; j < 30; j++) {
      const t0 = performance.now();
      prog.run();
      best = Math.min(best, performance.now() - t0);
    }
    const g = (2 * s.m * s.n * s.k) / best / 1e6 / threads;
    out[i].push(g / pk);
    bestPeak[d] = Math.max(bestPeak[d], pk);
    bestGemm[d][i] = Math.max(bestGemm[d][i], g);
    prog.dispose();
    bufs.release();
  }
}

/** The first 128 training images as [128, 784] floats in [0, 1] (--mnist). */
const images = mnist ? await (async () => {
  await init({ threads: 1 });
  const [[x]] = await datasets.mnist.loadData();
  return Float32Array.from((x.dataSync() as Uint8Array).subarray(0, 128 * 784), (v) => v / 255);
})() : undefined;

for (let r = 0; r < rounds; r++) for (const [d, dir] of dirs.entries()) await runBuild(dir, frac[d], d);
for (const [i, s] of shapes.entries()) {
  const cells = dirs.map((dir, d) => {
    const f = [...frac[d][i]].sort((a, c) => a - c);
    return `${dir}: median ${(100 * f[f.length >> 1]).toFixed(1)}%, fastest/fastest ${(100 * bestGemm[d][i] / bestPeak[d]).toFixed(1)}% (${bestGemm[d][i].toFixed(1)}/${bestPeak[d].toFixed(1)})`;
  });
  console.log(`${s.adamOnly ? 'Adam alone (as flops of TN)' : s.layout}${s.adam ? '+Adam' : ''} b${s.B} ${threads}T  ${cells.join('   |   ')}`);
}
process.exit(0);
