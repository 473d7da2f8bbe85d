/**
 * Durability of TensorBoard logs (issue 5): a training process killed with SIGKILL in the middle of an epoch
 * leaves event files whose records are all valid, with every finished epoch's scalars and histograms in them
 * (each epoch is flushed and fsynced before the next one starts). The child is a real `fit` with the callback.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { eventFilesIn, points, readEventFile } from './helpers/tfevents-reader.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wl-tb-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Trains "forever" on synthetic data; after each epoch end it creates marker files the parent waits for.
const CHILD = `
import { writeFileSync } from 'node:fs';
const wl = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'src/index.ts')).href)});
await wl.init({ threads: 1 });
wl.setSeed(1);
const n = 512;
const x = wl.tensor(Float32Array.from({ length: n * 8 }, (_, i) => Math.sin(i)), [n, 8]);
const y = wl.tensor(Int32Array.from({ length: n }, (_, i) => i % 3), [n]);
const model = wl.sequential([wl.layers.dense({ inputShape: [8], units: 16, activation: 'relu' }), wl.layers.dense({ units: 3, activation: 'softmax' })]);
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
class Marker extends wl.Callback {
  onEpochEnd(epoch) { writeFileSync(${JSON.stringify(join(dir, 'epoch-'))} + epoch, ''); }
}
await model.fit(x, y, { epochs: 100000, batchSize: 8, verbose: 0, validationSplit: 0.25,
  callbacks: [wl.callbacks.tensorBoard(${JSON.stringify(join(dir, 'logs'))}, { histogramFreq: 1 }), new Marker()] });
`;

describe('TensorBoard files of a killed run', () => {
  it('SIGKILL mid-training leaves valid files with every finished epoch', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // wait until at least 3 epochs have ended (bounded), then kill without warning
    const t0 = Date.now();
    while (!existsSync(join(dir, 'epoch-2'))) {
      if (Date.now() - t0 > 60_000 || child.exitCode !== null) throw new Error(`child did not reach epoch 3: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 37)); // land somewhere inside a later epoch
    child.kill('SIGKILL');
    await exited;
    const finished = readdirSync(dir).filter((f) => f.startsWith('epoch-')).length;
    expect(finished).toBeGreaterThanOrEqual(3);

    for (const run of ['train', 'validation']) {
      const files = eventFilesIn(join(dir, 'logs', run));
      expect(files).toHaveLength(1);
      const f = readEventFile(files[0]);
      // every record that is there is valid; at most the tail is cut (and only if the kill hit a write)
      expect(f.stop === null || f.stop === 'truncated').toBe(true);
      expect(f.events[0].fileVersion).toBe('brain.Event:2');
      const steps = (tag: string) => points(f.events).filter((p) => p.value.tag === tag).map((p) => p.step);
      const loss = steps('epoch_loss');
      // the epochs whose end was observed are all there (the marker is written after the callback's
      // flush), in order, without gaps
      expect(loss.length).toBeGreaterThanOrEqual(finished);
      expect(loss).toEqual(loss.map((_, i) => i));
      expect(steps('epoch_accuracy')).toEqual(loss);
      if (run === 'train') for (const w of ['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias']) expect(steps(`sequential/${w}/histogram`).slice(0, loss.length)).toEqual(loss);
    }
  }, 90_000);
});
