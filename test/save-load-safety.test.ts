/**
 * Issue 12 item 2: loading stays inside the model's directory (or URL) and checks before it allocates.
 * Weight paths that are absolute, climb out with `..`, or are symbolic links to outside are refused before
 * anything is read; only regular files are read (a FIFO nobody writes to, a device, a directory are refused
 * instead of hanging or reading forever); file sizes are compared with the manifest before the files are
 * read, and the manifest with the layers before they are built — the model.json declaring a
 * 40000×12000 Dense over a tiny weights.bin used to take 3.7 GB before failing. Memory is measured, not time.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, layers, loadModel, memory, saveModel, sequential, type ModelJSON, type SaveResult } from '../src/index.js';

let tmp: string;
let good: SaveResult;
let server: Server;
let origin: string;
const requests: string[] = [];

beforeAll(async () => {
  await init({ threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'wl-load-safety-'));
  const m = sequential({ name: 'small', layers: [layers.dense({ inputShape: [4], units: 8, name: 'dense' }), layers.dense({ units: 2, name: 'dense_1' })] });
  good = await saveModel(m, 'memory');
  m.dispose();
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    try {
      const body = readFileSync(join(tmp, decodeURIComponent(url.pathname)));
      res.writeHead(200, { 'Content-Length': body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

/** A model directory with our model.json (edited) and the given files. */
function modelDir(name: string, edit: (j: ModelJSON) => void = () => {}, files: Record<string, Uint8Array | string> = { 'weights.bin': new Uint8Array(good.weightData) }): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const j = JSON.parse(JSON.stringify(good.modelJson)) as ModelJSON;
  edit(j);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
  for (const [f, data] of Object.entries(files)) writeFileSync(join(dir, f), data);
  return dir;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect((e as Error).constructor).toBe(Error);
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

const paths = (...p: string[]) => (j: ModelJSON) => (j.weightsManifest[0].paths = p);

describe('weight paths stay inside the model directory', () => {
  it('.. out of it, absolute paths and URLs are refused before anything is read', async () => {
    const secret = join(tmp, 'secret.bin');
    writeFileSync(secret, new Uint8Array(good.weightData)); // the right size: only confinement can refuse it
    for (const [p, why] of [
      ['../secret.bin', 'leaves the directory'],
      ['../../../../../../etc/hostname', 'leaves the directory'],
      ['sub/../../secret.bin', 'leaves the directory'],
      [secret, 'is absolute'],
      ['file:///etc/hostname', 'is absolute'],
    ]) {
      const dir = modelDir('escape', paths(p));
      expect(await rejection(loadModel(dir))).toBe(`loadModel: ${join(dir, 'model.json')}: the weights path '${p}' ${why}; weight files must lie in the model's directory ${dir}`);
    }
  });

  it('a symbolic link to a file outside is refused; one to a file inside is followed', async () => {
    const dir = modelDir('links', paths('w.bin'), {});
    symlinkSync(join(tmp, 'secret.bin'), join(dir, 'w.bin'));
    expect(await rejection(loadModel(dir))).toBe(
      `loadModel: ${join(dir, 'model.json')}: the weights path 'w.bin' is a symbolic link to ${join(tmp, 'secret.bin')}, outside the directory; weight files must lie in the model's directory ${dir}`,
    );
    const inside = modelDir('links-inside', paths('w.bin'), { 'real.bin': new Uint8Array(good.weightData) });
    symlinkSync('real.bin', join(inside, 'w.bin'));
    (await loadModel(inside)).dispose();
  });

  it('http: paths leaving the model URL’s prefix or origin are refused without a request', async () => {
    writeFileSync(join(tmp, 'secret.bin'), new Uint8Array(good.weightData));
    for (const [p, why] of [
      ['../secret.bin', 'leaves the directory'],
      ['%2e%2e/secret.bin', 'leaves the directory'],
      ['/secret.bin', 'is absolute'],
      [`${origin}/secret.bin`, 'is absolute'],
      ['//127.0.0.1/secret.bin', 'is absolute'],
    ]) {
      modelDir('served', paths(p));
      requests.length = 0;
      const url = `${origin}/served/model.json`;
      expect(await rejection(loadModel(url))).toBe(`loadModel: ${url}: the weights path '${p}' ${why}; weight files must lie under the model's URL`);
      expect(requests).toEqual(['/served/model.json']);
    }
  });
});

describe('only regular files, of the size the manifest declares', () => {
  it('a FIFO nobody writes to, a directory, a device: refused at once (no hang)', async () => {
    const fifo = modelDir('fifo', paths('w.bin'), {});
    execFileSync('mkfifo', [join(fifo, 'w.bin')]);
    expect(await rejection(loadModel(fifo))).toBe(`loadModel: ${join(fifo, 'w.bin')}: cannot read file: it is a FIFO (named pipe), not a regular file`);
    const fifoJson = join(tmp, 'fifo-json');
    mkdirSync(fifoJson);
    execFileSync('mkfifo', [join(fifoJson, 'model.json')]);
    expect(await rejection(loadModel(fifoJson))).toBe(`loadModel: ${join(fifoJson, 'model.json')}: cannot read file: it is a FIFO (named pipe), not a regular file`);
    const kfifo = join(tmp, 'm.keras');
    execFileSync('mkfifo', [kfifo]);
    expect(await rejection(loadModel(kfifo))).toBe(`loadModel: ${kfifo}: cannot read file: it is a FIFO (named pipe), not a regular file`);
    const kdir = join(tmp, 'dir.keras');
    mkdirSync(kdir);
    expect(await rejection(loadModel(kdir))).toBe(`loadModel: ${kdir}: cannot read file: it is a directory, not a regular file (a .keras model is one file)`);
    const sub = modelDir('subdir', paths('w.bin'), {});
    mkdirSync(join(sub, 'w.bin'));
    expect(await rejection(loadModel(sub))).toMatch(/cannot read file: it is a directory, not a regular file$/);
    if (process.getuid?.() === 0) {
      const dev = modelDir('device', paths('zero'), {});
      execFileSync('mknod', [join(dev, 'zero'), 'c', '1', '5']); // /dev/zero: endless
      expect(await rejection(loadModel(dev))).toBe(`loadModel: ${join(dev, 'zero')}: cannot read file: it is a device, not a regular file`);
    }
  });

  it('a 1.5 GB (sparse) weights file under a small manifest is refused from its size, without reading it', async () => {
    const dir = modelDir('huge-file');
    truncateSync(join(dir, 'weights.bin'), 1.5 * 2 ** 30);
    const before = process.memoryUsage().arrayBuffers;
    const need = good.weightData.byteLength;
    expect(await rejection(loadModel(dir))).toBe(
      `loadModel: ${join(dir, 'model.json')}: the weight data has ${1.5 * 2 ** 30} bytes but the manifest's 4 weights need ${need} (${need / 4} float32 values) (truncated or mismatched weights file?)`,
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });

  it('http: a weights response longer than the manifest declares is refused from its Content-Length', async () => {
    modelDir('served-long', () => {}, { 'weights.bin': new Uint8Array(2 ** 20) });
    const url = `${origin}/served-long/model.json`;
    expect(await rejection(loadModel(url))).toBe(`loadModel: ${origin}/served-long/weights.bin has ${2 ** 20} bytes, more than the ${good.weightData.byteLength} this file may have`);
  });
});

describe('checked before allocating', () => {
  // The case: a Dense of 40000 inputs and 12000 units (1.9 GB of kernel, as much again of gradient).
  const huge = (j: ModelJSON) => {
    j.modelTopology.config.layers[0].config.batch_input_shape = [null, 40000];
    j.modelTopology.config.layers[0].config.units = 12000;
  };

  it('a 40000×12000 Dense in the topology over the small weights: refused before building (wasm memory untouched)', async () => {
    const before = memory();
    const dir = modelDir('huge-topology', huge);
    expect(await rejection(loadModel(dir))).toBe(
      `loadModel: ${join(dir, 'model.json')}: weight 'dense/kernel' has shape [4,8] in the manifest but the model needs [40000,12000]`,
    );
    const after = memory();
    expect(after.peak).toBe(before.peak);
    expect(after.reserved).toBe(before.reserved);
    expect(after.inUse).toBe(before.inUse);
  });

  it('the manifest declaring it too, over a tiny weights.bin: refused from the file size (nothing read, nothing built)', async () => {
    const before = memory();
    const buffers = process.memoryUsage().arrayBuffers;
    const dir = modelDir('huge-manifest', (j) => {
      huge(j);
      j.weightsManifest[0].weights[0].shape = [40000, 12000];
      j.weightsManifest[0].weights[1].shape = [12000];
      j.weightsManifest[0].weights[2].shape = [12000, 2];
    });
    const need = (40000 * 12000 + 12000 + 12000 * 2 + 2) * 4;
    expect(await rejection(loadModel(dir))).toBe(
      `loadModel: ${join(dir, 'model.json')}: the weight data has ${good.weightData.byteLength} bytes but the manifest's 4 weights need ${need} (${need / 4} float32 values) (truncated or mismatched weights file?)`,
    );
    expect(memory().peak).toBe(before.peak);
    expect(memory().reserved).toBe(before.reserved);
    expect(process.memoryUsage().arrayBuffers - buffers).toBeLessThan(64 * 2 ** 20);
  });
});
