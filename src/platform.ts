/**
 * What the runtime offers, decided in one place: whether this is Node (or Deno / Bun with Node's modules),
 * Node's modules where they exist, the file helpers model I/O, TensorBoard and the data loaders share, and
 * byte concatenation.
 *
 * Node's modules are taken with `process.getBuiltinModule`, never with an import expression, so browser
 * bundlers find nothing to resolve; in a browser `nodeModules()` resolves to null and callers fall back to
 * fetch or memory.
 */

type FsPromises = typeof import('node:fs/promises');
type NodeOs = typeof import('node:os');
type NodePath = typeof import('node:path');
type NodeUrl = typeof import('node:url');
type NodeModule = typeof import('node:module');

export interface NodeModules {
  fs: FsPromises;
  os: NodeOs;
  path: NodePath;
  url: NodeUrl;
  module: NodeModule;
}

/** True in Node and in runtimes that provide Node's API (Deno, Bun). */
export function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/**
 * A Node built-in module (`'node:worker_threads'`, …), loaded synchronously with `process.getBuiltinModule`
 * (Node ≥ 20.16, Deno, Bun), or null where the runtime has none. Never an import expression, so bundlers find
 * nothing to resolve, externalize or warn about.
 */
export function nodeBuiltin<T>(name: string): T | null {
  if (!isNode()) return null;
  const get = (globalThis as { process?: { getBuiltinModule?: (n: string) => unknown } }).process?.getBuiltinModule;
  return typeof get === 'function' ? ((get(name) as T | undefined) ?? null) : null;
}

/** Node's fs/promises, os, path, url and module, or null where the runtime has none. */
export async function nodeModules(): Promise<NodeModules | null> {
  const fs = nodeBuiltin<FsPromises>('node:fs/promises');
  if (!fs) return null;
  return { fs, os: nodeBuiltin<NodeOs>('node:os')!, path: nodeBuiltin<NodePath>('node:path')!, url: nodeBuiltin<NodeUrl>('node:url')!, module: nodeBuiltin<NodeModule>('node:module')! };
}

/** Node's modules, or an error that says what needed them. */
export async function requireNode(what: string): Promise<NodeModules> {
  const node = await nodeModules();
  if (!node) throw new Error(`${what} needs node:fs, which this runtime does not have`);
  return node;
}

/** The error code of a failed Node call (`'ENOENT'`, …), if any. */
export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A file's bytes, or null when it does not exist; other failures throw Node's error. */
export async function readFileBytes(file: string): Promise<Uint8Array | null> {
  const { fs } = await requireNode(`reading ${file}`);
  try {
    const buf = await fs.readFile(file);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Reads a local file that must be a regular file of at most `maxBytes`. It is opened non-blocking and
 * checked with fstat before any read, so a FIFO nobody writes to, a device (/dev/zero) or a directory gets
 * an error instead of a hang or an endless read; the size is the one fstat gave, so a file that grows
 * while read cannot make us read more. Returns null when the file does not exist.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Uint8Array | null> {
  const { fs } = await requireNode(`reading ${path}`);
  const { constants } = fs;
  let fh: Awaited<ReturnType<typeof fs.open>>;
  try {
    fh = await fs.open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return null;
    throw new Error(`${path}: cannot read file: ${errorMessage(e)}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegularFile(path, st);
    if (st.size > maxBytes) throw new Error(`${path}: file is ${megabytes(st.size)}, more than the ${megabytes(maxBytes)} limit (pass maxBytes to read bigger files)`);
    const out = new Uint8Array(st.size);
    let off = 0;
    while (off < out.length) {
      const { bytesRead } = await fh.read(out, off, out.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return out.subarray(0, off);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`${path}: `)) throw e;
    throw new Error(`${path}: cannot read file: ${errorMessage(e)}`);
  } finally {
    await fh.close();
  }
}

/** The error for a path that is not a regular file (`it is a FIFO (named pipe), not a regular file`). */
export function notRegularFile(path: string, st: import('node:fs').Stats): Error {
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
  return new Error(`${path}: cannot read file: it is ${kind}, not a regular file`);
}

export function megabytes(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MB`;
}

/** A file's text (UTF-8), or null when it does not exist; other failures throw Node's error. */
export async function readFileText(file: string): Promise<string | null> {
  const bytes = await readFileBytes(file);
  return bytes === null ? null : new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}

/** Writes (or overwrites) a file with bytes or UTF-8 text. */
export async function writeFile(file: string, data: Uint8Array | string): Promise<void> {
  const { fs } = await requireNode(`writing ${file}`);
  await fs.writeFile(file, data);
}

/** The parts one after the other in one new array (the part itself when there is only one). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The bytes a typed array views (no copy). */
export function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

type FileHandle = Awaited<ReturnType<FsPromises['open']>>;

/** Why a file operation failed, in words, for the codes a user can act on. */
const FS_CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EFBIG: 'the file is larger than the file-size limit',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a component of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  ENOENT: 'no such file or directory',
  EMFILE: 'too many open files',
  EIO: 'an input/output error of the device',
};

/** The cause of a failed file operation in words, with Node's code: `no space left on the device (ENOSPC)`. */
export function fsCause(e: unknown): string {
  const code = errorCode(e);
  return code && FS_CAUSES[code] ? `${FS_CAUSES[code]} (${code})` : errorMessage(e);
}

/**
 * An error for a failed write of `file` that names the file and the cause in words (`no space left on the
 * device (ENOSPC)`), keeping Node's `code`. The caller's prefix (`saveModel: `) goes in front.
 */
export function writeError(e: unknown, file: string, prefix = ''): Error {
  const code = errorCode(e);
  const err = new Error(`${prefix}cannot write ${file}: ${fsCause(e)}`) as Error & { code?: string };
  if (code) err.code = code;
  return err;
}

/** Temporary files are `.<final name>.<pid>.<random>.tmp`: the pid tells a killed writer's leftovers from a live one's. */
function tempName(path: NodePath, dir: string, name: string): string {
  return path.join(dir, `.${name}.${processId()}.${Math.random().toString(36).slice(2, 10)}.tmp`);
}

const TEMP_RE = /^\.(.+)\.(\d+)\.[a-z0-9]+\.tmp$/;

function processId(): number {
  return (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
}

function processAlive(pid: number): boolean {
  const kill = (globalThis as { process?: { kill?: (pid: number, sig: number) => void } }).process?.kill;
  if (typeof kill !== 'function' || pid <= 0) return true;
  try {
    kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === 'EPERM'; // it exists, but is someone else's
  }
}

/** Writes bytes to a new file and flushes them to disk; the file is removed again if that fails. */
async function writeSynced(fs: FsPromises, file: string, data: Uint8Array | string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(file, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
  } catch (e) {
    await handle?.close().catch(() => {});
    await fs.rm(file, { force: true }).catch(() => {});
    throw e;
  }
}

/** Flushes a directory's entries (renames, removals) to disk. */
async function syncDir(fs: FsPromises, dir: string): Promise<void> {
  // Some platforms cannot fsync a directory (EISDIR, EPERM on Windows); the files are complete either way.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* best effort */
  }
}

/**
 * Replaces a file atomically: the bytes go to a temporary file in the target's directory, are flushed to
 * disk (fsync) and renamed over the target, then the directory is flushed so that the rename itself
 * survives a crash. Readers see the old file or the complete new one, never a torn one; a failed write
 * leaves the old file as it was and no temporary file behind, and the temporary files of killed writes
 * are removed by the next one. Errors are Node's own (see writeError).
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const { fs, path } = await requireNode(`writing ${file}`);
  const dir = path.dirname(path.resolve(file));
  const tmp = tempName(path, dir, path.basename(file));
  await writeSynced(fs, tmp, data);
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  await syncDir(fs, dir);
  await removeLeftovers(fs, path, dir, [path.basename(file)]); // temporary files of killed writes
}

/**
 * The name of a file whose content never changes once written: `<prefix>.<first 16 hex digits of the
 * SHA-256 of data><ext>`. Files of `writeFilesAtomic` are named so; saving the same bytes again gives the
 * same name.
 */
export function versionedName(prefix: string, data: Uint8Array, ext: string): string {
  const crypto = nodeBuiltin<typeof import('node:crypto')>('node:crypto');
  if (!crypto) throw new Error(`naming ${prefix}${ext} needs node:crypto, which this runtime does not have`);
  return `${prefix}.${crypto.createHash('sha256').update(data).digest('hex').slice(0, 16)}${ext}`;
}

/** The regular expression of the names `versionedName(prefix, …, ext)` gives. */
export function versionedPattern(prefix: string, ext: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc(prefix)}\\.[0-9a-f]{16}${esc(ext)}$`);
}

export interface AtomicFiles {
  /** Files the manifest refers to, by name in `dir` (use `versionedName`, so that no name is ever rewritten). */
  parts: { name: string; data: Uint8Array }[];
  /** The file that ties the parts together (model.json): written last, renamed over the previous one. */
  manifest: { name: string; data: Uint8Array | string };
  /** Names in `dir` the previous manifest referred to: removed once the new manifest is in place (unless reused). */
  obsolete?: string[];
  /** Names of earlier versions of the parts (`versionedPattern`): those not written now are removed once the manifest is in place. */
  stale?: RegExp[];
}

/** Saves in progress in this process, by manifest path: two saves of one directory run one after the other. */
const saving = new Map<string, Promise<unknown>>();

/**
 * Replaces a set of files in `dir` that a manifest ties together, so that at any moment — a crash, SIGKILL,
 * a full disk — the directory holds the previous complete set or the new one, never a mix:
 *
 *  1. each part is written to a temporary file in `dir` and flushed (fsync), then renamed to its own,
 *     content-versioned name (a name no other content ever has, so nothing the old manifest reads changes);
 *  2. the directory is flushed, then the manifest is replaced atomically (temporary file, fsync, rename,
 *     directory fsync): this rename is the moment the new set becomes the directory's content;
 *  3. only then are the old set's files (`obsolete`, `stale`) and the leftovers of killed saves (their
 *     temporary files, whose writer's pid is gone) removed.
 *
 * A failure before step 3 removes what this call wrote and throws `writeError`'s error naming the file and
 * the cause; the previous set is untouched. Failures of the clean-up in step 3 are ignored (the new set is
 * complete; a later save removes the rest). One process should save to a directory at a time: saves from
 * this process are serialised per manifest, but another process's save could have its new parts removed.
 */
export async function writeFilesAtomic(dir: string, files: AtomicFiles, errorPrefix = ''): Promise<void> {
  const { fs, path } = await requireNode(`writing ${dir}`);
  const key = path.resolve(dir, files.manifest.name);
  const before = saving.get(key);
  const run = (before ?? Promise.resolve()).catch(() => {}).then(() => replaceFiles(fs, path, dir, files, errorPrefix));
  saving.set(key, run);
  try {
    await run;
  } finally {
    if (saving.get(key) === run) saving.delete(key);
  }
}

async function replaceFiles(fs: FsPromises, path: NodePath, dir: string, files: AtomicFiles, prefix: string): Promise<void> {
  const created: string[] = []; // final names this call brought into existence (removed on failure)
  const temps: string[] = [];
  let file = dir;
  try {
    const pending: { tmp: string; final: string }[] = [];
    for (const p of files.parts) {
      file = path.join(dir, p.name);
      const tmp = tempName(path, dir, p.name);
      temps.push(tmp);
      await writeSynced(fs, tmp, p.data);
      pending.push({ tmp, final: file });
    }
    for (const { tmp, final } of pending) {
      file = final;
      const existed = await fs.lstat(final).then(
        () => true,
        () => false,
      );
      await fs.rename(tmp, final);
      if (!existed) created.push(final);
    }
    await syncDir(fs, dir);
    file = path.join(dir, files.manifest.name);
    const tmp = tempName(path, dir, files.manifest.name);
    temps.push(tmp);
    await writeSynced(fs, tmp, files.manifest.data);
    await fs.rename(tmp, file);
  } catch (e) {
    for (const f of [...temps, ...created]) await fs.rm(f, { force: true }).catch(() => {});
    throw writeError(e, file, prefix);
  }
  await syncDir(fs, dir);
  await removeLeftovers(fs, path, dir, [files.manifest.name, ...files.parts.map((p) => p.name)], files.stale, files.obsolete);
}

/**
 * Removes, in `dir`: the `obsolete` names, the names matching `stale`, and temporary files of either or of
 * `keep` whose writer is dead (a killed save's); never a name in `keep`, never anything but a file.
 */
async function removeLeftovers(fs: FsPromises, path: NodePath, dir: string, keepNames: string[], stale: RegExp[] = [], obsolete: string[] = []): Promise<void> {
  const keep = new Set(keepNames);
  const ours = (name: string) => keep.has(name) || stale.some((re) => re.test(name));
  const remove = new Set(obsolete.filter((n) => !keep.has(n) && n === path.basename(n) && n !== '.' && n !== '..'));
  let names: string[] = [];
  try {
    names = await fs.readdir(dir);
  } catch {
    /* nothing more to clean */
  }
  for (const n of names) {
    if (keep.has(n)) continue;
    if (stale.some((re) => re.test(n))) remove.add(n);
    const t = TEMP_RE.exec(n);
    if (t && ours(t[1]) && !processAlive(Number(t[2]))) remove.add(n);
  }
  if (remove.size === 0) return;
  for (const n of remove) {
    const f = path.join(dir, n);
    // Only files: an old manifest naming a directory (or a symlink's target) is not ours to remove.
    const st = await fs.lstat(f).catch(() => null);
    if (st?.isFile()) await fs.rm(f, { force: true }).catch(() => {});
  }
  await syncDir(fs, dir);
}
