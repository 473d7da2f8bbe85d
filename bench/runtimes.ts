/**
 * The seed model at batch 32 on each Node runtime, in the same bench run: this process's Node (20 on the
 * image) and Node 24 LTS from the npm registry (`npx -y node@24`; relaxed SIMD on by default there, so the
 * relaxed-SIMD builds run). Per round, each runtime in turn, back to back in child processes
 * (bench/fit-child.ts): ours on 1 thread and on 2 threads (the later of two epochs over 30,000 samples) and
 * tfjs-layers on tfjs-backend-wasm (single-threaded in Node). Ratios are taken within a round and runtime.
 * Five rounds: on the 2-vCPU benchmark VM the per-round ratio to tfjs-wasm spread from 17× to 36× within one
 * run of three, too few for a median. `npm run bench -- runtimes`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENTION_LIMIT, fmt, printTable, type BenchOptions, type BenchReport } from './util.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

function median(v: number[]): number {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length ? (s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2) : NaN;
}
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');

interface Runtime {
  name: string;
  cmd: string;
  pre: string[];
}

function child(rt: Runtime, args: string[]): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const p = spawn(rt.cmd, [...rt.pre, '--import', 'tsx', join(HERE, 'fit-child.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(last));
      } catch (e) {
        reject(new Error(`${rt.name} ${args.join(' ')}: ${(e as Error).message}: ${(err.trim() || last).split('\n').slice(-4).join(' | ')}`));
      }
    });
  });
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const notes: string[] = [];
  const runtimes: Runtime[] = [{ name: `Node ${process.versions.node}`, cmd: process.execPath, pre: [] }];
  const v24 = spawnSync('npx', ['-y', 'node@24', '--version'], { encoding: 'utf8', timeout: 300_000 });
  if (v24.status === 0) runtimes.push({ name: `Node ${v24.stdout.trim().replace(/^v/, '')}`, cmd: 'npx', pre: ['-y', 'node@24'] });
  else {
    const msg = 'Node 24 could not be fetched (npx -y node@24): its rows are SKIPPED';
    console.log(msg);
    notes.push(msg);
  }
  const rounds = opts.quick ? 1 : 5;
  const samples = opts.quick ? 6_000 : 30_000;
  const tfSteps = opts.quick ? 60 : 300;
  const rows: Record<string, unknown>[] = [];
  console.log(`Seed model, batch 32, ${rounds} rounds per runtime (ours: the 2nd of 2 epochs over ${samples.toLocaleString('en-US')} samples; tfjs-wasm: ${tfSteps} steps after 10):`);
  // Runtimes alternate within each round, so that the host's drift over minutes falls on both alike.
  for (let round = 1; round <= rounds; round++) {
    for (const rt of runtimes) {
      const r: Record<string, any> = { runtime: rt.name, round };
      for (const t of [1, 2]) {
        const d = await child(rt, ['ours', '--threads', String(t), '--batch', '32', '--epochs', '2', '--samples', String(samples)]);
        r[`ours${t}T`] = samples / (d.epochSeconds as number[])[1];
        r.variant = d.backend?.variant;
        r.otherCores = Math.max(r.otherCores ?? 0, d.otherCores ?? 0);
      }
      const tf = await child(rt, ['tfjs', '--backend', 'wasm', '--batch', '32', '--steps', String(tfSteps), '--warmup', '10']);
      r.tfjs = tf.samplesPerSecond;
      console.log(
        `  ${rt.name} round ${round} (${String(r.variant)}): ours 1T ${int(r.ours1T)}, 2T ${int(r.ours2T)}, tfjs-wasm ${int(r.tfjs)} samples/s — 2T/1T ${fmt(r.ours2T / r.ours1T, 2)}×, 2T/tfjs ${fmt(r.ours2T / r.tfjs, 1)}×` +
          (r.otherCores > CONTENTION_LIMIT ? ' *disturbed' : ''),
      );
      rows.push(r);
    }
  }
  console.log('\n### Runtimes (batch 32, samples/s, medians of rounds; ratios: medians of per-round ratios)\n');
  const table: string[][] = [];
  const targets: string[] = [];
  for (const rt of runtimes) {
    const rs = rows.filter((r) => r.runtime === rt.name) as Record<string, number>[];
    const m = (k: string) => median(rs.map((r) => r[k]));
    const vs = median(rs.map((r) => r.ours2T / r.tfjs));
    const sc = median(rs.map((r) => r.ours2T / r.ours1T));
    table.push([rt.name, String(rs[0]?.variant ?? '—'), int(m('ours1T')), int(m('ours2T')), fmt(sc, 2) + '×', int(m('tfjs')), fmt(vs, 1) + '×']);
    const major = Number(rt.name.replace('Node ', '').split('.')[0]);
    const goal = major >= 22 ? 30 : 25;
    targets.push(`${vs >= goal ? 'PASS' : 'FAIL'}  ${rt.name}: 2 threads ≥ ${goal}× tfjs-wasm at batch 32: ${fmt(vs, 1)}×`);
    targets.push(`${sc >= 1.8 ? 'PASS' : 'FAIL'}  ${rt.name}: 2 threads ≥ 1.8× 1 thread at batch 32: ${fmt(sc, 2)}×`);
  }
  printTable(['runtime', 'our build', 'ours 1T', 'ours 2T', '2T / 1T', 'tfjs-wasm (1T)', 'ours 2T / tfjs'], table);
  console.log('\n' + targets.join('\n'));
  notes.push(...targets);
  return { name: 'runtimes', rows, notes };
}
