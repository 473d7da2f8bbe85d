#!/usr/bin/env node
// The package's command line: `wasm-layers board [logdir] [--port 6006] [--host 127.0.0.1]`.
const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'board') {
  const { boardMain } = await import('../dist/board/cli.js');
  process.exitCode = await boardMain(rest);
} else {
  console.error(`Usage: wasm-layers board [logdir] [--port 6006] [--host 127.0.0.1]${cmd && cmd !== '--help' && cmd !== '-h' ? `\n(unknown command ${JSON.stringify(cmd)})` : ''}`);
  process.exitCode = cmd === '--help' || cmd === '-h' ? 0 : 1;
}
