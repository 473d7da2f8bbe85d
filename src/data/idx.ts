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
 * Default bound on the bytes an IDX file may hold, compressed or inflated: 1 GiB, 20× MNIST's training
 * images. It guards against files that are not what they claim (a multi-GB file named like MNIST, a gzip
 * "bomb"); pass `maxBytes` to read bigger ones.
 */
export const DEFAULT_MAX_IDX_BYTES = 2 ** 30;

/** Input fed to the inflater per read: a bomb's worst ratio (~1000:1) then yields ~16 MB at a time. */
const INFLATE_INPUT_CHUNK = 16 * 1024;

/**
 * The total size an IDX header declares, `'not-idx'` when the bytes cannot start an IDX file of unsigned
 * bytes, or null while the header is still incomplete.
 */
function declaredIdxBytes(head: Uint8Array): number | 'not-idx' | null {
  if (head.length < 4) return null;
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || head[3] === 0) return 'not-idx';
  const headerBytes = 4 + 4 * head[3];
  if (head.length < headerBytes) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < head[3]; i++) count *= view.getUint32(4 + 4 * i, false);
  return headerBytes + count;
}

function mb(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MB`;
}

/**
 * Inflates gzip data in bounded pieces (the standard `DecompressionStream`, fed 16 KB at a time; Node's
 * streaming `zlib` where it is missing), stopping as soon as the output exceeds `maxBytes`.
 */
export function gunzip(bytes: Uint8Array, what: string, maxBytes = DEFAULT_MAX_IDX_BYTES): Promise<Uint8Array> {
  return inflate(bytes, what, maxBytes, false);
}

/**
 * The bounded inflater. With `idx`, the output is also checked against the IDX header as soon as it has
 * arrived: more than the header declares stops it (a gzip "bomb" costs at most what its header claims, never
 * what it inflates to), and output that cannot be IDX stops it at once (parseIdx then says why).
 */
async function inflate(bytes: Uint8Array, what: string, maxBytes: number, idx: boolean): Promise<Uint8Array> {
  let out = new Uint8Array(Math.min(maxBytes, 64 * 1024));
  let used = 0;
  let limit = maxBytes;
  let declared: number | null = null;
  let done = false;
  const push = (chunk: Uint8Array): void => {
    if (idx && declared === null) {
      const head = new Uint8Array(Math.min(used + chunk.length, 1024));
      head.set(out.subarray(0, Math.min(used, head.length)));
      if (used < head.length) head.set(chunk.subarray(0, head.length - used), used);
      const d = declaredIdxBytes(head);
      if (d === 'not-idx') {
        chunk = chunk.subarray(0, Math.max(0, Math.min(chunk.length, limit - used)));
        done = true;
      } else if (d !== null) {
        if (d > maxBytes)
          throw new Error(`${what}: the IDX header declares ${mb(d)} of data, more than the ${mb(maxBytes)} limit (pass maxBytes to read bigger files)`);
        declared = limit = d;
      }
    }
    if (used + chunk.length > limit)
      throw new Error(
        declared !== null
          ? `${what}: gzip data inflates to more than the ${declared} bytes its IDX header declares; stopped there (a gzip bomb or a corrupt file)`
          : `${what}: gzip data inflates to more than ${mb(maxBytes)}, the limit (pass maxBytes to read bigger files)`,
      );
    if (used + chunk.length > out.length) {
      // Doubling, not the declared size at once: a header may lie, the data must prove it.
      const grown = new Uint8Array(Math.min(limit, Math.max(used + chunk.length, 2 * out.length)));
      grown.set(out.subarray(0, used));
      out = grown;
    }
    out.set(chunk, used);
    used += chunk.length;
  };
  try {
    if (typeof DecompressionStream === 'function') {
      let off = 0;
      const input = new ReadableStream<Uint8Array>(
        {
          pull(c) {
            if (off >= bytes.length) return c.close();
            c.enqueue(bytes.slice(off, off + INFLATE_INPUT_CHUNK));
            off += INFLATE_INPUT_CHUNK;
          },
        },
        { highWaterMark: 0 },
      );
      const ds = new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
      const reader = input.pipeThrough(ds).getReader();
      try {
        while (!done) {
          const r = await reader.read();
          if (r.done) break;
          push(r.value);
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    } else {
      const zlib = nodeBuiltin<typeof import('node:zlib')>('node:zlib');
      if (!zlib) throw new Error('this runtime has neither DecompressionStream nor node:zlib');
      const z = zlib.createGunzip();
      await new Promise<void>((resolve, reject) => {
        z.on('data', (c: Uint8Array) => {
          try {
            push(c);
            if (done) {
              z.destroy();
              resolve();
            }
          } catch (e) {
            z.destroy();
            reject(e);
          }
        });
        z.on('end', resolve);
        z.on('error', reject);
        for (let off = 0; off < bytes.length; off += INFLATE_INPUT_CHUNK) z.write(bytes.subarray(off, off + INFLATE_INPUT_CHUNK));
        z.end();
      });
    }
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (reason.startsWith(`${what}: `)) throw e;
    throw new Error(`${what}: corrupt gzip data (${bytes.length} compressed bytes could not be inflated: ${reason})`);
  }
  return out.subarray(0, used);
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
 * @param maxBytes bound on the inflated size (see DEFAULT_MAX_IDX_BYTES).
 */
export async function decodeIdx(bytes: Uint8Array, what: string, maxBytes = DEFAULT_MAX_IDX_BYTES): Promise<IdxArray> {
  const raw = isGzip(bytes) ? await inflate(bytes, what, maxBytes, true) : bytes;
  return parseIdx(raw, what);
}
