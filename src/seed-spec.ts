/**
 * The seed model, declared once as data: the network of the classic Keras MNIST program (Flatten → Dense
 * 512 relu → Dropout 0.2 → Dense 10 softmax) and its compile arguments (Adam, sparse categorical
 * cross-entropy, accuracy). Each layer is a factory name and its arguments, which our `layers.*` and
 * tfjs-layers' read the same way, so comparisons with tfjs build both copies from this one declaration.
 * No imports: a process measuring tfjs alone can read it without loading wasm-layers.
 */

export type SeedLayer =
  | { type: 'flatten'; args: { inputShape: number[] } }
  | { type: 'dense'; args: { units: number; activation: 'relu' | 'softmax' } }
  | { type: 'dropout'; args: { rate: number } };

/** The seed model's layers (fresh objects on every call). */
export function seedLayers(): SeedLayer[] {
  return [
    { type: 'flatten', args: { inputShape: [28, 28] } },
    { type: 'dense', args: { units: 512, activation: 'relu' } },
    { type: 'dropout', args: { rate: 0.2 } },
    { type: 'dense', args: { units: 10, activation: 'softmax' } },
  ];
}

/** The seed program's compile arguments (fresh objects on every call). */
export function seedCompileArgs(): { optimizer: 'adam'; loss: 'sparseCategoricalCrossentropy'; metrics: string[] } {
  return { optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] };
}
