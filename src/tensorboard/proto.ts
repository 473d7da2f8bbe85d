/**
 * A minimal protocol-buffer *writer* for the handful of TensorFlow/TensorBoard messages an event file needs
 * (`Event`, `Summary`, `Summary.Value`, `SummaryMetadata`, `TensorProto`, `TensorShapeProto`).
 *
 * Field numbers follow tensorboard/compat/proto/{event,summary,tensor,tensor_shape,types}.proto. Like proto3
 * serializers, scalar fields holding their default value (0, "", empty bytes) are omitted; sub-messages that
 * are set are always written, even when empty (a scalar tensor's `tensor_shape` is an empty message).
 * Fields are written in field-number order, as protobuf's own serializers do.
 */

/** Wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** `tensorflow.DataType` values used here (types.proto). */
export const DataType = {
  DT_FLOAT: 1,
  DT_DOUBLE: 2,
  DT_INT32: 3,
  DT_STRING: 7,
  DT_INT64: 9,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** `SummaryMetadata.DataClass` (summary.proto). */
export const DataClass = { UNKNOWN: 0, SCALAR: 1, TENSOR: 2, BLOB_SEQUENCE: 3 } as const;
export type DataClass = (typeof DataClass)[keyof typeof DataClass];

const utf8 = new TextEncoder();

/** Growable byte buffer with protobuf primitives. */
export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialCapacity = 64) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** Unsigned varint of a non-negative safe integer, or any int64 given as a bigint (two's complement). */
  varint(value: number | bigint): this {
    if (typeof value === 'bigint' || value < 0 || value > Number.MAX_SAFE_INTEGER || !Number.isInteger(value)) {
      let v = BigInt.asUintN(64, BigInt(typeof value === 'number' ? Math.trunc(value) : value));
      this.reserve(10);
      while (v >= 0x80n) {
        this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
        // eslint-disable-next-line no-restricted-syntax -- a BigInt has no >>>; v is already unsigned (asUintN)
        v >>= 7n;
      }
      this.buf[this.len++] = Number(v);
      return this;
    }
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  key(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  rawBytes(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  rawDouble(value: number): this {
    this.reserve(8);
    this.view.setFloat64(this.len, value, true);
    this.len += 8;
    return this;
  }

  rawFloat(value: number): this {
    this.reserve(4);
    this.view.setFloat32(this.len, value, true);
    this.len += 4;
    return this;
  }

  /** int64 / int32 / enum field (varint); omitted when 0. */
  int64Field(field: number, value: number | bigint): this {
    if (value === 0 || value === 0n) return this;
    return this.key(field, VARINT).varint(value);
  }

  /** `double` field (fixed64); omitted when +0. */
  doubleField(field: number, value: number): this {
    if (value === 0 && !Object.is(value, -0)) return this;
    return this.key(field, I64).rawDouble(value);
  }

  /** `float` field (fixed32); omitted when +0. */
  floatField(field: number, value: number): this {
    if (value === 0 && !Object.is(value, -0)) return this;
    return this.key(field, I32).rawFloat(value);
  }

  /** `bytes` field; omitted when empty (proto3 semantics). */
  bytesField(field: number, bytes: Uint8Array): this {
    if (bytes.length === 0) return this;
    return this.key(field, LEN).varint(bytes.length).rawBytes(bytes);
  }

  /** `string` field, UTF-8; omitted when empty. */
  stringField(field: number, value: string): this {
    return this.bytesField(field, utf8.encode(value));
  }

  /** An element of a repeated `bytes`/`string` field: written even when empty. */
  repeatedBytesElement(field: number, bytes: Uint8Array): this {
    return this.key(field, LEN).varint(bytes.length).rawBytes(bytes);
  }

  /** Embedded message field; always written when called (presence), even if the message is empty. */
  messageField(field: number, write: (w: ProtoWriter) => void): this {
    const sub = new ProtoWriter();
    write(sub);
    return this.key(field, LEN).varint(sub.len).rawBytes(sub.finish());
  }

  /** Packed `repeated double`; omitted when empty. */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    this.key(field, LEN).varint(values.length * 8);
    for (let i = 0; i < values.length; i++) this.rawDouble(values[i]);
    return this;
  }

  /** Packed `repeated float`; omitted when empty. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    this.key(field, LEN).varint(values.length * 4);
    for (let i = 0; i < values.length; i++) this.rawFloat(values[i]);
    return this;
  }

  /** The bytes written so far (a copy sized exactly). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** `tensorflow.TensorProto` (only the fields we write). */
export interface TensorProtoInit {
  dtype: DataType;
  /** Dimension sizes; `[]` for a scalar. */
  shape: readonly number[];
  /** Raw little-endian values (field 4), as TF2's summary writer stores tensors. */
  tensorContent?: Uint8Array;
  /** Alternatively typed values (fields 5, 6, 8). */
  floatVal?: ArrayLike<number>;
  doubleVal?: ArrayLike<number>;
  stringVal?: readonly Uint8Array[];
}

/** `tensorflow.SummaryMetadata`. */
export interface SummaryMetadataInit {
  pluginName: string;
  /** `PluginData.content`: the plugin's serialized metadata proto (empty for scalars/histograms version 0). */
  pluginContent?: Uint8Array;
  displayName?: string;
  summaryDescription?: string;
  dataClass?: DataClass;
}

/** `tensorflow.Summary.Value`. */
export interface SummaryValueInit {
  tag: string;
  /** Legacy float scalar (field 2); TF2 writers use `tensor` instead. */
  simpleValue?: number;
  tensor?: TensorProtoInit;
  metadata?: SummaryMetadataInit;
}

/** `tensorflow.Event`. */
export interface EventInit {
  /** Seconds since the Unix epoch. */
  wallTime: number;
  step?: number | bigint;
  fileVersion?: string;
  summary?: readonly SummaryValueInit[];
  /** `SourceMetadata.writer` (field 10). */
  sourceWriter?: string;
}

export function writeTensorShape(w: ProtoWriter, shape: readonly number[]): void {
  for (const size of shape) w.messageField(2, (d) => d.int64Field(1, size));
}

export function writeTensorProto(w: ProtoWriter, t: TensorProtoInit): void {
  w.int64Field(1, t.dtype);
  w.messageField(2, (s) => writeTensorShape(s, t.shape));
  if (t.tensorContent) w.bytesField(4, t.tensorContent);
  if (t.floatVal) w.packedFloats(5, t.floatVal);
  if (t.doubleVal) w.packedDoubles(6, t.doubleVal);
  if (t.stringVal) for (const s of t.stringVal) w.repeatedBytesElement(8, s);
}

export function writeSummaryMetadata(w: ProtoWriter, m: SummaryMetadataInit): void {
  w.messageField(1, (p) => {
    p.stringField(1, m.pluginName);
    if (m.pluginContent) p.bytesField(2, m.pluginContent);
  });
  if (m.displayName) w.stringField(2, m.displayName);
  if (m.summaryDescription) w.stringField(3, m.summaryDescription);
  if (m.dataClass) w.int64Field(4, m.dataClass);
}

export function writeSummaryValue(w: ProtoWriter, v: SummaryValueInit): void {
  w.stringField(1, v.tag);
  // A member of the `value` oneof: written whenever set, even when 0.
  if (v.simpleValue !== undefined) w.key(2, I32).rawFloat(v.simpleValue);
  if (v.tensor) w.messageField(8, (t) => writeTensorProto(t, v.tensor!));
  if (v.metadata) w.messageField(9, (m) => writeSummaryMetadata(m, v.metadata!));
}

/** Serializes an `Event`. */
export function encodeEvent(e: EventInit): Uint8Array {
  const w = new ProtoWriter(256);
  w.doubleField(1, e.wallTime);
  if (e.step !== undefined) w.int64Field(2, e.step);
  if (e.fileVersion !== undefined) w.stringField(3, e.fileVersion);
  if (e.summary) {
    const values = e.summary;
    w.messageField(5, (s) => {
      for (const v of values) s.messageField(1, (vw) => writeSummaryValue(vw, v));
    });
  }
  if (e.sourceWriter !== undefined) w.messageField(10, (m) => m.stringField(1, e.sourceWriter!));
  return w.finish();
}
