/**
 * `init({ threads: 'auto' })`, the default: use fewer threads when more would be slower.
 *
 * On an idle machine every thread of the pool helps. When another process competes for the cores (a
 * build, a browser tab, a second training job), a pool thread that is off the CPU still holds the tiles it
 * claimed, and two threads can end up slower than one. So the choice is measured, per program (a training
 * step, an evaluation step…), where it matters: every so often a program runs a few times on one thread
 * and on the whole pool, in alternating blocks (so that the machine's drift cancels out), and uses the pool
 * only when it was faster by a margin. When it is not, its extra threads would only take cores from
 * whatever else runs: with one other CPU-bound process on two cores the OS gives this process one core's
 * worth for all its threads, and one thread and two came out even (bench/fit.ts, contention rounds). The
 * comparisons get rarer while the answer stays the same. A program built again for the same model and batch
 * (each `fit` plans its steps anew over its own index buffer) has the same length, and starts from the
 * decision and spacing its predecessor reached, instead of 24 runs on the pool and a fresh series of
 * comparisons. Results do not depend on any of it: tiles are the same whatever the thread count (see
 * crates/kernels/src/pool.rs).
 *
 * The cost: one `performance.now()` pair and one Map lookup per run, and a few runs on the slower
 * setting per comparison (about 1% of the runs once the answer is stable).
 */

/**
 * A comparison: blocks of BLOCK runs, alternating settings, BLOCKS blocks per setting; the first run of a
 * block is not counted (after a switch the pool's threads may be asleep, which a steady run never pays).
 */
const BLOCK = 4;
const BLOCKS = 2;
const PROBE_RUNS = 2 * BLOCKS * BLOCK;
/** Counted runs per setting. */
const COUNTED = BLOCKS * (BLOCK - 1);
/** Runs between comparisons: starts short, doubles while the answer stays the same. */
const FIRST_INTERVAL = 24;
const MAX_INTERVAL = 1536;
/** The pool is used when one thread is this much slower than it (noise margin). */
const MARGIN = 1.04;

interface ProgramStats {
  /** The program's length in words. */
  words: number;
  runs: number;
  /** Threads this program runs on outside comparisons. */
  choice: number;
  interval: number;
  nextProbe: number;
  /** Remaining runs of the current comparison (0: not comparing). */
  probing: number;
  /** Milliseconds per setting in the current comparison: [1 thread, whole pool]. */
  sum: [number, number];
  worst: [number, number];
}

export interface AutoThreadsState {
  /** Threads the last decision uses (for the program run most). */
  active: number;
  /** Why: the comparison behind the decision. */
  reason: string;
}

export class AutoThreads {
  private readonly programs = new Map<number, ProgramStats>();
  /** The last decision for programs of each length: where a new program of that length starts. */
  private readonly byLength = new Map<number, { choice: number; interval: number }>();
  private mostRuns = 0;
  private current = -1;
  private startedAt = 0;
  private arm = 0;
  private counted = false;
  private stats: ProgramStats | null = null;

  constructor(
    private readonly pool: number,
    /** Sets the number of threads taking part in the next runs. */
    private readonly configure: (threads: number) => void,
    /** Receives the state each time a decision is made. */
    private readonly report: (s: AutoThreadsState) => void,
    /** The clock (tests drive it). */
    private readonly now: () => number = () => performance.now(),
  ) {
    report({ active: pool, reason: `${pool} threads until the first comparison` });
  }

  /** Someone else configured the pool: set it again before the next run. */
  invalidate(): void {
    this.current = -1;
  }

  /** Before a run of the program at `ptr` (`words` long): sets the threads for this run. */
  begin(ptr: number, words: number): void {
    const key = ptr * 4194304 + words; // exact: ptr < 2^32, words < 2^22
    let s = this.programs.get(key);
    if (!s) {
      const { choice, interval } = this.byLength.get(words) ?? { choice: this.pool, interval: FIRST_INTERVAL };
      s = { words, runs: 0, choice, interval, nextProbe: interval, probing: 0, sum: [0, 0], worst: [0, 0] };
      this.programs.set(key, s);
    }
    s.runs++;
    if (s.probing === 0 && s.runs >= s.nextProbe) {
      s.probing = PROBE_RUNS;
      s.sum[0] = s.sum[1] = s.worst[0] = s.worst[1] = 0;
    }
    // Comparing: blocks of each setting in turn, starting with the one not in use.
    let t = s.choice;
    this.arm = -1;
    if (s.probing > 0) {
      const i = PROBE_RUNS - s.probing;
      const arm = ((i / BLOCK) & 1) ^ (s.choice === 1 ? 1 : 0);
      t = arm === 0 ? 1 : this.pool;
      this.counted = i % BLOCK !== 0;
      this.arm = arm;
    }
    if (t !== this.current) {
      this.configure(t);
      this.current = t;
    }
    this.stats = s;
    this.startedAt = this.now();
  }

  /** After the run started by `begin`. */
  end(): void {
    const ms = this.now() - this.startedAt;
    const s = this.stats;
    this.stats = null;
    if (!s || this.arm < 0) return;
    if (this.counted) {
      s.sum[this.arm] += ms;
      if (ms > s.worst[this.arm]) s.worst[this.arm] = ms;
    }
    if (--s.probing > 0) return;
    // Drop each setting's worst run (a page fault, a GC pause, a timer interrupt landing in it).
    const one = (s.sum[0] - s.worst[0]) / (COUNTED - 1);
    const all = (s.sum[1] - s.worst[1]) / (COUNTED - 1);
    const before = s.choice;
    s.choice = one > all * MARGIN ? this.pool : 1;
    s.interval = s.choice === before ? Math.min(MAX_INTERVAL, s.interval * 2) : FIRST_INTERVAL;
    s.nextProbe = s.runs + s.interval;
    this.byLength.set(s.words, { choice: s.choice, interval: s.interval });
    if (s.runs >= this.mostRuns) {
      this.mostRuns = s.runs;
      const f = (x: number) => (x >= 1 ? x.toFixed(2) : x.toPrecision(2));
      // Why, in words, when one thread was chosen: the pool was slower, or not faster by the margin.
      const why = s.choice === this.pool ? '' : all > one ? ' (the other cores are busy: more threads were slower)' : ` (more threads were not ${Math.round((MARGIN - 1) * 100)}% faster)`;
      this.report({
        active: s.choice,
        reason:
          `${s.choice} thread${s.choice > 1 ? 's' : ''}: the last comparison (run ${s.runs} of the most-run program) measured ` +
          `${f(all)} ms per run on ${this.pool} threads vs ${f(one)} ms on 1${why}`,
      });
    }
  }
}
