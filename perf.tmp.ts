import { init } from './src/backend/backend.js';
import { backend } from './src/backend/backend.js';
import { Op, runOp, Layout } from './src/backend/program.js';
const threads = Number(process.argv[2] ?? 1);
await init({ threads });
const b = backend();
function bench(name: string, layout: number, m: number, n: number, k: number) {
  const A = b.arena.alloc(m * k * 4), B = b.arena.alloc(k * n * 4), C = b.arena.alloc(m * n * 4);
  new Float32Array(b.memory.buffer, A, m * k).fill(0.5); new Float32Array(b.memory.buffer, B, n * k).fill(0.25);
  const lda = layout === Layout.TN ? m : k, ldb = layout === Layout.NT ? k : n;
  const args = [layout, m, n, k, A, lda, B, ldb, C, n, 0, 0];
  for (let i = 0; i < 50; i++) runOp(Op.GEMM, args);
  const reps = 400; const t0 = performance.now();
  for (let i = 0; i < reps; i++) runOp(Op.GEMM, args);
  const dt = (performance.now() - t0) / reps;
  console.log(`${name.padEnd(28)} ${(2 * m * n * k / dt / 1e6).toFixed(1)} GFLOP/s  ${(dt*1000).toFixed(1)} us`);
}
bench('NN 32x784 * 784x512', Layout.NN, 32, 512, 784);
bench('TN 784x32^T * 32x512', Layout.TN, 784, 512, 32);
bench('NT 32x512 * (784x512)^T', Layout.NT, 32, 784, 512);
bench('NN 32x512 * 512x10', Layout.NN, 32, 10, 512);
bench('NN 128x784 * 784x512', Layout.NN, 128, 512, 784);
bench('TN 784x128^T * 128x512', Layout.TN, 784, 512, 128);
bench('NN 256x784 * 784x512', Layout.NN, 256, 512, 784);
