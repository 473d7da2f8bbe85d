/**
 * Issue 12 item 1: saves that cannot lose a model. A directory save writes `weights.<content hash>.bin`
 * (temporary name, fsync, rename) and then replaces model.json the same way; the old weights file goes only
 * once the new model.json is in place. So a failed save — a full disk (a real tmpfs when it can be mounted),
 * a file-size limit (EFBIG), no write permission (EACCES, with privileges really dropped), a path that is a
 * file — leaves the previous model loadable and no partial file, and says which path failed and why.
 * Leftovers of a killed save (temporary files, an orphaned weights file) are ignored by loading and
 * removed by the next save. (SIGKILLs at random moments: save-kill.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, loadModel, saveModel, sequential, layers, tensor, type ModelJSON, type Sequential } from '../src/index.js';
import { SRC, runScript } from './helpers/child.js';

let tmp: string;
beforeAll(async () => {
  await init({ threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'wl-save-atomic-'));
  chmodSync(tmp, 0o755); // the unprivileged child of the EACCES case must be able to look inside
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Dense(units) over 4 inputs → Dense(2), every weight equal to `fill` (so a mix of two saves shows). */
function model(units: number, fill: number, name?: string): Sequential {
  const m = sequential({ layers: [layers.dense({ inputShape: [4], units }), layers.dense({ units: 2 })], ...(name ? { name } : {}) });
  const w = m.getWeights();
  m.setWeights(w.map((t) => tensor(new Float32Array(t.size).fill(fill), t.shape)));
  w.forEach((t) => t.dispose());
  return m;
}

/** The loaded model's weight values (all equal for our models) and their count. */
async function loadedFill(dir: string): Promise<{ fill: Set<number>; n: number; name: string }> {
  const m = await loadModel(dir);
  const w = m.getWeights();
  const vals = w.flatMap((t) => Array.from(t.dataSync()));
  w.forEach((t) => t.dispose());
  const r = { fill: new Set(vals), n: vals.length, name: m.name };
  m.dispose();
  return r;
}

const ls = (dir: string) => readdirSync(dir).sort();
const manifest = (dir: string, json = 'model.json') => JSON.parse(readFileSync(join(dir, json), 'utf8')) as ModelJSON;

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

describe('directory layout', () => {
  it('model.json names weights.<hash>.bin (relative); the old weights file goes once the new manifest is in place', async () => {
    const dir = join(tmp, 'layout');
    const a = model(8, 1);
    const r = await saveModel(a, dir);
    const files = ls(dir);
    expect(files).toHaveLength(2);
    const wname = files.find((f) => f !== 'model.json')!;
    expect(wname).toMatch(/^weights\.[0-9a-f]{16}\.bin$/);
    expect(manifest(dir).weightsManifest).toEqual([{ paths: [wname], weights: expect.any(Array) }]);
    expect(r.files).toEqual({ modelJson: join(dir, 'model.json'), weights: join(dir, wname) });
    expect(r.modelJson.weightsManifest[0].paths).toEqual([wname]); // what was written, not 'weights.bin'
    // the same weights again: the same name, nothing else left
    await saveModel(a, dir);
    expect(ls(dir)).toEqual(files);
    // other weights: a new name, and the old file is gone
    const b = model(8, 2);
    await saveModel(b, dir);
    expect(ls(dir)).toHaveLength(2);
    expect(ls(dir)).not.toContain(wname);
    expect((await loadedFill(dir)).fill).toEqual(new Set([2]));
    // 'memory' and IOHandlers keep tfjs' name
    expect((await saveModel(b, 'memory')).modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    a.dispose();
    b.dispose();
  });

  it("over a tfjs-node directory (model.json + weights.bin): weights.bin is replaced; other files are left alone", async () => {
    const dir = join(tmp, 'legacy');
    const old = model(8, 3);
    const art = await saveModel(old, 'memory');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.json'), JSON.stringify(art.modelJson));
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(art.weightData));
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect((await loadedFill(dir)).fill).toEqual(new Set([3]));
    const m = model(8, 4);
    await saveModel(m, dir);
    expect(ls(dir).filter((f) => f !== 'model.json' && f !== 'notes.txt')).toEqual([expect.stringMatching(/^weights\.[0-9a-f]{16}\.bin$/)]);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect((await loadedFill(dir)).fill).toEqual(new Set([4]));
    old.dispose();
    m.dispose();
  });

  it('a .json destination names its weights after it, so two models can share a directory', async () => {
    const dir = join(tmp, 'two');
    const a = model(8, 5);
    const b = model(6, 6);
    await saveModel(a, join(dir, 'a.json'));
    await saveModel(b, join(dir, 'b.json'));
    await saveModel(a, dir); // and a model.json beside them
    const files = ls(dir);
    expect(files).toHaveLength(6);
    expect(files.filter((f) => /^a\.weights\.[0-9a-f]{16}\.bin$/.test(f))).toHaveLength(1);
    expect(files.filter((f) => /^b\.weights\.[0-9a-f]{16}\.bin$/.test(f))).toHaveLength(1);
    expect((await loadedFill(join(dir, 'a.json'))).fill).toEqual(new Set([5]));
    expect((await loadedFill(join(dir, 'b.json'))).fill).toEqual(new Set([6]));
    expect((await loadedFill(dir)).fill).toEqual(new Set([5]));
    a.dispose();
    b.dispose();
  });

  it('leftovers of a killed save are ignored by loading and removed by the next save (a live writer’s are kept)', async () => {
    const dir = join(tmp, 'leftovers');
    const a = model(8, 7);
    await saveModel(a, dir);
    const good = ls(dir);
    // what a save killed at each step leaves: temporary files (pid 2^22+1 does not exist: pid_max is at most 2^22)
    const dead = 4194305;
    const junk = [`.weights.0123456789abcdef.bin.${dead}.k3j2h1.tmp`, `.model.json.${dead}.zz99.tmp`, 'weights.fedcba9876543210.bin'];
    for (const j of junk) writeFileSync(join(dir, j), 'partial');
    const live = `.model.json.${process.pid}.live1.tmp`; // a save in progress in a live process
    writeFileSync(join(dir, live), 'in progress');
    expect((await loadedFill(dir)).fill).toEqual(new Set([7]));
    const b = model(8, 8);
    await saveModel(b, dir);
    const after = ls(dir);
    for (const j of junk) expect(after).not.toContain(j);
    expect(after).toContain(live);
    expect(after.filter((f) => f !== live)).toHaveLength(2);
    expect(after).not.toContain(good.find((f) => f !== 'model.json'));
    expect((await loadedFill(dir)).fill).toEqual(new Set([8]));
    a.dispose();
    b.dispose();
  });

  it('saves of one directory from one process run one after the other (none removes the other’s weights)', async () => {
    const dir = join(tmp, 'concurrent');
    const ms = [1, 2, 3, 4, 5, 6].map((f) => model(8, 10 + f));
    await Promise.all(ms.map((m) => saveModel(m, dir)));
    expect(ls(dir)).toHaveLength(2);
    const { fill } = await loadedFill(dir);
    expect(fill.size).toBe(1);
    expect([11, 12, 13, 14, 15, 16]).toContain([...fill][0]);
    ms.forEach((m) => m.dispose());
  });
});

describe('failed saves leave the previous model and no partial file', () => {
  it('the path is a file, a parent is a file, model.json is a directory', async () => {
    const m = model(8, 1);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(await rejection(saveModel(m, file))).toBe(`saveModel: '${file}' exists and is not a directory`);
    expect(await rejection(saveModel(m, join(file, 'sub')))).toBe(
      `saveModel: cannot create the directory ${join(file, 'sub')}: a component of the path is a file, not a directory (ENOTDIR)`,
    );
    const dir = join(tmp, 'json-is-dir');
    mkdirSync(join(dir, 'model.json'), { recursive: true });
    expect(await rejection(saveModel(m, dir))).toBe(`saveModel: '${join(dir, 'model.json')}' exists and is a directory`);
    expect(ls(dir)).toEqual(['model.json']);
    m.dispose();
  });

  // A real full disk: a 1 MB tmpfs, when this process may mount one (root with CAP_SYS_ADMIN).
  const mnt = join(tmpdir(), `wl-save-tmpfs-${process.pid}`);
  let mounted = false;
  try {
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
    mounted = true;
  } catch {
    console.warn('save-atomic: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN): the ENOSPC cases are skipped; EFBIG below covers a write that fails half-way');
  }
  afterAll(() => {
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it.skipIf(!mounted)('ENOSPC on a full tmpfs: a bigger model over a good one; then room for the weights but not model.json', async () => {
    const dir = join(mnt, 'model');
    const a = model(64, 1); // 1.3 kB of weights
    await saveModel(a, dir);
    const before = ls(dir);
    const big = model(100_000, 2); // 2.8 MB: more than the disk
    const msg = await rejection(saveModel(big, dir));
    expect(msg).toMatch(new RegExp(`^saveModel: cannot write ${dir}/weights\\.[0-9a-f]{16}\\.bin: no space left on the device \\(ENOSPC\\)$`));
    expect(ls(dir)).toEqual(before);
    expect((await loadedFill(dir)).fill).toEqual(new Set([1]));

    // Fill the disk so that exactly the weights of `c` fit, and its model.json does not.
    const c = model(20_000, 3); // 560 kB of weights
    const cBytes = (await saveModel(c, 'memory')).weightData.byteLength;
    const page = 4096;
    const st = statfsSync(mnt);
    const free = st.bavail * st.bsize;
    writeFileSync(join(mnt, 'filler'), new Uint8Array(free - Math.ceil(cBytes / page) * page));
    const msg2 = await rejection(saveModel(c, dir));
    expect(msg2).toMatch(new RegExp(`^saveModel: cannot write ${dir}/model\\.json: no space left on the device \\(ENOSPC\\)$`));
    expect(ls(dir)).toEqual(before); // the new weights file was removed again
    expect((await loadedFill(dir)).fill).toEqual(new Set([1]));
    rmSync(join(mnt, 'filler'));
    await saveModel(c, dir); // room again: it works
    expect((await loadedFill(dir)).fill).toEqual(new Set([3]));
    for (const m of [a, big, c]) m.dispose();
  });

  it('EFBIG: a file-size limit (ulimit -f) stops the weights half-way in a child process', async () => {
    const dir = join(tmp, 'efbig');
    const a = model(64, 1);
    await saveModel(a, dir);
    const before = ls(dir);
    const script = `
      const wl = await import(${SRC('index.ts')});
      await wl.init({ threads: 1 });
      const m = wl.sequential([wl.layers.dense({ inputShape: [4], units: 200000 }), wl.layers.dense({ units: 2 })]);
      try { await wl.saveModel(m, process.argv[1]); console.log('saved'); } catch (e) { console.log('ERR ' + e.constructor.name + ': ' + e.message); }
    `;
    // 2 MB limit, the weights are 5.6 MB; SIGXFSZ ignored so that the write fails with EFBIG instead of killing
    const r = await runScript(script, [dir], "trap '' XFSZ; ulimit -f 2048");
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(new RegExp(`^ERR Error: saveModel: cannot write ${dir}/weights\\.[0-9a-f]{16}\\.bin: the file is larger than the file-size limit \\(EFBIG\\)$`));
    expect(ls(dir)).toEqual(before);
    expect((await loadedFill(dir)).fill).toEqual(new Set([1]));
    a.dispose();
  }, 60_000);

  it('EACCES: a directory the saving process may not write (privileges dropped to nobody when run as root)', async () => {
    const dir = join(tmp, 'eacces');
    const a = model(64, 1);
    await saveModel(a, dir);
    chmodSync(dir, 0o555);
    const before = ls(dir);
    const script = `
      const wl = await import(${SRC('index.ts')});
      await wl.init({ threads: 1 });
      const m = wl.sequential([wl.layers.dense({ inputShape: [4], units: 8 }), wl.layers.dense({ units: 2 })]);
      m.build();
      // root ignores file modes: become nobody (everything needed is loaded already)
      if (process.getuid() === 0) { process.setgid(65534); process.setuid(65534); }
      try { await wl.saveModel(m, process.argv[1]); console.log('saved'); } catch (e) { console.log('ERR ' + e.message); }
    `;
    const r = await runScript(script, [dir]);
    chmodSync(dir, 0o755);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(new RegExp(`^ERR saveModel: cannot write ${dir}/weights\\.[0-9a-f]{16}\\.bin: permission denied \\(EACCES\\)$`));
    expect(ls(dir)).toEqual(before);
    expect((await loadedFill(dir)).fill).toEqual(new Set([1]));
    a.dispose();
  }, 60_000);
});
