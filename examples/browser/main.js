// The demo page (plain ES modules, no bundler): it owns the DOM, the drawing pad and the charts; all of
// wasm-layers runs in worker.js, a dedicated module worker, so the page never freezes while it trains.
// Served by scripts/serve-examples.mjs (`npm run example:browser`, or `npx wasm-layers demo` from the
// installed package), which sets COOP/COEP so the page is cross-origin isolated and the worker can use
// threads. `window.wlDemo` exposes the state for test/browser/example.test.ts.
//
// Query parameters: epochs, samples, batch, val (validation samples), threads, seed, autostart=0|1.
/* global document, window, location, Worker, URLSearchParams, Blob, requestAnimationFrame, setTimeout, crossOriginIsolated */
import { createCharts } from './charts.js';
import { inkFromRgba, toMnist } from './preprocess.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
/** A positive integer query parameter, or `dflt`. */
function intParam(name, dflt) {
  const raw = params.get(name);
  if (raw === null || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`?${name}= must be a positive integer, got "${raw}"`);
  return v;
}
const fmt = (v, digits = 4) => (typeof v === 'number' ? v.toFixed(digits) : '–');
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

const isolated = typeof crossOriginIsolated === 'boolean' && crossOriginIsolated;
const demo = {
  state: 'starting', // → ready → training → trained (or: ready with a model from IndexedDB)
  isolated,
  backend: null,
  data: null,
  model: null,
  training: null,
  evaluation: null,
  prediction: null,
  predictions: 0,
  tensorboardFiles: [],
  errors: [],
};
window.wlDemo = demo;

const charts = createCharts($('charts'));
demo.series = charts.series;

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'wasm-layers-demo' });
const send = (msg, transfer) => worker.postMessage(msg, transfer ?? []);

function fail(message) {
  demo.errors.push(message);
  $('error').textContent = demo.errors.join('\n');
}
worker.onerror = (e) => {
  e.preventDefault();
  fail(`worker failed: ${e.message || 'could not start (see the console)'}`);
  $('status').textContent = 'failed';
};

// ---------------------------------------------------------------------------------------------------------
// Training

$('epochs').value = String(intParam('epochs', 5));
$('samples').value = String(Math.min(intParam('samples', 60000), 60000));
$('batch').value = String(intParam('batch', 32));

function startTraining() {
  const samples = Math.min(Number($('samples').value), 60000);
  const opts = {
    cmd: 'train',
    epochs: Number($('epochs').value),
    samples,
    batchSize: Number($('batch').value),
    val: Math.min(intParam('val', Math.ceil(samples / 6)), 10000),
    mnistBase: new URL('/mnist/', location.href).href,
  };
  demo.state = 'training';
  demo.training = { ...opts, startedAt: Date.now() };
  demo.evaluation = null;
  $('train').disabled = true;
  $('stop').disabled = false;
  $('epochs').closest('form').querySelectorAll('input').forEach((i) => (i.disabled = true));
  $('epochs-body').replaceChildren();
  send(opts);
}

$('train-form').addEventListener('submit', (e) => {
  e.preventDefault();
  startTraining();
});
$('stop').addEventListener('click', () => {
  $('stop').disabled = true;
  send({ cmd: 'stop' });
});

function trainingOver() {
  $('train').disabled = false;
  $('train').textContent = 'Train again';
  $('stop').disabled = true;
  $('epochs').closest('form').querySelectorAll('input').forEach((i) => (i.disabled = false));
}

let trainSummary = '';
const onMessage = {
  ready(m) {
    demo.backend = m.backend;
    const b = m.backend;
    $('backend').textContent = `${b.variant}, ${b.threads} thread(s) in a Web Worker, SIMD ${b.simd ? 'yes' : 'no'}, relaxed SIMD ${b.relaxedSimd ? 'yes' : 'no'}`;
    if (!m.crossOriginIsolated) {
      const note = $('isolation');
      note.hidden = false;
      note.textContent =
        'Training uses one thread: this page is not cross-origin isolated, and browsers share memory between ' +
        'threads (SharedArrayBuffer, which WebAssembly threads need) only on pages served with the headers ' +
        'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp. ' +
        '`npx wasm-layers demo` sends them.';
    }
  },
  status(m) {
    $('status').textContent = m.text;
  },
  data(m) {
    demo.data = m;
    $('data').textContent = `MNIST: ${m.files} gzip files, ${mb(m.compressedBytes)} transferred → ${mb(m.rawBytes)} unpacked with DecompressionStream in ${m.seconds.toFixed(1)} s`;
  },
  fit(m) {
    charts.fit(m.event);
    if (m.event.type === 'begin') $('epoch-table').hidden = false;
  },
  batch(m) {
    const seen = Math.min((m.batch + 1) * demo.training.batchSize, demo.training.samples);
    const rate = m.seconds > 0 ? Math.round(seen / m.seconds) : 0;
    scheduleProgress(
      `epoch ${m.epoch + 1}/${demo.training.epochs}: batch ${m.batch + 1}/${m.steps} — loss ${fmt(m.logs.loss)}, ` +
        `accuracy ${fmt(m.logs.accuracy)} — ${rate.toLocaleString('en')} samples/s`,
    );
  },
  epoch(m) {
    const row = document.createElement('tr');
    const l = m.logs;
    for (const c of [String(m.epoch + 1), fmt(l.loss), fmt(l.accuracy), fmt(l.val_loss), fmt(l.val_accuracy), m.seconds.toFixed(1)])
      row.appendChild(document.createElement('td')).textContent = c;
    $('epochs-body').appendChild(row);
  },
  trainEnd(m) {
    demo.training = { ...demo.training, ...m };
    trainSummary =
      `${m.stopped ? 'stopped after' : 'done:'} ${m.epochs} epoch(s) in ${m.seconds.toFixed(1)} s ` +
      `(${Math.round(m.samplesPerSecond).toLocaleString('en')} samples/s including validation).`;
    $('status').textContent = trainSummary;
  },
  tensorboard(m) {
    demo.tensorboardFiles = m.files.map((f) => ({ path: f.path, bytes: f.bytes.length }));
    const list = $('downloads').querySelector('ul');
    list.replaceChildren();
    for (const f of m.files) {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([f.bytes], { type: 'application/octet-stream' }));
      a.download = f.path.split('/').pop();
      a.textContent = f.path;
      const li = list.appendChild(document.createElement('li'));
      li.append(a, ` (${f.bytes.length.toLocaleString('en')} bytes)`);
    }
    $('downloads').hidden = m.files.length === 0;
  },
  evaluation(m) {
    demo.evaluation = m;
    charts.evaluation(m);
    $('status').textContent = `${trainSummary} Validation accuracy ${(100 * m.accuracy).toFixed(2)} % on ${m.samples.toLocaleString('en')} test images.`;
  },
  model(m) {
    demo.model = m;
    if (m.source === null) {
      // Nothing saved: train right away unless told not to.
      demo.state = 'ready';
      $('train').disabled = false;
      if (params.get('autostart') !== '0') startTraining();
      else $('status').textContent = 'ready: press Train.';
      return;
    }
    enableDrawing();
    $('download').disabled = false;
    if (m.source === 'indexeddb') {
      demo.state = 'ready';
      $('train').disabled = false;
      $('status').textContent = 'ready: a model from an earlier visit is loaded — draw a digit, or train again.';
      $('saved').textContent = `Loaded the model saved in this browser (IndexedDB) on ${new Date(m.savedAt).toLocaleString('en')}` +
        (typeof m.accuracy === 'number' ? `, validation accuracy ${(100 * m.accuracy).toFixed(2)} %.` : '.');
      if (params.get('autostart') === '1') startTraining();
    } else if (m.source === 'training') {
      $('saved').textContent = 'Training… (you can already draw: the bars use the weights as they are now).';
    } else if (m.source === 'trained') {
      demo.state = 'trained';
      trainingOver();
      $('saved').textContent = m.stored
        ? 'Saved in this browser (IndexedDB): a reload keeps it.'
        : 'Not saved in this browser (IndexedDB unavailable): use Download.';
    } else if (m.source === 'file') {
      demo.state = 'ready';
      $('saved').textContent = `Loaded ${m.name}${m.stored ? ' and saved it in this browser (IndexedDB)' : ''}.`;
      $('status').textContent = 'ready: draw a digit.';
    }
    predictNow();
  },
  prediction(m) {
    inFlight = false;
    showPrediction(m.probs);
    if (dirty) predictNow();
  },
  artifacts(m) {
    const files = [
      ['model.json', new Blob([JSON.stringify(m.modelJson)], { type: 'application/json' })],
      ['weights.bin', new Blob([m.weightData], { type: 'application/octet-stream' })],
    ];
    for (const [name, blob] of files) {
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    }
  },
  forgotten() {
    $('saved').textContent = 'The saved model is forgotten (the one on this page stays until you reload).';
  },
  error(m) {
    if (m.cmd === 'predict') inFlight = false;
    if (m.cmd === 'train') {
      demo.state = 'failed';
      trainingOver();
      $('status').textContent = 'training failed';
    }
    fail(`${m.cmd}: ${m.message}`);
  },
};
worker.onmessage = (ev) => onMessage[ev.data.type]?.(ev.data);

// The progress line is rewritten at most once per frame, however fast batches arrive.
let progressText = null;
function scheduleProgress(text) {
  if (progressText === null) {
    requestAnimationFrame(() => {
      $('progress').textContent = progressText;
      progressText = null;
    });
  }
  progressText = text;
}

// ---------------------------------------------------------------------------------------------------------
// Drawing and predicting

const pad = $('pad');
const ctx = pad.getContext('2d', { willReadFrequently: true });
// About MNIST's stroke: a digit drawn ~200 px tall on this 280 px pad becomes 20 px tall, so a 20 px pen
// gives 2 px strokes, as in MNIST.
const PEN = 20;
let drawing = false;
let last = null;
let dirty = false;
let inFlight = false;
let nextId = 1;

function enableDrawing() {
  $('draw-section').classList.remove('disabled');
  $('draw-hint').textContent = 'Draw with the mouse, a pen or a finger; the bars follow as you draw.';
}

function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
}

function stroke(from, to) {
  ctx.strokeStyle = '#111';
  ctx.fillStyle = '#111';
  ctx.lineWidth = PEN;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  if (from[0] === to[0] && from[1] === to[1]) {
    ctx.arc(to[0], to[1], PEN / 2, 0, 2 * Math.PI);
    ctx.fill();
  } else {
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  }
  dirty = true;
  predictNow();
}

pad.addEventListener('pointerdown', (e) => {
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  drawing = true;
  last = padPoint(e);
  stroke(last, last);
});
pad.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  // Coalesced events keep fast strokes smooth where the browser batches pointer moves.
  for (const ev of e.getCoalescedEvents?.() ?? [e]) {
    const p = padPoint(ev);
    stroke(last, p);
    last = p;
  }
});
for (const type of ['pointerup', 'pointercancel']) {
  pad.addEventListener(type, () => {
    drawing = false;
    last = null;
  });
}
$('clear').addEventListener('click', () => {
  ctx.clearRect(0, 0, pad.width, pad.height);
  dirty = false;
  demo.prediction = null;
  showPrediction(null);
  drawSeen(null);
});

/** The 28×28 image the model sees, shown enlarged beside the pad (white ink on black, as in MNIST). */
function drawSeen(pixels) {
  const seen = $('seen').getContext('2d');
  const img = seen.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels ? Math.round(pixels[i] * 255) : 0;
    img.data.set([v, v, v, 255], i * 4);
  }
  seen.putImageData(img, 0, 0);
}

/** Sends the current drawing to the worker; one prediction in flight at a time, the latest drawing wins. */
function predictNow() {
  if (!dirty || inFlight || !demo.model?.source) return;
  const pixels = toMnist(inkFromRgba(ctx.getImageData(0, 0, pad.width, pad.height).data), pad.width, pad.height);
  dirty = false;
  drawSeen(pixels);
  if (!pixels) return;
  inFlight = true;
  send({ cmd: 'predict', id: nextId++, pixels }, [pixels.buffer]);
}

const bars = [];
for (let k = 0; k < 10; k++) {
  const label = document.createElement('span');
  label.textContent = String(k);
  const track = document.createElement('div');
  track.className = 'track';
  const fill = track.appendChild(document.createElement('div'));
  fill.className = 'fill';
  const pct = document.createElement('span');
  pct.className = 'pct';
  pct.textContent = '–';
  $('bars').append(label, track, pct);
  bars.push({ cells: [label, track, pct], fill, pct });
}

function showPrediction(probs) {
  let best = -1;
  if (probs) for (let k = 0; k < 10; k++) if (best < 0 || probs[k] > probs[best]) best = k;
  for (let k = 0; k < 10; k++) {
    const p = probs ? probs[k] : 0;
    bars[k].fill.style.width = `${(100 * p).toFixed(1)}%`;
    bars[k].pct.textContent = probs ? `${(100 * p).toFixed(1)} %` : '–';
    for (const c of bars[k].cells) c.classList.toggle('top', k === best);
  }
  $('argmax').textContent = probs ? String(best) : '–';
  $('confidence').textContent = probs ? `(${(100 * probs[best]).toFixed(1)} %)` : '';
  if (probs) {
    demo.predictions++;
    demo.prediction = { probs: Array.from(probs), argmax: best };
  }
}
showPrediction(null);
drawSeen(null);

// ---------------------------------------------------------------------------------------------------------
// Saving and loading

$('download').addEventListener('click', () => send({ cmd: 'export' }));
$('forget').addEventListener('click', () => send({ cmd: 'forget' }));
$('upload').addEventListener('change', async (e) => {
  const files = [...e.target.files];
  e.target.value = '';
  try {
    const json = files.find((f) => f.name.endsWith('.json'));
    if (!json) throw new Error('choose the model.json file and its weights file(s) together');
    const modelJson = JSON.parse(await json.text());
    const paths = (modelJson.weightsManifest ?? []).flatMap((g) => g.paths);
    const parts = [];
    for (const p of paths) {
      const f = files.find((x) => x.name === p.split('/').pop());
      if (!f) throw new Error(`model.json names the weights file "${p}": choose it too`);
      parts.push(await f.arrayBuffer());
    }
    const weightData = await new Blob(parts).arrayBuffer();
    send({ cmd: 'load', name: json.name, modelJson, weightData }, [weightData]);
  } catch (err) {
    fail(`load: ${err.message}`);
  }
});

send({
  cmd: 'init',
  ...(params.has('threads') ? { threads: intParam('threads', 1) } : {}),
  ...(params.has('seed') ? { seed: intParam('seed', 1) } : {}),
});
