/**
 * Issue 12, "done when": 10 SIGKILLs at random moments of a 3-epoch MNIST fit with backupAndRestore, each
 * followed by a restart of the same program, end with weights (and Adam's state) bitwise equal to a run that
 * was never interrupted, with 1 and 2 threads. The child (helpers/resume-child.ts) is a real fit with dropout,
 * shuffling and a validation split, backing up every 3 batches, so kills land mid-epoch and mid-backup.
 * Kill moments are seeded; how far each run gets before its kill depends on the machine, which is the point:
 * any moment must do.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from './helpers/rand.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = join(ROOT, 'test/helpers/resume-child.ts');
const work = mkdtempSync(join(tmpdir(), 'wl-resume-kill-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms from `started` to exit (runs not killed). */
  trainMs: number;
}

/** Runs the child; with `killAfter`, SIGKILLs it that many ms after it prints `started`. */
function runChild(dir: string, threads: number, opts: { plain?: boolean; killAfter?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', CHILD, dir, String(threads), ...(opts.plain ? ['plain'] : [])];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    let stderr = '';
    let startedAt = 0;
    let timer: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line === 'started') {
          startedAt = performance.now();
          if (opts.killAfter !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), opts.killAfter);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (timer) clearTimeout(timer);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child failed (${code ?? signal}): ${stderr}`));
      else resolve({ lines, code, signal, trainMs: startedAt ? performance.now() - startedAt : 0 });
    });
  });
}

const doneHash = (r: Run) => r.lines.find((l) => l.startsWith('done '))?.slice(5);

/** Ten kills at seeded moments, each followed by a restart, then a last run to the end; returns its hash. */
async function killSeries(threads: number): Promise<{ reference: string; final: string; resumedFrom: string[] }> {
  // Unbroken, with the callback: the reference bits, and how long training takes with backups (fsyncs).
  const whole = await runChild(join(work, `whole-${threads}`), threads);
  const reference = doneHash(whole);
  expect(reference, `threads ${threads}: ${whole.lines.join(' | ')}`).toMatch(/^[0-9a-f]{64}$/);

  const dir = join(work, `backup-${threads}`);
  const rng = new Rng(1000 + threads);
  // Ten moments spread over that training time, sorted; run k is killed the gap between moments k-1 and k
  // after it starts training, so the kills fall ever later in the run (a restart loses what came after the
  // last backup; some kills land before the first backup, some inside a backup being written).
  const moments = Array.from({ length: 10 }, () => rng.next() * 0.95 * whole.trainMs).sort((a, b) => a - b);
  const resumedFrom: string[] = [];
  let kills = 0;
  for (let runs = 0; kills < 10; runs++) {
    expect(runs, `threads ${threads}: too many runs ended before their kill`).toBeLessThan(30);
    const r = await runChild(dir, threads, { killAfter: Math.floor(moments[kills] - (kills ? moments[kills - 1] : 0)) });
    resumedFrom.push(r.lines.find((l) => l.startsWith('resume '))!.slice(7));
    if (r.signal === 'SIGKILL') kills++;
    else expect(doneHash(r), `threads ${threads}: a run that finished before its kill`).toBe(reference); // then the next starts over
  }
  const last = await runChild(dir, threads);
  resumedFrom.push(last.lines.find((l) => l.startsWith('resume '))!.slice(7));
  // A completed run deletes its backup (deleteCheckpoint defaults to true).
  expect(readdirSync(work)).not.toContain(`backup-${threads}`);
  return { reference: reference!, final: doneHash(last)!, resumedFrom };
}

describe('backupAndRestore under SIGKILL', () => {
  it('10 kills at random moments, each restarted: final weights bitwise equal to the unbroken run (1 and 2 threads, side by side)', async () => {
    const [one, two] = await Promise.all([killSeries(1), killSeries(2)]);
    for (const [threads, r] of [[1, one], [2, two]] as const) {
      const why = `threads ${threads}, resumed from (epoch batch): ${r.resumedFrom.join(', ')}`;
      expect(r.final, why).toBe(r.reference);
      // The runs did resume from backups, some of them in the middle of an epoch.
      expect(r.resumedFrom[0], why).toBe('none');
      expect(r.resumedFrom.filter((p) => p !== 'none' && !p.endsWith(' 0')).length, why).toBeGreaterThan(0);
    }
    // And the library's promise across thread counts holds for these runs too.
    expect(two.reference).toBe(one.reference);
  }, 400_000);
});
