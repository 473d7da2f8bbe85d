/**
 * threads: 'auto' (src/backend/auto-threads.ts): the decision logic, driven by a fake clock — which setting
 * each run gets, and what it keeps when one setting is measurably faster. (That results do not depend on it
 * is checked in determinism.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { AutoThreads, type AutoThreadsState } from '../src/backend/auto-threads.js';

/** Runs `runs` runs of one program; a run on t threads takes cost(t, run) ms. Returns the thread count of each run. */
function drive(pool: number, runs: number, cost: (t: number, run: number) => number) {
  let clock = 0;
  let threads = pool;
  const states: AutoThreadsState[] = [];
  const a = new AutoThreads(pool, (t) => (threads = t), (s) => states.push(s), () => clock);
  const used: number[] = [];
  for (let r = 0; r < runs; r++) {
    a.begin(4096, 100);
    used.push(threads);
    clock += cost(threads, r);
    a.end();
  }
  return { used, states };
}

describe("threads: 'auto'", () => {
  it('keeps the whole pool when it is faster, comparing less and less often', () => {
    const { used, states } = drive(2, 3000, (t) => (t === 2 ? 1 : 1.8));
    expect(states.at(-1)!.active).toBe(2);
    expect(states.at(-1)!.reason).toMatch(/^2 threads: .* 1\.00 ms per run on 2 threads vs 1\.80 ms on 1/);
    const single = used.filter((t) => t === 1).length;
    expect(single).toBeGreaterThan(0); // it did compare…
    expect(single).toBeLessThan(3000 * 0.05); // …but spent < 5% of the runs on the slower setting
  });

  it('switches to one thread when the pool is slower (a busy machine), and back when that changes', () => {
    let busy = true;
    const { used, states } = drive(2, 4000, (t, r) => {
      if (r === 2000) busy = false;
      return t === 2 ? (busy ? 2.5 : 1) : 1.8;
    });
    const at = (from: number, to: number) => used.slice(from, to);
    expect(at(300, 2000).filter((t) => t === 1).length).toBeGreaterThan(1700 * 0.9); // mostly 1 thread while busy
    expect(at(3600, 4000).filter((t) => t === 2).length).toBeGreaterThan(400 * 0.9); // the pool again after
    expect(states.some((s) => s.active === 1 && /more threads were slower/.test(s.reason))).toBe(true);
    expect(states.at(-1)!.active).toBe(2);
  });

  it('uses one thread when the pool is not faster by the margin, and says so', () => {
    // Busy at first (one thread chosen), then the pool is 2% faster: within the margin, one thread stays.
    const { states } = drive(2, 3000, (t, r) => (t === 2 ? (r < 500 ? 2.5 : 0.98) : 1));
    const last = states.at(-1)!;
    expect(last.active).toBe(1);
    expect(last.reason).toMatch(/0\.98 ms per run on 2 threads vs 1\.00 ms on 1 \(more threads were not 4% faster\)$/);
    expect(last.reason).not.toMatch(/more threads were slower/);
  });

  it('leaves the pool for one thread when the two are even (a contended machine), and does not flip back on noise', () => {
    // The pool within ±0.6% of one thread from the start: the first comparison moves to one thread, for good.
    const { used, states } = drive(2, 3000, (t, r) => (t === 2 ? 1 + (r % 7) * 0.001 : 1.003));
    expect(states.filter((s) => s.active === 2).map((s) => s.reason)).toEqual([expect.stringMatching(/until the first comparison/)]);
    expect(states.at(-1)!.active).toBe(1);
    expect(used.slice(100).filter((t) => t === 2).length).toBeLessThan(2900 * 0.05); // the pool only in comparisons
  });

  it('a program built again for the same model and batch (same length) starts where its predecessor left off', () => {
    // A busy machine: the pool is slower. One program runs 1,000 times, then a rebuilt one of the same length
    // (a second fit), then one of another length (another batch size or model).
    let clock = 0;
    let threads = 2;
    const a = new AutoThreads(2, (t) => (threads = t), () => {}, () => clock);
    const run = (ptr: number, words: number, n: number) => {
      const used: number[] = [];
      for (let r = 0; r < n; r++) {
        a.begin(ptr, words);
        used.push(threads);
        clock += threads === 2 ? 2.5 : 1.8;
        a.end();
      }
      return used;
    };
    const first = run(4096, 100, 1000);
    expect(first.slice(0, 23).every((t) => t === 2)).toBe(true); // the first program starts on the pool
    const again = run(8192, 100, 1000);
    // On one thread from its first run; its first comparison (8 runs on the pool) comes after the spacing the
    // first program had reached (768 runs), not after 24.
    expect(again.indexOf(2)).toBe(767);
    expect(again.filter((t) => t === 2).length).toBe(8);
    const other = run(12288, 77, 30);
    expect(other.slice(0, 23).every((t) => t === 2)).toBe(true);
  });

  it('a switch costs the first run of each block nothing in the comparison (a woken pool is not counted)', () => {
    // The first run after each switch to the pool is slow (workers waking); steady runs are fast.
    let last = 0;
    const { states } = drive(2, 1000, (t) => {
      const first = t !== last;
      last = t;
      return t === 2 ? (first ? 5 : 1) : 1.5;
    });
    expect(states.at(-1)!.active).toBe(2);
  });
});
