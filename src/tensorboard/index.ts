// The `tensorboard` namespace of the package: reading event files (and the writer's building blocks).
export {
  readEvents,
  readRunFiles,
  RunAccumulator,
  legacyHistogramBuckets,
  isEventFileName,
  runName,
  type ScalarPoint,
  type HistogramBucket,
  type HistogramPoint,
  type TextPoint,
  type ReadIssue,
  type RunData,
  type RunFile,
  type ReadRunFilesOptions,
  type ReadEventsOptions,
  type ReadEventsResult,
  type DecodedEvent,
  type DecodedValue,
  type DecodedTensor,
  type LegacyHistogram,
  type SummaryMetadata,
} from './reader.js';
export { readLogDir, LogDirWatcher, type LogDirOptions } from './logdir.js';
export { EventFileWriter, histogramBuckets, type EventFileWriterOptions } from './writer.js';
