/**
 * The board server without a browser: its JSON API over a log directory written by our writer, picking up
 * appended events and new runs without re-reading, the command line's messages for a missing directory and a
 * taken port, and that it listens on 127.0.0.1 by default.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventFileWriter } from '../src/tensorboard/writer.js';
import { startBoard, BoardError, type Board } from '../src/board/server.js';
import { parseBoardArgs } from '../src/board/cli.js';
import { build } from './browser/setup.js';
import { ROOT } from './browser/server.js';

let dir: string;
const get = async (b: Board, path: string) => {
  const r = await fetch(new URL(path, b.url));
  return { status: r.status, type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition'), text: await r.text() };
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wl-board-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('board server', () => {
  it('serves runs, scalars (sampled on request), histograms and downloads, and sees appended events', async () => {
    let t = 1_700_000_000_000;
    const now = () => (t += 1000);
    const train = await EventFileWriter.open(join(dir, 'a', 'train'), { now });
    for (let s = 0; s < 50; s++) train.scalar('epoch_loss', 1 / (s + 1), s);
    train.histogram('dense/kernel/histogram', [0, 1, 1, 2, 3], 0);
    await train.flush();
    const b = await startBoard({ logDir: dir, port: 0, reloadMs: 60_000 });
    try {
      expect(b.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const runs = JSON.parse((await get(b, '/api/runs')).text);
      expect(runs.runs).toEqual([{ run: 'a/train', version: 1, scalars: { epoch_loss: 50 }, histograms: { 'dense/kernel/histogram': 1 }, hasModel: false }]);
      const sc = JSON.parse((await get(b, '/api/scalars?tag=epoch_loss')).text);
      expect(sc.runs['a/train'].step).toHaveLength(50);
      expect(sc.runs['a/train'].value[3]).toBeCloseTo(0.25, 6);
      const sampled = JSON.parse((await get(b, '/api/scalars?tag=epoch_loss&samples=5')).text);
      expect(sampled.runs['a/train']).toMatchObject({ step: [0, 12, 25, 37, 49], total: 50 });
      const h = JSON.parse((await get(b, '/api/histograms?run=a/train&tag=dense/kernel/histogram')).text);
      expect(h).toHaveLength(1);
      expect(h[0].buckets.reduce((s: number, k: { count: number }) => s + k.count, 0)).toBe(5);
      const csv = await get(b, '/api/download?tag=epoch_loss&format=csv&run=a/train');
      expect(csv.type).toMatch(/text\/csv/);
      expect(csv.disposition).toMatch(/attachment; filename="a_train_epoch_loss\.csv"/);
      expect(csv.text.split('\n')[0]).toBe('run,step,wall_time,value');
      expect(csv.text.trim().split('\n')).toHaveLength(51);
      const js = JSON.parse((await get(b, '/api/download?tag=epoch_loss&format=json')).text);
      expect(js['a/train']).toHaveLength(50);
      expect((await get(b, '/api/download?tag=nope&format=csv')).status).toBe(404);
      expect((await get(b, '/api/model?run=a/train')).status).toBe(404);
      expect((await get(b, '/static/../package.json')).status).toBe(404);
      const page = await get(b, '/');
      expect(page.text).toContain('/static/vis/dashboard.js');
      expect(page.text).toContain('"uplot":"/static/uplot/uPlot.esm.js"');
      expect((await get(b, '/static/uplot/uPlot.esm.js')).status).toBe(200);

      // Appended points and a new run appear after a reload; the version of the grown run goes up.
      for (let s = 50; s < 60; s++) train.scalar('epoch_loss', 1 / (s + 1), s);
      await train.flush();
      const val = await EventFileWriter.open(join(dir, 'a', 'validation'), { now });
      val.scalar('epoch_loss', 0.5, 0);
      await val.flush();
      await b.reload();
      const runs2 = JSON.parse((await get(b, '/api/runs')).text).runs;
      expect(runs2.map((r: { run: string; version: number; scalars: Record<string, number> }) => [r.run, r.version, r.scalars.epoch_loss])).toEqual([
        ['a/train', 2, 60],
        ['a/validation', 1, 1],
      ]);
      const sc2 = JSON.parse((await get(b, '/api/scalars?tag=epoch_loss')).text);
      // Each point once: the grown file was read from where the last read stopped.
      expect(sc2.runs['a/train'].step).toEqual(Array.from({ length: 60 }, (_, i) => i));
      await Promise.all([train.close(), val.close()]);
    } finally {
      await b.close();
    }
  });

  it('says clearly when the directory does not exist or the port is taken', async () => {
    await expect(startBoard({ logDir: join(dir, 'missing'), port: 0 })).rejects.toThrow(/log directory .*missing does not exist/);
    const file = join(dir, 'file.txt');
    await writeFile(file, 'x');
    await expect(startBoard({ logDir: file, port: 0 })).rejects.toThrow(/is a file, not a log directory/);
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startBoard({ logDir: dir, port }).catch((e) => e);
      expect(err).toBeInstanceOf(BoardError);
      expect(err.message).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use.*--port`));
    } finally {
      blocker.close();
    }
  });

  it('parses the command line and the bin script reports errors with exit status 1', async () => {
    expect(parseBoardArgs([])).toEqual({ logDir: 'logs', port: 6006, host: '127.0.0.1', reloadMs: 1000 });
    expect(parseBoardArgs(['runs', '--port', '7000', '--host=0.0.0.0'])).toMatchObject({ logDir: 'runs', port: 7000, host: '0.0.0.0' });
    expect(() => parseBoardArgs(['--port', 'x'])).toThrow(/--port must be an integer/);
    expect(() => parseBoardArgs(['--bogus'])).toThrow(/unknown option --bogus/);
    expect(() => parseBoardArgs(['a', 'b'])).toThrow(/one log directory only/);
    await build();
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/wasm-layers.mjs'), 'board', join(dir, 'nowhere')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/log directory .*nowhere does not exist/);
    const u = spawnSync(process.execPath, [join(ROOT, 'bin/wasm-layers.mjs'), 'frobnicate'], { encoding: 'utf8', timeout: 30_000 });
    expect(u.status).toBe(1);
    expect(u.stderr).toMatch(/Usage: wasm-layers board/);
  });
});
