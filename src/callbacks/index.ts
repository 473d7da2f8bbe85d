/** `callbacks.tensorBoard(...)`, `callbacks.earlyStopping(...)`, `callbacks.modelCheckpoint(...)`, `callbacks.backupAndRestore(...)`. */
export { tensorBoard } from './tensorboard.js';
export { earlyStopping } from './early-stopping.js';
export { modelCheckpoint } from './model-checkpoint.js';
export { backupAndRestore } from './backup-and-restore.js';
