/**
 * Atomic file replacement in Node: the bytes go to a temporary file in the target's directory, are flushed
 * to disk (fsync), and the temporary file is renamed over the target, then the directory is flushed so the
 * rename itself survives a crash. A reader sees either the old file or the complete new one, never a torn
 * one, and a failed save leaves the old file as it was (and no temporary file behind).
 *
 * Node's modules are imported through variables so that browser bundlers leave them alone.
 */
type FsPromises = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');

async function node(what: string): Promise<{ fs: FsPromises; path: NodePath }> {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  if (typeof proc?.versions?.node !== 'string') throw new Error(`${what} needs node:fs, which this runtime does not have`);
  const specs = ['node:fs/promises', 'node:path'];
  const [fs, path] = await Promise.all(specs.map((s) => import(/* @vite-ignore */ /* webpackIgnore: true */ s)));
  return { fs: fs as FsPromises, path: path as NodePath };
}

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const { fs, path } = await node(`writing ${file}`);
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
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
  // The rename is durable once the directory entry is; some platforms cannot fsync a directory (EISDIR,
  // EPERM on Windows): the file is complete either way.
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
