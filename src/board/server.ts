/**
 * `wasm-layers board`: a small HTTP server (node:http) that serves the dashboard page and a JSON API over a
 * TensorBoard log directory. A `LogDirWatcher` is polled in the background, so runs and points that a training run
 * appends show up without a restart (only the appended bytes of a growing file are read).
 *
 * API (all GET):
 *   /api/runs                          { logDir, runs: RunInfo[], issues }
 *   /api/scalars?tag=T[&samples=N]     { tag, runs: { [run]: {step[], wallTime[], value[], total} } } — N points per
 *                                      run at most (default 2000, evenly sampled; TensorBoard samples to 1000), 0 = all
 *   /api/histograms?run=R&tag=T        HistogramPoint[]
 *   /api/model?run=R                   the run's Keras model config
 *   /api/download?tag=T&format=csv|json[&run=R]   every point of a tag (all runs, or one), as a file
 * The page's scripts come from the package itself (dist/vis, uPlot from node_modules): nothing from the network.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LogDirWatcher } from '../tensorboard/logdir.js';
import type { RunData } from '../tensorboard/reader.js';
import { runInfo, scalarColumns, scalarsCsv } from '../vis/data.js';
import { boardPage } from './page.js';

export interface BoardOptions {
  logDir: string;
  /** Default 6006 (TensorBoard's); 0 = any free port. */
  port?: number;
  /** Default 127.0.0.1: only this machine. Give 0.0.0.0 to share on the network. */
  host?: string;
  /** How often the log directory is read for new data, in ms (default 1000). */
  reloadMs?: number;
  /** How often the page asks for new data, in ms (default 2000). */
  pagePollMs?: number;
}

export interface Board {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Reads the log directory now (the timer does it every `reloadMs`). */
  reload(): Promise<void>;
}

/** A clear error for the cases users hit: missing directory, port taken. */
export class BoardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BoardError';
  }
}

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

/** dist/ of this package: beside this file when compiled, ../../dist when run from src/ (tests, tsx). */
function findDist(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const d of [resolve(here, '..'), resolve(here, '../../dist')]) if (existsSync(join(d, 'vis', 'dashboard.js'))) return d;
  throw new BoardError(`board: the page's scripts (dist/vis/*.js) are missing; build the package first (npm run build:ts)`);
}

function uplotDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot/dist/uPlot.esm.js'));
}

export async function startBoard(opts: BoardOptions): Promise<Board> {
  const logDir = resolve(opts.logDir);
  let st;
  try {
    st = await stat(logDir);
  } catch {
    throw new BoardError(`board: the log directory ${logDir} does not exist (give the folder your TensorBoard callback writes to, e.g. \`wasm-layers board logs\`)`);
  }
  if (!st.isDirectory()) throw new BoardError(`board: ${logDir} is a file, not a log directory`);
  const dist = findDist();
  const uplot = uplotDir();
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 6006;

  const watcher = new LogDirWatcher(logDir);
  let runs: RunData[] = [];
  const versions = new Map<string, number>();
  let pollError: string | null = null;
  let loaded = false;
  let polling: Promise<void> | null = null;
  const reload = (): Promise<void> => {
    polling ??= (async () => {
      try {
        const { changed } = await watcher.poll();
        for (const r of changed) versions.set(r, (versions.get(r) ?? 0) + 1);
        // Only when something changed: a snapshot of 100 long runs is not free, and the timer polls every second.
        if (changed.length > 0 || loaded === false) runs = watcher.runs();
        loaded = true;
        pollError = null;
      } catch (e) {
        pollError = (e as Error).message;
      }
    })().finally(() => (polling = null));
    return polling;
  };
  await reload();
  const timer = setInterval(() => void reload(), opts.reloadMs ?? 1000);
  timer.unref?.();

  const page = boardPage({ logDir, pollMs: opts.pagePollMs ?? 2000 });
  const json = (res: ServerResponse, body: unknown, status = 200) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(text);
  };
  const findRun = (name: string | null) => runs.find((r) => r.run === name);

  async function sendStatic(res: ServerResponse, base: string, rel: string): Promise<void> {
    const file = normalize(join(base, rel));
    if (!file.startsWith(base + sep) || !MIME[extname(file)]) {
      res.writeHead(404).end('not found');
      return;
    }
    try {
      const s = await stat(file);
      if (!s.isFile()) throw new Error();
      res.writeHead(200, { 'Content-Type': MIME[extname(file)], 'Content-Length': String(s.size), 'Cache-Control': 'no-cache' });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end('not found');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname;
    const q = url.searchParams;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (p === '/' || p === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' }).end(page);
      return;
    }
    if (p.startsWith('/static/uplot/')) return sendStatic(res, uplot, p.slice('/static/uplot/'.length));
    if (p.startsWith('/static/')) return sendStatic(res, dist, p.slice('/static/'.length));
    if (p === '/api/runs') {
      json(res, { logDir, runs: runs.map((r) => runInfo(r, versions.get(r.run) ?? 0)), issues: runs.flatMap((r) => r.issues), error: pollError });
      return;
    }
    if (p === '/api/scalars') {
      const tag = q.get('tag');
      if (!tag) return json(res, { error: 'give ?tag=' }, 400);
      const samples = q.has('samples') ? Number(q.get('samples')) : 2000;
      if (!(Number.isInteger(samples) && samples >= 0)) return json(res, { error: 'samples must be a non-negative integer' }, 400);
      const out: Record<string, unknown> = {};
      for (const r of runs) if (r.scalars[tag]) out[r.run] = scalarColumns(r.scalars[tag], samples);
      return json(res, { tag, runs: out });
    }
    if (p === '/api/histograms') {
      const run = findRun(q.get('run'));
      const tag = q.get('tag') ?? '';
      if (!run || !run.histograms[tag]) return json(res, { error: `no histogram tag ${JSON.stringify(tag)} in run ${JSON.stringify(q.get('run'))}` }, 404);
      return json(res, run.histograms[tag]);
    }
    if (p === '/api/model') {
      const run = findRun(q.get('run'));
      if (!run || run.modelConfig === undefined) return json(res, { error: `run ${JSON.stringify(q.get('run'))} has no model config` }, 404);
      return json(res, run.modelConfig);
    }
    if (p === '/api/download') {
      const tag = q.get('tag') ?? '';
      const format = q.get('format') ?? 'csv';
      if (format !== 'csv' && format !== 'json') return json(res, { error: 'format must be csv or json' }, 400);
      const byRun: Record<string, RunData['scalars'][string]> = {};
      for (const r of runs) if (r.scalars[tag] && (!q.has('run') || r.run === q.get('run'))) byRun[r.run] = r.scalars[tag];
      if (Object.keys(byRun).length === 0) return json(res, { error: `no scalar tag ${JSON.stringify(tag)}${q.has('run') ? ` in run ${JSON.stringify(q.get('run'))}` : ''}` }, 404);
      const name = `${(q.get('run') ? q.get('run') + '_' : '') + tag}`.replace(/[^\w.-]+/g, '_');
      const body = format === 'csv' ? scalarsCsv(byRun) : JSON.stringify(byRun);
      res
        .writeHead(200, {
          'Content-Type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
          'Content-Disposition': `attachment; filename="${name}.${format}"`,
          'Cache-Control': 'no-store',
        })
        .end(body);
      return;
    }
    if (p === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found');
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(String(e));
    });
  });
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => ok());
    });
  } catch (e) {
    clearInterval(timer);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new BoardError(`board: port ${port} on ${host} is already in use (is TensorBoard or another board running?); choose another with --port`);
    if (code === 'EACCES') throw new BoardError(`board: no permission to listen on port ${port} on ${host}; choose a port above 1024 with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new BoardError(`board: cannot listen on host ${host} (not an address of this machine)`);
    throw e;
  }
  const actual = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${actual}/`,
    port: actual,
    reload,
    close: () =>
      new Promise<void>((ok) => {
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
