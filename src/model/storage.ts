/**
 * Where saved models are kept: reading tfjs-layers artifacts from a directory or model.json file (Node), a
 * URL (fetch), in-memory artifacts or a tfjs IOHandler, and writing them to a directory or an IOHandler.
 * What comes out of reading is still unchecked JSON plus the weight bytes; load.ts builds the model.
 */
import { isObject } from '../layer-config.js';
import { concatBytes, errorMessage, nodeModules, readFileBytes, readFileText, requireNode, writeFile } from '../platform.js';
import {
  MODEL_JSON,
  WEIGHTS_BIN,
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

async function readFromFiles(source: string): Promise<RawArtifacts> {
  const { fs, path } = await requireNode(`loadModel: reading '${source}'`);
  const p = source.startsWith(FILE_SCHEME) ? source.slice(FILE_SCHEME.length) : source;
  const st = await fs.stat(p).catch(() => null);
  if (!st) throw new Error(`loadModel: '${p}' does not exist (expected a directory holding ${MODEL_JSON}, or the path of a model.json)`);
  const jsonFile = st.isDirectory() ? path.join(p, MODEL_JSON) : p;
  const dir = st.isDirectory() ? p : path.dirname(p);
  let text: string | null;
  try {
    text = await readFileText(jsonFile);
  } catch (e) {
    throw new Error(`loadModel: cannot read ${jsonFile}: ${errorMessage(e)}`);
  }
  if (text === null) throw new Error(`loadModel: ${jsonFile} not found`);
  const json = parseJson(text, jsonFile);
  const { groups } = checkModelJson(json, jsonFile);
  const parts: Uint8Array[] = [];
  for (const file of groups.flatMap((g) => g.paths)) {
    const f = path.join(dir, file);
    let bytes: Uint8Array | null;
    try {
      bytes = await readFileBytes(f);
    } catch (e) {
      throw new Error(`loadModel: cannot read weights file ${f}: ${errorMessage(e)}`);
    }
    if (bytes === null) throw new Error(`loadModel: weights file ${f} (listed in ${jsonFile}) not found`);
    parts.push(bytes);
  }
  return fromModelJson(json, concatBytes(parts), jsonFile);
}

/** tfjs' rule: weight files live beside model.json, and a query string is kept (signed URLs). */
function weightUrl(modelUrl: string, file: string): string {
  if (isHttp(file)) return file;
  const slash = modelUrl.lastIndexOf('/');
  const q = modelUrl.lastIndexOf('?');
  const suffix = q > slash ? modelUrl.slice(q) : '';
  return modelUrl.slice(0, slash + 1) + file + suffix;
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
  const text = await (await get(url, 'model.json')).text();
  const json = parseJson(text, url);
  const { groups } = checkModelJson(json, url);
  const parts = await Promise.all(
    groups.flatMap((g) => g.paths).map(async (p) => new Uint8Array(await (await get(weightUrl(url, p), `weights file (listed in ${url})`)).arrayBuffer())),
  );
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
): Promise<{ files?: { modelJson: string; weights: string }; handlerResult?: unknown }> {
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
  const jsonFile = jsonTarget ? target : path.join(dir, MODEL_JSON);
  const weightsFile = path.join(dir, WEIGHTS_BIN);
  const st = await fs.stat(dir).catch(() => null);
  if (st && !st.isDirectory()) throw new Error(`saveModel: '${dir}' exists and is not a directory`);
  await fs.mkdir(dir, { recursive: true });
  await writeFile(weightsFile, new Uint8Array(weightData));
  await writeFile(jsonFile, JSON.stringify(modelJson));
  return { files: { modelJson: jsonFile, weights: weightsFile } };
}
