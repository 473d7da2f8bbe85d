/**
 * A tiny static server for the headless-browser tests, on 127.0.0.1 and a random port.
 *
 *   /dist/…   the compiled package (`npm run build:ts`)
 *   /wasm/…   the kernels (`npm run build:wasm`); the loader finds them as `../../wasm/x.wasm` relative to
 *             `/dist/backend/backend.js`, exactly as in the published package layout
 *   /coi/     the test page, served with COOP: same-origin + COEP: require-corp (cross-origin isolated)
 *   /plain/   the same page without those headers (no SharedArrayBuffer: the loader must fall back)
 *
 * Only the page (the document) carries the isolation headers: same-origin subresources need nothing else,
 * and a Blob-URL worker inherits the document's policy — this is the minimal setup users need.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ISOLATION_HEADERS, MIME } from '../../scripts/serve-examples.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = fileURLToPath(new URL('./page.html', import.meta.url));

export { ISOLATION_HEADERS };

export interface TestServer {
  /** e.g. http://127.0.0.1:43117 */
  origin: string;
  /** The test page, cross-origin isolated or not. */
  pageUrl(isolated: boolean): string;
  /** Paths requested so far (to check what the loader fetched). */
  requests: string[];
  close(): Promise<void>;
}

/** Maps a URL path to a file under one of the served directories, refusing anything outside them. */
function resolveStatic(pathname: string): string | null {
  for (const dir of ['dist', 'wasm']) {
    const prefix = `/${dir}/`;
    if (!pathname.startsWith(prefix)) continue;
    const base = join(ROOT, dir);
    const file = normalize(join(base, pathname.slice(prefix.length)));
    return file.startsWith(base + sep) ? file : null;
  }
  return null;
}

async function sendFile(res: ServerResponse, file: string, headers: Record<string, string> = {}): Promise<void> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end('not found');
    return;
  }
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(size),
    'Cache-Control': 'no-store',
    ...headers,
  });
  createReadStream(file).pipe(res);
}

async function handle(req: IncomingMessage, res: ServerResponse, requests: string[]): Promise<void> {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  requests.push(pathname);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  if (pathname === '/coi/' || pathname === '/coi/index.html') return sendFile(res, PAGE, { ...ISOLATION_HEADERS });
  if (pathname === '/plain/' || pathname === '/plain/index.html') return sendFile(res, PAGE);
  if (pathname === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  const file = resolveStatic(pathname);
  if (file) return sendFile(res, file);
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found');
}

export async function startServer(): Promise<TestServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    handle(req, res, requests).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    pageUrl: (isolated) => `${origin}/${isolated ? 'coi' : 'plain'}/`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
