/**
 * The op encoding is declared once (crates/kernels/ops.json) and scripts/gen-ops.mjs generates both sides
 * from it. These tests show that a disagreement fails the build instead of a training run:
 *  - the committed generated files are what the generator makes of the declaration;
 *  - the generator refuses inconsistent declarations (a reused opcode, a patch of an unknown argument, an
 *    op with neither a reference nor a reason);
 *  - a DELIBERATE MISMATCH between the declaration and a kernel or a call site does not compile: an
 *    argument added to `mul` that its Rust kernel ignores, or removed while the kernel reads it, stops
 *    `cargo check`; the same change stops `tsc` at a TypeScript call site that was right before.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

// @ts-expect-error -- plain ES module without types
import { DECL, generate, genRust, genTs, validate } from '../scripts/gen-ops.mjs';
// @ts-expect-error -- plain ES module without types
import { debianToolchain, rustupToolchain, wasmCargoArgs } from '../scripts/wasm-toolchain.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const decl = () => JSON.parse(readFileSync(DECL, 'utf8'));
type Op = { name: string; code: number; args: [string, string][]; patch?: string[]; reference: true | string };
const op = (d: { ops: Op[] }, name: string) => d.ops.find((o) => o.name === name)!;
const scratch = mkdtempSync(join(tmpdir(), 'wl-gen-ops-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the op declaration and its generated sides', () => {
  it('the committed ops.rs and ops.generated.ts are up to date', () => {
    expect(() => generate({ check: true })).not.toThrow();
  });

  it('the generator refuses inconsistent declarations, naming the problem', () => {
    const reused = decl();
    op(reused, 'mul').code = op(reused, 'gemm').code;
    expect(() => validate(reused)).toThrow(/op mul: code 1 is already gemm's/);
    const badPatch = decl();
    op(badPatch, 'adam').patch = ['alpah'];
    expect(() => validate(badPatch)).toThrow(/op adam: patch names "alpah", which is not one of its arguments/);
    const noReason = decl();
    op(noReason, 'sum').reference = '';
    expect(() => validate(noReason)).toThrow(/op sum: "reference" must be true or say why/);
    const badType = decl();
    op(badType, 'mul').args.push(['scale', 'float']);
    expect(() => validate(badType)).toThrow(/op mul, argument scale: unknown type "float"/);
  });

  it('a TypeScript call site that disagrees with the declaration does not type-check', () => {
    const callSite = `import { ops } from './ops.generated.js';\nexport const c = ops.mul({ n: 4, x: 16, m: 32, y: 48 });\n`;
    const check = (d: unknown): string[] => {
      const dir = mkdtempSync(join(scratch, 'ts-'));
      writeFileSync(join(dir, 'ops.generated.ts'), genTs(d));
      writeFileSync(join(dir, 'site.ts'), callSite.replace("'./ops.generated.js'", "'./ns.js'"));
      writeFileSync(join(dir, 'ns.ts'), `export * as ops from './ops.generated.js';\n`);
      const options = { strict: true, noEmit: true, skipLibCheck: true, types: [], lib: ['lib.es2022.d.ts'], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
      const program = ts.createProgram([join(dir, 'site.ts')], options);
      return ts.getPreEmitDiagnostics(program).map((x) => ts.flattenDiagnosticMessageText(x.messageText, '\n'));
    };
    expect(check(decl())).toEqual([]); // the call site is right for the real declaration
    const added = decl();
    op(added, 'mul').args.push(['scale', 'f32']);
    expect(check(added).join('\n')).toMatch(/Property 'scale' is missing/);
    const renamed = decl();
    op(renamed, 'mul').args[2][0] = 'mask';
    expect(check(renamed).join('\n')).toMatch(/'m' does not exist|Property 'mask' is missing/);
  }, 300_000);

  const tc = debianToolchain() ?? rustupToolchain();
  if (!tc) console.warn('test/gen-ops: no wasm-capable Rust toolchain (npm run build:wasm installs one): the cargo mismatch checks are skipped');
  it.skipIf(!tc)(
    'a Rust kernel that disagrees with the declaration does not compile (cargo check of a copy of the crate)',
    () => {
      const crate = join(scratch, 'kernels');
      cpSync(join(root, 'crates/kernels'), crate, { recursive: true });
      // A standalone crate outside the workspace, with the workspace's abort-on-panic.
      const manifest = readFileSync(join(crate, 'Cargo.toml'), 'utf8') + '\n[workspace]\n\n[profile.dev]\npanic = "abort"\n';
      writeFileSync(join(crate, 'Cargo.toml'), manifest);
      const cargoCheck = (d: unknown) => {
        writeFileSync(join(crate, 'src/ops.rs'), genRust(d));
        const r = spawnSync(tc.cargo, [...(tc.pre ?? []), 'check', ...wasmCargoArgs(tc), '--manifest-path', join(crate, 'Cargo.toml'), '--target-dir', join(root, 'target/gen-ops-check')], {
          encoding: 'utf8',
          env: { ...process.env, ...tc.env, RUSTFLAGS: '-C target-feature=+simd128' },
        });
        return { status: r.status, stderr: r.stderr };
      };
      const ok = cargoCheck(decl());
      expect(ok.stderr).not.toMatch(/^error/m);
      expect(ok.status).toBe(0);
      // declared but never read by the kernel: deny(dead_code) on the decoder
      const added = decl();
      op(added, 'mul').args.push(['scale', 'f32']);
      const a = cargoCheck(added);
      expect(a.status).not.toBe(0);
      expect(a.stderr).toMatch(/field `scale` is never read/);
      // read by the kernel but no longer declared
      const removed = decl();
      op(removed, 'mul').args = op(removed, 'mul').args.filter(([n]) => n !== 'm');
      const r = cargoCheck(removed);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/no field `m` on type `&MulArgs`|no field `m`/);
    },
    600_000,
  );
});
