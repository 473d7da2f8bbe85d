/* global document */
// The demo's live charts, fed from the worker's training logs. The page calls these hooks; the data they
// receive is also kept in `series` (what the tests read to see the charts grow).
//
// [vis-charts] The chart components come from the package (issue 9 item 3, helper `board`). Until they land,
// this module only records the data and says so in the charts area.

export function createCharts(container) {
  const series = { batch: [], epoch: [], histograms: [], evaluation: null };
  const note = document.createElement('p');
  note.className = 'muted small';
  note.textContent = 'Live charts: coming with the package’s chart components ([vis-charts]).';
  container.appendChild(note);
  return {
    series,
    /** A new training run: empty every chart. */
    reset(params) {
      series.batch.length = 0;
      series.epoch.length = 0;
      series.histograms.length = 0;
      series.evaluation = null;
      series.params = params;
    },
    /** `{ epoch, batch, steps, logs: { loss, accuracy } }` after every batch. */
    batch(m) {
      series.batch.push({ step: m.epoch * m.steps + m.batch + 1, ...m.logs });
    },
    /** `{ epoch, logs: { loss, accuracy, val_loss, val_accuracy } }` after every epoch. */
    epoch(m) {
      series.epoch.push({ epoch: m.epoch + 1, ...m.logs });
    },
    /** `{ epoch, weights: [{ name, shape, buckets }] }`: TensorBoard buckets (left, right, count)×k per weight. */
    histograms(m) {
      series.histograms.push({ epoch: m.epoch + 1, weights: m.weights });
    },
    /** `{ matrix, perClass, accuracy, loss, samples }` after evaluation. */
    evaluation(m) {
      series.evaluation = m;
    },
  };
}
