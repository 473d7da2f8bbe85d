export { init, backendInfo, disposeBackend, OutOfMemoryError, type InitOptions, type BackendInfo } from './backend/backend.js';
export { Tensor, tensor, type DataType, type TypedArray, type TensorLike } from './tensor.js';
export * as ops from './ops.js';
export { Callback, type Logs, type FitParams } from './callbacks/base.js';
export { ProgressBarLogger } from './callbacks/progress.js';
export { TensorBoard, tensorBoard, histogramTag, type TensorBoardOptions, type TensorBoardFile } from './callbacks/tensorboard.js';
export { EventFileWriter, histogramBuckets, type EventFileWriterOptions } from './tensorboard/writer.js';
