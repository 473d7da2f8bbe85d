// The `require` entry: wasm-layers is an ES module. Node ≥ 20.19 (and ≥ 22.12) can require() it; older Node
// cannot, and would say only ERR_REQUIRE_ESM — this says what to do instead.
'use strict';
try {
  module.exports = require('../dist/index.js');
} catch (e) {
  if (e && (e.code === 'ERR_REQUIRE_ESM' || e.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
    throw new Error(
      `wasm-layers is an ES module, and this Node (${process.version}) cannot load it with require(). ` +
        'Use Node >= 20.19 (or >= 22.12), or load it with `const wl = await import("wasm-layers")`.',
      { cause: e },
    );
  }
  throw e;
}
