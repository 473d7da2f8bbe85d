/**
 * `wasm-layers/vis`: chart components for browsers (uPlot), the same ones the `board` command's page uses.
 * Each component mounts into a container element you give it, with options; see charts.ts, fit.ts, dashboard.ts.
 */
export { ScalarChart, HistogramChart, DistributionChart, ModelView, ConfusionMatrixView, PerClassAccuracyView, ensureStyles, runColor, PALETTE, type ScalarSeries, type ScalarChartOptions, type HistogramStep, type HistogramChartOptions, type XAxis } from './charts.js';
export { FitCharts, fitCallbacks, showEvaluation, type FitChartsOptions } from './fit.js';
export { FitEventsCallback, type FitEvent, type FitEventsOptions } from './fit-events.js';
export { Dashboard, mountDashboard, memorySource, httpSource, scalarColumns, scalarsCsv, runInfo, type BoardSource, type RunInfo, type ScalarColumns, type DashboardOptions, type RunDataLike } from './dashboard.js';
export { smoothTensorBoard, compressHistogram, rebin, decimate, argmaxRows, confusionMatrix, perClassAccuracy, NORMAL_HISTOGRAM_BPS, type Bucket } from './math.js';
export { summarizeKerasModel, type ModelSummary, type LayerRow } from './keras-model.js';
export { openRunFiles, type RunFile } from './files.js';
