#!/usr/bin/env node
// Installs the Debian packages the test suite uses when they are missing and we may (root + apt-get):
// chromium (browser tests) and dataset-fashion-mnist (Fashion-MNIST loader test). The Rust toolchain is
// installed by build-wasm.mjs itself. Without root, prints what is missing; those tests then skip.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const wanted = [
  { pkg: 'chromium', present: () => existsSync('/usr/bin/chromium') },
  { pkg: 'dataset-fashion-mnist', present: () => existsSync('/usr/share/datasets/fashion-mnist') },
];
const missing = wanted.filter((w) => !w.present()).map((w) => w.pkg);
if (missing.length === 0) process.exit(0);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !existsSync('/usr/bin/apt-get')) {
  console.warn(`[deps] missing Debian packages: ${missing.join(' ')} (install them as root to run every test; the tests that need them skip)`);
  process.exit(0);
}
console.warn(`[deps] installing ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
const r = spawnSync('apt-get', ['install', '-y', '-q', ...missing], { stdio: 'inherit', env });
if (r.status !== 0) {
  console.error(`[deps] apt-get install ${missing.join(' ')} failed`);
  process.exit(1);
}
