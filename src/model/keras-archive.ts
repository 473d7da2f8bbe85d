/**
 * Keras 3's native `.keras` format, in and out (`model.save('m.keras')`, `loadModel('m.keras')`).
 *
 * A `.keras` file is a zip archive (Keras writes its members stored, uncompressed) of
 *  - `metadata.json`: `{ keras_version, date_saved }` (and, from this library, `wasm_layers_training_state`:
 *    the dropout stream, the random generator and the exact learning rate, for an exact resumption);
 *  - `config.json`: the model as `serialize_keras_object` writes it: `{ module, class_name, config,
 *    registered_name, build_config, compile_config }`, layers inside `config.layers` the same way;
 *  - `model.weights.h5`: HDF5, one group per saveable object, its variables numbered in a `vars` subgroup:
 *    `layers/dense/vars/0` (kernel), `layers/dense/vars/1` (bias), `optimizer/vars/0` (iterations, int64),
 *    `optimizer/vars/1` (learning rate), then the optimizer's slots, per trainable variable in model order
 *    (Adam: momentum, velocity). Layer groups are named after the layer's class in snake_case, numbered
 *    when repeated (`dense`, `dense_1`): not after the layer's name, which goes into the group's `name`
 *    attribute. (keras/src/saving/saving_lib.py: `_save_state`, `_save_container_state`, `H5IOStore`.)
 *
 * This module holds what saving (keras-save.ts) and loading (keras.ts) share: the archive and the naming.
 */
import { unzipSync, zipSync, strFromU8, strToU8 } from 'fflate';
import { snakeCase } from '../layer-config.js';
import { errorMessage as message } from '../platform.js';

/** The Keras version written into metadata.json: the one whose format this follows and is tested against. */
export const KERAS_VERSION = '3.15.1';

export const CONFIG = 'config.json';
export const METADATA = 'metadata.json';
/** metadata.json's key for wasm-layers' training state (dropout stream, random generator, exact learning rate). */
export const TRAINING_STATE_KEY = 'wasm_layers_training_state';
export const WEIGHTS = 'model.weights.h5';

/** Largest JSON member read (config.json of a large model is some hundred kB). */
const MAX_JSON_BYTES = 64 * 2 ** 20;
/** Largest weights member read: more than wasm32 memory could hold next to it. */
const MAX_WEIGHTS_BYTES = 2 ** 31;
/** Largest .keras file read. */
export const MAX_FILE_BYTES = MAX_WEIGHTS_BYTES + 2 * MAX_JSON_BYTES;
/** A deflated member may expand at most this much (Keras' own zip-bomb guard uses the same ratio). */
const MAX_EXPANSION = 100;

// ---------------------------------------------------------------------------------------------------
// zip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * The CRC-32 of each member from the zip's central directory. fflate extracts without checking them, and
 * HDF5 keeps no checksum of raw data, so without this a flipped bit in the weights would load silently.
 */
function centralCrcs(zip: Uint8Array): Map<string, number> {
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--)
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  const out = new Map<string, number>();
  if (eocd < 0) return out;
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  for (let i = 0; i < count && p + 46 <= zip.length && dv.getUint32(p, true) === 0x02014b50; i++) {
    const nameLen = dv.getUint16(p + 28, true);
    const name = strFromU8(zip.subarray(p + 46, p + 46 + nameLen));
    out.set(name, dv.getUint32(p + 16, true));
    p += 46 + nameLen + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  return out;
}

export interface Archive {
  config: unknown;
  metadata: unknown;
  weights: Uint8Array;
}

export function readArchive(bytes: Uint8Array, where: string): Archive {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b || bytes[2] !== 0x03 || bytes[3] !== 0x04) {
    const head = strFromU8(bytes.subarray(0, 64), true).trimStart().toLowerCase();
    if (head.startsWith('<!doctype') || head.startsWith('<html'))
      throw new Error(`${where} is an HTML page, not a .keras file (a server's fallback page for a missing file?)`);
    if (bytes.length >= 4 && bytes[0] === 0x89 && bytes[1] === 0x48 && bytes[2] === 0x44 && bytes[3] === 0x46)
      throw new Error(`${where} is a bare HDF5 file (Keras' legacy .h5 or a .weights.h5), not a .keras zip archive; only .keras files are read`);
    throw new Error(`${where} is not a .keras file (a .keras file is a zip archive; this one has ${bytes.length} bytes starting ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  }
  const limits: Record<string, number> = { [CONFIG]: MAX_JSON_BYTES, [METADATA]: MAX_JSON_BYTES, [WEIGHTS]: MAX_WEIGHTS_BYTES };
  const names: string[] = [];
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter(f) {
        names.push(f.name);
        const limit = limits[f.name];
        if (limit === undefined) return false;
        if (f.originalSize > limit) throw new Error(`member ${f.name} would expand to ${f.originalSize} bytes (at most ${limit} are read)`);
        if (f.compression !== 0 && f.originalSize > MAX_EXPANSION * f.size + 2 ** 20)
          throw new Error(`member ${f.name} claims to expand ${f.size} → ${f.originalSize} bytes, which looks like a zip bomb`);
        return true;
      },
    });
  } catch (e) {
    throw new Error(`${where}: not a readable zip archive (${message(e)})`);
  }
  if (!files[CONFIG]) {
    const hint = names.some((n) => n.endsWith('.pb')) ? ' (a TensorFlow SavedModel?)' : '';
    throw new Error(`${where}: the archive has no ${CONFIG}${hint}; it holds ${names.length ? names.join(', ') : 'nothing'}`);
  }
  if (!files[WEIGHTS]) {
    if (names.includes('model.weights.npz')) throw new Error(`${where}: the weights are in model.weights.npz (saved with weights_format='npz'); only model.weights.h5 is read`);
    throw new Error(`${where}: the archive has no ${WEIGHTS}; it holds ${names.join(', ')}`);
  }
  const crcs = centralCrcs(bytes);
  for (const [name, data] of Object.entries(files)) {
    const want = crcs.get(name);
    if (want === undefined) throw new Error(`${where}: the zip directory has no entry for ${name} (damaged archive)`);
    if (crc32(data) !== want) throw new Error(`${where}: ${name} is damaged (its CRC-32 does not match the archive's)`);
  }
  const json = (name: string) => {
    const data = files[name];
    if (!data) return undefined;
    try {
      return JSON.parse(strFromU8(data));
    } catch (e) {
      throw new Error(`${where}: ${name} is not valid JSON (${message(e)})`);
    }
  };
  return { config: json(CONFIG), metadata: json(METADATA), weights: files[WEIGHTS] };
}

export function writeArchive(config: unknown, metadata: unknown, weights: Uint8Array): Uint8Array {
  // Stored, as Keras writes them: the weights do not compress, and reading needs no inflate pass.
  const mtime = new Date();
  return zipSync(
    {
      [METADATA]: [strToU8(JSON.stringify(metadata)), { level: 0, mtime }],
      [CONFIG]: [strToU8(JSON.stringify(config)), { level: 0, mtime }],
      [WEIGHTS]: [weights, { level: 0, mtime }],
    },
    { level: 0 },
  );
}

// ---------------------------------------------------------------------------------------------------
// naming

/** Keras' `_get_unique_name` over a container: `dense`, `dense_1`, … by class. */
export function groupNames(classNames: readonly string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((c) => {
    const base = snakeCase(c);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return n === undefined ? base : `${base}_${n + 1}`;
  });
}
