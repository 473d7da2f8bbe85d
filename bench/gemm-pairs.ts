/**
 * GEMM against the peak loop in pairs (issue 10, "Why the GEMM line fails on this VM" in BENCHMARKS.md): one
 * call of the register-only peak loop, then one call of a GEMM program of about the same flops, again and
 * again in one process, one thread; the ratio of each pair (GEMM GFLOP/s over peak GFLOP/s) is measured
 * milliseconds apart, so the host's drift between seconds cancels. Prints p10 / p50 / p90 of the ratios per
 * product, and the steal time /proc/stat counted meanwhile.
 *   npx tsx bench/gemm-pairs.ts [--pairs 40] [--rounds 6] [--shapes NN:32:512:784,…] [--relaxed] [DIR …]   (default DIR: wasm)
 * Default products: the seed's forward (NN 32×512×784, B = 1.6 MB), its weight gradient (TN 784×512×32), an
 * input gradient (NT 32×784×512), and two controls on the forward's kernel path whose operands stay in L2
 * (NN 32×64×784) and in L1 and L2 (NN 32×64×128, 56 KiB). If the controls' ratios match the seed products',
 * memory traffic is not what holds the products back. With several DIRs, rounds alternate between their
 * builds (A/B of kernel changes).
 * A dev tool; the published GEMM figures come from `npm run bench -- gemm`.
 */
import { resolve } from 'node:path';
import { backend, disposeBackend, init } from '../src/backend/backend.js';
import { Act, Layout, ProgramBuilder, ops } from '../src/backend/program.js';
import { cpuSnapshot } from './cpu.js';
import { WasmBuffers, devArgs, gemmDims, randomF32 } from './util.js';

const args = devArgs();
const pairs = args.num('pairs', 40);
const rounds = args.num('rounds', 6);
const relaxed = args.flag('relaxed');
const shapes = args
  .str('shapes', 'NN:32:512:784,TN:784:512:32,NT:32:784:512,NN:32:64:784,NN:32:64:128')
  .split(',')
  .map((spec) => {
    const [layout, m, n, k] = spec.split(':');
    if (!(layout in Layout) || [m, n, k].some((x) => !(Number(x) > 0))) throw new Error(`gemm-pairs: bad shape ${spec} (want LAYOUT:M:N:K)`);
    return { spec, layout: layout as keyof typeof Layout, m: Number(m), n: Number(n), k: Number(k) };
  });
const dirs = args.rest.length ? args.rest : ['wasm'];
/** Flops per program call: a few ms, long next to the timer's resolution and a wasm call. */
const PROGRAM_FLOPS = 4e7;
const variant = relaxed ? 'relaxed' : 'simd';
const ratios = dirs.map(() => shapes.map(() => [] as number[]));

const s0 = cpuSnapshot();
for (let r = 0; r < rounds; r++) {
  for (const [d, dir] of dirs.entries()) {
    await init({ threads: 1, relaxedSimd: relaxed, wasmUrls: { [variant]: resolve(dir, `wasm-layers-${variant}.wasm`) } });
    const b = backend();
    if (b.info.variant !== variant) throw new Error(`gemm-pairs: asked for ${variant}, got ${b.info.variant}`);
    for (const [i, s] of shapes.entries()) {
      const bufs = new WasmBuffers(b);
      try {
        const { a: [ar, ac], b: [br, bc] } = gemmDims(s.layout, s.m, s.n, s.k);
        const a = bufs.f32(randomF32(ar * ac, 7 + i));
        const bb = bufs.f32(randomF32(br * bc, 8 + i));
        const c = bufs.f32(s.m * s.n);
        const op = ops.gemm({ layout: Layout[s.layout], m: s.m, n: s.n, k: s.k, a, lda: ac, b: bb, ldb: bc, c, ldc: s.n, act: Act.linear });
        const copies = Math.max(1, Math.round(PROGRAM_FLOPS / (2 * s.m * s.n * s.k)));
        const pb = new ProgramBuilder();
        for (let j = 0; j < copies; j++) pb.add(op);
        const prog = bufs.own(pb.build(b));
        for (let j = 0; j < 3; j++) prog.run();
        const flops = 2 * s.m * s.n * s.k * copies;
        const iters = Math.max(1000, Math.round(flops / 48)); // form 1: 48 flops per round
        b.peakMadd(iters, 1);
        for (let j = 0; j < pairs; j++) {
          let t0 = performance.now();
          const pf = b.peakMadd(iters, 1);
          const tp = performance.now() - t0;
          t0 = performance.now();
          prog.run();
          const tg = performance.now() - t0;
          ratios[d][i].push(flops / tg / (pf / tp));
        }
      } finally {
        bufs.release();
      }
    }
    disposeBackend();
  }
}
const s1 = cpuSnapshot();

const q = (v: number[], p: number) => [...v].sort((x, y) => x - y)[Math.floor(p * (v.length - 1))];
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
console.log(`GEMM / peak per pair, p10 / p50 / p90 (${variant} build, one thread, ${rounds} rounds × ${pairs} pairs per product):`);
for (const [i, s] of shapes.entries()) {
  const cells = dirs.map((dir, d) => `${dir}: ${[0.1, 0.5, 0.9].map((p) => pct(q(ratios[d][i], p))).join(' / ')}`);
  console.log(`  ${s.layout} ${s.m}×${s.n}×${s.k}`.padEnd(22) + cells.join('   |   '));
}
const seconds = (s1.wall - s0.wall) / 1e3;
// /proc/stat counts in USER_HZ (100 per second on Linux).
if (Number.isFinite(s1.steal)) console.log(`steal time meanwhile (/proc/stat): ${((s1.steal - s0.steal) / 100 / seconds).toFixed(2)} cores over ${seconds.toFixed(1)} s`);
process.exit(0);
