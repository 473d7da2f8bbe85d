#!/usr/bin/env node
// Builds the Rust kernels into the wasm binaries the loader picks from:
//   wasm/wasm-layers-simd.wasm             SIMD128, one thread, memory imported (not shared)
//   wasm/wasm-layers-simd-threads.wasm     SIMD128 + atomics on a shared imported memory, for the worker pool
//   wasm/wasm-layers-relaxed(-threads).wasm the same with relaxed SIMD (fused multiply-add in the GEMMs)
// core is rebuilt for wasm32 with -Zbuild-std because Debian's rustc ships no wasm32 sysroot; on a rustup
// machine the same flags work with nightly + rust-src. Rebuilds only when the Rust sources (or this script) change.
// Also built: wasm/reference/wasm-layers-simd-reference.wasm, one thread with the naive references (cargo feature
// `reference`) that release builds leave out; the tests load it beside the build under test.
// First, scripts/gen-ops.mjs regenerates both sides of the op encoding from crates/kernels/ops.json.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './gen-ops.mjs';
import { debianToolchain, rustupToolchain, wasmCargoArgs } from './wasm-toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'wasm');
const force = process.argv.includes('--force');
// --only=simd-threads,…: rebuild just these variants (while iterating); the stamp is dropped so the next full build runs.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const log = (msg) => process.stderr.write(`[build-wasm] ${msg}\n`);

const SIMD = '+simd128,+bulk-memory,+mutable-globals,+nontrapping-fptoint,+sign-ext';
const ST = { link: ['--import-memory'] };
// Each worker instance sets its own __stack_pointer; the maximum only reserves address space.
const MT = { link: ['--shared-memory', '--import-memory', '--max-memory=4294967296'] };
const VARIANTS = [
  { name: 'simd', features: SIMD, ...ST },
  { name: 'simd-threads', features: `${SIMD},+atomics`, ...MT },
  // relaxed SIMD (FMA in the GEMM kernels): picked by feature detection (Chrome ≥ 114, Node ≥ 21)
  { name: 'relaxed', features: `${SIMD},+relaxed-simd`, ...ST },
  { name: 'relaxed-threads', features: `${SIMD},+relaxed-simd,+atomics`, ...MT },
  // Test build: the naive references run on thread 0 only, so one single-threaded SIMD128 build serves every variant's tests.
  { name: 'simd-reference', features: SIMD, ...ST, cargoFeatures: ['reference'], dir: 'reference' },
];
const COMMON_LINK = ['--export=__stack_pointer', '--export=__heap_base', '-zstack-size=1048576', '--stack-first'];

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function listSources(dir, acc = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) listSources(p, acc);
    else if (/\.(rs|toml|json)$/.test(name)) acc.push(p);
  }
  return acc;
}

function installDebianToolchain() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!existsSync('/usr/bin/apt-get') || !isRoot) return false;
  log('no wasm-capable Rust found: installing Debian rustc-web cargo-web rust-web-src lld-19 (apt-get)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = run('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  r = run('apt-get', ['install', '-y', '-q', 'rustc-web', 'cargo-web', 'rust-web-src', 'lld-19'], { stdio: 'inherit', env });
  return r.status === 0;
}

function findToolchain() {
  return debianToolchain() ?? rustupToolchain() ?? (installDebianToolchain() ? debianToolchain() : null);
}

try {
  for (const p of generate()) log(`generated ${relative(root, p)}`);
} catch (e) {
  log(`crates/kernels/ops.json: ${e.message}`);
  process.exit(1);
}
const sources = [...listSources(join(root, 'crates')), join(root, 'Cargo.toml'), fileURLToPath(import.meta.url)]; // gen-ops.mjs's output is among the crate's sources
const outputs = VARIANTS.map((v) => join(outDir, v.dir ?? '', `wasm-layers-${v.name}.wasm`));
const stampFile = join(outDir, '.stamp');
// The stamp hashes only the sources, so `npm test` does not even look for a toolchain when nothing changed.
const quick = createHash('sha256');
for (const f of sources) quick.update(relative(root, f)).update(readFileSync(f));
const quickStamp = quick.digest('hex');
if (!force && !only && outputs.every(existsSync) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').split('\n')[0] === quickStamp) {
  log('wasm is up to date');
  process.exit(0);
}

const tc = findToolchain();
if (!tc) {
  process.stderr.write(
    [
      'wasm-layers: no Rust toolchain that can build wasm32 was found.',
      'Install one of:',
      '  Debian/Ubuntu (as root): apt-get install -y rustc-web cargo-web rust-web-src lld-19',
      '  rustup:                  rustup toolchain install nightly && rustup component add rust-src --toolchain nightly',
      '',
    ].join('\n'),
  );
  process.exit(1);
}
log(`toolchain: ${tc.kind}`);
mkdirSync(outDir, { recursive: true });

for (const [i, v] of VARIANTS.entries()) {
  if (only && !only.includes(v.name)) continue;
  const targetDir = join(root, 'target', `wasm-${v.name}`);
  const rustflags = [
    `-C target-feature=${v.features}`,
    ...[...v.link, ...COMMON_LINK].map((a) => `-C link-arg=${a}`),
  ].join(' ');
  const args = [
    ...(tc.pre ?? []),
    'build',
    '--release',
    ...wasmCargoArgs(tc),
    '--target-dir',
    targetDir,
    '-p',
    'wasm-layers-kernels',
    ...(v.cargoFeatures ? ['--features', v.cargoFeatures.join(',')] : []),
  ];
  log(`building ${v.name}`);
  const env = { ...process.env, ...tc.env, RUSTFLAGS: rustflags };
  delete env.CARGO_ENCODED_RUSTFLAGS; // it would take precedence over RUSTFLAGS
  const r = run(tc.cargo, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) {
    log(`cargo failed for ${v.name} (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
  mkdirSync(dirname(outputs[i]), { recursive: true });
  // Copy then rename, so a process loading the file meanwhile never sees it half-written.
  const tmp = `${outputs[i]}.${process.pid}.tmp`;
  copyFileSync(join(targetDir, 'wasm32-unknown-unknown/release/wasm_layers_kernels.wasm'), tmp);
  renameSync(tmp, outputs[i]);
  // Validate here, not at first use, so a bad build fails the build (relaxed SIMD only where this Node has it).
  const relaxedHere = typeof process.execArgv.find((a) => a.includes('relaxed-simd')) === 'string' || Number(process.versions.node.split('.')[0]) >= 21;
  if (!v.name.startsWith('relaxed') || relaxedHere) {
    const mod = new WebAssembly.Module(readFileSync(outputs[i]));
    log(`${v.name}: ${statSync(outputs[i]).size} bytes, ${WebAssembly.Module.exports(mod).length} exports`);
  } else log(`${v.name}: ${statSync(outputs[i]).size} bytes (not validated: this Node has no relaxed SIMD)`);
}
if (only) rmSync(stampFile, { force: true });
else writeFileSync(stampFile, `${quickStamp}\n${tc.kind}\n`);
