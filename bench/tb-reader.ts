/**
 * How fast the event-file reader is on a board-sized log dir: 100 runs × 2 scalar tags × 10,000 points (TF2
 * tensor scalars, as our writer and Keras write them) + 1 histogram tag × 100 steps of 30 buckets per run.
 *
 *   npx tsx bench/tb-reader.ts [runs=100] [points=10000]
 *
 * Prints the bytes, the time of readRunFiles over in-memory files and of readLogDir over the same files on
 * disk, and the rate, best of 3 (the machine is shared: compare rates within one run only).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLogDir } from '../src/tensorboard/logdir.js';
import { readRunFiles } from '../src/tensorboard/reader.js';
import { encodeEvent } from '../src/tensorboard/proto.js';
import { FILE_VERSION, frameRecord, histogramBuckets, histogramSummaryValue, scalarSummaryValue } from '../src/tensorboard/writer.js';

const runs = Number(process.argv[2] ?? 100);
const points = Number(process.argv[3] ?? 10_000);

function runFile(seed: number): Uint8Array {
  const recs: Uint8Array[] = [frameRecord(encodeEvent({ wallTime: 1.7e9, fileVersion: FILE_VERSION }))];
  for (let s = 0; s < points; s++) {
    recs.push(frameRecord(encodeEvent({ wallTime: 1.7e9 + s, step: s, summary: [scalarSummaryValue('epoch_loss', 1 / (s + seed + 1))] })));
    recs.push(frameRecord(encodeEvent({ wallTime: 1.7e9 + s, step: s, summary: [scalarSummaryValue('epoch_accuracy', s / points)] })));
  }
  const values = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i * seed));
  for (let s = 0; s < 100; s++) {
    recs.push(frameRecord(encodeEvent({ wallTime: 1.7e9 + s, step: s, summary: [histogramSummaryValue('dense/kernel/histogram', histogramBuckets(values))] })));
  }
  const out = new Uint8Array(recs.reduce((n, r) => n + r.length, 0));
  let o = 0;
  for (const r of recs) {
    out.set(r, o);
    o += r.length;
  }
  return out;
}

const files = Array.from({ length: runs }, (_, i) => ({ path: `logs/run${String(i).padStart(3, '0')}/events.out.tfevents.1.h.v2`, data: runFile(i) }));
const bytes = files.reduce((n, f) => n + f.data.length, 0);
const dir = mkdtempSync(join(tmpdir(), 'wl-tb-bench-'));
for (const f of files) {
  const p = join(dir, f.path.slice('logs/'.length));
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, f.data);
}

async function best(label: string, fn: () => Promise<unknown>): Promise<void> {
  let min = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t);
  }
  const records = runs * (2 * points + 100);
  console.log(`${label.padEnd(28)} ${min.toFixed(0).padStart(6)} ms  ${(bytes / 2 ** 20 / (min / 1000)).toFixed(0).padStart(5)} MiB/s  ${((records / min) * 1000 / 1e6).toFixed(2)} M records/s`);
}

console.log(`${runs} runs × (2 scalar tags × ${points} points + 1 histogram tag × 100 steps): ${(bytes / 2 ** 20).toFixed(1)} MiB`);
try {
  await best('readRunFiles (in memory)', async () => {
    const r = await readRunFiles(files);
    if (r.length !== runs || r[0].scalars.epoch_loss.length !== points) throw new Error('wrong result');
  });
  await best('readLogDir (files on disk)', async () => {
    const r = await readLogDir(dir);
    if (r.length !== runs) throw new Error('wrong result');
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
