// The trained model in IndexedDB, so that a reload keeps it: one record holding what
// `saveModel(model, 'memory')` returns (model.json as an object, weights.bin as an ArrayBuffer) and when it
// was saved. A few lines over the raw API rather than a dependency: the demo is served as plain ES modules
// without a bundler. Works in the page and in workers.
/* global indexedDB */

const DB = 'wasm-layers-demo';
const STORE = 'models';
const KEY = 'mnist';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB: cannot open "${DB}": ${req.error?.message ?? 'unknown error'}`));
    req.onblocked = () => reject(new Error(`IndexedDB: "${DB}" is blocked by another tab`));
  });
}

/** Runs one request in a transaction and resolves when the transaction has committed. */
async function run(mode, op) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = op(tx.objectStore(STORE));
      let value;
      req.onsuccess = () => (value = req.result);
      tx.oncomplete = () => resolve(value);
      tx.onabort = tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? req.error?.message ?? 'transaction failed'}`));
    });
  } finally {
    db.close();
  }
}

/** Stores `{ modelJson, weightData }` (replacing the previous model) with `info` (e.g. its accuracy). */
export function putModel(artifacts, info = {}) {
  const record = { modelJson: artifacts.modelJson, weightData: artifacts.weightData, savedAt: Date.now(), ...info };
  return run('readwrite', (s) => s.put(record, KEY));
}

/** The stored record `{ modelJson, weightData, savedAt, … }`, or undefined. */
export function getModel() {
  return run('readonly', (s) => s.get(KEY));
}

export function deleteModel() {
  return run('readwrite', (s) => s.delete(KEY));
}
