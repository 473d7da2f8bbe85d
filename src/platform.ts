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
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new Error(`${path}: cannot read file: it is ${kind}, not a regular file`);
    }
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

/**
 * Replaces a file atomically: the bytes go to a temporary file in the target's directory, are flushed to
 * disk (fsync) and renamed over the target, then the directory is flushed so that the rename itself
 * survives a crash. Readers see the old file or the complete new one, never a torn one; a failed write
 * leaves the old file as it was and no temporary file behind.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const { fs, path } = await requireNode(`writing ${file}`);
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  let handle: Awaited<ReturnType<FsPromises['open']>> | undefined;
  try {
    handle = await fs.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, file);
  } catch (e) {
    await handle?.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  // Some platforms cannot fsync a directory (EISDIR, EPERM on Windows); the file is complete either way.
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
