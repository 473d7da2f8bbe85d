/** `callbacks.tensorBoard(...)`, `callbacks.earlyStopping(...)`. */
export { tensorBoard } from './tensorboard.js';
export { earlyStopping } from './early-stopping.js';
