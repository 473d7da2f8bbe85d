// The seed's theory section: a small sigmoid network trained by backpropagation on the quadratic (MSE)
// loss with SGD + momentum, Δw(t) = −η·∂L/∂w + α·Δw(t−1). Learns XOR, printing the falling loss.
//   npm run backprop
import { Callback, layers, optimizers, sequential, setSeed, tensor, type Logs } from '../src/index.js';

setSeed(7);
const x = tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
const y = tensor([[0], [1], [1], [0]]);

const model = sequential([
  layers.dense({ inputShape: [2], units: 8, activation: 'sigmoid' }),
  layers.dense({ units: 1, activation: 'sigmoid' }),
]);
model.compile({ optimizer: optimizers.sgd({ learningRate: 0.5, momentum: 0.9 }), loss: 'meanSquaredError', metrics: ['accuracy'] });

class PrintEvery extends Callback {
  override onEpochEnd(epoch: number, logs: Logs = {}) {
    if (epoch % 200 === 0 || epoch === (this.params.epochs - 1)) console.log(`epoch ${String(epoch + 1).padStart(4)}  loss ${logs.loss.toFixed(6)}  accuracy ${logs.accuracy.toFixed(2)}`);
  }
}
const h = await model.fit(x, y, { epochs: 2000, batchSize: 4, verbose: 0, callbacks: [new PrintEvery()] });
const p = model.predict(x).dataSync();
console.log(`predictions for 00 01 10 11: ${Array.from(p, (v) => v.toFixed(3)).join(' ')}`);
const losses = h.history.loss;
console.log(`loss fell from ${losses[0].toFixed(4)} to ${losses[losses.length - 1].toFixed(6)}`);
model.dispose();
