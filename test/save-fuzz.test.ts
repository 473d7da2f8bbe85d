/**
 * Issue 12 item 8: a seeded fuzz of model.json + weights. Thousands of mutations of a saved model — JSON
 * values replaced, keys deleted, arrays duplicated, shapes, dtypes, quantizations and paths changed, the
 * text and the weight bytes damaged, truncated, extended — are loaded from memory and (every 16th) from a
 * directory; and mutations of a .keras file (config.json, its HDF5 weights with the zip CRCs made to match,
 * the zip bytes). Each one loads, or fails with a plain Error whose message starts with `loadModel:` (never a
 * TypeError or RangeError from inside), and leaves wasm memory where it was. The count is fixed, not the
 * time; the seed is printed so a failure can be replayed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { init, kerasBytes, layers, loadModel, memory, saveModel, sequential, tensor, type SaveResult } from '../src/index.js';
import { mulberry32 } from './helpers/rand.js';

const SEED = Number(process.env.FUZZ_SEED ?? 12); // FUZZ_SEED=n replays or explores another seed
const CASES = 3000;
const KERAS_CASES = 400;
let tmp: string;
let base: SaveResult;

beforeAll(async () => {
  await init({ threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'wl-load-fuzz-'));
  const m = sequential([
    layers.flatten({ inputShape: [2, 3] }),
    layers.dense({ units: 8, activation: 'relu' }),
    layers.dropout({ rate: 0.25, seed: 7 }),
    layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  base = await saveModel(m, 'memory');
  m.dispose();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const VALUES: Json[] = [
  null, true, false, 0, -0, -1, 1, 1.5, 3, 8, 1e9, 2 ** 31, 2 ** 32 + 1, 2 ** 53, -1e308, 1e308, '', 'x', '8', 'float32', 'int32', 'string', 'uint8',
  'relu', 'Dense', 'Sequential', 'weights.bin', '../weights.bin', '/etc/hostname', [], [null], [1e6, 1e6], [0], [-1], [2 ** 31, 2 ** 31], [8, 6], {}, { a: 1 },
  { dtype: 'uint8' }, { dtype: 'uint8', scale: 1, min: 0 }, { dtype: 'float16' }, { class_name: 'Dense', config: {} }, [[[[]]]],
];
const SHAPES: Json[] = [[], [0], [1], [8], [6, 8], [8, 6], [6, 8, 1], [1e5, 1e5], [2 ** 31], [2 ** 53, 2], [-1], [1.5], ['6', 8], null, 'eight'];
const DTYPES: Json[] = ['float32', 'int32', 'bool', 'string', 'complex64', 'float16', 'uint8', 'float64', '', null, 7];

const isObj = (v: unknown): v is Record<string, Json> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Every [parent, key] in the tree (the root excluded). */
function slots(v: Json, out: [Json[] | Record<string, Json>, string | number][] = []): typeof out {
  if (Array.isArray(v))
    v.forEach((c, i) => {
      out.push([v, i]);
      slots(c, out);
    });
  else if (isObj(v))
    for (const k of Object.keys(v)) {
      out.push([v, k]);
      slots(v[k], out);
    }
  return out;
}

function mutateJson(j: Record<string, Json>, r: () => number): void {
  // a copy: the pools must not be changed (or made circular) by later mutations
  const pick = <T>(a: readonly T[]): T => structuredClone(a[Math.floor(r() * a.length)]);
  const all = slots(j);
  const [parent, key] = all[Math.floor(r() * all.length)];
  const specs = () => ((j.weightsManifest as Json[])?.[0] as Record<string, Json> | undefined)?.weights as Record<string, Json>[] | undefined;
  const topoLayers = () => (((j.modelTopology as Record<string, Json>)?.config as Record<string, Json>)?.layers as Record<string, Json>[] | undefined);
  switch (Math.floor(r() * 9)) {
    case 0:
    case 1:
      (parent as Record<string, Json>)[key] = pick(VALUES);
      break;
    case 2:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 3:
      if (Array.isArray(parent)) parent.splice(key as number, 0, JSON.parse(JSON.stringify(parent[key as number])) as Json);
      else (parent as Record<string, Json>)[key] = [parent[key], parent[key]];
      break;
    case 4: {
      const s = specs();
      const w = Array.isArray(s) && s.length ? pick(s) : undefined;
      if (isObj(w)) w.shape = pick(SHAPES);
      break;
    }
    case 5: {
      const s = specs();
      const w = Array.isArray(s) && s.length ? pick(s) : undefined;
      if (isObj(w)) {
        if (r() < 0.5) w.dtype = pick(DTYPES);
        else w.quantization = pick(VALUES.filter((v) => v && typeof v === 'object' && !Array.isArray(v)));
      }
      break;
    }
    case 6: {
      const l = topoLayers();
      const c = Array.isArray(l) && l.length ? pick(l)?.config : undefined;
      if (isObj(c)) {
        c[pick(['units', 'batch_input_shape', 'activation', 'rate', 'use_bias', 'name', 'dtype', 'trainable'])] = pick([...VALUES, ...SHAPES]);
      }
      break;
    }
    case 7: {
      const g = (j.weightsManifest as Json[])?.[0] as Record<string, Json> | undefined;
      if (isObj(g)) g.paths = pick([['../weights.bin'], ['/etc/hostname'], [''], ['weights.bin', 'weights.bin'], [42], 'weights.bin', [], ['missing.bin'], ['.']]);
      break;
    }
    default: {
      const tc = j.trainingConfig as Record<string, Json> | undefined;
      if (isObj(tc)) tc[pick(['loss', 'metrics', 'optimizer_config'])] = pick(VALUES);
    }
  }
}

function mutateBytes(b: Uint8Array, r: () => number): Uint8Array<ArrayBuffer> {
  switch (Math.floor(r() * 5)) {
    case 0: {
      const c = b.slice();
      for (let k = 1 + Math.floor(r() * 4); k > 0; k--) if (c.length) c[Math.floor(r() * c.length)] ^= 1 << Math.floor(r() * 8);
      return c;
    }
    case 1:
      return b.slice(0, Math.floor(r() * b.length));
    case 2: {
      const c = new Uint8Array(b.length + 1 + Math.floor(r() * 16));
      c.set(b);
      return c;
    }
    case 3: {
      const c = b.slice();
      const f = new DataView(c.buffer);
      if (c.length >= 4) f.setFloat32(4 * Math.floor(r() * Math.floor(c.length / 4)), [NaN, Infinity, -Infinity, 3e38][Math.floor(r() * 4)], true);
      return c;
    }
    default:
      return new Uint8Array(0);
  }
}

function mutateText(t: string, r: () => number): string {
  const i = Math.floor(r() * t.length);
  const junk = ['', '"', '{', ']', ',', '0', '\u0000', 'null', '1e999'][Math.floor(r() * 9)];
  return r() < 0.5 ? t.slice(0, i) + junk + t.slice(i + 1) : t.slice(0, i);
}

/** One fuzz case's outcome: loaded (and disposed), or refused by the contract; memory back either way. */
async function expectLoadsOrRefuses(source: Parameters<typeof loadModel>[0], c: number, start: number, outcome: { loaded: number; refused: number }, kinds: Map<string, number>): Promise<void> {
  try {
    const m = await loadModel(source);
    m.dispose();
    outcome.loaded++;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    expect(e instanceof Error && e.constructor === Error, `case ${c}: ${String((e as Error)?.constructor?.name)}: ${msg}`).toBe(true);
    expect(msg.startsWith('loadModel: '), `case ${c}: ${msg}`).toBe(true);
    outcome.refused++;
    const key = msg.replace(/^loadModel: [^:]*: /, '').split(/[ '(]/).slice(0, 3).join(' ');
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  expect(memory().inUse, `case ${c}: wasm memory in use`).toBe(start);
}

describe('fuzzed model.json + weights', () => {
  it(`${CASES} mutations (seed ${SEED}): each loads or throws a plain Error starting with "loadModel:"; memory comes back`, async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const r = mulberry32(SEED);
    const baseText = JSON.stringify(base.modelJson);
    const baseBytes: Uint8Array<ArrayBuffer> = new Uint8Array(base.weightData);
    const start = memory().inUse;
    const outcome = { loaded: 0, refused: 0 };
    const firstWords = new Map<string, number>();
    for (let c = 0; c < CASES; c++) {
      const j = JSON.parse(baseText) as Record<string, Json>;
      let bytes = baseBytes;
      let text: string | undefined;
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        const what = r();
        if (what < 0.7) mutateJson(j, r);
        else if (what < 0.92) bytes = mutateBytes(bytes, r);
        else text = mutateText(text ?? JSON.stringify(j), r);
      }
      text ??= JSON.stringify(j);
      let source: Parameters<typeof loadModel>[0];
      if (c % 16 === 0) {
        const dir = join(tmp, `case-${c}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'model.json'), text);
        writeFileSync(join(dir, 'weights.bin'), bytes);
        source = dir;
      } else source = { modelJson: text, weightData: bytes };
      await expectLoadsOrRefuses(source, c, start, outcome, firstWords);
    }
    warn.mockRestore();
    console.log(`save-fuzz: ${CASES} cases, ${outcome.loaded} loaded, ${outcome.refused} refused, ${firstWords.size} kinds of message`);
    expect(outcome.loaded).toBeGreaterThan(0);
    expect(outcome.refused).toBeGreaterThan(CASES / 2);
  }, 120_000);
});

describe('fuzzed .keras files', () => {
  it(`${KERAS_CASES} mutations (seed ${SEED}) of config.json, model.weights.h5 (zip CRCs made to match, so HDF5 parses the damage) and the zip itself`, async () => {
    const m = sequential([layers.flatten({ inputShape: [2, 3] }), layers.dense({ units: 8, activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = tensor(new Float32Array(16 * 6).fill(0.5), [16, 2, 3]);
    const y = tensor(new Int32Array(16), [16]);
    await m.fit(x, y, { epochs: 1, verbose: 0 }); // so that the file holds Adam's moments too
    // HDF5 prints its error stack through console.error (bound when h5wasm first loads: after this spy), and an
    // optimizer whose variables do not match is a warning
    const quiet = [vi.spyOn(console, 'error').mockImplementation(() => undefined), vi.spyOn(console, 'warn').mockImplementation(() => undefined)];
    const bytes = await kerasBytes(m);
    for (const t of [m, x, y]) t.dispose();
    const members = unzipSync(bytes);
    const r = mulberry32(SEED + 1);
    const start = memory().inUse;
    const outcome = { loaded: 0, refused: 0 };
    const kinds = new Map<string, number>();
    for (let c = 0; c < KERAS_CASES; c++) {
      const f = { ...members };
      const what = r();
      let zip: Uint8Array;
      if (what < 0.45) {
        const h = f['model.weights.h5'].slice();
        for (let k = 1 + Math.floor(r() * 4); k > 0; k--) h[Math.floor(r() * h.length)] ^= 1 << Math.floor(r() * 8);
        f['model.weights.h5'] = r() < 0.2 ? h.slice(0, Math.floor(r() * h.length)) : h;
        zip = zipSync(f, { level: 0 });
      } else if (what < 0.9) {
        const cfg = JSON.parse(strFromU8(f['config.json'])) as Record<string, Json>;
        for (let k = 1 + Math.floor(r() * 2); k > 0; k--) mutateJson(cfg, r);
        f['config.json'] = strToU8(JSON.stringify(cfg));
        zip = zipSync(f, { level: 0 });
      } else zip = mutateBytes(bytes, r);
      await expectLoadsOrRefuses(zip, c, start, outcome, kinds);
    }
    quiet.forEach((s) => s.mockRestore());
    console.log(`save-fuzz (.keras): ${KERAS_CASES} cases, ${outcome.loaded} loaded, ${outcome.refused} refused, ${kinds.size} kinds of message`);
    expect(outcome.loaded).toBeGreaterThan(0);
    expect(outcome.refused).toBeGreaterThan(KERAS_CASES / 4);
  }, 120_000);
});
