/**
 * `wasm-layers board [logdir] [--port 6006] [--host 127.0.0.1] [--reload-ms 1000]`: serves the dashboard over a
 * log directory until Ctrl-C. Exits with status 1 and one clear line when the directory or the port is unusable.
 */
import { BoardError, startBoard } from './server.js';

export const USAGE = `Usage: wasm-layers board [logdir] [--port 6006] [--host 127.0.0.1] [--reload-ms 1000]

Serves a TensorBoard-like dashboard (scalars, histograms, distributions, Keras model) of the event files
under logdir (default: logs). Binds to 127.0.0.1 unless --host says otherwise.`;

export function parseBoardArgs(argv: string[]): { logDir: string; port: number; host: string; reloadMs: number } | { help: true } {
  let logDir: string | undefined;
  let port = 6006;
  let host = '127.0.0.1';
  let reloadMs = 1000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (name: string) => {
      const eq = a.indexOf('=');
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new BoardError(`board: ${name} needs a value`);
      return v;
    };
    if (a === '-h' || a === '--help') return { help: true };
    else if (a === '--port' || a.startsWith('--port=')) {
      const v = value('--port');
      port = Number(v);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BoardError(`board: --port must be an integer 0…65535, got ${JSON.stringify(v)}`);
    } else if (a === '--host' || a.startsWith('--host=')) host = value('--host');
    else if (a === '--reload-ms' || a.startsWith('--reload-ms=')) {
      reloadMs = Number(value('--reload-ms'));
      if (!(reloadMs >= 50)) throw new BoardError('board: --reload-ms must be at least 50');
    } else if (a.startsWith('-')) throw new BoardError(`board: unknown option ${a}\n${USAGE}`);
    else if (logDir === undefined) logDir = a;
    else throw new BoardError(`board: one log directory only (got ${JSON.stringify(logDir)} and ${JSON.stringify(a)})`);
  }
  return { logDir: logDir ?? 'logs', port, host, reloadMs };
}

export async function boardMain(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseBoardArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
  if ('help' in args) {
    console.log(USAGE);
    return 0;
  }
  try {
    const board = await startBoard(args);
    console.log(`wasm-layers board: ${args.logDir} at ${board.url} (Ctrl-C to stop)`);
    await new Promise<void>((done) => {
      const stop = () => void board.close().then(done);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  } catch (e) {
    if (e instanceof BoardError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
}
