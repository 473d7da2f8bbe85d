/** The seed model (seed-spec.ts) built on wasm-layers. */
import { dense, dropout, flatten, type Layer } from './layers.js';
import { sequential, type Sequential } from './model/sequential.js';
import { seedCompileArgs, seedLayers, type SeedLayer } from './seed-spec.js';

function layerOf(l: SeedLayer): Layer {
  switch (l.type) {
    case 'flatten':
      return flatten(l.args);
    case 'dense':
      return dense(l.args);
    case 'dropout':
      return dropout(l.args);
  }
}

/** The seed model (new layer names as usual), uncompiled unless `compile` is true (then as the Keras program compiles it). */
export function seedModel(opts: { compile?: boolean } = {}): Sequential {
  const model = sequential(seedLayers().map(layerOf));
  if (opts.compile) model.compile(seedCompileArgs());
  return model;
}
