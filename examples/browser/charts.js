// The demo's live charts: wasm-layers/vis' components ([vis-charts]), fed from the worker's messages.
// The worker runs `FitEventsCallback` (batch and epoch logs, weight histograms per epoch) and posts each event;
// `FitCharts.handle` draws them (at most once per frame). After evaluation: the confusion matrix and
// per-class accuracy. `series` keeps counts for the tests.
/* global document */
import { ConfusionMatrixView, FitCharts, PerClassAccuracyView } from '../../dist/vis/index.js';

export function createCharts(container) {
  const series = { batch: 0, epoch: 0, histograms: 0, evaluation: null };
  const live = new FitCharts(container, { width: 296, height: 170 }); // three cards a row
  const evaluation = document.createElement('div');
  evaluation.className = 'evaluation';
  container.appendChild(evaluation);
  return {
    series,
    /** A FitEvent from the worker (`begin` resets every chart). */
    fit(e) {
      if (e.type === 'begin') {
        container.querySelector('#charts-hint')?.remove();
        series.batch = series.epoch = series.histograms = 0;
        series.evaluation = null;
        evaluation.replaceChildren();
      } else if (e.type === 'batch') series.batch++;
      else if (e.type === 'epoch') series.epoch++;
      else if (e.type === 'histograms') series.histograms++;
      live.handle(e);
    },
    /** `{ matrix, perClass, accuracy, loss, samples }` after evaluation. */
    evaluation(m) {
      series.evaluation = m;
      evaluation.replaceChildren();
      new ConfusionMatrixView(evaluation, m.matrix, { title: `Confusion matrix (${m.samples.toLocaleString('en')} validation images)` });
      new PerClassAccuracyView(evaluation, m.perClass);
    },
  };
}
