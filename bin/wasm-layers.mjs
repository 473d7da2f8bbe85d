#!/usr/bin/env node
// The package's command line:
//   wasm-layers board [logdir] [--port 6006] [--host 127.0.0.1]   the dashboard over TensorBoard event files
//   wasm-layers demo [--port 8080] [--host 127.0.0.1]             the browser demo (examples/browser)
const USAGE = 'Usage: wasm-layers board [logdir] [--port 6006] [--host 127.0.0.1]\n       wasm-layers demo [--port 8080] [--host 127.0.0.1] [--no-isolation]';
const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'board') {
  const { boardMain } = await import('../dist/board/cli.js');
  process.exitCode = await boardMain(rest);
} else if (cmd === 'demo') {
  const { main } = await import('../scripts/serve-examples.mjs');
  try {
    await main(rest);
  } catch (e) {
    console.error(`wasm-layers demo: ${e.message}`);
    process.exitCode = 1;
  }
} else {
  console.error(`${USAGE}${cmd && cmd !== '--help' && cmd !== '-h' ? `\n(unknown command ${JSON.stringify(cmd)})` : ''}`);
  process.exitCode = cmd === '--help' || cmd === '-h' ? 0 : 1;
}
