/**
 * Child Node processes that import the library from src/ (through tsx), for tests that need a process of
 * their own: SIGKILL, a file-size limit, dropped privileges.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A module specifier of a file under src/, for `await import(...)` in a child's script. */
export const SRC = (p: string): string => JSON.stringify(pathToFileURL(join(ROOT, 'src', p)).href);

/** `node --import tsx -e script args…`, optionally through `bash -c` with shell commands before it (ulimit, trap). */
export function spawnScript(script: string, args: string[] = [], shellPrefix?: string): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, ...args];
  if (!shellPrefix) return spawn(node[0], node.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const quoted = node.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawn('bash', ['-c', `${shellPrefix}; exec ${quoted}`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a script to its end (killed after `timeoutMs`, so that a hang fails instead of blocking the suite). */
export function runScript(script: string, args: string[] = [], shellPrefix?: string, timeoutMs = 60_000): Promise<ChildResult> {
  const child = spawnScript(script, args, shellPrefix);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}
