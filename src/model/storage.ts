/**
 * Where saved models are kept: reading tfjs-layers artifacts from a directory or model.json file (Node), a
 * URL (fetch), in-memory artifacts or a tfjs IOHandler, and writing them to a directory or an IOHandler.
 * What comes out of reading is still unchecked JSON plus the weight bytes; load.ts builds the model.
 */
import { isObject } from '../layer-config.js';
import {
  concatBytes,
  errorCode,
  errorMessage,
  fsCause,
  nodeModules,
  notRegularFile,
  readRegularFile,
  requireNode,
  versionedName,
  versionedPattern,
  writeFilesAtomic,
  type NodeModules,
} from '../platform.js';
import { byteLengthError, checkSpecs, neededBytes } from './weights-format.js';
import {
  MODEL_JSON,
  WEIGHTS_PREFIX,
  type IOHandlerLike,
  type LoadOptions,
  type LoadSource,
  type MemoryArtifacts,
  type ModelArtifacts,
  type ModelJSON,
  type SaveDestination,
  type WeightSpec,
  type WeightsManifestGroup,
} from './artifacts.js';

const isHttp = (s: string) => /^https?:\/\//i.test(s);
const FILE_SCHEME = 'file://';

// ---------------------------------------------------------------------------------------------------
// reading

/** What every source turns into before the model is built. */
export interface RawArtifacts {
  /** For error messages: where the model came from. */
  where: string;
  modelTopology: unknown;
  format?: unknown;
  specs: unknown;
  weightData: Uint8Array;
  trainingConfig?: unknown;
  /** model.json's `trainingState` (saved with includeOptimizer). */
  trainingState?: unknown;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`loadModel: ${where} is not valid JSON (${errorMessage(e)})`);
  }
}

/** Checks model.json's shape and returns its weight manifest groups. */
function checkModelJson(json: unknown, where: string): { json: Record<string, unknown>; groups: WeightsManifestGroup[] } {
  if (!isObject(json)) throw new Error(`loadModel: ${where} must hold a JSON object (a tfjs-layers model.json), got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  if (json.format === 'graph-model')
    throw new Error(`loadModel: ${where} is a tfjs graph model (format 'graph-model'); only layers models (format 'layers-model') can be loaded`);
  if (json.modelTopology === undefined || json.modelTopology === null) throw new Error(`loadModel: ${where} has no modelTopology (is it a tfjs-layers model.json?)`);
  const m = json.weightsManifest;
  if (!Array.isArray(m)) throw new Error(`loadModel: ${where} has no weightsManifest array`);
  m.forEach((g, i) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !g.paths.every((p) => typeof p === 'string') || !Array.isArray(g.weights))
      throw new Error(`loadModel: ${where}: weightsManifest[${i}] must be { paths: string[], weights: [...] }`);
  });
  return { json, groups: m as WeightsManifestGroup[] };
}

function toBytes(d: unknown, what: string): Uint8Array {
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  if (typeof SharedArrayBuffer !== 'undefined' && d instanceof SharedArrayBuffer) return new Uint8Array(d);
  if (Array.isArray(d)) {
    const parts = d.map((p, i) => toBytes(p, `${what}[${i}]`));
    return concatBytes(parts);
  }
  throw new Error(`loadModel: ${what} must be an ArrayBuffer, a typed array or an array of ArrayBuffers, got ${d === null ? 'null' : typeof d}`);
}

function fromModelJson(json: unknown, weightData: Uint8Array, where: string): RawArtifacts {
  const { json: j, groups } = checkModelJson(json, where);
  return { where, modelTopology: j.modelTopology, format: j.format, specs: groups.flatMap((g) => g.weights), weightData, trainingConfig: j.trainingConfig, trainingState: j.trainingState };
}

/** Largest model.json read: a large model's is some hundred kB. */
export const MAX_JSON_BYTES = 64 * 2 ** 20;
/** Largest total of weight files read: what wasm32 memory could hold at most. */
export const MAX_WEIGHT_BYTES = 2 ** 32;

/**
 * Where a manifest's weights path points, refused unless it stays inside the model's directory: relative,
 * no `..` out of it, and (once symbolic links are followed) still inside it. `root` is the directory's
 * real path.
 */
async function confinedPath(node: NodeModules, dir: string, root: string, file: string, where: string): Promise<string> {
  const { fs, path } = node;
  const refuse = (why: string) => new Error(`loadModel: ${where}: the weights path '${file}' ${why}; weight files must lie in the model's directory ${dir}`);
  if (file === '' || path.isAbsolute(file) || /^[a-z][a-z0-9+.-]*:/i.test(file) || /^[\\/]/.test(file)) throw refuse('is absolute');
  const f = path.resolve(dir, file);
  const inside = (base: string, p: string) => {
    const rel = path.relative(base, p);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  if (!inside(path.resolve(dir), f)) throw refuse('leaves the directory');
  const real = await fs.realpath(f).catch(() => null);
  if (real !== null && !inside(root, real)) throw refuse(`is a symbolic link to ${real}, outside the directory`);
  return f;
}

async function readFromFiles(source: string): Promise<RawArtifacts> {
  const node = await requireNode(`loadModel: reading '${source}'`);
  const { fs, path } = node;
  const p = source.startsWith(FILE_SCHEME) ? source.slice(FILE_SCHEME.length) : source;
  const st = await fs.stat(p).catch(() => null);
  if (!st) throw new Error(`loadModel: '${p}' does not exist (expected a directory holding ${MODEL_JSON}, or the path of a model.json)`);
  const jsonFile = st.isDirectory() ? path.join(p, MODEL_JSON) : p;
  const dir = st.isDirectory() ? p : path.dirname(p);
  // Regular files of bounded size only: a FIFO, a device or a directory is refused before any read.
  const read = (f: string, max: number) =>
    readRegularFile(f, max).catch((e: unknown) => {
      throw new Error(`loadModel: ${errorMessage(e)}`);
    });
  const bytes = await read(jsonFile, MAX_JSON_BYTES);
  if (bytes === null) throw new Error(`loadModel: ${jsonFile} not found`);
  const json = parseJson(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes), jsonFile);
  const { groups } = checkModelJson(json, jsonFile);
  const specs = checkSpecs(groups.flatMap((g) => g.weights), jsonFile);
  const root = await fs.realpath(dir);
  const files: { file: string; size: number }[] = [];
  for (const name of groups.flatMap((g) => g.paths)) {
    const file = await confinedPath(node, dir, root, name, jsonFile);
    const fst = await fs.stat(file).catch(() => null);
    if (!fst) throw new Error(`loadModel: weights file ${file} (listed in ${jsonFile}) not found`);
    if (!fst.isFile()) throw new Error(`loadModel: ${notRegularFile(file, fst).message}`);
    files.push({ file, size: fst.size });
  }
  // The sizes on disk against what the manifest declares, before anything is read or allocated.
  const total = files.reduce((n, f) => n + f.size, 0);
  const need = neededBytes(specs);
  if (need !== null && need !== total) throw byteLengthError(specs, total, need, jsonFile);
  if (total > MAX_WEIGHT_BYTES) throw new Error(`loadModel: ${jsonFile}: the weight files hold ${total} bytes, more than wasm memory can hold (${MAX_WEIGHT_BYTES})`);
  const parts: Uint8Array[] = [];
  for (const { file } of files) {
    const b = await read(file, MAX_WEIGHT_BYTES); // a file that changed since its stat fails locate()
    if (b === null) throw new Error(`loadModel: weights file ${file} (listed in ${jsonFile}) not found`);
    parts.push(b);
  }
  return fromModelJson(json, concatBytes(parts), jsonFile);
}

/**
 * tfjs' rule: weight files live beside model.json, and a query string is kept (signed URLs). A path that
 * is absolute (another origin, or another place on this one) or climbs out of the model's URL prefix with
 * `..` is refused.
 */
function weightUrl(modelUrl: string, file: string): string {
  const refuse = (why: string) => new Error(`loadModel: ${modelUrl}: the weights path '${file}' ${why}; weight files must lie under the model's URL`);
  if (file === '' || /^[a-z][a-z0-9+.-]*:/i.test(file) || /^[\\/]/.test(file)) throw refuse('is absolute');
  let decoded: string;
  try {
    decoded = decodeURIComponent(file);
  } catch {
    throw refuse('is not a valid URL path');
  }
  let depth = 0;
  for (const seg of decoded.split(/[?#]/)[0].split(/[\\/]/)) {
    if (seg === '..') depth--;
    else if (seg !== '.' && seg !== '') depth++;
    if (depth < 0) throw refuse('leaves the directory');
  }
  const q = modelUrl.search(/[?#]/);
  const path = q < 0 ? modelUrl : modelUrl.slice(0, q);
  const query = q < 0 || modelUrl[q] !== '?' ? '' : modelUrl.slice(q).split('#')[0];
  return path.slice(0, path.lastIndexOf('/') + 1) + file + query;
}

async function readFromUrl(source: string, opts: LoadOptions): Promise<RawArtifacts> {
  const f = opts.fetch ?? (globalThis as { fetch?: LoadOptions['fetch'] }).fetch;
  if (typeof f !== 'function') throw new Error(`loadModel: loading ${source} needs fetch, which this runtime does not have (pass options.fetch)`);
  let url = source;
  // A directory URL means its model.json.
  const q = url.search(/[?#]/);
  const base = q < 0 ? url : url.slice(0, q);
  if (base.endsWith('/')) url = base + MODEL_JSON + (q < 0 ? '' : url.slice(q));
  const get = async (u: string, what: string): Promise<Response> => {
    let res: Response;
    try {
      res = await f(u, opts.requestInit);
    } catch (e) {
      throw new Error(`loadModel: fetching ${what} ${u} failed: ${errorMessage(e)}`);
    }
    if (!res.ok) throw new Error(`loadModel: fetching ${what} ${u} failed with HTTP status ${res.status}${res.status === 404 ? ' (not found)' : ''}`);
    return res;
  };
  // Bodies of bounded size: a declared Content-Length over the bound is refused before the body is read.
  const body = async (res: Response, u: string, max: number): Promise<Uint8Array> => {
    const len = Number(res.headers?.get?.('content-length') ?? NaN);
    if (len > max) throw new Error(`loadModel: ${u} has ${len} bytes, more than the ${max} this file may have`);
    const b = new Uint8Array(await res.arrayBuffer());
    if (b.length > max) throw new Error(`loadModel: ${u} has ${b.length} bytes, more than the ${max} this file may have`);
    return b;
  };
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await body(await get(url, 'model.json'), url, MAX_JSON_BYTES));
  const json = parseJson(text, url);
  const { groups } = checkModelJson(json, url);
  const specs = checkSpecs(groups.flatMap((g) => g.weights), url);
  const urls = groups.flatMap((g) => g.paths).map((p) => weightUrl(url, p));
  const need = neededBytes(specs);
  const parts = await Promise.all(urls.map(async (u) => body(await get(u, `weights file (listed in ${url})`), u, need ?? MAX_WEIGHT_BYTES)));
  return fromModelJson(json, concatBytes(parts), url);
}

export async function readSource(source: LoadSource, opts: LoadOptions): Promise<RawArtifacts> {
  if (typeof source === 'string') {
    if (source === '') throw new Error('loadModel: the source is an empty string');
    if (isHttp(source)) return readFromUrl(source, opts);
    if (await nodeModules()) return readFromFiles(source);
    if (source.startsWith(FILE_SCHEME)) throw new Error(`loadModel: cannot read ${source}: file:// needs node:fs, which this runtime does not have`);
    return readFromUrl(source, opts); // a relative URL in a browser
  }
  if (!isObject(source)) throw new Error(`loadModel: expected a path, a URL, { modelJson, weightData }, tfjs ModelArtifacts or a tfjs IOHandler, got ${source === null ? 'null' : typeof source}`);
  if (typeof source.load === 'function') {
    let a: unknown;
    try {
      a = await (source as IOHandlerLike).load!();
    } catch (e) {
      throw new Error(`loadModel: the IOHandler's load() failed: ${errorMessage(e)}`);
    }
    if (!isObject(a)) throw new Error('loadModel: the IOHandler\'s load() returned no artifacts');
    return fromArtifacts(a as ModelArtifacts, 'the IOHandler\'s artifacts');
  }
  if ('modelJson' in source) {
    const m = source as unknown as MemoryArtifacts;
    const json = typeof m.modelJson === 'string' ? parseJson(m.modelJson, 'modelJson') : m.modelJson;
    return fromModelJson(json, m.weightData === undefined ? new Uint8Array(0) : toBytes(m.weightData, 'weightData'), 'modelJson');
  }
  if ('modelTopology' in source) return fromArtifacts(source as ModelArtifacts, 'the artifacts');
  throw new Error('loadModel: the source object has none of modelJson, modelTopology or load() (expected { modelJson, weightData }, tfjs ModelArtifacts or a tfjs IOHandler)');
}

function fromArtifacts(a: ModelArtifacts, where: string): RawArtifacts {
  if (a.format === 'graph-model' || a.modelTopology instanceof ArrayBuffer)
    throw new Error(`loadModel: ${where} describe a tfjs graph model; only layers models (format 'layers-model') can be loaded`);
  if (a.modelTopology === undefined || a.modelTopology === null) throw new Error(`loadModel: ${where} have no modelTopology`);
  if (a.weightSpecs !== undefined && !Array.isArray(a.weightSpecs)) throw new Error(`loadModel: ${where}: weightSpecs must be an array`);
  return {
    where,
    modelTopology: a.modelTopology,
    format: a.format,
    specs: a.weightSpecs ?? [],
    weightData: a.weightData === undefined || a.weightData === null ? new Uint8Array(0) : toBytes(a.weightData, 'weightData'),
    trainingConfig: a.trainingConfig,
  };
}

// ---------------------------------------------------------------------------------------------------
// writing

/**
 * Writes the artifacts to a directory (Node) or hands them to an IOHandler; `'memory'` writes nothing.
 * Returns the files written or the handler's result.
 */
export async function writeArtifacts(
  destination: SaveDestination,
  modelJson: ModelJSON,
  weightSpecs: WeightSpec[],
  weightData: ArrayBuffer,
): Promise<{ files?: { modelJson: string; weights: string }; handlerResult?: unknown; modelJson?: ModelJSON }> {
  if (destination === 'memory') return {};

  if (destination !== null && typeof destination === 'object') {
    if (typeof destination.save !== 'function') throw new Error('saveModel: the destination object has no save() method (expected a tfjs IOHandler, e.g. tf.io.withSaveHandler(...))');
    const artifacts: ModelArtifacts = {
      modelTopology: modelJson.modelTopology,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
      weightSpecs,
      weightData,
      ...(modelJson.trainingConfig ? { trainingConfig: modelJson.trainingConfig } : {}),
    };
    return { handlerResult: await destination.save(artifacts) };
  }

  if (typeof destination !== 'string' || destination === '')
    throw new Error(`saveModel: destination must be a directory path, 'memory' or a tfjs IOHandler, got ${destination === '' ? "''" : typeof destination}`);
  if (isHttp(destination))
    throw new Error(`saveModel: cannot save to the URL ${destination}; for an HTTP upload pass tf.io.http('${destination}') (tfjs' multipart POST), or save to 'memory' and send the artifacts yourself`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(destination) && !destination.startsWith(FILE_SCHEME))
    throw new Error(`saveModel: unsupported scheme in '${destination}' (use a directory path, 'file://…', 'memory', or a tfjs IOHandler such as tf.io.browserLocalStorage(...))`);

  const node = await nodeModules();
  if (!node)
    throw new Error(`saveModel: saving to the directory '${destination}' needs node:fs, which this runtime does not have; use 'memory', or a tfjs IOHandler such as tf.io.browserDownloads('my-model')`);
  const { fs, path } = node;
  const target = destination.startsWith(FILE_SCHEME) ? destination.slice(FILE_SCHEME.length) : destination;
  const jsonTarget = target.toLowerCase().endsWith('.json');
  const dir = jsonTarget ? path.dirname(target) : target;
  const jsonName = jsonTarget ? path.basename(target) : MODEL_JSON;
  const jsonFile = path.join(dir, jsonName);
  const st = await fs.stat(dir).catch((e: unknown) => {
    if (errorCode(e) === 'ENOENT' || errorCode(e) === 'ENOTDIR') return null; // mkdir says which
    throw new Error(`saveModel: cannot reach the directory ${dir}: ${fsCause(e)}`);
  });
  if (st && !st.isDirectory()) throw new Error(`saveModel: '${dir}' exists and is not a directory`);
  if (!st)
    await fs.mkdir(dir, { recursive: true }).catch((e: unknown) => {
      throw new Error(`saveModel: cannot create the directory ${dir}: ${fsCause(e)}`);
    });
  const jst = await fs.lstat(jsonFile).catch(() => null);
  if (jst?.isDirectory()) throw new Error(`saveModel: '${jsonFile}' exists and is a directory`);

  // The weights file is named after its content (weights.<sha-256>.bin): the manifest that names it is the
  // only file ever replaced, so the directory holds the old model or the new one at every moment.
  const prefix = jsonName === MODEL_JSON ? WEIGHTS_PREFIX : `${jsonName.replace(/\.json$/i, '')}.${WEIGHTS_PREFIX}`;
  const bytes = new Uint8Array(weightData);
  const weightsName = versionedName(prefix, bytes, '.bin');
  const written: ModelJSON = { ...modelJson, weightsManifest: modelJson.weightsManifest.map((g) => ({ ...g, paths: [weightsName] })) };
  await writeFilesAtomic(
    dir,
    {
      parts: [{ name: weightsName, data: bytes }],
      manifest: { name: jsonName, data: JSON.stringify(written) },
      obsolete: jst?.isFile() ? await referencedFiles(jsonFile) : [],
      stale: [versionedPattern(prefix, '.bin')],
    },
    'saveModel: ',
  );
  return { files: { modelJson: jsonFile, weights: path.join(dir, weightsName) }, modelJson: written };
}

/** The weight files an existing model.json names (plain names in its directory only), to remove once it is replaced. */
async function referencedFiles(jsonFile: string): Promise<string[]> {
  try {
    const bytes = await readRegularFile(jsonFile, MAX_JSON_BYTES);
    const json = bytes && (JSON.parse(new TextDecoder().decode(bytes)) as unknown);
    if (!isObject(json) || !Array.isArray(json.weightsManifest)) return [];
    return json.weightsManifest.flatMap((g: unknown) => (isObject(g) && Array.isArray(g.paths) ? g.paths.filter((p): p is string => typeof p === 'string' && !/[\\/]/.test(p)) : []));
  } catch {
    return []; // an unreadable old manifest: its files stay
  }
}
