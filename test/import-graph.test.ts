/**
 * The import graph of src/ has no cycle: every module can be understood (and loaded) after the modules it
 * imports. Static imports, re-exports and dynamic `import('…')` all count; type-only imports do not (they
 * are erased from the JavaScript).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Strips comments (keeping strings intact) so that imports in prose do not count. */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\/|([^\\:'"`]|^)\/\/.*$/gm, (m, pre: string | undefined) => (pre !== undefined ? pre : ' '));
}

/** The relative module specifiers a file loads at run time. */
export function runtimeImports(code: string): string[] {
  const src = stripComments(code);
  const out: string[] = [];
  // import … from '…' / export … from '…' (whole statement, so that `import type` and `{ type A, type B }` can be told apart)
  for (const m of src.matchAll(/(?:^|[;\n])\s*(import|export)\s+([^;'"]*?)\s*from\s*['"]([^'"]+)['"]/g)) {
    const [, kw, clause, spec] = m;
    if (/^type\s/.test(clause)) continue;
    const braces = clause.match(/^\{([\s\S]*)\}$/);
    if (braces) {
      const names = braces[1].split(',').map((s) => s.trim()).filter(Boolean);
      // `export {}` re-exports nothing; a clause of type-only names is erased
      if (names.length > 0 && names.every((n) => /^type\s/.test(n))) continue;
      if (names.length === 0 && kw === 'import') continue;
    }
    out.push(spec);
  }
  // side-effect imports: import '…'
  for (const m of src.matchAll(/(?:^|[;\n])\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  // dynamic imports with a literal specifier
  for (const m of src.matchAll(/\bimport\s*\(\s*(?:\/\*[\s\S]*?\*\/\s*)*['"`]([^'"`]+)['"`]\s*\)/g)) out.push(m[1]);
  return out.filter((s) => s.startsWith('.'));
}

function resolveSpec(from: string, spec: string): string {
  const p = resolve(dirname(from), spec);
  for (const cand of [p.replace(/\.js$/, '.ts'), p + '.ts', join(p, 'index.ts')]) {
    try {
      if (statSync(cand).isFile()) return cand;
    } catch {
      /* next */
    }
  }
  throw new Error(`${relative(SRC, from)}: cannot resolve import '${spec}'`);
}

/** Every cycle found by a depth-first walk, each as the list of files around it. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return cycles;
}

describe('import graph of src/', () => {
  it('parses static, re-exported and dynamic imports, and skips type-only ones', () => {
    const code = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C, type D } from './c.js';",
      "import { type E, f } from './e.js';",
      "export { g } from './g.js';",
      "export type { H } from './h.js';",
      "export * as i from './i.js';",
      "import './j.js';",
      "// import { k } from './k.js';",
      "const l = await import('./l.js');",
      "const m = await import(/* @vite-ignore */ './m.js');",
      "import { n } from 'node:fs';",
    ].join('\n');
    expect(runtimeImports(code).sort()).toEqual(['./a.js', './e.js', './g.js', './i.js', './j.js', './l.js', './m.js']);
  });

  it('finds a cycle, including one closed by a dynamic import', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', []],
    ]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('has no cycle', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(20);
    const graph = new Map(files.map((f) => [f, runtimeImports(readFileSync(f, 'utf8')).map((s) => resolveSpec(f, s))]));
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(SRC, f)).join(' → '));
    expect(cycles).toEqual([]);
  });
});
