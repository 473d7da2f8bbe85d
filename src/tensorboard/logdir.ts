/**
 * Log directories on disk (Node, Deno, Bun): TensorBoard's run rules over a folder tree, and a watcher that
 * follows growing event files by reading only their new bytes.
 *
 * `node:fs` is loaded at call time (see `nodeModules` in platform.ts), so importing this module in a browser bundle is
 * harmless; calling it there throws a clear error.
 *
 * Rules, as TensorBoard applies them: every folder holding a file whose name contains `tfevents` is a run,
 * named by its path under the log dir (`/`-separated, `.` for the log dir itself); a run's files are read in
 * name order. Only regular files are read (FIFOs, sockets and devices are skipped, and files are opened
 * non-blocking then checked with fstat, so a FIFO swapped in cannot hang the reader); folders reached
 * through symbolic links are not entered (no cycles). Files above `maxFileBytes` are read up to that bound.
 */

import { nodeModules as loadNodeModules, type NodeModules } from '../platform.js';
import { isEventFileName, RunAccumulator, type ReadIssue, type RunData } from './reader.js';

export interface LogDirOptions {
  /** Bytes read per file at most (default 4 GiB); the rest is reported as an issue and not read. */
  maxFileBytes?: number;
  /** Folder depth searched below the log dir (default 16). */
  maxDepth?: number;
}

const DEFAULT_MAX_FILE_BYTES = 4 * 2 ** 30;
const DEFAULT_MAX_DEPTH = 16;
/** Read size: bounds the memory a large file needs while it is read. */
const CHUNK = 8 * 2 ** 20;

async function nodeModules(): Promise<NodeModules> {
  const mods = await loadNodeModules();
  if (!mods) throw new Error('reading a log directory needs node:fs (Node, Deno or Bun); in a browser use readRunFiles()');
  return mods;
}

interface Found {
  run: string;
  /** Absolute path. */
  path: string;
}

/** Event files under `dir`, grouped as runs; sorted by run, then by file name. */
async function findEventFiles(mods: NodeModules, dir: string, maxDepth: number): Promise<Found[]> {
  const { fs, path } = mods;
  const root = path.resolve(dir);
  const st = await fs.stat(root).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `log directory ${dir} does not exist` : `log directory ${dir}: ${err.message}`);
  });
  if (!st.isDirectory()) throw new Error(`log directory ${dir} is not a directory`);
  const out: Found[] = [];
  const walk = async (abs: string, rel: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(abs, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable: TensorBoard skips it too
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      // Regular files, and symbolic links that may point at one (checked when opened).
      if ((e.isFile() || e.isSymbolicLink()) && isEventFileName(e.name)) {
        out.push({ run: rel || '.', path: path.join(abs, e.name) });
      }
    }
    if (depth >= maxDepth) return;
    for (const e of entries) {
      if (e.isDirectory()) await walk(path.join(abs, e.name), rel ? `${rel}/${e.name}` : e.name, depth + 1);
    }
  };
  await walk(root, '', 0);
  out.sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

interface Tracked {
  run: string;
  /** Bytes read so far (including an incomplete last record held by the accumulator). */
  read: number;
  /** Identity of the file read, to notice a replaced file. */
  ino: number;
  warnedSize: boolean;
}

/**
 * Reads bytes `[from, min(size, bound))` of a regular file into `acc`. Returns the new read position, or
 * null when the path is not a regular file. The file is opened with O_NONBLOCK so that opening a FIFO
 * returns at once instead of waiting for a writer.
 */
async function readAppended(
  mods: NodeModules,
  file: string,
  displayName: string,
  t: Tracked,
  acc: RunAccumulator,
  maxFileBytes: number,
  issues: ReadIssue[],
): Promise<'not-file' | 'replaced' | number> {
  const { fs } = mods;
  const flags = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);
  let handle;
  try {
    handle = await fs.open(file, flags);
  } catch {
    return 'not-file';
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return 'not-file';
    if (t.ino !== 0 && (st.ino !== t.ino || st.size < t.read)) return 'replaced';
    t.ino = st.ino;
    let end = st.size;
    if (end > maxFileBytes) {
      end = maxFileBytes;
      if (!t.warnedSize) {
        t.warnedSize = true;
        issues.push({
          file: displayName,
          offset: maxFileBytes,
          kind: 'invalid',
          message: `file is ${st.size} bytes, above the ${maxFileBytes}-byte bound: the rest is not read`,
        });
      }
    }
    let pos = t.read;
    while (pos < end) {
      const n = Math.min(CHUNK, end - pos);
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await handle.read(buf, got, n - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got === 0) break;
      acc.add(got === n ? buf : buf.subarray(0, got), displayName);
      pos += got;
      if (acc.isStopped(displayName)) break;
    }
    return pos;
  } finally {
    await handle.close();
  }
}

/**
 * Follows a log dir: each `poll()` finds new runs and files and reads only the bytes appended to known files
 * since the last poll (a record cut at the end is completed by the next poll). A file that shrank or was
 * replaced is read again from the start, its run rebuilt.
 */
export class LogDirWatcher {
  private readonly accs = new Map<string, RunAccumulator>();
  private readonly tracked = new Map<string, Tracked>();
  private readonly runIssues = new Map<string, ReadIssue[]>();
  private readonly maxFileBytes: number;
  private readonly maxDepth: number;
  private polling: Promise<{ changed: string[] }> | undefined;

  constructor(
    readonly dir: string,
    opts: LogDirOptions = {},
  ) {
    this.maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Reads what is new. Concurrent calls share one pass. Throws when the log dir is missing. */
  poll(): Promise<{ changed: string[] }> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<{ changed: string[] }> {
    const mods = await nodeModules();
    const found = await findEventFiles(mods, this.dir, this.maxDepth);
    const changed = new Set<string>();
    const rebuild = new Set<string>();
    for (const f of found) {
      let t = this.tracked.get(f.path);
      if (!t) {
        t = { run: f.run, read: 0, ino: 0, warnedSize: false };
        this.tracked.set(f.path, t);
        changed.add(f.run);
      }
      const acc = this.accFor(f.run);
      const name = this.displayName(mods, f);
      if (acc.isStopped(name)) continue;
      const issues = this.issuesFor(f.run);
      const r = await readAppended(mods, f.path, name, t, acc, this.maxFileBytes, issues);
      if (r === 'not-file') {
        this.tracked.delete(f.path);
        continue;
      }
      if (r === 'replaced') {
        rebuild.add(f.run);
        continue;
      }
      if (r !== t.read) changed.add(f.run);
      t.read = r;
    }
    for (const run of rebuild) {
      // Start the run over: forget its accumulator and files; read them all again now.
      this.accs.delete(run);
      this.runIssues.delete(run);
      for (const [p, t] of this.tracked) if (t.run === run) this.tracked.delete(p);
      for (const f of found.filter((x) => x.run === run)) {
        const t: Tracked = { run, read: 0, ino: 0, warnedSize: false };
        const r = await readAppended(mods, f.path, this.displayName(mods, f), t, this.accFor(run), this.maxFileBytes, this.issuesFor(run));
        if (typeof r === 'number') {
          t.read = r;
          this.tracked.set(f.path, t);
        }
      }
      changed.add(run);
    }
    return { changed: [...changed].sort() };
  }

  /** Issues and file names name files by their path under the log dir. */
  private displayName(mods: NodeModules, f: Found): string {
    return mods.path.relative(mods.path.resolve(this.dir), f.path).split(mods.path.sep).join('/');
  }

  private accFor(run: string): RunAccumulator {
    let acc = this.accs.get(run);
    if (!acc) this.accs.set(run, (acc = new RunAccumulator(run)));
    return acc;
  }

  private issuesFor(run: string): ReadIssue[] {
    let list = this.runIssues.get(run);
    if (!list) this.runIssues.set(run, (list = []));
    return list;
  }

  /** Names of the runs found so far, sorted. */
  runNames(): string[] {
    return [...this.accs.keys()].sort();
  }

  /** One run's data so far (arrays are shared with the watcher and grow on later polls). */
  run(name: string): RunData | undefined {
    const acc = this.accs.get(name);
    if (!acc) return undefined;
    const data = acc.toJSON();
    data.issues.push(...(this.runIssues.get(name) ?? []));
    return data;
  }

  /** Every run's data so far, sorted by run name. */
  runs(): RunData[] {
    return this.runNames().map((n) => this.run(n)!);
  }
}

/** Reads every run under `dir` (see {@link LogDirWatcher} for the rules). */
export async function readLogDir(dir: string, opts: LogDirOptions = {}): Promise<RunData[]> {
  const w = new LogDirWatcher(dir, opts);
  await w.poll();
  return w.runs();
}
