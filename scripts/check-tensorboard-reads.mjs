#!/usr/bin/env node
/**
 * Optional check: real TensorBoard (2.21, its Python EventMultiplexer) reads the files our TensorBoard callback
 * writes exactly as our reader does, in both tag styles, and its Graphs dashboard can draw the model from the
 * `keras` tag. Needs Python with the `tensorboard` package; says SKIPPED and exits 0 when there is none.
 *
 *   node scripts/check-tensorboard-reads.mjs            # Python: $TB_PYTHON, else python3 if it has tensorboard,
 *                                                       # else a venv made in the temp dir from the local wheels
 *
 * Steps: a small seed-like model (Flatten → Dense relu → Dropout → Dense softmax) fits 3 epochs on random data
 * with `tensorBoard(dir, { histogramFreq: 1 })` (and once more with `tagStyle: 'keras2'`); then
 * scripts/tensorboard-reference-tags.py --graphs lists runs, tags, counts and value digests as TensorBoard
 * serves them, and the same is computed from `tensorboard.readLogDir`; they must be equal.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WHEELS = ['/opt/pypi/files', '/opt/pypi-more/files', '/opt/wheels'];

function hasTensorBoard(python) {
  return spawnSync(python, ['-c', 'import tensorboard'], { stdio: 'ignore' }).status === 0;
}

function findPython() {
  if (process.env.TB_PYTHON) {
    if (hasTensorBoard(process.env.TB_PYTHON)) return process.env.TB_PYTHON;
    console.log(`TB_PYTHON=${process.env.TB_PYTHON} cannot import tensorboard`);
  }
  for (const p of ['python3', '/work/venv/bin/python']) if (hasTensorBoard(p)) return p;
  const links = WHEELS.filter((d) => existsSync(d));
  if (links.length === 0 || spawnSync('python3', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const venv = join(tmpdir(), 'wasm-layers-tensorboard-venv');
  const py = join(venv, 'bin', 'python');
  if (!hasTensorBoard(py)) {
    console.log(`making a venv with tensorboard in ${venv} from ${links.join(', ')} …`);
    if (spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' }).status !== 0) return null;
    const args = ['-m', 'pip', 'install', '-q', '--no-index', ...links.flatMap((d) => ['--find-links', d]), 'tensorboard==2.21.0'];
    if (spawnSync(py, args, { stdio: 'inherit' }).status !== 0) return null;
  }
  return hasTensorBoard(py) ? py : null;
}

const python = findPython();
if (!python) {
  console.log('check-tensorboard-reads: SKIPPED (no Python with the tensorboard package, and none could be installed from local wheels)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'wl-tb-check-'));
try {
  // Write logs with the library (through tsx, from the sources).
  const src = pathToFileURL(join(ROOT, 'src/index.ts')).href;
  const child = `
    const wl = await import(${JSON.stringify(src)});
    await wl.init({ threads: 1 });
    for (const style of ['keras3', 'keras2']) {
      wl.clearSession();
      wl.setSeed(1);
      const m = wl.sequential([wl.layers.flatten({ inputShape: [4, 4] }), wl.layers.dense({ units: 16, activation: 'relu' }),
        wl.layers.dropout({ rate: 0.2 }), wl.layers.dense({ units: 3, activation: 'softmax' })]);
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      const x = wl.tensor(Float32Array.from({ length: 96 * 16 }, (_, i) => Math.sin(i)), [96, 4, 4]);
      const y = wl.tensor(Int32Array.from({ length: 96 }, (_, i) => i % 3), [96]);
      await m.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, validationSplit: 0.25,
        callbacks: [wl.callbacks.tensorBoard(${JSON.stringify(dir)} + '/' + style, { histogramFreq: 1, tagStyle: style })] });
    }
    const runs = await wl.tensorboard.readLogDir(${JSON.stringify(dir)});
    const { createHash } = await import('node:crypto');
    const digest = (pts) => { const h = createHash('sha256'); for (const p of pts) h.update(new Uint8Array(Float64Array.from(p).buffer)); return h.digest('hex'); };
    const out = {};
    for (const r of runs) {
      const e = { sha256: {} };
      if (Object.keys(r.scalars).length) e.scalars = Object.fromEntries(Object.entries(r.scalars).map(([t, p]) => [t, p.length]));
      if (Object.keys(r.histograms).length) e.histograms = Object.fromEntries(Object.entries(r.histograms).map(([t, p]) => [t, p.length]));
      if (r.modelConfig !== undefined) e.graph_keras_model = { keras: 1 };
      for (const [t, p] of Object.entries(r.scalars)) e.sha256[t] = digest(p.map((q) => [q.step, q.wallTime, q.value]));
      for (const [t, p] of Object.entries(r.histograms)) e.sha256[t] = digest(p.map((q) => [q.step, q.wallTime, ...q.buckets.flatMap((b) => [b.left, b.right, b.count])]));
      if (r.issues.length) e.issues = r.issues;
      out[r.run] = e;
    }
    console.log(JSON.stringify(out));
  `;
  const ours = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { cwd: ROOT, encoding: 'utf8' }));
  const tb = JSON.parse(execFileSync(python, [join(ROOT, 'scripts/tensorboard-reference-tags.py'), '--graphs', dir], { encoding: 'utf8' }));
  const problems = [];
  const runs = Object.keys(tb.runs).sort();
  if (JSON.stringify(runs) !== JSON.stringify(Object.keys(ours).sort())) problems.push(`runs: TensorBoard ${runs}, ours ${Object.keys(ours).sort()}`);
  for (const run of runs) {
    const { graph_nodes: nodes, ...rest } = tb.runs[run];
    for (const key of new Set([...Object.keys(rest), ...Object.keys(ours[run] ?? {})])) {
      const a = JSON.stringify(rest[key], rest[key] ? Object.keys(rest[key]).sort() : undefined);
      const b = JSON.stringify(ours[run]?.[key], ours[run]?.[key] ? Object.keys(ours[run][key]).sort() : undefined);
      if (a !== b) problems.push(`${run} ${key}: TensorBoard ${a}, ours ${b}`);
    }
    if (run.endsWith('train')) {
      const want = ['sequential/input_layer', 'sequential/flatten', 'sequential/dense', 'sequential/dropout', 'sequential/dense_1'];
      const got = nodes?.keras ?? [];
      const expected = run.startsWith('keras2') ? want.slice(1) : want;
      if (JSON.stringify(got) !== JSON.stringify(expected)) problems.push(`${run}: Graphs dashboard nodes ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }
  }
  for (const run of runs) {
    const r = tb.runs[run];
    console.log(`${run}: ${Object.entries(r).filter(([k]) => k !== 'sha256').map(([k, v]) => `${k} ${Array.isArray(v) ? v.length : Object.keys(v).length}`).join(', ')}`);
  }
  if (problems.length) {
    console.log(`check-tensorboard-reads: FAILED (TensorBoard ${tb.tensorboard})\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log(`check-tensorboard-reads: OK — TensorBoard ${tb.tensorboard} reads ${runs.length} runs with the same tags, counts and values as ours, and draws the Keras model graph`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
