/**
 * The event-file reader (src/tensorboard/reader.ts, logdir.ts) against:
 *  - the real files in ../shared/reference/tensorboard-events (Keras 2.13, Keras 3.15, PyTorch): runs, tags and
 *    point counts as real TensorBoard 2.21 lists them (test/fixtures/tensorboard/reference-tags.json, made by
 *    scripts/tensorboard-reference-tags.py) and as the independent test decoder (helpers/tfevents-reader.ts)
 *    sees them, values equal to the test decoder's;
 *  - truncated copies at every byte of the last records, corrupted copies, and a seeded fuzz of mutations;
 *  - growing files in a log dir (only appended bytes are read) and non-regular files;
 *  - files our writer produced during a real fit: the values History recorded.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { concatBytes } from '../src/platform.js';
import { LogDirWatcher, readLogDir } from '../src/tensorboard/logdir.js';
import { readEvents, readRunFiles, RunAccumulator, type RunData } from '../src/tensorboard/reader.js';
import { EventFileWriter, frameRecord, histogramBuckets } from '../src/tensorboard/writer.js';
import { encodeEvent } from '../src/tensorboard/proto.js';
import { lcg } from './helpers/blobs.js';
import { crc32cBitwise, decodeEventBytes, readTfRecords } from './helpers/tfevents-reader.js';

const here = dirname(fileURLToPath(import.meta.url));
const refDir = resolve(here, '../../shared/reference/tensorboard-events');
const hasRef = existsSync(refDir);
const SKIP_NOTE = `reference event files not found at ${refDir} (../shared is absent): skipped`;

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'wasm-layers-tbr-'));
  tmpDirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

function walk(d: string): string[] {
  return readdirSync(d)
    .sort()
    .flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** Reference event files, relative to refDir. */
function refFiles(): string[] {
  return walk(refDir)
    .filter((p) => p.includes('tfevents'))
    .map((p) => relative(refDir, p).split('\\').join('/'));
}

type TagCounts = Record<string, Record<string, Record<string, number>>>;

/** SHA-256 of float64 LE numbers, as scripts/tensorboard-reference-tags.py hashes TensorBoard's values. */
function digest(points: number[][]): string {
  const h = createHash('sha256');
  for (const p of points) h.update(new Uint8Array(Float64Array.from(p).buffer));
  return h.digest('hex');
}

/** run → plugin → tag → count, from our reader's RunData (plugin names as TensorBoard's). */
function countsOf(runs: RunData[]): TagCounts {
  const out: TagCounts = {};
  for (const r of runs) {
    const e: Record<string, Record<string, number>> = {};
    const put = (plugin: string, rec: Record<string, unknown[]> | undefined): void => {
      if (!rec || Object.keys(rec).length === 0) return;
      e[plugin] = Object.fromEntries(Object.entries(rec).map(([t, p]) => [t, p.length]));
    };
    put('scalars', r.scalars);
    put('histograms', r.histograms);
    put('text', r.texts);
    if (r.modelConfig !== undefined) e.graph_keras_model = { keras: 1 };
    out[r.run] = e;
  }
  return out;
}

/**
 * The same from the independent test decoder: a value is a scalar if it has a simple_value or its tag's
 * first plugin is "scalars", a histogram if it has a HistogramProto or plugin "histograms".
 */
function oracleCounts(): TagCounts {
  const out: TagCounts = {};
  for (const f of refFiles()) {
    const run = dirname(f) === '.' ? '.' : dirname(f);
    const { events } = decodeEventBytes(new Uint8Array(readFileSync(join(refDir, f))));
    const e = (out[run] ??= {});
    const plugin = new Map<string, string>();
    for (const ev of events) {
      for (const v of ev.values) {
        if (!plugin.has(v.tag) && v.pluginName) plugin.set(v.tag, v.pluginName);
        const p = v.simpleValue !== undefined ? 'scalars' : v.hasHisto ? 'histograms' : plugin.get(v.tag);
        if (p !== 'scalars' && p !== 'histograms') continue;
        const tags = (e[p] ??= {});
        tags[v.tag] = (tags[v.tag] ?? 0) + 1;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

describe('reader on the reference files (../shared)', () => {
  it('lists the runs, tags and point counts real TensorBoard 2.21 lists, and the test decoder agrees', async (ctx) => {
    if (!hasRef) return ctx.skip(SKIP_NOTE);
    const tb = JSON.parse(readFileSync(join(here, 'fixtures/tensorboard/reference-tags.json'), 'utf8')) as { runs: TagCounts };
    const runs = await readLogDir(refDir);
    expect(runs.map((r) => r.run)).toEqual(Object.keys(tb.runs).sort());
    const digests = Object.fromEntries(Object.entries(tb.runs).map(([run, e]) => [run, e.sha256]));
    for (const e of Object.values(tb.runs)) delete e.sha256;
    expect(countsOf(runs)).toEqual(tb.runs);
    // Every value, step and wall time as TensorBoard serves them (legacy histograms converted as it does).
    for (const r of runs) {
      const ours: Record<string, string> = {};
      for (const [tag, pts] of Object.entries(r.scalars)) ours[tag] = digest(pts.map((p) => [p.step, p.wallTime, p.value]));
      for (const [tag, pts] of Object.entries(r.histograms)) {
        ours[tag] = digest(pts.map((p) => [p.step, p.wallTime, ...p.buckets.flatMap((b) => [b.left, b.right, b.count])]));
      }
      expect(ours, r.run).toEqual(digests[r.run]);
    }
    const oracle = oracleCounts();
    // The test decoder has no notion of the Keras model tag; compare the rest.
    const ours = countsOf(runs);
    for (const r of Object.values(ours)) delete r.graph_keras_model;
    expect(ours).toEqual(oracle);
    for (const r of runs) {
      expect(r.issues).toEqual([]);
      expect(r.files.length).toBe(1);
    }
  });

  it('gives the values, steps and wall times the test decoder gives; converts legacy histograms', async (ctx) => {
    if (!hasRef) return ctx.skip(SKIP_NOTE);
    const runs = await readLogDir(refDir);
    let checked = 0;
    for (const f of refFiles()) {
      const run = runs.find((r) => r.run === (dirname(f) === '.' ? '.' : dirname(f)))!;
      const { events } = decodeEventBytes(new Uint8Array(readFileSync(join(refDir, f))));
      const seen = new Map<string, number>();
      for (const ev of events) {
        for (const v of ev.values) {
          const i = seen.get(v.tag) ?? 0;
          if (v.simpleValue !== undefined || (v.tensor && run.scalars[v.tag])) {
            seen.set(v.tag, i + 1);
            const p = run.scalars[v.tag][i];
            expect(p.step).toBe(ev.step);
            expect(p.wallTime).toBe(ev.wallTime);
            expect(p.value).toBe(v.simpleValue ?? v.tensor!.values[0]);
            checked++;
          } else if (v.tensor && run.histograms[v.tag]) {
            seen.set(v.tag, i + 1);
            const p = run.histograms[v.tag][i];
            expect(p.step).toBe(ev.step);
            expect(p.buckets.flatMap((b) => [b.left, b.right, b.count])).toEqual(v.tensor.values);
            checked++;
          } else if (v.hasHisto) {
            seen.set(v.tag, i + 1);
            const p = run.histograms[v.tag][i];
            // TensorBoard's data_compat: edges min, bucket_limit…, max, empty end buckets dropped.
            if (p.buckets.length > 0) {
              expect(p.buckets[0].count).toBeGreaterThan(0);
              expect(p.buckets.at(-1)!.count).toBeGreaterThan(0);
            }
            for (let k = 1; k < p.buckets.length; k++) expect(p.buckets[k].left).toBe(p.buckets[k - 1].right);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(400);
    const keras3 = runs.find((r) => r.run === 'keras3.15-tf2.21-seed-mnist/train')!;
    const cfg = keras3.modelConfig as { class_name: string; config: { layers: { class_name: string }[] } };
    expect(cfg.class_name).toBe('Sequential');
    expect(cfg.config.layers.map((l) => l.class_name)).toEqual(['InputLayer', 'Flatten', 'Dense', 'Dropout', 'Dense']);
  });

  it('readRunFiles over Blobs and bytes gives what readLogDir gives, with runs named under the common folder', async (ctx) => {
    if (!hasRef) return ctx.skip(SKIP_NOTE);
    const files = refFiles().map((f, i) => {
      const bytes = new Uint8Array(readFileSync(join(refDir, f)));
      return { path: `logs/${f}`, data: i % 2 ? bytes : new Blob([bytes]) };
    });
    files.push({ path: 'logs/README.txt', data: new Uint8Array([1, 2, 3]) });
    const fromFiles = await readRunFiles(files);
    const fromDir = await readLogDir(refDir);
    expect(fromFiles.map((r) => r.run)).toEqual(fromDir.map((r) => r.run));
    for (let i = 0; i < fromDir.length; i++) {
      expect(fromFiles[i].scalars).toEqual(fromDir[i].scalars);
      expect(fromFiles[i].histograms).toEqual(fromDir[i].histograms);
      expect(fromFiles[i].modelConfig).toEqual(fromDir[i].modelConfig);
    }
    // One folder only: it is the root, as `tensorboard --logdir` on a run folder shows run '.'.
    const one = await readRunFiles(files.filter((f) => f.path.startsWith('logs/pytorch-legacy-scalars/')));
    expect(one.map((r) => r.run)).toEqual(['.']);
    const rooted = await readRunFiles(files.filter((f) => f.path.startsWith('logs/pytorch-legacy-scalars/')), { root: 'logs' });
    expect(rooted.map((r) => r.run)).toEqual(['pytorch-legacy-scalars']);
  });
});

// ---------------------------------------------------------------------------------------------------------

/** Byte offsets of the records of a file (from the test decoder's framing). */
function recordOffsets(bytes: Uint8Array): number[] {
  const { records } = readTfRecords(bytes);
  const out: number[] = [];
  let pos = 0;
  for (const r of records) {
    out.push(pos);
    pos += r.length + 16;
  }
  out.push(pos);
  return out;
}

/** Long synchronous loops starve the test worker's messages to vitest (its RPC times out under load). */
const yieldToRunner = (): Promise<void> => new Promise((r) => setImmediate(r));

interface RefFile {
  name: string;
  bytes: Uint8Array;
  /** Record offsets (from the test decoder), then the file size. */
  offs: number[];
  /** Our reader's events of the intact file. */
  clean: ReturnType<typeof readEvents>['events'];
}
let refCache: RefFile[] | undefined;
function refBytes(): RefFile[] {
  refCache ??= refFiles().map((name) => {
    const bytes = new Uint8Array(readFileSync(join(refDir, name)));
    const whole = readEvents(bytes, { file: name });
    expect(whole.issues).toEqual([]);
    expect(whole.consumed).toBe(bytes.length);
    return { name, bytes, offs: recordOffsets(bytes), clean: whole.events };
  });
  return refCache;
}


describe('truncated and corrupted files', () => {
  it('a cut at every byte of the last two records keeps every whole record before it and says where', async (ctx) => {
    if (!hasRef) return ctx.skip(SKIP_NOTE);
    for (const { name, bytes, offs, clean } of refBytes()) {
      const nrec = offs.length - 1;
      const k0 = Math.max(0, nrec - 2);
      // The whole file cut inside the last record, then every cut of the last two records read from the
      // start of the first of them (offsets reported relative to the file): the same code path, without
      // re-reading the whole prefix for each of thousands of cuts.
      const last = readEvents(bytes.subarray(0, bytes.length - 1), { file: name });
      expect(last.events).toEqual(clean.slice(0, nrec - 1));
      expect(last.issues).toEqual([expect.objectContaining({ file: name, offset: offs[nrec - 1], kind: 'truncated' })]);
      for (let cut = offs[k0]; cut < bytes.length; cut++) {
        if (cut % 200 === 0) await yieldToRunner();
        const r = readEvents(bytes.subarray(offs[k0], cut), { file: name, offset: offs[k0] });
        let k = k0; // the record the cut falls in
        while (offs[k + 1] <= cut) k++;
        expect(r.events.length).toBe(k - k0);
        expect(r.consumed).toBe(offs[k] - offs[k0]);
        expect(r.stopped).toBe(false);
        if (cut === offs[k]) expect(r.issues).toEqual([]);
        else {
          expect(r.issues).toHaveLength(1);
          expect(r.issues[0]).toMatchObject({ file: name, offset: offs[k], kind: 'truncated' });
        }
        if (k > k0) {
          const e = r.events[k - k0 - 1];
          expect(e.offset).toBe(clean[k - 1].offset);
          // Deep comparison once per record (it dominates the cost otherwise).
          if (cut === offs[k] + 1) expect(e).toEqual(clean[k - 1]);
        }
      }
    }
  });

  it('a bad length CRC or data CRC stops the file at that record, reported with its offset', (ctx) => {
    if (!hasRef) return ctx.skip(SKIP_NOTE);
    for (const { name, bytes, offs } of refBytes()) {
      const k = Math.floor((offs.length - 1) / 2);
      for (const [where, message] of [
        [offs[k] + 2, /length/],
        [offs[k] + 9, /length/],
        [offs[k] + 13, /data/],
        [offs[k + 1] - 1, /data/],
      ] as const) {
        const bad = bytes.slice();
        bad[where] ^= 0x10;
        const r = readEvents(bad, { file: name });
        expect(r.events.length).toBe(k);
        expect(r.stopped).toBe(true);
        expect(r.consumed).toBe(offs[k]);
        expect(r.issues).toHaveLength(1);
        expect(r.issues[0]).toMatchObject({ file: name, offset: offs[k], kind: 'corrupt' });
        expect(r.issues[0].message).toMatch(message);
      }
    }
  });

  it('fed in random chunks (a growing file), a run comes out as when read whole', (ctx) => {
    if (!hasRef) return ctx.skip(SKIP_NOTE);
    const rand = lcg(7);
    for (const { name, bytes } of refBytes()) {
      const whole = new RunAccumulator('r');
      whole.add(bytes, name);
      const inc = new RunAccumulator('r');
      let pos = 0;
      while (pos < bytes.length) {
        const n = Math.min(bytes.length - pos, 1 + Math.floor(rand() * 700));
        inc.add(bytes.subarray(pos, pos + n), name);
        pos += n;
        const mid = inc.toJSON();
        // While a record is incomplete the run says so, at the offset to read again from.
        const trunc = mid.issues.filter((i) => i.kind === 'truncated');
        if (inc.offsetOf(name) < pos) expect(trunc).toEqual([expect.objectContaining({ offset: inc.offsetOf(name) })]);
        else expect(trunc).toEqual([]);
      }
      expect(inc.offsetOf(name)).toBe(bytes.length);
      expect(inc.toJSON()).toEqual(whole.toJSON());
    }
  });

  it('records with intact framing but a bad Event are skipped and reported; reading goes on', () => {
    const good = frameRecord(encodeEvent({ wallTime: 1, step: 3, summary: [{ tag: 'a', simpleValue: 2 }] }));
    const garbage = frameRecord(new Uint8Array([0x0a, 0x7f, 0x01])); // field 1 LEN 127, 1 byte
    const both = new Uint8Array([...good, ...garbage, ...good]);
    const r = readEvents(both, { file: 'f' });
    expect(r.events.map((e) => e.step)).toEqual([3, 3]);
    expect(r.issues).toEqual([expect.objectContaining({ file: 'f', offset: good.length, kind: 'invalid' })]);
    expect(r.consumed).toBe(both.length);
  });

  it('a seeded fuzz of 3,000 mutations of the reference files: clean results or issues naming file and offset', async (ctx) => {
    if (!hasRef) return ctx.skip(SKIP_NOTE);
    const files = refBytes();
    const rand = lcg(20261201);
    const int = (n: number): number => Math.floor(rand() * n);
    const kinds = { flip: 0, truncate: 0, insert: 0, delete: 0, overwrite: 0, lengthField: 0 };
    const started = Date.now();
    let withIssues = 0;
    for (let i = 0; i < 3000; i++) {
      if (i % 20 === 0) await yieldToRunner();
      const { name, bytes, offs, clean } = files[i % files.length];
      let mutated: Uint8Array;
      let first: number; // first byte changed
      const kind = (['flip', 'truncate', 'insert', 'delete', 'overwrite', 'lengthField'] as const)[i % 6];
      kinds[kind]++;
      if (kind === 'flip') {
        mutated = bytes.slice();
        const flips = 1 + int(4);
        first = bytes.length;
        for (let j = 0; j < flips; j++) {
          const p = int(bytes.length);
          mutated[p] ^= 1 << int(8);
          first = Math.min(first, p);
        }
      } else if (kind === 'truncate') {
        first = int(bytes.length);
        mutated = bytes.slice(0, first);
      } else if (kind === 'insert') {
        first = int(bytes.length + 1);
        const ins = Uint8Array.from({ length: 1 + int(32) }, () => int(256));
        mutated = concatBytes([bytes.subarray(0, first), ins, bytes.subarray(first)]);
      } else if (kind === 'delete') {
        first = int(bytes.length);
        mutated = concatBytes([bytes.subarray(0, first), bytes.subarray(first + 1 + int(32))]);
      } else if (kind === 'overwrite') {
        first = int(bytes.length);
        mutated = bytes.slice();
        for (let j = first; j < Math.min(bytes.length, first + 1 + int(64)); j++) mutated[j] = int(256);
      } else {
        // A length field rewritten with a valid CRC: the framing passes, the data CRC or the bounds must catch it.
        const k = int(offs.length - 1);
        first = offs[k];
        mutated = bytes.slice();
        const view = new DataView(mutated.buffer);
        view.setUint32(first, int(2) ? int(1 << 30) : view.getUint32(first, true) + 1 + int(8), true);
        view.setUint32(first + 4, int(4) === 0 ? int(1 << 20) : 0, true);
        view.setUint32(first + 8, maskedLengthCrc(mutated, first), true);
      }
      let r: ReturnType<typeof readEvents>;
      let run: RunData;
      try {
        r = readEvents(mutated, { file: name });
        const acc = new RunAccumulator('fuzz');
        // Mostly the decoded events; every fourth time the bytes, through the accumulator's own framing.
        if (i % 4 === 0) acc.add(mutated, name);
        else acc.add(r.events, name);
        run = acc.toJSON();
      } catch (err) {
        throw new Error(`mutation ${i} (${kind} at ${first} of ${name}) threw: ${(err as Error).stack}`);
      }
      expect(r.consumed).toBeLessThanOrEqual(mutated.length);
      for (const issue of [...r.issues, ...run.issues]) {
        expect(issue.file).toBe(name);
        expect(Number.isInteger(issue.offset) && issue.offset >= 0 && issue.offset <= mutated.length).toBe(true);
        expect(['truncated', 'corrupt', 'invalid']).toContain(issue.kind);
      }
      if (r.issues.length > 0) withIssues++;
      else expect(r.consumed).toBe(mutated.length);
      // Records wholly before the first changed byte are read exactly as in the clean file.
      let intact = 0;
      while (intact + 1 < offs.length && offs[intact + 1] <= first) intact++;
      expect(r.events.length).toBeGreaterThanOrEqual(intact);
      for (let k = 0; k < intact; k++) {
        if (r.events[k].offset !== clean[k].offset || r.events[k].values.length !== clean[k].values.length) {
          expect(r.events[k]).toEqual(clean[k]);
        }
      }
      if (intact > 0) expect(r.events[intact - 1]).toEqual(clean[intact - 1]);
    }
    expect(withIssues).toBeGreaterThan(2000);
    console.log(`fuzz: 3000 mutations ${JSON.stringify(kinds)}, ${withIssues} with issues, ${Date.now() - started} ms`);
  }, 60_000);
});

/** Masked CRC32C of the 8 length bytes at `at`, computed independently of the code under test. */
function maskedLengthCrc(bytes: Uint8Array, at: number): number {
  const crc = crc32cBitwise(bytes.subarray(at, at + 8));
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------

function scalarEvent(tag: string, value: number, step: number, legacy = false): Uint8Array {
  return frameRecord(
    encodeEvent({
      wallTime: 1000 + step,
      step,
      summary: [
        legacy
          ? { tag, simpleValue: value }
          : {
              tag,
              tensor: { dtype: 1, shape: [], floatVal: [value] },
              metadata: { pluginName: 'scalars' },
            },
      ],
    }),
  );
}

const header = frameRecord(encodeEvent({ wallTime: 1000, fileVersion: 'brain.Event:2' }));

describe('log dirs on disk', () => {
  it("runs are the folders holding *tfevents* files, named by their path ('.' for the root)", async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'events.out.tfevents.1.h'), new Uint8Array([...header, ...scalarEvent('a', 1, 0, true)]));
    await mkdir(join(dir, 'x/y'), { recursive: true });
    await writeFile(join(dir, 'x/y/events.out.tfevents.2.h.v2'), new Uint8Array([...header, ...scalarEvent('b', 2, 5)]));
    await writeFile(join(dir, 'x/notes.txt'), 'not a run');
    await mkdir(join(dir, 'empty'));
    const runs = await readLogDir(dir);
    expect(runs.map((r) => r.run)).toEqual(['.', 'x/y']);
    expect(runs[0].scalars.a).toEqual([{ step: 0, wallTime: 1000, value: 1 }]);
    expect(runs[1].scalars.b).toEqual([{ step: 5, wallTime: 1005, value: 2 }]);
    expect(runs[1].files).toEqual(['x/y/events.out.tfevents.2.h.v2']);
  });

  it('a run with two files reads them in name order; points come out sorted by step', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'events.out.tfevents.2.h'), new Uint8Array([...header, ...scalarEvent('a', 3, 1), ...scalarEvent('a', 4, 3)]));
    await writeFile(join(dir, 'events.out.tfevents.1.h'), new Uint8Array([...header, ...scalarEvent('a', 1, 0), ...scalarEvent('a', 2, 2)]));
    const [run] = await readLogDir(dir);
    expect(run.files).toEqual(['events.out.tfevents.1.h', 'events.out.tfevents.2.h']);
    expect(run.scalars.a.map((p) => [p.step, p.value])).toEqual([[0, 1], [1, 3], [2, 2], [3, 4]]);
  });

  it('skips FIFOs without hanging, does not enter linked folders, bounds the bytes read, names a missing dir', async () => {
    const dir = await tmp();
    await mkdir(join(dir, 'run'));
    await writeFile(join(dir, 'run/events.out.tfevents.1.h'), new Uint8Array([...header, ...scalarEvent('a', 1, 0), ...scalarEvent('a', 2, 1)]));
    let fifo = false;
    try {
      execFileSync('mkfifo', [join(dir, 'run/events.out.tfevents.0.fifo')]);
      fifo = true;
    } catch {
      console.log('mkfifo not available: FIFO case not exercised');
    }
    await symlink(join(dir, 'run'), join(dir, 'loop'));
    await symlink(dir, join(dir, 'run/up'));
    const runs = await readLogDir(dir);
    expect(runs.map((r) => r.run)).toEqual(['run']);
    expect(runs[0].scalars.a).toHaveLength(2);
    if (fifo) expect(runs[0].files).toEqual(['run/events.out.tfevents.1.h']);

    const bounded = await readLogDir(dir, { maxFileBytes: header.length + 10 });
    expect(bounded[0].scalars.a ?? []).toHaveLength(0);
    expect(bounded[0].issues.map((i) => i.kind).sort()).toEqual(['invalid', 'truncated']);

    await expect(readLogDir(join(dir, 'nope'))).rejects.toThrow(/log directory .*nope does not exist/);
    await expect(readLogDir(join(dir, 'run/events.out.tfevents.1.h'))).rejects.toThrow(/not a directory/);
  });

  it('LogDirWatcher reads only appended bytes, completes a split record, and picks up new files and runs', async () => {
    const dir = await tmp();
    await mkdir(join(dir, 'train'));
    const f = join(dir, 'train/events.out.tfevents.1.h.v2');
    const rec = (s: number): Uint8Array => scalarEvent('epoch_loss', s / 10, s);
    await writeFile(f, new Uint8Array([...header, ...rec(0)]));
    const w = new LogDirWatcher(dir);
    expect(await w.poll()).toEqual({ changed: ['train'] });
    expect(w.runs()[0].scalars.epoch_loss).toHaveLength(1);
    expect(await w.poll()).toEqual({ changed: [] });

    // Half a record: nothing new yet, and the run says its last record is incomplete.
    const r1 = rec(1);
    await appendFile(f, r1.subarray(0, 20));
    await w.poll();
    expect(w.runs()[0].scalars.epoch_loss).toHaveLength(1);
    expect(w.runs()[0].issues).toEqual([expect.objectContaining({ kind: 'truncated', offset: header.length + rec(0).length })]);
    await appendFile(f, r1.subarray(20));
    expect(await w.poll()).toEqual({ changed: ['train'] });
    expect(w.runs()[0].scalars.epoch_loss.map((p) => p.step)).toEqual([0, 1]);
    expect(w.runs()[0].issues).toEqual([]);

    // Proof that old bytes are not read again: corrupt the first record in place (same file, same size),
    // append a record, poll: the new record arrives, no CRC failure is seen.
    const raw = new Uint8Array(readFileSync(f));
    raw[header.length + 14] ^= 0xff;
    await writeFile(f, raw);
    await appendFile(f, rec(2));
    await w.poll();
    expect(w.runs()[0].scalars.epoch_loss.map((p) => p.step)).toEqual([0, 1, 2]);
    expect(w.runs()[0].issues).toEqual([]);

    await mkdir(join(dir, 'validation'));
    await writeFile(join(dir, 'validation/events.out.tfevents.2.h.v2'), new Uint8Array([...header, ...rec(0)]));
    expect(await w.poll()).toEqual({ changed: ['validation'] });
    expect(w.runNames()).toEqual(['train', 'validation']);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('our own files', () => {
  it('a fit with the tensorBoard callback reads back to exactly the values History recorded', async () => {
    const wl = await import('../src/index.js');
    const { blobs } = await import('./helpers/blobs.js');
    await wl.init({ threads: 1 });
    wl.setSeed(3);
    const data = blobs(120, [[0, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1]], 0.4, 5);
    const m = wl.sequential([
      wl.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }),
      wl.layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const dir = await tmp();
    const x = wl.tensor(data.x, [120, 4]);
    const y = wl.tensor(data.y, [120]);
    const h = await m.fit(x, y, {
      epochs: 3,
      batchSize: 30,
      verbose: 0,
      validationData: [x, y],
      callbacks: [wl.callbacks.tensorBoard(dir, { histogramFreq: 1 })],
    });
    const runs = await wl.tensorboard.readLogDir(dir);
    expect(runs.map((r) => r.run)).toEqual(['train', 'validation']);
    const [train, val] = runs;
    for (const [k, values] of Object.entries(h.history)) {
      const run = k.startsWith('val_') ? val : train;
      const tag = `epoch_${k.replace(/^val_/, '')}`;
      expect(run.scalars[tag].map((p) => p.step)).toEqual([0, 1, 2]);
      // Scalars are stored as float32, as Keras stores them.
      expect(run.scalars[tag].map((p) => p.value)).toEqual(values.map((v) => Math.fround(v)));
    }
    // Histograms: the final epoch's buckets are those of the final weights.
    const hist = Object.entries(train.histograms);
    expect(hist.length).toBe(4);
    for (const [, pts] of hist) expect(pts.map((p) => p.step)).toEqual([0, 1, 2]);
    const kernel = m.layers[0].weightViews[0];
    const lastKernel = hist.find(([t]) => t.includes('kernel'))![1][2].buckets;
    expect(lastKernel.flatMap((b) => [b.left, b.right, b.count])).toEqual([...histogramBuckets(kernel.read())]);
    for (const r of runs) expect(r.issues).toEqual([]);
  }, 60_000);

  it('an in-memory writer read back through readRunFiles', async () => {
    const w = await EventFileWriter.open('logs/run1', { writeTo: 'memory', now: () => 1_700_000_000_000 });
    w.scalar('loss', 0.5, 0);
    w.scalar('loss', 0.25, 1);
    w.histogram('w', [1, 2, 3, 4], 1, 4);
    const [run] = await readRunFiles([{ path: w.path, data: w.toBlob() }], { root: 'logs' });
    expect(run.run).toBe('run1');
    expect(run.scalars.loss.map((p) => [p.step, p.value, p.wallTime])).toEqual([
      [0, 0.5, 1_700_000_000],
      [1, 0.25, 1_700_000_000],
    ]);
    expect(run.histograms.w[0].buckets).toEqual([
      { left: 1, right: 1.75, count: 1 },
      { left: 1.75, right: 2.5, count: 1 },
      { left: 2.5, right: 3.25, count: 1 },
      { left: 3.25, right: 4, count: 1 },
    ]);
  });
});
