/**
 * Where the seed training step's time goes, per op, on 1 and 2 threads (issue 10, scaling at batch 32):
 *   npx tsx bench/step-ops.ts [--batch 32] [--rounds 5] [--min] [--1t]
 * Trains briefly to build the step's program, then times the whole program and each of its ops run alone
 * (a one-op program with the same words), switching the pool between 1 and 2 threads in rounds. Medians
 * of per-round medians (--min: of per-round fastest calls, the least disturbed on a busy machine), µs;
 * --1t: one thread only. An op alone runs with its data hot in cache, the whole program does not; both replay
 * one batch, which the model memorises over the reruns (see bench/ab-fit.ts for real epochs).
 * A dev tool; the published figures come from `npm run bench`.
 */
import { backend } from '../src/backend/backend.js';
import { Op } from '../src/backend/ops.generated.js';
import { datasets, init, seedModel, tensor } from '../src/index.js';
import { captureTrainProgram, devArgs, usePoolThreads } from './util.js';

const args = devArgs();
const batch = args.num('batch', 32);
const rounds = args.num('rounds', 5);
/** --min: the fastest call instead of the median (on a loaded machine, the least disturbed one). */
const stat = args.flag('min') ? 'min' : 'median';
const only1 = args.flag('1t');
const samples = 3200;

await init({ threads: 2 });
const [[xTrain, yTrain]] = await datasets.mnist.loadData();
await init({ threads: 2 });
const x = tensor((xTrain.dataSync() as Uint8Array).slice(0, samples * 784), [samples, 28, 28], 'uint8').div(255);
const y = tensor((yTrain.dataSync() as Uint8Array).slice(0, samples), [samples], 'uint8');
const model = seedModel({ compile: true });
const step = await captureTrainProgram(() => model.fit(x, y, { batchSize: batch, epochs: 1, verbose: 0 }));
const b = backend();
const words = new Uint32Array(b.memory.buffer, step.ptr, step.nwords).slice();
const full = { ptr: b.arena.alloc(words.length * 4), nwords: words.length };
new Uint32Array(b.memory.buffer, full.ptr, words.length).set(words);
const names = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k]));
const progs: { name: string; ptr: number; n: number }[] = [];
for (let at = 0; at < words.length; at += words[at + 1]) {
  const n = words[at + 1];
  const ptr = b.arena.alloc(n * 4);
  new Uint32Array(b.memory.buffer, ptr, n).set(words.subarray(at, at + n));
  const w = words.subarray(at + 2, at + n);
  const detail = words[at] === Op.GEMM || words[at] === Op.GEMM_ADAM ? ` ${['NN', 'NT', 'TN'][w[0]]} ${w[1]}×${w[2]}×${w[3]}` : '';
  progs.push({ name: `${names[words[at]]}${detail}`, ptr, n });
}
const time = (ptr: number, n: number, reps: number) => {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    b.run(ptr, n);
    t.push(performance.now() - t0);
  }
  t.sort((a, c) => a - c);
  return t[stat === 'min' ? 0 : t.length >> 1] * 1e3;
};
const med = (a: number[]) => (a.length ? [...a].sort((p, q) => p - q)[a.length >> 1] : NaN);
const res: Record<number, { full: number[]; ops: number[][] }> = { 1: { full: [], ops: progs.map(() => []) }, 2: { full: [], ops: progs.map(() => []) } };
for (let r = 0; r < rounds; r++) {
  for (const t of only1 ? [1] : r % 2 ? [2, 1] : [1, 2]) {
    usePoolThreads(b, t);
    time(full.ptr, full.nwords, 20);
    res[t].full.push(time(full.ptr, full.nwords, 200));
    progs.forEach((p, i) => res[t].ops[i].push(time(p.ptr, p.n, p.name.startsWith('GEMM') ? 100 : 300)));
  }
}
const pad = (s: string, n: number) => s.padEnd(n);
console.log(`${pad('op', 34)} ${'1T µs'.padStart(9)} ${'2T µs'.padStart(9)} ${'2T/1T'.padStart(7)}`);
let s1 = 0;
let s2 = 0;
progs.forEach((p, i) => {
  const [a, c] = [med(res[1].ops[i]), med(res[2].ops[i])];
  s1 += a;
  s2 += c;
  console.log(`${pad(p.name, 34)} ${a.toFixed(1).padStart(9)} ${c.toFixed(1).padStart(9)} ${(a / c).toFixed(2).padStart(7)}`);
});
console.log(`${pad('sum of ops alone', 34)} ${s1.toFixed(1).padStart(9)} ${s2.toFixed(1).padStart(9)} ${(s1 / s2).toFixed(2).padStart(7)}`);
const [f1, f2] = [med(res[1].full), med(res[2].full)];
console.log(`${pad('whole step program', 34)} ${f1.toFixed(1).padStart(9)} ${f2.toFixed(1).padStart(9)} ${(f1 / f2).toFixed(2).padStart(7)}`);
process.exit(0);
