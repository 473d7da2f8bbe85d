/**
 * Issue 12, "done when": 10 SIGKILLs at random moments of a 3-epoch MNIST fit with backupAndRestore, each
 * followed by a restart of the same program, end with weights (and Adam's state) bitwise equal to a run that
 * was never interrupted, with 1 and 2 threads. The child (helpers/resume-child.ts) is a real fit with dropout,
 * shuffling and a validation split, backing up every 3 batches, so kills land mid-epoch and mid-backup.
 * Kill moments are seeded: run k is killed a random 0–15 ms after its n-th batch (n random in 0..22; the
 * batches of a run are 45 per epoch, 135 in all), so kills walk through the three epochs whatever the
 * machine's speed, and land inside steps, inside backups being written, or before the first backup.
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
}

/** Runs the child; with `kill`, SIGKILLs it `ms` after its `batches`-th batch (0: after it starts training). */
function runChild(dir: string, threads: number, opts: { plain?: boolean; kill?: { batches: number; ms: number } } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', CHILD, dir, String(threads), ...(opts.plain ? ['plain'] : [])];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    let stderr = '';
    let batches = 0;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (opts.kill && !timer) timer = setTimeout(() => child.kill('SIGKILL'), opts.kill.ms);
    };
    const limit = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line === 'started') {
          if (opts.kill?.batches === 0) arm();
        }
        if (line === 'b' && ++batches === opts.kill?.batches) arm();
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (timer) clearTimeout(timer);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child failed (${code ?? signal}): ${stderr}`));
      else resolve({ lines, code, signal });
    });
  });
}

const doneHash = (r: Run) => r.lines.find((l) => l.startsWith('done '))?.slice(5);

/** Ten kills at seeded moments, each followed by a restart, then a last run to the end; returns its hash. */
async function killSeries(threads: number): Promise<{ reference: string; final: string; resumedFrom: string[] }> {
  // Unbroken, with the callback: the reference bits.
  const whole = await runChild(join(work, `whole-${threads}`), threads);
  const reference = doneHash(whole);
  expect(reference, `threads ${threads}: ${whole.lines.join(' | ')}`).toMatch(/^[0-9a-f]{64}$/);

  const dir = join(work, `backup-${threads}`);
  const rng = new Rng(1000 + threads);
  const resumedFrom: string[] = [];
  let kills = 0;
  for (let runs = 0; kills < 10; runs++) {
    expect(runs, `threads ${threads}: too many runs ended before their kill`).toBeLessThan(30);
    const r = await runChild(dir, threads, { kill: { batches: rng.u32() % 23, ms: rng.u32() % 16 } });
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
