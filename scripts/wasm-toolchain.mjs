// Finds a Rust toolchain that can build wasm32 (Debian's rustc-web with vendored std sources, or rustup nightly with
// rust-src): shared by scripts/build-wasm.mjs and the generator's mismatch test (test/gen-ops.test.ts).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: 'utf8', ...opts });
const log = (msg) => process.stderr.write(`[build-wasm] ${msg}\n`);

export function debianToolchain() {
  const cargo = '/usr/bin/cargo';
  const rustc = '/usr/bin/rustc';
  if (!existsSync(cargo) || !existsSync(rustc)) return null;
  const v = run(rustc, ['--version']).stdout?.match(/rustc (\d+\.\d+\.\d+)/)?.[1];
  const vendor = v && `/usr/src/rustc-${v}/library/vendor`;
  const linker = ['/usr/lib/llvm-19/bin/wasm-ld', '/usr/bin/wasm-ld-19', '/usr/bin/wasm-ld'].find(existsSync);
  if (!vendor || !existsSync(vendor) || !existsSync(`/usr/src/rustc-${v}/library/core`) || !linker) return null;
  return {
    kind: `debian rustc ${v}`,
    cargo,
    env: { RUSTC: rustc, RUSTC_BOOTSTRAP: '1' },
    config: [
      `source.crates-io.replace-with="vendored-sources"`,
      `source.vendored-sources.directory="${vendor}"`,
      `target.wasm32-unknown-unknown.linker="${linker}"`,
    ],
    version: v,
  };
}

export function rustupToolchain() {
  const r = run('rustup', ['run', 'nightly', 'rustc', '--version']);
  if (r.status !== 0) return null;
  const src = run('rustup', ['run', 'nightly', 'rustc', '--print', 'sysroot']).stdout.trim();
  if (!existsSync(join(src, 'lib/rustlib/src/rust/library/core'))) {
    log('rustup nightly found but without rust-src: run `rustup component add rust-src --toolchain nightly`');
    return null;
  }
  return { kind: `rustup ${r.stdout.trim()}`, cargo: 'rustup', pre: ['run', 'nightly', 'cargo'], env: {}, config: [], version: r.stdout.trim() };
}


/** The arguments that make cargo build for wasm32 with a rebuilt core (no wasm32 sysroot is installed). */
export function wasmCargoArgs(tc) {
  return [
    '--offline',
    '--target',
    'wasm32-unknown-unknown',
    '-Zbuild-std=core,panic_abort',
    '-Zbuild-std-features=compiler-builtins-mem',
    ...tc.config.flatMap((c) => ['--config', c]),
  ];
}
