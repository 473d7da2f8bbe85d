/**
 * TensorBoard event-file reader: TFRecord framing with both CRC32C checks, `Event` / `Summary` protobuf
 * decoding, and the per-run data TensorBoard's dashboards show (scalars, histograms, the Keras model config,
 * text). Browser-safe: no `node:*` imports (the Node log-dir walker is in logdir.ts).
 *
 * What TensorBoard does and this reader does too:
 *  - both summary forms: TF2 tensor summaries (plugin "scalars", "histograms", "graph_keras_model", "text";
 *    TensorProto values in `tensor_content` or the typed `*_val` fields) and the legacy `simple_value` /
 *    `HistogramProto` of PyTorch's `SummaryWriter` and TF1, converted as TensorBoard's `data_compat` converts
 *    them (a `HistogramProto` becomes `[left, right, count]` buckets: the first left edge is `min`, the other
 *    edges are `bucket_limit`, the last right edge is `max`);
 *  - the first plugin metadata seen for a tag in a run classifies every later value of that tag (TF1's
 *    `FileWriter` writes the metadata only once);
 *  - a record cut short at the end of the bytes is not an error: what came before is used, and `consumed`
 *    says where a growing file should be read again from;
 *  - a record whose length or data fails its CRC stops the reading of that file (reported with its byte
 *    offset), as TensorBoard stops there.
 * Beyond TensorBoard: a record with intact framing whose protobuf does not decode is skipped and reported
 * (`kind: 'invalid'`), and so is a value whose tensor does not match its plugin; reading goes on.
 *
 * Steps are int64 on disk and JavaScript numbers here (exact up to 2^53).
 */

import { crc32c, unmaskCrc } from './crc32c.js';

// ---------------------------------------------------------------------------------------------------------
// Public shapes

export interface ScalarPoint {
  step: number;
  /** Seconds since the Unix epoch. */
  wallTime: number;
  value: number;
}

export interface HistogramBucket {
  left: number;
  right: number;
  count: number;
}

/** A histogram at one step; legacy `HistogramProto`s are converted to left/right/count buckets. */
export interface HistogramPoint {
  step: number;
  wallTime: number;
  buckets: HistogramBucket[];
}

export interface TextPoint {
  step: number;
  wallTime: number;
  text: string;
}

/**
 * A problem met while reading. `truncated`: the bytes end inside a record (normal for a file still being
 * written; what came before is kept). `corrupt`: a record failed its length or data CRC; the rest of that
 * file is not read. `invalid`: a record or value with intact framing that could not be used; it is skipped
 * and reading goes on.
 */
export interface ReadIssue {
  file: string;
  /** Byte offset in the file of the record concerned. */
  offset: number;
  kind: 'truncated' | 'corrupt' | 'invalid';
  message: string;
}

export interface RunData {
  /** Path of the run's folder under the log dir, `/`-separated; `.` for the log dir itself. */
  run: string;
  /** tag → points, sorted by step (ties in the order read). */
  scalars: Record<string, ScalarPoint[]>;
  histograms: Record<string, HistogramPoint[]>;
  /** Parsed JSON of a `graph_keras_model` summary (Keras' `keras` tag), the last one read. */
  modelConfig?: unknown;
  texts?: Record<string, TextPoint[]>;
  /** Tags of other plugins (images, audio, hparams, …, or plugin-less tensors): tag → plugin and count. */
  otherTags?: Record<string, { plugin: string; count: number }>;
  /** True when some event carried a `graph_def` (TensorBoard's graph dashboard would show it). */
  hasGraph?: boolean;
  /** Event files of the run, in the order read. */
  files: string[];
  issues: ReadIssue[];
}

export interface SummaryMetadata {
  pluginName: string;
  pluginContent?: Uint8Array;
  displayName?: string;
  description?: string;
  /** `SummaryMetadata.DataClass`: 0 unknown, 1 scalar, 2 tensor, 3 blob sequence. */
  dataClass?: number;
}

/** `TensorProto`, values decoded: numbers for numeric dtypes, UTF-8 strings for DT_STRING. */
export interface DecodedTensor {
  dtype: number;
  shape: number[];
  /** Row-major values; length = product of `shape` (a single typed value is broadcast, as TensorFlow does). */
  numbers?: number[];
  strings?: string[];
}

/** `HistogramProto` as written. */
export interface LegacyHistogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

export interface DecodedValue {
  tag: string;
  metadata?: SummaryMetadata;
  simpleValue?: number;
  histo?: LegacyHistogram;
  tensor?: DecodedTensor;
  /** Set when the value holds a kind this reader does not decode (image, audio, old-style histogram). */
  otherKind?: 'image' | 'audio' | 'obsolete_old_style_histogram';
}

export interface DecodedEvent {
  /** Byte offset of the record in its file. */
  offset: number;
  wallTime: number;
  step: number;
  fileVersion?: string;
  sourceWriter?: string;
  hasGraphDef?: boolean;
  values: DecodedValue[];
}

export interface ReadEventsResult {
  events: DecodedEvent[];
  issues: ReadIssue[];
  /** Bytes of whole records read (where a growing file should be read again from, relative to the input). */
  consumed: number;
  /** True when a corrupt record stopped the reading: nothing after `consumed` can be read from this file. */
  stopped: boolean;
}

export interface ReadEventsOptions {
  /** File name for issues (default `'<bytes>'`). */
  file?: string;
  /** Offset of `bytes[0]` in the file, added to the offsets reported (for appended chunks). */
  offset?: number;
}

// ---------------------------------------------------------------------------------------------------------
// Protobuf decoding

class DecodeError extends Error {}

const utf8 = new TextDecoder('utf-8');

/** A cursor over `bytes[pos, end)`. Every read checks bounds and throws DecodeError past `end`. */
class Cursor {
  constructor(
    readonly b: Uint8Array,
    readonly view: DataView,
    public pos: number,
    readonly end: number,
  ) {}

  get more(): boolean {
    return this.pos < this.end;
  }

  /** A varint as an unsigned number (exact below 2^53). */
  varint(): number {
    const b = this.b;
    let pos = this.pos;
    let byte: number;
    let result = 0;
    let shift = 0;
    do {
      if (pos >= this.end) throw new DecodeError('varint runs past the end');
      byte = b[pos++];
      if (shift < 28) result |= (byte & 0x7f) << shift;
      else result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (shift > 70) throw new DecodeError('varint longer than 10 bytes');
    } while (byte & 0x80);
    this.pos = pos;
    return result;
  }

  /** A varint read as a two's complement int64 (negative values of 10-byte varints come back negative). */
  int64(): number {
    const start = this.pos;
    const u = this.varint();
    if (this.pos - start < 10) return u;
    // 10 bytes: the top bit is set, i.e. a negative int64. Redo it exactly with BigInt (rare).
    let v = 0n;
    for (let i = this.pos - 1; i >= start; i--) v = (v << 7n) | BigInt(this.b[i] & 0x7f);
    return Number(BigInt.asIntN(64, v));
  }

  fixed64(): number {
    if (this.pos + 8 > this.end) throw new DecodeError('fixed64 runs past the end');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) throw new DecodeError('fixed32 runs past the end');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A length-delimited field's payload as a sub-cursor; advances past it. */
  sub(): Cursor {
    const n = this.varint();
    if (n > this.end - this.pos) throw new DecodeError('length-delimited field runs past the end');
    const c = new Cursor(this.b, this.view, this.pos, this.pos + n);
    this.pos += n;
    return c;
  }

  bytes(): Uint8Array {
    const c = this.sub();
    return this.b.subarray(c.pos, c.end);
  }

  string(): string {
    const n = this.varint();
    if (n > this.end - this.pos) throw new DecodeError('length-delimited field runs past the end');
    const start = this.pos;
    this.pos += n;
    // Tags are short ASCII: building them directly is several times faster than TextDecoder per call.
    if (n <= 64) {
      let ascii = true;
      for (let i = start; i < start + n; i++) if (this.b[i] >= 0x80) ascii = false;
      if (ascii) return String.fromCharCode.apply(null, this.b.subarray(start, start + n) as unknown as number[]);
    }
    return utf8.decode(this.b.subarray(start, start + n));
  }

  /** Returns [field number, wire type]. */
  key(): [number, number] {
    const k = this.varint();
    const field = Math.floor(k / 8);
    if (field === 0) throw new DecodeError('field number 0');
    return [field, k & 7];
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.advance(8);
    else if (wire === 2) this.sub();
    else if (wire === 5) this.advance(4);
    else throw new DecodeError(`unsupported wire type ${wire}`);
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new DecodeError('field runs past the end');
    this.pos += n;
  }

  expect(wire: number, want: number, what: string): void {
    if (wire !== want) throw new DecodeError(`${what}: wire type ${wire}, expected ${want}`);
  }
}

/** Reads a `repeated double|float` field, packed (wire 2) or not. */
function repeatedFloats(c: Cursor, wire: number, out: number[], width: 4 | 8): void {
  if (wire === 2) {
    const s = c.sub();
    if ((s.end - s.pos) % width !== 0) throw new DecodeError('packed floats: length not a multiple of the width');
    while (s.more) out.push(width === 8 ? s.fixed64() : s.fixed32());
  } else {
    c.expect(wire, width === 8 ? 1 : 5, 'repeated float');
    out.push(width === 8 ? c.fixed64() : c.fixed32());
  }
}

/** Reads a `repeated int*` / `bool` field, packed or not, as numbers (int64 two's complement when signed). */
function repeatedInts(c: Cursor, wire: number, out: number[], signed: boolean): void {
  if (wire === 2) {
    const s = c.sub();
    while (s.more) out.push(signed ? s.int64() : s.varint());
  } else {
    c.expect(wire, 0, 'repeated int');
    out.push(signed ? c.int64() : c.varint());
  }
}

// tensorflow.DataType values (types.proto)
const DT_FLOAT = 1;
const DT_DOUBLE = 2;
const DT_INT32 = 3;
const DT_UINT8 = 4;
const DT_INT16 = 5;
const DT_INT8 = 6;
const DT_STRING = 7;
const DT_INT64 = 9;
const DT_BOOL = 10;
const DT_BFLOAT16 = 14;
const DT_UINT16 = 17;
const DT_HALF = 19;
const DT_UINT32 = 22;
const DT_UINT64 = 23;

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bf16View = new DataView(new ArrayBuffer(4));
function bfloat16ToNumber(bits: number): number {
  bf16View.setUint32(0, (bits & 0xffff) << 16);
  return bf16View.getFloat32(0);
}

/** Values of `tensor_content` (raw little-endian) for a numeric dtype. */
function contentNumbers(dtype: number, b: Uint8Array): number[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const width =
    dtype === DT_DOUBLE || dtype === DT_INT64 || dtype === DT_UINT64
      ? 8
      : dtype === DT_FLOAT || dtype === DT_INT32 || dtype === DT_UINT32
        ? 4
        : dtype === DT_INT16 || dtype === DT_UINT16 || dtype === DT_HALF || dtype === DT_BFLOAT16
          ? 2
          : dtype === DT_UINT8 || dtype === DT_INT8 || dtype === DT_BOOL
            ? 1
            : 0;
  if (width === 0) throw new DecodeError(`tensor_content of unsupported dtype ${dtype}`);
  if (b.length % width !== 0) throw new DecodeError(`tensor_content of ${b.length} bytes is not a whole number of dtype ${dtype} values`);
  const n = b.length / width;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const o = i * width;
    switch (dtype) {
      case DT_FLOAT: out[i] = view.getFloat32(o, true); break;
      case DT_DOUBLE: out[i] = view.getFloat64(o, true); break;
      case DT_INT32: out[i] = view.getInt32(o, true); break;
      case DT_UINT32: out[i] = view.getUint32(o, true); break;
      case DT_INT64: out[i] = Number(view.getBigInt64(o, true)); break;
      case DT_UINT64: out[i] = Number(view.getBigUint64(o, true)); break;
      case DT_INT16: out[i] = view.getInt16(o, true); break;
      case DT_UINT16: out[i] = view.getUint16(o, true); break;
      case DT_HALF: out[i] = halfToNumber(view.getUint16(o, true)); break;
      case DT_BFLOAT16: out[i] = bfloat16ToNumber(view.getUint16(o, true)); break;
      case DT_INT8: out[i] = view.getInt8(o); break;
      default: out[i] = b[o]; // DT_UINT8, DT_BOOL
    }
  }
  return out;
}

/** Upper bound on the elements of one decoded tensor: a broadcast single value must not allocate gigabytes. */
const MAX_TENSOR_ELEMENTS = 1 << 24;

function decodeTensor(c: Cursor): DecodedTensor {
  let dtype = 0;
  const shape: number[] = [];
  let unknownRank = false;
  let content: Uint8Array | undefined;
  const typed: number[] = [];
  let strings: Uint8Array[] | undefined;
  while (c.more) {
    const [f, w] = c.key();
    switch (f) {
      case 1: c.expect(w, 0, 'TensorProto.dtype'); dtype = c.varint(); break;
      case 2: {
        c.expect(w, 2, 'TensorProto.tensor_shape');
        const s = c.sub();
        while (s.more) {
          const [sf, sw] = s.key();
          if (sf === 2 && sw === 2) {
            const d = s.sub();
            let size = 0;
            while (d.more) {
              const [df, dw] = d.key();
              if (df === 1 && dw === 0) size = d.int64();
              else d.skip(dw);
            }
            shape.push(size);
          } else if (sf === 3 && sw === 0) unknownRank = s.varint() !== 0;
          else s.skip(sw);
        }
        break;
      }
      case 4: c.expect(w, 2, 'TensorProto.tensor_content'); content = c.bytes(); break;
      case 5: repeatedFloats(c, w, typed, 4); break;
      case 6: repeatedFloats(c, w, typed, 8); break;
      case 7: repeatedInts(c, w, typed, true); break; // int_val: int32, int16, int8, uint8, uint16
      case 8: c.expect(w, 2, 'TensorProto.string_val'); (strings ??= []).push(c.bytes()); break;
      case 10: repeatedInts(c, w, typed, true); break; // int64_val
      case 11: repeatedInts(c, w, typed, false); break; // bool_val
      case 13: repeatedInts(c, w, typed, false); break; // half_val: bits of DT_HALF / DT_BFLOAT16
      case 16: repeatedInts(c, w, typed, false); break; // uint32_val
      case 17: repeatedInts(c, w, typed, false); break; // uint64_val
      default: c.skip(w);
    }
  }
  if (unknownRank) throw new DecodeError('tensor of unknown rank');
  let numel = 1;
  for (const d of shape) {
    if (!(d >= 0)) throw new DecodeError(`tensor dimension ${d}`);
    numel *= d;
  }
  if (numel > MAX_TENSOR_ELEMENTS) throw new DecodeError(`tensor of ${numel} elements`);
  if (dtype === DT_STRING) {
    const list = strings ?? [];
    if (list.length !== numel && !(list.length === 1 && numel > 1)) {
      throw new DecodeError(`string tensor of shape [${shape.join(',')}] holds ${list.length} values`);
    }
    const decoded = list.map((s) => utf8.decode(s));
    return { dtype, shape, strings: list.length === numel ? decoded : new Array<string>(numel).fill(decoded[0]) };
  }
  let numbers: number[];
  if (content !== undefined && content.length > 0) numbers = contentNumbers(dtype, content);
  else if (dtype === DT_HALF) numbers = typed.map(halfToNumber);
  else if (dtype === DT_BFLOAT16) numbers = typed.map(bfloat16ToNumber);
  else numbers = typed;
  if (numbers.length !== numel) {
    // TensorFlow's MakeNdarray broadcasts a single typed value, and an empty proto means zeros.
    if (content === undefined && numbers.length <= 1 && numel > 1) numbers = new Array<number>(numel).fill(numbers[0] ?? 0);
    else if (content === undefined && numbers.length === 0 && numel === 1) numbers = [0];
    else throw new DecodeError(`tensor of shape [${shape.join(',')}] holds ${numbers.length} values`);
  }
  return { dtype, shape, numbers };
}

function decodeHistogram(c: Cursor): LegacyHistogram {
  const h: LegacyHistogram = { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  while (c.more) {
    const [f, w] = c.key();
    switch (f) {
      case 1: c.expect(w, 1, 'HistogramProto.min'); h.min = c.fixed64(); break;
      case 2: c.expect(w, 1, 'HistogramProto.max'); h.max = c.fixed64(); break;
      case 3: c.expect(w, 1, 'HistogramProto.num'); h.num = c.fixed64(); break;
      case 4: c.expect(w, 1, 'HistogramProto.sum'); h.sum = c.fixed64(); break;
      case 5: c.expect(w, 1, 'HistogramProto.sum_squares'); h.sumSquares = c.fixed64(); break;
      case 6: repeatedFloats(c, w, h.bucketLimit, 8); break;
      case 7: repeatedFloats(c, w, h.bucket, 8); break;
      default: c.skip(w);
    }
  }
  return h;
}

function decodeMetadata(c: Cursor): SummaryMetadata {
  const m: SummaryMetadata = { pluginName: '' };
  while (c.more) {
    const [f, w] = c.key();
    if (f === 1 && w === 2) {
      const p = c.sub();
      while (p.more) {
        const [pf, pw] = p.key();
        if (pf === 1 && pw === 2) m.pluginName = p.string();
        else if (pf === 2 && pw === 2) m.pluginContent = p.bytes();
        else p.skip(pw);
      }
    } else if (f === 2 && w === 2) m.displayName = c.string();
    else if (f === 3 && w === 2) m.description = c.string();
    else if (f === 4 && w === 0) m.dataClass = c.varint();
    else c.skip(w);
  }
  return m;
}

function decodeValue(c: Cursor): DecodedValue {
  const v: DecodedValue = { tag: '' };
  let nodeName = '';
  while (c.more) {
    const [f, w] = c.key();
    switch (f) {
      case 1: c.expect(w, 2, 'Summary.Value.tag'); v.tag = c.string(); break;
      case 7: c.expect(w, 2, 'Summary.Value.node_name'); nodeName = c.string(); break;
      case 2: c.expect(w, 5, 'Summary.Value.simple_value'); v.simpleValue = c.fixed32(); break;
      case 3: c.skip(w); v.otherKind = 'obsolete_old_style_histogram'; break;
      case 4: c.skip(w); v.otherKind = 'image'; break;
      case 5: c.expect(w, 2, 'Summary.Value.histo'); v.histo = decodeHistogram(c.sub()); break;
      case 6: c.skip(w); v.otherKind = 'audio'; break;
      case 8: c.expect(w, 2, 'Summary.Value.tensor'); v.tensor = decodeTensor(c.sub()); break;
      case 9: c.expect(w, 2, 'Summary.Value.metadata'); v.metadata = decodeMetadata(c.sub()); break;
      default: c.skip(w);
    }
  }
  // TF1 summaries without a tag carry the op's node name (TensorBoard's data_compat does the same).
  if (!v.tag && nodeName) v.tag = nodeName;
  return v;
}

function decodeEvent(c: Cursor, offset: number): DecodedEvent {
  const e: DecodedEvent = { offset, wallTime: 0, step: 0, values: [] };
  while (c.more) {
    const [f, w] = c.key();
    switch (f) {
      case 1: c.expect(w, 1, 'Event.wall_time'); e.wallTime = c.fixed64(); break;
      case 2: c.expect(w, 0, 'Event.step'); e.step = c.int64(); break;
      case 3: c.expect(w, 2, 'Event.file_version'); e.fileVersion = c.string(); break;
      case 4: c.skip(w); e.hasGraphDef = true; break;
      case 5: {
        c.expect(w, 2, 'Event.summary');
        const s = c.sub();
        while (s.more) {
          const [sf, sw] = s.key();
          if (sf === 1 && sw === 2) e.values.push(decodeValue(s.sub()));
          else s.skip(sw);
        }
        break;
      }
      case 10: {
        c.expect(w, 2, 'Event.source_metadata');
        const m = c.sub();
        while (m.more) {
          const [mf, mw] = m.key();
          if (mf === 1 && mw === 2) e.sourceWriter = m.string();
          else m.skip(mw);
        }
        break;
      }
      default: c.skip(w);
    }
  }
  return e;
}

// ---------------------------------------------------------------------------------------------------------
// TFRecord framing

/**
 * Reads the TFRecord-framed `Event`s in `bytes`: uint64 LE length, masked CRC32C of the length, the data,
 * masked CRC32C of the data. Stops at the end, at a record cut short (`truncated`, not an error: the rest
 * may not be written yet) or at a CRC failure (`corrupt`, `stopped: true`). A record whose framing is intact
 * but whose `Event` does not decode is skipped with an `invalid` issue. Never throws on bad bytes.
 */
export function readEvents(bytes: Uint8Array, opts: ReadEventsOptions = {}): ReadEventsResult {
  const file = opts.file ?? '<bytes>';
  const base = opts.offset ?? 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: DecodedEvent[] = [];
  const issues: ReadIssue[] = [];
  const n = bytes.length;
  let pos = 0;
  while (pos < n) {
    const at = base + pos;
    if (n - pos < 12) {
      issues.push({ file, offset: at, kind: 'truncated', message: `record header cut short: ${n - pos} of 12 bytes` });
      return { events, issues, consumed: pos, stopped: false };
    }
    if (unmaskCrc(view.getUint32(pos + 8, true)) !== crc32c(bytes, 0, pos, pos + 8)) {
      issues.push({ file, offset: at, kind: 'corrupt', message: 'record length fails its CRC32C' });
      return { events, issues, consumed: pos, stopped: true };
    }
    const len = view.getUint32(pos, true) + view.getUint32(pos + 4, true) * 0x100000000;
    if (len > n - pos - 16) {
      issues.push({
        file,
        offset: at,
        kind: 'truncated',
        message: `record of ${len} bytes cut short: ${Math.max(0, n - pos - 12)} data bytes present`,
      });
      return { events, issues, consumed: pos, stopped: false };
    }
    const dataStart = pos + 12;
    const dataEnd = dataStart + len;
    if (unmaskCrc(view.getUint32(dataEnd, true)) !== crc32c(bytes, 0, dataStart, dataEnd)) {
      issues.push({ file, offset: at, kind: 'corrupt', message: `record data (${len} bytes) fails its CRC32C` });
      return { events, issues, consumed: pos, stopped: true };
    }
    try {
      events.push(decodeEvent(new Cursor(bytes, view, dataStart, dataEnd), at));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      issues.push({ file, offset: at, kind: 'invalid', message: `Event does not decode (${err.message}); record skipped` });
    }
    pos = dataEnd + 4;
  }
  return { events, issues, consumed: pos, stopped: false };
}

// ---------------------------------------------------------------------------------------------------------
// Runs

/**
 * Converts a legacy `HistogramProto` as TensorBoard's `data_compat` does: empty buckets at both ends are
 * dropped, the first left edge is `min`, the inner edges are `bucket_limit`, the last right edge is `max`,
 * and the triples are rounded to float32 (TensorBoard builds them as an np.float32 array).
 */
export function legacyHistogramBuckets(h: LegacyHistogram): HistogramBucket[] {
  const counts = h.bucket;
  const n = counts.length;
  if (h.bucketLimit.length !== n) throw new DecodeError(`HistogramProto: ${h.bucketLimit.length} limits for ${n} buckets`);
  let start = 0;
  while (start < n && !(counts[start] > 0)) start++;
  let end = n - 1;
  while (end >= 0 && !(counts[end] > 0)) end--;
  const out: HistogramBucket[] = [];
  for (let i = start; i <= end; i++) {
    const left = i === start ? h.min : h.bucketLimit[i - 1];
    const right = i === end ? h.max : h.bucketLimit[i];
    out.push({ left: Math.fround(left), right: Math.fround(right), count: Math.fround(counts[i]) });
  }
  return out;
}

function tensorBuckets(t: DecodedTensor): HistogramBucket[] {
  if (!t.numbers) throw new DecodeError('histogram tensor is not numeric');
  if (t.shape.length === 0 && t.numbers.length === 0) return [];
  if (t.shape.length !== 2 || t.shape[1] !== 3) throw new DecodeError(`histogram tensor of shape [${t.shape.join(',')}], expected [k,3]`);
  const v = t.numbers;
  const out: HistogramBucket[] = new Array(t.shape[0]);
  for (let i = 0; i < t.shape[0]; i++) out[i] = { left: v[i * 3], right: v[i * 3 + 1], count: v[i * 3 + 2] };
  return out;
}

interface FileState {
  /** Bytes after the last whole record, waiting for the rest. */
  pending: Uint8Array;
  /** File offset of `pending[0]` (= bytes of whole records read so far). */
  offset: number;
  stopped: boolean;
  issues: ReadIssue[];
}

function pushSorted<T extends { step: number }>(series: T[], point: T, unsorted: Set<T[]>): void {
  if (series.length > 0 && point.step < series[series.length - 1].step) unsorted.add(series);
  series.push(point);
}

const EMPTY = new Uint8Array(0);

/**
 * Builds one run's data from event bytes (or decoded events) fed in order. Bytes are the successive chunks of
 * a file: a record split across chunks is completed by the next chunk, so a growing file is fed only its new
 * bytes. `toJSON()` returns the data so far (the arrays are shared with the accumulator and grow with it).
 */
export class RunAccumulator {
  private readonly scalars: Record<string, ScalarPoint[]> = Object.create(null);
  private readonly histograms: Record<string, HistogramPoint[]> = Object.create(null);
  private readonly texts: Record<string, TextPoint[]> = Object.create(null);
  private readonly otherTags: Record<string, { plugin: string; count: number }> = Object.create(null);
  private readonly files = new Map<string, FileState>();
  /** First plugin metadata per tag, as TensorBoard keeps it. */
  private readonly tagPlugin = new Map<string, string>();
  private readonly unsorted = new Set<{ step: number }[]>();
  private readonly valueIssues: ReadIssue[] = [];
  private modelConfig: unknown;
  private hasModelConfig = false;
  private hasGraph = false;

  constructor(readonly run: string) {}

  /**
   * Feeds the next bytes of `file` (the whole file, or what was appended since the last call), or decoded
   * events. Returns the number of events added.
   */
  add(input: Uint8Array | readonly DecodedEvent[], file = '<bytes>'): number {
    if (!(input instanceof Uint8Array)) {
      for (const e of input) this.addEvent(e, file);
      return input.length;
    }
    let st = this.files.get(file);
    if (!st) {
      st = { pending: EMPTY, offset: 0, stopped: false, issues: [] };
      this.files.set(file, st);
    }
    if (st.stopped || input.length === 0) return 0;
    let bytes = input;
    if (st.pending.length > 0) {
      bytes = new Uint8Array(st.pending.length + input.length);
      bytes.set(st.pending);
      bytes.set(input, st.pending.length);
    }
    const r = readEvents(bytes, { file, offset: st.offset });
    for (const e of r.events) this.addEvent(e, file);
    // Truncation is the state of the tail, reported by toJSON while it lasts; the rest are facts.
    st.issues.push(...r.issues.filter((i) => i.kind !== 'truncated'));
    st.offset += r.consumed;
    st.stopped = r.stopped;
    st.pending = r.stopped ? EMPTY : bytes.slice(r.consumed);
    return r.events.length;
  }

  /** Bytes of whole records read from `file` so far: where to read a growing file again from. */
  offsetOf(file: string): number {
    return this.files.get(file)?.offset ?? 0;
  }

  /** True once a corrupt record stopped the reading of `file`. */
  isStopped(file: string): boolean {
    return this.files.get(file)?.stopped ?? false;
  }

  private addEvent(e: DecodedEvent, file: string): void {
    if (!this.files.has(file)) this.files.set(file, { pending: EMPTY, offset: 0, stopped: false, issues: [] });
    if (e.hasGraphDef) this.hasGraph = true;
    for (const v of e.values) {
      try {
        this.addValue(v, e);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        this.valueIssues.push({ file, offset: e.offset, kind: 'invalid', message: `tag ${JSON.stringify(v.tag)}: ${err.message}; value skipped` });
      }
    }
  }

  private addValue(v: DecodedValue, e: DecodedEvent): void {
    const tag = v.tag;
    let plugin = this.tagPlugin.get(tag);
    if (plugin === undefined && v.metadata && v.metadata.pluginName) {
      plugin = v.metadata.pluginName;
      this.tagPlugin.set(tag, plugin);
    }
    const { step, wallTime } = e;
    if (v.simpleValue !== undefined) {
      // data_compat turns a simple_value into a scalar summary, which then also classifies the tag.
      if (plugin === undefined) this.tagPlugin.set(tag, 'scalars');
      this.point(this.scalars, tag, { step, wallTime, value: v.simpleValue });
    } else if (v.histo) {
      if (plugin === undefined) this.tagPlugin.set(tag, 'histograms');
      this.point(this.histograms, tag, { step, wallTime, buckets: legacyHistogramBuckets(v.histo) });
    } else if (v.tensor && plugin === 'scalars') {
      const t = v.tensor;
      if (!t.numbers || t.numbers.length !== 1) throw new DecodeError(`scalar tensor of shape [${t.shape.join(',')}]`);
      this.point(this.scalars, tag, { step, wallTime, value: t.numbers[0] });
    } else if (v.tensor && plugin === 'histograms') {
      this.point(this.histograms, tag, { step, wallTime, buckets: tensorBuckets(v.tensor) });
    } else if (v.tensor && plugin === 'graph_keras_model') {
      const s = v.tensor.strings;
      if (!s || s.length !== 1) throw new DecodeError('graph_keras_model summary is not one string');
      try {
        this.modelConfig = JSON.parse(s[0]);
      } catch {
        throw new DecodeError('graph_keras_model summary is not JSON');
      }
      this.hasModelConfig = true;
    } else if (v.tensor && plugin === 'text') {
      const s = v.tensor.strings;
      if (!s) throw new DecodeError('text summary is not a string tensor');
      this.point(this.texts, tag, { step, wallTime, text: s.join('\n') });
    } else {
      const kind = plugin ?? v.otherKind ?? '';
      const o = (this.otherTags[tag] ??= { plugin: kind, count: 0 });
      o.count++;
    }
  }

  private point<T extends { step: number }>(into: Record<string, T[]>, tag: string, p: T): void {
    pushSorted((into[tag] ??= []), p, this.unsorted);
  }

  toJSON(): RunData {
    for (const s of this.unsorted) s.sort((a, b) => a.step - b.step);
    this.unsorted.clear();
    const issues: ReadIssue[] = [];
    for (const [file, st] of this.files) {
      issues.push(...st.issues);
      if (st.pending.length > 0) {
        issues.push({ file, offset: st.offset, kind: 'truncated', message: `last record incomplete (${st.pending.length} bytes so far)` });
      }
    }
    issues.push(...this.valueIssues);
    const data: RunData = {
      run: this.run,
      scalars: this.scalars,
      histograms: this.histograms,
      files: [...this.files.keys()],
      issues,
    };
    if (this.hasModelConfig) data.modelConfig = this.modelConfig;
    if (Object.keys(this.texts).length > 0) data.texts = this.texts;
    if (Object.keys(this.otherTags).length > 0) data.otherTags = this.otherTags;
    if (this.hasGraph) data.hasGraph = true;
    return data;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Runs from a list of files (browsers and Node)

/** True for an event file name as TensorBoard recognises it. */
export function isEventFileName(name: string): boolean {
  return name.includes('tfevents');
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Longest common folder prefix of `dirs` ('' when none). */
function commonDir(dirs: string[]): string {
  if (dirs.length === 0) return '';
  let parts = dirs[0].split('/').filter(Boolean);
  for (const d of dirs.slice(1)) {
    const p = d.split('/').filter(Boolean);
    let i = 0;
    while (i < parts.length && i < p.length && parts[i] === p[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join('/');
}

/** The run name of a folder under `root`: its relative path, '.' for the root itself. */
export function runName(dir: string, root: string): string {
  const d = dir.split('/').filter(Boolean).join('/');
  const r = root.split('/').filter(Boolean).join('/');
  if (d === r) return '.';
  if (r && d.startsWith(r + '/')) return d.slice(r.length + 1);
  return d || '.';
}

export interface RunFile {
  /** Path of the file, `/`-separated; its folder names the run (e.g. `File.webkitRelativePath`). */
  path: string;
  /** The bytes, a Blob/File, or a URL to fetch. */
  data: Uint8Array | Blob | string;
}

export interface ReadRunFilesOptions {
  /**
   * The log dir the paths are under; runs are named by their folder relative to it. Default: the folder all
   * the files share (so `logs/train/…` and `logs/validation/…` give runs `train` and `validation`).
   */
  root?: string;
}

async function bytesOf(data: Uint8Array | Blob | string): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') {
    const res = await fetch(data);
    if (!res.ok) throw new Error(`fetching ${data}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  return new Uint8Array(await data.arrayBuffer());
}

/**
 * Reads event files given as bytes, Blobs (`File`s from an `<input type=file webkitdirectory>` or a drop)
 * or URLs, grouped into runs by folder as TensorBoard groups them. Files whose names do not contain
 * `tfevents` are ignored. Within a run, files are read in name order. A file that cannot be fetched or read
 * becomes an issue of its run.
 */
export async function readRunFiles(files: readonly RunFile[], opts: ReadRunFilesOptions = {}): Promise<RunData[]> {
  const norm = files
    .map((f) => ({ ...f, path: f.path.replace(/\\/g, '/') }))
    .filter((f) => isEventFileName(f.path.slice(f.path.lastIndexOf('/') + 1)));
  const root = opts.root ?? commonDir(norm.map((f) => dirOf(f.path)));
  const byRun = new Map<string, typeof norm>();
  for (const f of norm) {
    const run = runName(dirOf(f.path), root);
    let list = byRun.get(run);
    if (!list) byRun.set(run, (list = []));
    list.push(f);
  }
  const out: RunData[] = [];
  for (const run of [...byRun.keys()].sort()) {
    const acc = new RunAccumulator(run);
    const fetchIssues: ReadIssue[] = [];
    for (const f of byRun.get(run)!.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
      let bytes: Uint8Array;
      try {
        bytes = await bytesOf(f.data);
      } catch (err) {
        fetchIssues.push({ file: f.path, offset: 0, kind: 'invalid', message: `could not read: ${(err as Error).message}` });
        continue;
      }
      acc.add(bytes, f.path);
    }
    const data = acc.toJSON();
    data.issues.push(...fetchIssues);
    out.push(data);
  }
  return out;
}
