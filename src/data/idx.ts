/**
 * Reader for the IDX file format used by MNIST, Fashion-MNIST and friends
 * (http://yann.lecun.com/exdb/mnist/ describes it):
 *
 *   bytes 0-1  0x00 0x00 (magic)
 *   byte  2    data type: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte  3    number of dimensions
 *   then one big-endian uint32 per dimension, then the data in row-major (C) order.
 *
 * Only unsigned-byte data (type 0x08) is supported, which is what every MNIST-like data set uses.
 * Files may be gzip-compressed; `decodeIdx` detects and inflates them.
 *
 * Every problem is reported as a plain `Error` whose message names the file (`what`) and the problem.
 */
import { nodeBuiltin } from '../platform.js';

/** A decoded IDX array: the raw bytes in row-major order and the dimensions. */
export interface IdxArray {
  data: Uint8Array;
  shape: number[];
}

const IDX_TYPES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

function hex(b: number): string {
  return '0x' + b.toString(16).padStart(2, '0');
}

/** Whether `bytes` starts with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates gzip data. Uses the standard `DecompressionStream('gzip')` where it exists (browsers, Node ≥ 18) so one
 * code path runs everywhere, and falls back to Node's `zlib` otherwise.
 */
export async function gunzip(bytes: Uint8Array, what: string): Promise<Uint8Array> {
  try {
    if (typeof DecompressionStream === 'function') {
      const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
      return new Uint8Array(await new Response(stream).arrayBuffer());
    }
    const zlib = nodeBuiltin<typeof import('node:zlib')>('node:zlib');
    if (!zlib) throw new Error('this runtime has neither DecompressionStream nor node:zlib');
    return new Uint8Array(zlib.gunzipSync(bytes));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(`${what}: corrupt gzip data (${bytes.length} compressed bytes could not be inflated: ${reason})`);
  }
}

/**
 * Parses an uncompressed IDX file of unsigned bytes. The returned `data` is a view into `bytes` (no copy:
 * the 47 MB of MNIST training images are copied once, into wasm memory, by the caller).
 * @param what names the file in error messages (a path or URL).
 */
export function parseIdx(bytes: Uint8Array, what: string): IdxArray {
  if (isGzip(bytes)) {
    throw new Error(`${what}: data is gzip-compressed; decompress it first (decodeIdx does this)`);
  }
  if (bytes.length < 4) {
    throw new Error(`${what}: not an IDX file: only ${bytes.length} bytes, shorter than the 4-byte IDX header`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${what}: not an IDX file: bad magic number (expected 00 00 <type> <dims>, got ${got})`);
  }
  const type = bytes[2];
  if (type !== 0x08) {
    const name = IDX_TYPES[type];
    throw new Error(
      `${what}: unsupported IDX data type ${hex(type)}` +
        (name ? ` (${name})` : ' (not a valid IDX type)') +
        '; only 0x08 (unsigned byte) is supported',
    );
  }
  const ndim = bytes[3];
  if (ndim === 0) {
    throw new Error(`${what}: invalid IDX header: dimension count is 0`);
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new Error(
      `${what}: truncated IDX header: ${ndim} dimensions need a ${headerBytes}-byte header but the file has ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) {
    throw new Error(`${what}: IDX dimensions [${shape.join(', ')}] are too large`);
  }
  const expected = headerBytes + count;
  if (bytes.length < expected) {
    throw new Error(
      `${what}: truncated IDX file: shape [${shape.join(', ')}] needs ${expected} bytes ` +
        `(${headerBytes} header + ${count} data) but the file has ${bytes.length} bytes (${expected - bytes.length} missing)`,
    );
  }
  if (bytes.length > expected) {
    throw new Error(
      `${what}: IDX file has ${bytes.length - expected} trailing bytes: shape [${shape.join(', ')}] needs ${expected} bytes ` +
        `(${headerBytes} header + ${count} data) but the file has ${bytes.length} bytes`,
    );
  }
  return { data: bytes.subarray(headerBytes, expected), shape };
}

/**
 * Decodes an IDX file, plain or gzip-compressed (detected by its 1f 8b magic number, whatever the file's name).
 * @param what names the file in error messages (a path or URL).
 */
export async function decodeIdx(bytes: Uint8Array, what: string): Promise<IdxArray> {
  const raw = isGzip(bytes) ? await gunzip(bytes, what) : bytes;
  return parseIdx(raw, what);
}
