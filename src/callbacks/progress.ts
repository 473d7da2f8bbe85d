import { Callback, type Logs } from './base.js';

/**
 * Keras-style progress output for `fit` (Keras 2.x `ProgbarLogger`/`Progbar` formats).
 *
 * verbose 1 on a TTY — `Epoch 1/5`, then a bar redrawn in place with `\r` (at most every `interval` ms, plus the last
 * step), finished at the end of the epoch with the timing and the epoch logs:
 *
 *     Epoch 1/5
 *       63/1875 [>.............................] - ETA: 12s - loss: 0.9821 - accuracy: 0.7193
 *     1875/1875 [==============================] - 4s 2ms/step - loss: 0.2214 - accuracy: 0.9344 - val_loss: 0.1093 - val_accuracy: 0.9666
 *
 * verbose 2, or verbose 1 when the output is not a TTY (pipes, CI) — one summary line per epoch:
 *
 *     Epoch 1/5
 *     1875/1875 - 4s - 2ms/step - loss: 0.2214 - accuracy: 0.9344 - val_loss: 0.1093 - val_accuracy: 0.9666
 *
 * verbose 0 prints nothing. Values are the ones passed in the logs (batch logs hold the epoch's running averages),
 * in the order given, formatted like Keras: `%.4f`, or `%.4e` when |v| ≤ 1e-3.
 */
export interface ProgressBarOptions {
  /** Where text goes (default `process.stdout.write`; in browsers, `console.log` one line at a time). */
  write?: (s: string) => void;
  /**
   * Whether `write` goes to a terminal that understands `\r`. Default: `process.stdout.isTTY` when writing to stdout;
   * false with a custom `write` or in browsers.
   */
  isTTY?: boolean;
  /** Clock in milliseconds (default `performance.now()`). */
  now?: () => number;
  /** Minimum time between redraws of the in-place bar, in ms (default 50, like Keras' 0.05 s). */
  interval?: number;
  /** Width of the bar in characters (default 30). */
  width?: number;
}

/** Keys of the logs that are bookkeeping, not metrics. */
const SKIPPED_KEYS = new Set(['batch', 'size']);

/**
 * Python's `'%.{digits}f' % x`: like `toFixed`, but exact ties round half to even as Python does, and non-finite
 * values print as `nan`/`inf`/`-inf`.
 */
export function pyFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const s = x.toFixed(digits);
  if (Math.abs(x) >= 1e21) return s;
  // Exact decimal expansion far enough to tell a true tie (…5000…) from a near one.
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 25));
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 1 + digits);
  if (!/^50*$/.test(tail)) return s;
  const kept = digits === 0 ? exact.slice(0, dot) : exact.slice(0, dot + 1 + digits);
  const last = Number(kept[kept.length - 1]);
  if (last % 2 === 1) return s; // JS rounded away from zero, onto the even neighbour
  return (x < 0 || Object.is(x, -0) ? '-' : '') + kept;
}

/** Python's `'%.{digits}e' % x` (exponent with a sign and at least two digits). */
export function pyExp(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const [mantissa, exp] = x.toExponential(digits).split('e');
  const e = Number(exp);
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** A metric value as Keras prints it: `%.4f`, or `%.4e` when |v| ≤ 1e-3 (so 0 prints as `0.0000e+00`). */
export function formatLogValue(v: number): string {
  return Math.abs(v) > 1e-3 ? pyFixed(v, 4) : pyExp(v, 4);
}

/** ` - loss: 0.1234 - accuracy: 0.9876` for the numeric entries of `logs`, in their order. */
export function formatLogs(logs: Logs | undefined): string {
  let out = '';
  if (!logs) return out;
  for (const [k, v] of Object.entries(logs)) {
    if (SKIPPED_KEYS.has(k) || typeof v !== 'number') continue;
    out += ` - ${k}: ${formatLogValue(v)}`;
  }
  return out;
}

/** Time per step like Keras: `2s`, `15ms`, `830us` (seconds given). */
export function formatStepTime(secondsPerStep: number): string {
  if (secondsPerStep >= 1 || secondsPerStep === 0) return `${pyFixed(secondsPerStep, 0)}s/step`;
  if (secondsPerStep >= 1e-3) return `${pyFixed(secondsPerStep * 1e3, 0)}ms/step`;
  return `${pyFixed(secondsPerStep * 1e6, 0)}us/step`;
}

/** ETA like Keras: `12s`, `1:05`, `1:02:03` (seconds given; truncated to whole seconds). */
export function formatEta(seconds: number): string {
  const t = Math.max(0, Math.floor(seconds));
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (seconds > 3600) return `${Math.floor(t / 3600)}:${pad(Math.floor((t % 3600) / 60))}:${pad(t % 60)}`;
  if (seconds > 60) return `${Math.floor(t / 60)}:${pad(t % 60)}`;
  return `${t}s`;
}

function defaultNow(): () => number {
  if (typeof performance !== 'undefined' && typeof performance.now === 'function') return () => performance.now();
  return () => Date.now();
}

/** A writer for environments without `process.stdout`: buffers text and logs whole lines. */
function consoleLineWriter(): (s: string) => void {
  let buffered = '';
  return (s: string) => {
    buffered += s;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      console.log(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  };
}

function stdout(): { write(s: string): unknown; isTTY?: boolean } | undefined {
  return typeof process !== 'undefined' && process.stdout && typeof process.stdout.write === 'function'
    ? process.stdout
    : undefined;
}

/** Prints Keras-style progress during `fit`; see {@link ProgressBarOptions}. */
export class ProgressBarLogger extends Callback {
  override readonly keepsBatchLogs = false;
  private readonly write: (s: string) => void;
  private readonly isTTY: boolean;
  private readonly now: () => number;
  private readonly interval: number;
  private readonly width: number;

  private epochStart = 0;
  private lastDraw = -Infinity;
  /** Length of the current in-place line, to blank out leftovers when a redraw is shorter. */
  private lineWidth = 0;
  /** Whether an in-place line has been drawn and not yet ended with a newline. */
  private lineOpen = false;
  private seen = 0;

  constructor(options: ProgressBarOptions = {}) {
    super();
    const out = stdout();
    if (options.write) {
      this.write = options.write;
    } else if (out) {
      this.write = (s) => void out.write(s);
    } else {
      this.write = consoleLineWriter();
    }
    this.isTTY = options.isTTY ?? (options.write ? false : out?.isTTY === true);
    this.now = options.now ?? defaultNow();
    this.interval = options.interval ?? 50;
    this.width = options.width ?? 30;
  }

  private get verbose(): 0 | 1 | 2 {
    return this.params?.verbose ?? 1;
  }

  /** Whether the in-place bar is used (verbose 1 on a TTY). */
  private get dynamic(): boolean {
    return this.verbose === 1 && this.isTTY;
  }

  private get steps(): number {
    return this.params?.steps ?? 0;
  }

  override onEpochBegin(epoch: number): void {
    if (this.verbose === 0) return;
    this.endLine();
    const epochs = this.params?.epochs;
    this.write(`Epoch ${epoch + 1}/${epochs ?? '?'}\n`);
    this.epochStart = this.now();
    this.lastDraw = -Infinity;
    this.lineWidth = 0;
    this.seen = 0;
  }

  override onBatchEnd(batch: number, logs?: Logs): void {
    if (!this.dynamic) {
      this.seen = batch + 1;
      return;
    }
    const current = batch + 1;
    this.seen = current;
    const now = this.now();
    if (now - this.lastDraw < this.interval && current !== this.steps) return;
    this.lastDraw = now;
    const elapsed = (now - this.epochStart) / 1000;
    let info: string;
    if (this.steps > 0) {
      const eta = (elapsed / current) * (this.steps - current);
      info = ` - ETA: ${formatEta(eta)}`;
    } else {
      info = ` - ${pyFixed(elapsed, 0)}s`;
    }
    this.redraw(this.bar(current) + info + formatLogs(logs));
  }

  override onEpochEnd(_epoch: number, logs?: Logs): void {
    if (this.verbose === 0) return;
    const current = this.seen;
    const elapsed = (this.now() - this.epochStart) / 1000;
    const perStep = formatStepTime(current > 0 ? elapsed / current : 0);
    const total = pyFixed(elapsed, 0);
    if (this.dynamic) {
      this.redraw(`${this.bar(current)} - ${total}s ${perStep}${formatLogs(logs)}`);
      this.endLine();
    } else {
      this.write(`${this.count(current)} - ${total}s - ${perStep}${formatLogs(logs)}\n`);
    }
  }

  override onTrainEnd(): void {
    this.endLine();
  }

  /** `  37/1875` with the count right-aligned to the width of the total, or `     37/Unknown`. */
  private count(current: number): string {
    if (!(this.steps > 0)) return `${String(current).padStart(7)}/Unknown`;
    const digits = String(Math.floor(this.steps)).length;
    return `${String(current).padStart(digits)}/${this.steps}`;
  }

  /** `  37/1875 [>.............................]` (Keras: `=` done, `>` head while running, `.` to go). */
  private bar(current: number): string {
    if (!(this.steps > 0)) return this.count(current);
    const filled = Math.min(this.width, Math.floor((this.width * current) / this.steps));
    let bar = '';
    if (filled > 0) bar += '='.repeat(filled - 1) + (current < this.steps ? '>' : '=');
    bar += '.'.repeat(this.width - filled);
    return `${this.count(current)} [${bar}]`;
  }

  /** Rewrites the in-place line, padding with spaces over what a longer previous line left behind. */
  private redraw(line: string): void {
    const pad = this.lineWidth > line.length ? ' '.repeat(this.lineWidth - line.length) : '';
    this.write('\r' + line + pad);
    this.lineWidth = line.length;
    this.lineOpen = true;
  }

  private endLine(): void {
    if (!this.lineOpen) return;
    this.write('\n');
    this.lineOpen = false;
    this.lineWidth = 0;
  }
}
