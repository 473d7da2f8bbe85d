/**
 * Test-only TensorBoard event-file reader, written independently of src/tensorboard (its own bitwise CRC32C
 * and its own protobuf decoder), so that tests do not check the writer against itself.
 *
 * TFRecord: u64 LE length | masked crc32c(length bytes) | data | masked crc32c(data). Reading stops at the
 * first record that is incomplete or fails a CRC, like TensorBoard's reader.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// ---- CRC32C, bit at a time ----

export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function masked(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) >>> 0;
}

// ---- TFRecord ----

export interface TfRecords {
  records: Uint8Array[];
  /** Why reading stopped early: `null` when the bytes ended exactly after a record. */
  stop: null | 'truncated' | 'bad-length-crc' | 'bad-data-crc';
  /** Byte offset just after the last good record. */
  goodBytes: number;
}

export function readTfRecords(bytes: Uint8Array): TfRecords {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) return { records, stop: 'truncated', goodBytes: pos };
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    if (view.getUint32(pos + 8, true) !== masked(crc32cBitwise(bytes.subarray(pos, pos + 8)))) {
      return { records, stop: 'bad-length-crc', goodBytes: pos };
    }
    const len = hi * 0x100000000 + lo;
    const end = pos + 12 + len + 4;
    if (end > bytes.length) return { records, stop: 'truncated', goodBytes: pos };
    const data = bytes.subarray(pos + 12, pos + 12 + len);
    if (view.getUint32(pos + 12 + len, true) !== masked(crc32cBitwise(data))) {
      return { records, stop: 'bad-data-crc', goodBytes: pos };
    }
    records.push(data.slice());
    pos = end;
  }
  return { records, stop: null, goodBytes: pos };
}

// ---- protobuf decoding ----

export interface Field {
  no: number;
  wire: number;
  /** varint value (as bigint) */
  int?: bigint;
  /** I64 / I32 / LEN payload */
  bytes?: Uint8Array;
}

export function parseFields(bytes: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= bytes.length) throw new Error('varint runs past the end');
      const b = bytes[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  };
  while (pos < bytes.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (no === 0) throw new Error('field number 0');
    if (wire === 0) out.push({ no, wire, int: varint() });
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > bytes.length) throw new Error('fixed field runs past the end');
      out.push({ no, wire, bytes: bytes.subarray(pos, pos + n) });
      pos += n;
    } else if (wire === 2) {
      const n = Number(varint());
      if (pos + n > bytes.length) throw new Error('length-delimited field runs past the end');
      out.push({ no, wire, bytes: bytes.subarray(pos, pos + n) });
      pos += n;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const decoder = new TextDecoder();
const f64 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
const f32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);

export interface DecodedTensor {
  dtype: number;
  shape: number[];
  /** `tensor_content` raw bytes (empty when absent). */
  content: Uint8Array;
  floatVal: number[];
  doubleVal: number[];
  stringVal: Uint8Array[];
  /** Numbers from `tensor_content` (per dtype) or the typed `*_val` fields. */
  values: number[];
}

export interface DecodedValue {
  tag: string;
  pluginName?: string;
  pluginContent?: Uint8Array;
  dataClass?: number;
  simpleValue?: number;
  hasHisto: boolean;
  tensor?: DecodedTensor;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  sourceWriter?: string;
  hasGraphDef: boolean;
  values: DecodedValue[];
  /** The raw record, for byte-level comparisons. */
  raw: Uint8Array;
}

function decodeTensor(bytes: Uint8Array): DecodedTensor {
  const t: DecodedTensor = { dtype: 0, shape: [], content: new Uint8Array(0), floatVal: [], doubleVal: [], stringVal: [], values: [] };
  for (const f of parseFields(bytes)) {
    if (f.no === 1) t.dtype = Number(f.int);
    else if (f.no === 2) {
      for (const d of parseFields(f.bytes!)) {
        if (d.no !== 2) continue;
        const size = parseFields(d.bytes!).find((x) => x.no === 1);
        t.shape.push(size ? Number(size.int) : 0);
      }
    } else if (f.no === 4) t.content = f.bytes!;
    else if (f.no === 5) {
      if (f.wire === 5) t.floatVal.push(f32(f.bytes!));
      else for (let i = 0; i < f.bytes!.length; i += 4) t.floatVal.push(f32(f.bytes!.subarray(i)));
    } else if (f.no === 6) {
      if (f.wire === 1) t.doubleVal.push(f64(f.bytes!));
      else for (let i = 0; i < f.bytes!.length; i += 8) t.doubleVal.push(f64(f.bytes!.subarray(i)));
    } else if (f.no === 8) t.stringVal.push(f.bytes!);
  }
  if (t.content.length > 0) {
    if (t.dtype === 1) for (let i = 0; i < t.content.length; i += 4) t.values.push(f32(t.content.subarray(i)));
    else if (t.dtype === 2) for (let i = 0; i < t.content.length; i += 8) t.values.push(f64(t.content.subarray(i)));
  } else t.values = t.dtype === 2 ? t.doubleVal : t.floatVal;
  return t;
}

function decodeValue(bytes: Uint8Array): DecodedValue {
  const v: DecodedValue = { tag: '', hasHisto: false };
  for (const f of parseFields(bytes)) {
    if (f.no === 1) v.tag = decoder.decode(f.bytes!);
    else if (f.no === 2) v.simpleValue = f32(f.bytes!);
    else if (f.no === 5) v.hasHisto = true;
    else if (f.no === 8) v.tensor = decodeTensor(f.bytes!);
    else if (f.no === 9) {
      for (const m of parseFields(f.bytes!)) {
        if (m.no === 1) {
          for (const p of parseFields(m.bytes!)) {
            if (p.no === 1) v.pluginName = decoder.decode(p.bytes!);
            else if (p.no === 2) v.pluginContent = p.bytes!;
          }
        } else if (m.no === 4) v.dataClass = Number(m.int);
      }
    }
  }
  return v;
}

export function decodeEvent(raw: Uint8Array): DecodedEvent {
  const e: DecodedEvent = { wallTime: 0, step: 0, hasGraphDef: false, values: [], raw };
  for (const f of parseFields(raw)) {
    if (f.no === 1) e.wallTime = f64(f.bytes!);
    else if (f.no === 2) e.step = Number(BigInt.asIntN(64, f.int!));
    else if (f.no === 3) e.fileVersion = decoder.decode(f.bytes!);
    else if (f.no === 4) e.hasGraphDef = true;
    else if (f.no === 5) {
      for (const s of parseFields(f.bytes!)) if (s.no === 1) e.values.push(decodeValue(s.bytes!));
    } else if (f.no === 10) {
      const w = parseFields(f.bytes!).find((x) => x.no === 1);
      if (w) e.sourceWriter = decoder.decode(w.bytes!);
    }
  }
  return e;
}

export interface DecodedFile {
  events: DecodedEvent[];
  stop: TfRecords['stop'];
}

export function decodeEventBytes(bytes: Uint8Array): DecodedFile {
  const { records, stop } = readTfRecords(bytes);
  return { events: records.map(decodeEvent), stop };
}

export function readEventFile(path: string): DecodedFile {
  return decodeEventBytes(new Uint8Array(readFileSync(path)));
}

/** The event files of a run directory (names containing "tfevents"), sorted. */
export function eventFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.includes('tfevents'))
    .sort()
    .map((n) => join(dir, n));
}

/** Flattened (step, value) points of every summary value, for convenient assertions. */
export interface Point {
  step: number;
  wallTime: number;
  value: DecodedValue;
}

export function points(events: DecodedEvent[]): Point[] {
  return events.flatMap((e) => e.values.map((value) => ({ step: e.step, wallTime: e.wallTime, value })));
}
