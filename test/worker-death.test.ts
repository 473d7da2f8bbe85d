/**
 * Issue 12 item 3: a pool worker that dies in any way — a trap, `Worker.terminate()` (from a fit callback,
 * or from a timer through Node's own method, bypassing the pool's bookkeeping), `process.exit` inside it,
 * running out of JS heap, or its thread just ending — makes the pending call reject with an error that
 * says so, every later call on that backend reject, and the next `init()` give a working backend.
 *
 * Each way runs in a child process with a kill timer: a thread blocked inside wasm cannot be interrupted
 * by a vitest timeout, and a hang is exactly the failure looked for.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, 'src', p)).href);
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'wl-worker-death-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SCRIPT = `
const wl = await import(${SRC('index.ts')});
const { backend } = await import(${SRC('backend/backend.ts')});
const how = process.argv[2];
const N = 512;
const data = () => [
  wl.tensor(Float32Array.from({ length: N * 8 }, (_, i) => Math.sin(i * 0.37)), [N, 8]),
  wl.tensor(Int32Array.from({ length: N }, (_, i) => i % 3), [N]),
];
const model = () => {
  const m = wl.sequential([wl.layers.dense({ units: 64, inputShape: [8], activation: 'relu' }), wl.layers.dense({ units: 3, activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  return m;
};
const say = (...a) => console.log(...a);
const first = (e) => e.message.split('\\n')[0];
await wl.init({ threads: 2 });
let [x, y] = data();
let t0 = 0;
const worker = () => backend().workers[0];
if (how === 'terminate-callback' || how === 'terminate-timer') {
  const m = model();
  let timer;
  const cb = new (class extends wl.Callback {
    onBatchEnd(batch) {
      if (how === 'terminate-callback' && batch === 2 && !t0) { t0 = Date.now(); worker().terminate(); }
    }
  })();
  if (how === 'terminate-timer') {
    // Node's own terminate, not the pool's wrapper: only the watchdog can tell the blocked caller.
    const w = worker();
    timer = setTimeout(() => { t0 = Date.now(); Object.getPrototypeOf(w).terminate.call(w); }, 100);
  }
  try {
    await m.fit(x, y, { epochs: 1000, batchSize: 8, verbose: 0, callbacks: [cb] });
    say('PENDING resolved');
  } catch (e) {
    say('PENDING rejected', Date.now() - t0, first(e));
  }
  clearTimeout(timer);
} else {
  t0 = Date.now();
  try {
    backend().debugKillWorker(1, how);
    say('PENDING resolved');
  } catch (e) {
    say('PENDING rejected', Date.now() - t0, first(e));
  }
}
// every later call on this backend rejects
try {
  await model().fit(x, y, { epochs: 1, verbose: 0 });
  say('LATER resolved');
} catch (e) {
  say('LATER rejected', first(e));
}
// the next init() gives a working backend
const info = await wl.init();
[x, y] = data();
const h = await model().fit(x, y, { epochs: 2, batchSize: 32, verbose: 0 });
say('AFTER', info.threads, h.history.loss.every(Number.isFinite) ? 'finite' : 'NaN');
console.log('DONE');
`;

function runChild(how: string, killAfterMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  const file = join(scratch, 'death.mjs');
  writeFileSync(file, SCRIPT);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, how], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

const WAYS: [how: string, pending: RegExp][] = [
  ['trap', /worker thread 1 died during a kernel/],
  ['terminate-callback', /worker thread 1 died: it was stopped with Worker\.terminate\(\)/],
  ['terminate-timer', /worker thread 1 died: its thread ended without a word \(out of memory, terminated or crashed\)/],
  ['exit', /worker thread 1 died: its thread exited with code 70 \(process\.exit\(\) or its event loop ended\)/],
  ['out-of-memory', /worker thread 1 died: its thread ended without a word \(out of memory, terminated or crashed\)/],
  ['silent', /worker thread 1 died: its thread exited with code 0/],
];

describe('a pool worker that dies', () => {
  for (const [how, pending] of WAYS) {
    it(`by ${how}: the pending call rejects saying so, later calls reject, init() recovers`, async () => {
      const r = await runChild(how);
      expect(r.timedOut, `child hung; output so far:\n${r.stdout}\n${r.stderr}`).toBe(false);
      expect(r.code, r.stderr).toBe(0);
      const line = (t: string) => r.stdout.split('\n').find((l) => l.startsWith(`${t} `)) ?? `${t} (missing)`;
      const m = /^PENDING rejected (\d+) (.*)$/.exec(line('PENDING'));
      expect(m, line('PENDING')).not.toBeNull();
      expect(m![2]).toMatch(pending);
      // bounded: the caller notices within seconds (the bound is generous for a busy 2-core machine)
      expect(Number(m![1])).toBeLessThan(15_000);
      expect(line('LATER')).toMatch(/^LATER rejected wasm-layers: the thread pool is broken \(worker thread 1 died.*call init\(\) again/);
      expect(line('AFTER')).toBe('AFTER 2 finite');
      console.log(`${how}: rejected ${m![1]} ms after the death began`);
    }, 70_000);
  }
});
