/**
 * Where BackupAndRestore keeps its backup (backup-and-restore.ts makes and checks the bytes; a store only
 * keeps them, atomically):
 *
 * - a directory (Node): `backup.json` (the manifest) and `backup.<content hash>.bin` (the arrays), written by
 *   platform.ts' `writeFilesAtomic`: the data file under its own new name, then the manifest renamed over the
 *   old one, then the old data file removed. At every instant the manifest names a complete data file.
 * - `indexeddb://<name>` (browsers and workers): one IndexedDB record holding both, written by one
 *   transaction, which IndexedDB commits whole or not at all — a tab closed or reloaded in the middle of a
 *   backup leaves the previous one. The transaction asks for `durability: 'strict'` (flushed before it
 *   completes), since surviving a crash is the point of a backup.
 */
import { errorMessage, readRegularFile, requireNode, versionedName, versionedPattern, writeFilesAtomic } from '../platform.js';

export interface StoredBackup {
  /** The manifest's bytes (JSON). */
  manifest: Uint8Array;
  /** The data the manifest names (`name` already checked against DATA_FILE), or null if it is missing. */
  data(name: string, bytes: number): Promise<Uint8Array | null>;
}

export interface BackupStore {
  /** Where the manifest is, for messages: a file path or `indexeddb://name`. */
  readonly where: string;
  read(): Promise<StoredBackup | null>;
  /** The name a backup's data goes under (it matches DATA_FILE); `crc` is the data's CRC-32C. */
  dataName(data: Uint8Array, crc: number): string;
  write(dataName: string, data: Uint8Array, manifest: string): Promise<void>;
  /** Removes the backup (the manifest first: from then on there is none, whatever a kill leaves behind). */
  remove(): Promise<void>;
}

export const INDEXEDDB = 'indexeddb://';
export const DATA_FILE = versionedPattern('backup', '.bin');
const MANIFEST = 'backup.json';
const MAX_MANIFEST_BYTES = 64 * 2 ** 20;
/** Temporary files writeFilesAtomic makes for our files (left behind by a killed write). */
const TEMP_FILE = /^\.(backup\.json|backup\.[0-9a-f]{16}\.bin)\.\d+\.[a-z0-9]+\.tmp$/;

/** The store for `location`: `indexeddb://name`, else a directory (a `file://` prefix is dropped). */
export function backupStore(location: string): BackupStore {
  if (location.startsWith(INDEXEDDB)) return new IndexedDbStore(location);
  return new DirectoryStore(location.startsWith('file://') ? location.slice('file://'.length) : location);
}

class DirectoryStore implements BackupStore {
  readonly where: string;

  constructor(private readonly dir: string) {
    this.where = `${dir.replace(/\/+$/, '')}/${MANIFEST}`;
  }

  private node() {
    return requireNode(`backupAndRestore to the directory ${this.dir} (in a browser, back up to 'indexeddb://<name>')`);
  }

  async read(): Promise<StoredBackup | null> {
    const { path } = await this.node();
    const manifest = await readRegularFile(path.join(this.dir, MANIFEST), MAX_MANIFEST_BYTES);
    if (!manifest) return null;
    return { manifest, data: (name, bytes) => readRegularFile(path.join(this.dir, name), bytes) };
  }

  dataName(data: Uint8Array): string {
    return versionedName('backup', data, '.bin');
  }

  async write(dataName: string, data: Uint8Array, manifest: string): Promise<void> {
    const { fs } = await this.node();
    await fs.mkdir(this.dir, { recursive: true }).catch((e: unknown) => {
      throw new Error(`backupAndRestore: cannot create ${this.dir}: ${errorMessage(e)}`);
    });
    // Old data files and killed backups' leftovers go once the new manifest is in place.
    await writeFilesAtomic(this.dir, { parts: [{ name: dataName, data }], manifest: { name: MANIFEST, data: manifest }, stale: [DATA_FILE] }, 'backupAndRestore: ');
  }

  async remove(): Promise<void> {
    const { fs, path } = await this.node();
    await fs.rm(path.join(this.dir, MANIFEST), { force: true });
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    for (const n of names) if (DATA_FILE.test(n) || TEMP_FILE.test(n)) await fs.rm(path.join(this.dir, n), { force: true });
    await fs.rmdir(this.dir).catch(() => {}); // only when empty: the directory may hold other files
  }
}

const DB_NAME = 'wasm-layers';
const DB_STORE = 'backups';

/** One record per backup name: the manifest and the data together, so that one put replaces both. */
interface BackupRecord {
  manifest: string;
  dataName: string;
  data: Uint8Array;
}

class IndexedDbStore implements BackupStore {
  readonly where: string;
  private readonly key: string;

  constructor(location: string) {
    this.key = location.slice(INDEXEDDB.length);
    if (!this.key) throw new Error(`backupAndRestore: '${location}' names no backup: use 'indexeddb://<name>'`);
    this.where = location;
  }

  private open(): Promise<IDBDatabase> {
    const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!idb) return Promise.reject(new Error(`backupAndRestore: ${this.where} needs IndexedDB, which this runtime does not have (in Node, back up to a directory)`));
    return new Promise((resolve, reject) => {
      const r = idb.open(DB_NAME, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(DB_STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(new Error(`backupAndRestore: cannot open IndexedDB for ${this.where}: ${r.error?.message ?? 'unknown error'}`));
      r.onblocked = () => reject(new Error(`backupAndRestore: IndexedDB for ${this.where} is blocked by another tab holding an older version open`));
    });
  }

  /** Runs `f` on the store in one transaction; resolves with its request's result once the transaction is committed. */
  private async tx<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>, what: string): Promise<T> {
    const db = await this.open();
    try {
      return await new Promise<T>((resolve, reject) => {
        const t = db.transaction(DB_STORE, mode, { durability: 'strict' });
        const req = f(t.objectStore(DB_STORE));
        const fail = () => reject(new Error(`backupAndRestore: ${what} ${this.where} failed: ${(req.error ?? t.error)?.message ?? 'transaction aborted'}`));
        t.oncomplete = () => resolve(req.result);
        t.onerror = fail;
        t.onabort = fail;
      });
    } finally {
      db.close();
    }
  }

  async read(): Promise<StoredBackup | null> {
    const rec = (await this.tx('readonly', (s) => s.get(this.key), 'reading')) as BackupRecord | undefined;
    if (rec === undefined) return null;
    if (typeof rec?.manifest !== 'string' || !(rec.data instanceof Uint8Array)) throw new Error(`backupAndRestore: ${this.where} holds something that is not a backup of this library`);
    return {
      manifest: new TextEncoder().encode(rec.manifest),
      data: async (name) => (name === rec.dataName ? rec.data : null),
    };
  }

  dataName(_data: Uint8Array, crc: number): string {
    // The content's name, as in a directory (node:crypto's SHA-256 is not in browsers: its CRC-32C instead).
    return `backup.${crc.toString(16).padStart(16, '0')}.bin`;
  }

  async write(dataName: string, data: Uint8Array, manifest: string): Promise<void> {
    const rec: BackupRecord = { manifest, dataName, data };
    await this.tx('readwrite', (s) => s.put(rec, this.key), 'writing');
  }

  async remove(): Promise<void> {
    await this.tx('readwrite', (s) => s.delete(this.key), 'removing');
  }
}
