/**
 * Issue 12 items 2 and 8 for IDX data: only regular files are read (a FIFO nobody writes to, a device, a
 * directory get an error, never a hang), files and inflated data have a size bound, gzip is inflated in
 * bounded pieces and stopped as soon as it exceeds what its IDX header declares (gzip "bombs"), and a
 * seeded fuzz of plain and gzip IDX files only ever gives the right array or an Error naming the file.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_IDX_BYTES, decodeIdx, gunzip } from '../src/data/idx.js';
import { MNIST_FILE_NAMES, loadMnistLike } from '../src/data/sources.js';
import { readRegularFile } from '../src/platform.js';
import { datasets } from '../src/index.js';
import { Rng } from './helpers/rand.js';

function idx(shape: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out[2] = 0x08;
  out[3] = shape.length;
  const view = new DataView(out.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * shape.length);
  return out;
}

/**
 * A valid gzip member whose content is `header` followed by `zeros` zero bytes, built from one deflate
 * block of 1 MiB of zeros repeated (each block self-contained after a full flush), so a 4.5 GiB bomb costs
 * 4.6 MB and no time. The trailer's CRC is left 0 unless `crc` (it is never reached by a bounded reader).
 */
function bomb(header: Uint8Array, zeros: number, crc = false): Uint8Array {
  const MB = 1 << 20;
  const z = new Uint8Array(MB);
  const block = zlib.deflateRawSync(z, { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const head = zlib.deflateRawSync(header, { finishFlush: zlib.constants.Z_FULL_FLUSH });
  const n = Math.floor(zeros / MB);
  let c = 0;
  if (crc) {
    c = zlib.crc32(header);
    for (let i = 0; i < n; i++) c = zlib.crc32(z, c);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(c >>> 0, 0);
  trailer.writeUInt32LE((header.length + n * MB) >>> 0, 4);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]), head, ...Array<Uint8Array>(n).fill(block), zlib.deflateRawSync(new Uint8Array(0)), trailer]);
}

const MNIST_HEADER = idx([60000, 28, 28], []);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wl-idx-safety-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function setWith(name: string, file: (dir: string, path: string) => Promise<void>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  const small = { trainImages: idx([2, 28, 28], new Uint8Array(2 * 784)), trainLabels: idx([2], [1, 2]), testImages: idx([1, 28, 28], new Uint8Array(784)), testLabels: idx([1], [3]) };
  for (const [k, v] of Object.entries(small)) if (k !== 'trainImages') await writeFile(join(dir, MNIST_FILE_NAMES[k as keyof typeof small]), v);
  await file(dir, join(dir, MNIST_FILE_NAMES.trainImages));
  return dir;
}

describe('only regular files, with a size bound', () => {
  it('a FIFO nobody writes to: an error, not a hang', async () => {
    const dir = await setWith('fifo', async (_d, p) => {
      execFileSync('mkfifo', [p]);
    });
    await expect(loadMnistLike(dir)).rejects.toThrow(/train-images-idx3-ubyte: cannot read file: it is a FIFO \(named pipe\), not a regular file/);
  });

  it('a device (/dev/zero) and a directory: errors that say what they are', async () => {
    const dev = await setWith('dev', (_d, p) => symlink('/dev/zero', p));
    await expect(loadMnistLike(dev)).rejects.toThrow(/train-images-idx3-ubyte: cannot read file: it is a device, not a regular file/);
    const dirCase = await setWith('dir', (_d, p) => mkdir(p));
    await expect(loadMnistLike(dirCase)).rejects.toThrow(/train-images-idx3-ubyte: cannot read file: it is a directory, not a regular file/);
  });

  it('a file bigger than maxBytes is refused before it is read', async () => {
    const dir = await setWith('big', (_d, p) => writeFile(p, idx([2, 28, 28], new Uint8Array(2 * 784))));
    await expect(loadMnistLike(dir, {}, { maxBytes: 1000 })).rejects.toThrow(/train-images-idx3-ubyte: file is 0\.0 MB, more than the 0\.0 MB limit \(pass maxBytes/);
    expect((await loadMnistLike(dir)).train.images.shape).toEqual([2, 28, 28]);
    await expect(readRegularFile(join(dir, 'nope'), 10)).resolves.toBeNull();
  });
});

describe('gzip inflated in bounded pieces', () => {
  it('a 4.5 GiB bomb behind a 47 MB MNIST header stops at the declared size, with a message that says so', async () => {
    const b = bomb(MNIST_HEADER, 4.5 * 2 ** 30);
    const rss0 = process.memoryUsage().rss;
    await expect(decodeIdx(b, 'bomb.gz')).rejects.toThrow(
      'bomb.gz: gzip data inflates to more than the 47040016 bytes its IDX header declares; stopped there (a gzip bomb or a corrupt file)',
    );
    // what it inflated is bounded by the header (47 MB), not by the bomb (4.5 GiB)
    expect(process.memoryUsage().rss - rss0).toBeLessThan(1024 * 2 ** 20);
  });

  it('a 1.2 GiB bomb whose header declares its full size is refused by the limit before inflating it', async () => {
    const b = bomb(idx([1200, 1024, 1024], []), 64 * 2 ** 20);
    await expect(decodeIdx(b, 'big.gz')).rejects.toThrow('big.gz: the IDX header declares 1200.0 MB of data, more than the 1024.0 MB limit (pass maxBytes to read bigger files)');
    expect(DEFAULT_MAX_IDX_BYTES).toBe(2 ** 30);
  });

  it('a bomb through loadMnistLike (file .gz) and datasets.mnist.loadData gets the same error', async () => {
    const dir = await setWith('bomb', (_d, p) => writeFile(`${p}.gz`, bomb(MNIST_HEADER, 200 * 2 ** 20)));
    await expect(datasets.mnist.loadData(dir)).rejects.toThrow(/train-images-idx3-ubyte\.gz: gzip data inflates to more than the 47040016 bytes its IDX header declares/);
  });

  it('honest gzip IDX data, small and at the declared size, still decodes (CRC checked)', async () => {
    const ok = bomb(idx([3, 1024, 1024], []), 3 * 2 ** 20, true);
    const a = await decodeIdx(ok, 'ok.gz');
    expect(a.shape).toEqual([3, 1024, 1024]);
    expect(a.data.length).toBe(3 * 2 ** 20);
    // gunzip of non-IDX data is bounded by maxBytes
    await expect(gunzip(zlib.gzipSync(new Uint8Array(5000)), 'plain.gz', 4096)).rejects.toThrow('plain.gz: gzip data inflates to more than 0.0 MB, the limit (pass maxBytes to read bigger files)');
    expect((await gunzip(zlib.gzipSync(new Uint8Array(5000).fill(7)), 'p.gz')).length).toBe(5000);
  });
});

describe('loadData with the wrong kind of source', () => {
  it('null, 42, an array, true, an empty string: errors that name what is expected', async () => {
    for (const bad of [null, 42, [], true, '']) {
      await expect(datasets.mnist.loadData(bad as never)).rejects.toThrow(/^loadMnistLike: source (must be a directory path, a URL, or \{ trainImages, trainLabels, testImages, testLabels \}; got (null|number 42|an array|boolean true)|is an empty string)/);
    }
    await expect(loadMnistLike(undefined, {}, null as never)).rejects.toThrow(/options must be an object, got null/);
  });
});

describe('fuzz: mutated IDX files (seeded)', () => {
  it('3000 mutations of plain and gzip files: the right array or an Error that names the file', async () => {
    const rng = new Rng(12);
    const r = (n: number) => rng.u32() % n;
    const base = [idx([7, 4, 3], Uint8Array.from({ length: 84 }, (_, i) => i)), idx([9], [0, 1, 2, 3, 4, 5, 6, 7, 8]), idx([2, 2, 2, 2], new Uint8Array(16).fill(5))];
    let ok = 0;
    let errors = 0;
    const t0 = Date.now();
    for (let i = 0; i < 3000; i++) {
      if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // keep vitest's RPC answered on a busy machine
      let f: Uint8Array = base[r(base.length)].slice();
      const edits = 1 + r(3);
      for (let e = 0; e < edits; e++) {
        const kind = r(5);
        if (kind === 0 && f.length) f[r(f.length)] ^= 1 << r(8); // bit flip
        else if (kind === 1 && f.length) f[r(Math.min(f.length, 16))] = r(256); // header byte
        else if (kind === 2) f = f.subarray(0, r(f.length + 1)); // truncate
        else if (kind === 3) f = Uint8Array.from([...f, ...Array.from({ length: 1 + r(40) }, () => r(256))]); // extend
        else if (f.length >= 8) new DataView(f.buffer, f.byteOffset).setUint32(4, rng.u32(), false); // a wild dimension
      }
      let input = f;
      const gz = r(2) === 1;
      if (gz) {
        input = zlib.gzipSync(f);
        if (r(3) === 0) input[10 + r(input.length - 10)] ^= 1 << r(8); // damage the compressed stream too
      }
      const what = `fuzz${i}${gz ? '.gz' : ''}`;
      try {
        const a = await decodeIdx(input, what, 1 << 20);
        expect(a.data.length).toBe(a.shape.reduce((p, d) => p * d, 1));
        ok++;
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message.startsWith(`${what}: `), (e as Error).message).toBe(true);
        errors++;
      }
    }
    expect(ok).toBeGreaterThan(50);
    expect(errors).toBeGreaterThan(1000);
    console.log(`IDX fuzz: ${ok} decoded, ${errors} clear errors, ${Date.now() - t0} ms`);
  });
});
