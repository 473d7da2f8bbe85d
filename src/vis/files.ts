/**
 * Opens TensorBoard event files held in memory — `tensorBoard(dir, { writeTo: 'memory' }).files()` after a fit in
 * a page, or files the user picked (`<input type=file multiple>`, `File`/`Blob`), or URLs — in the dashboard:
 *
 *   const board = await openRunFiles(document.getElementById('board')!, tb.files());
 */
import { readRunFiles } from '../tensorboard/reader.js';
import { Dashboard, memorySource, type DashboardOptions } from './dashboard.js';

export type RunFile = { path: string; bytes: Uint8Array } | { path: string; data: Uint8Array | Blob | string };

export async function openRunFiles(container: HTMLElement, files: readonly RunFile[], opts: DashboardOptions = {}): Promise<Dashboard> {
  const runs = await readRunFiles(files.map((f) => ({ path: f.path, data: 'bytes' in f ? f.bytes : f.data })));
  return new Dashboard(container, memorySource(runs), { pollMs: 0, ...opts });
}
