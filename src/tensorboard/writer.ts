/**
 * TensorBoard event-file writer: TFRecord framing of serialized `Event` protos, written either to a file
 * (Node, Deno, Bun: anything with `node:fs`) or kept in memory (browsers; download with `toBlob()`).
 *
 * What is written matches what TF 2.13–2.21 / Keras 2.13–3.15 write (`tf.summary.create_file_writer` +
 * `tf.summary.scalar` / `tf.summary.histogram`, and Keras' `keras` model-config summary):
 *  - first record `Event{wall_time: whole seconds, file_version: "brain.Event:2", source_metadata}`;
 *  - scalars: a tensor summary, DT_FLOAT, shape `[]`, raw `tensor_content`, metadata plugin "scalars";
 *  - histograms: a tensor summary, DT_DOUBLE, shape `[k, 3]` rows `[left edge, right edge, count]`,
 *    metadata plugin "histograms", bucketed as TensorBoard 2.13's `summary_v2._buckets` does (see
 *    {@link histogramBuckets});
 *  - a Keras model config: a DT_STRING `[]` tensor holding the JSON, plugin "graph_keras_model" (content "1").
 *
 * Durability: records are queued in memory and written whole by `flush()`, which appends them to the file
 * and fsyncs it. A process killed mid-flush leaves complete records plus at most one truncated record at the
 * end, which TensorBoard's reader tolerates.
 */

import { concatBytes, nodeModules, type NodeModules } from '../platform.js';
import { maskedCrc32c } from './crc32c.js';
import { DataType, encodeEvent, type EventInit, type SummaryValueInit } from './proto.js';

export const FILE_VERSION = 'brain.Event:2';
/** `SourceMetadata.writer` of our files (TF writes "tensorflow.core.util.events_writer"). */
export const SOURCE_WRITER = 'wasm-layers';
/** TensorBoard's `DEFAULT_BUCKET_COUNT`. */
export const DEFAULT_HISTOGRAM_BUCKETS = 30;
export const SCALARS_PLUGIN = 'scalars';
export const HISTOGRAMS_PLUGIN = 'histograms';
/** TensorBoard's Graphs dashboard reads Keras model configs from this plugin (tag `keras`). */
export const KERAS_MODEL_PLUGIN = 'graph_keras_model';

/** Frames one record: uint64 LE length, masked CRC32C of the length, data, masked CRC32C of the data. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 16);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length % 0x100000000, true);
  view.setUint32(4, Math.floor(data.length / 0x100000000), true);
  view.setUint32(8, maskedCrc32c(out, 0, 8), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * Histogram buckets exactly as TensorBoard 2.13's `tf.summary.histogram` computes them (`_buckets` in
 * tensorboard/plugins/histogram/summary_v2.py), returned row-major as `[left, right, count] × k`:
 *  - values are compared as float64; bucket `i` of `k` spans `min + i·w … min + (i+1)·w` with `w = (max-min)/k`
 *    (the last right edge is exactly `max`); a value goes to `floor((v - min) / w)`, clamped to `k - 1`;
 *  - all values equal: `k` rows `[v, v, 0]`, the last one counting every value;
 *  - no values: `k` rows of zeros; `k = 0`: no rows.
 * Deviation: NaN and ±Infinity are ignored (TF would produce NaN edges); counts then sum to the number of
 * finite values.
 */
export function histogramBuckets(values: ArrayLike<number>, bucketCount = DEFAULT_HISTOGRAM_BUCKETS): Float64Array {
  if (!Number.isInteger(bucketCount)) throw new RangeError(`bucket count must be an integer, got ${bucketCount}`);
  const k = Math.max(0, bucketCount);
  const out = new Float64Array(k * 3);
  if (k === 0) return out;
  let min = Infinity;
  let max = -Infinity;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    n++;
  }
  if (n === 0) return out;
  const range = max - min;
  if (range === 0) {
    for (let b = 0; b < k; b++) {
      out[b * 3] = max;
      out[b * 3 + 1] = max;
    }
    out[(k - 1) * 3 + 2] = n;
    return out;
  }
  const width = range / k;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    let b = Math.floor((v - min) / width);
    if (!(b >= 0)) b = 0;
    else if (b > k - 1) b = k - 1;
    out[b * 3 + 2] += 1;
  }
  // tf.linspace(min, max, k + 1): element i is min + delta * i with delta = (max - min) / k; the last edge is
  // then replaced by max.
  for (let b = 0; b < k; b++) {
    out[b * 3] = b === 0 ? min : min + width * b;
    out[b * 3 + 1] = b === k - 1 ? max : min + width * (b + 1);
  }
  return out;
}

function float32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setFloat32(0, value, true);
  return out;
}

function float64Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return out;
}

/** A `Summary.Value` for a scalar as TF2 writes it: DT_FLOAT `[]` tensor, plugin "scalars". */
export function scalarSummaryValue(tag: string, value: number): SummaryValueInit {
  return {
    tag,
    tensor: { dtype: DataType.DT_FLOAT, shape: [], tensorContent: float32Bytes(value) },
    metadata: { pluginName: SCALARS_PLUGIN },
  };
}

/** A `Summary.Value` for precomputed `[left, right, count] × k` buckets: DT_DOUBLE `[k, 3]`, plugin "histograms". */
export function histogramSummaryValue(tag: string, buckets: Float64Array): SummaryValueInit {
  if (buckets.length % 3 !== 0) throw new RangeError('histogram buckets must be [left, right, count] triples');
  return {
    tag,
    tensor: { dtype: DataType.DT_DOUBLE, shape: [buckets.length / 3, 3], tensorContent: float64Bytes(buckets) },
    metadata: { pluginName: HISTOGRAMS_PLUGIN },
  };
}

const utf8 = new TextEncoder();

/**
 * A `Summary.Value` holding a Keras model config as Keras writes it (`keras_model_summary`): a DT_STRING
 * scalar tensor with the JSON, plugin "graph_keras_model" with content "1" (its metadata version).
 */
export function kerasModelSummaryValue(tag: string, json: string): SummaryValueInit {
  return {
    tag,
    tensor: { dtype: DataType.DT_STRING, shape: [], stringVal: [utf8.encode(json)] },
    metadata: { pluginName: KERAS_MODEL_PLUGIN, pluginContent: utf8.encode('1') },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Sinks

/** Where a writer's bytes go. `append` receives whole framed records only. */
export interface EventSink {
  readonly kind: 'node' | 'memory';
  /** The event file's path (for the memory sink: the path it would have on disk). */
  readonly path: string;
  append(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

type FsPromises = NodeModules['fs'];

/** Process-wide file counter, like TF's per-process uid in event file names. */
let fileCounter = 0;

function eventFileName(seconds: number, host: string, pid: number, n: number): string {
  return `events.out.tfevents.${seconds}.${host.replace(/[\\/]/g, '_')}.${pid}.${n}.v2`;
}

function currentPid(): number {
  const proc = (globalThis as { process?: { pid?: number } }).process;
  return typeof proc?.pid === 'number' ? proc.pid : 0;
}

/** Keeps the bytes in memory (browsers, or `writeTo: 'memory'`). */
export class MemorySink implements EventSink {
  readonly kind = 'memory' as const;
  private chunks: Uint8Array[] = [];

  constructor(readonly path: string) {}

  static create(dir: string, seconds: number): MemorySink {
    const loc = (globalThis as { location?: { hostname?: string } }).location;
    const host = loc?.hostname || 'localhost';
    const name = eventFileName(seconds, host, currentPid(), fileCounter++);
    const trimmed = dir.replace(/[\\/]+$/, '');
    return new MemorySink(trimmed ? `${trimmed}/${name}` : name);
  }

  async append(data: Uint8Array): Promise<void> {
    this.chunks.push(data.slice());
  }

  async close(): Promise<void> {}

  /** Everything appended so far, as one array. */
  bytes(): Uint8Array {
    const out = concatBytes(this.chunks);
    this.chunks = [out];
    return out.slice();
  }
}

/** Appends to a file that it created exclusively; every append is fsynced. */
export class NodeFileSink implements EventSink {
  readonly kind = 'node' as const;

  private constructor(
    private readonly fs: FsPromises,
    readonly path: string,
  ) {}

  /**
   * Creates `dir` (recursively) and a new event file in it. The name is claimed with an exclusive create
   * (`O_CREAT | O_EXCL`), so an existing file is never overwritten: on a clash the counter moves on.
   * @internal (its Node types stay out of the published declarations)
   */
  static async create(dir: string, seconds: number, mods: NodeModules): Promise<NodeFileSink> {
    const { fs, os, path } = mods;
    await fs.mkdir(dir, { recursive: true });
    const host = os.hostname() || 'localhost';
    const pid = currentPid();
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const file = path.join(dir, eventFileName(seconds, host, pid, fileCounter++));
      try {
        const handle = await fs.open(file, 'ax');
        await handle.close();
        return new NodeFileSink(fs, file);
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
    }
    throw new Error(`could not find a free event file name in ${dir}`);
  }

  async append(data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const handle = await this.fs.open(this.path, 'a');
    try {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await handle.write(data, off, data.length - off);
        off += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {}
}

// ---------------------------------------------------------------------------------------------------------
// Writer

export interface EventFileWriterOptions {
  /**
   * `'auto'` (default): a file when `node:fs` is available, else memory. `'node'`: a file, or throw.
   * `'memory'`: always memory.
   */
  writeTo?: 'auto' | 'node' | 'memory';
  /** Clock in milliseconds since the Unix epoch (default `Date.now`); wall times and the file name use it. */
  now?: () => number;
}

function assertStep(step: number): void {
  if (!Number.isSafeInteger(step)) throw new RangeError(`step must be an integer, got ${step}`);
}

/** Writes one TensorBoard event file (one "run" when it is alone in its directory). */
export class EventFileWriter {
  private pending: Uint8Array[] = [];
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly sink: EventSink,
    private readonly now: () => number,
    firstWallTime: number,
  ) {
    this.enqueue({ wallTime: firstWallTime, fileVersion: FILE_VERSION, sourceWriter: SOURCE_WRITER });
  }

  /**
   * Opens a new event file in `dir` (created if missing) and writes its `file_version` record. The file name
   * is `events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n>.v2`, never that of an existing file.
   */
  static async open(dir: string, opts: EventFileWriterOptions = {}): Promise<EventFileWriter> {
    const now = opts.now ?? Date.now;
    const mode = opts.writeTo ?? 'auto';
    const seconds = Math.floor(now() / 1000);
    let sink: EventSink;
    if (mode === 'memory') {
      sink = MemorySink.create(dir, seconds);
    } else {
      const mods = await nodeModules();
      if (mods) sink = await NodeFileSink.create(dir, seconds, mods);
      else if (mode === 'auto') sink = MemorySink.create(dir, seconds);
      else throw new Error("writeTo: 'node' needs node:fs, which this runtime does not have");
    }
    const writer = new EventFileWriter(sink, now, seconds);
    await writer.flush();
    return writer;
  }

  /** Path of the event file (for a memory writer, the path it would have on disk). */
  get path(): string {
    return this.sink.path;
  }

  get kind(): 'node' | 'memory' {
    return this.sink.kind;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private enqueue(event: EventInit): void {
    if (this.closed) throw new Error(`event writer for ${this.sink.path} is closed`);
    this.pending.push(frameRecord(encodeEvent(event)));
  }

  /** Queues an `Event` holding the given summary values. */
  writeSummary(values: readonly SummaryValueInit[], step: number): void {
    assertStep(step);
    this.enqueue({ wallTime: this.now() / 1000, step, summary: values });
  }

  /** Queues a scalar (TF2 style: DT_FLOAT `[]` tensor, plugin "scalars"). */
  scalar(tag: string, value: number, step: number): void {
    this.writeSummary([scalarSummaryValue(tag, value)], step);
  }

  /** Queues a histogram of `values` (DT_DOUBLE `[k, 3]` tensor, plugin "histograms"), see {@link histogramBuckets}. */
  histogram(tag: string, values: ArrayLike<number>, step: number, buckets = DEFAULT_HISTOGRAM_BUCKETS): void {
    this.writeSummary([histogramSummaryValue(tag, histogramBuckets(values, buckets))], step);
  }

  /** Writes the queued records (whole records, then fsync for files). Calls are serialized. */
  flush(): Promise<void> {
    const run = this.chain.then(() => this.drain());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async drain(): Promise<void> {
    if (this.pending.length === 0) return;
    const records = this.pending;
    this.pending = [];
    await this.sink.append(concatBytes(records));
  }

  /** Flushes and closes; later writes throw. Closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.closed) return this.chain;
    const flushed = this.flush();
    this.closed = true;
    await flushed;
    await this.sink.close();
  }

  /** The file's bytes including queued records (memory writers only). */
  bytes(): Uint8Array {
    if (!(this.sink instanceof MemorySink)) throw new Error(`bytes() is for memory writers; read ${this.sink.path}`);
    const stored = this.sink.bytes();
    if (this.pending.length === 0) return stored;
    return concatBytes([stored, ...this.pending]);
  }

  /** The file as a Blob, to download from a browser (memory writers only). */
  toBlob(): Blob {
    return new Blob([this.bytes() as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
  }
}
