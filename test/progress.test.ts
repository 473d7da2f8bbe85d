import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FitParams, Logs } from '../src/callbacks/base.js';
import {
  ProgressBarLogger,
  formatEta,
  formatLogValue,
  formatLogs,
  formatStepTime,
  pyExp,
  pyFixed,
} from '../src/callbacks/progress.js';

const PARAMS: FitParams = {
  epochs: 2,
  initialEpoch: 0,
  steps: 5,
  batchSize: 32,
  samples: 160,
  verbose: 1,
  doValidation: true,
  metrics: ['loss', 'accuracy', 'val_loss', 'val_accuracy'],
};

interface Step {
  /** Clock (ms) when the batch ends. */
  t: number;
  loss: number;
  accuracy: number;
}

interface FakeEpoch {
  begin: number;
  steps: Step[];
  end: number;
  logs: Logs;
}

/**
 * Two epochs of five steps. Epoch 1 is fast (ms steps, batches 1 and 3 fall inside the 50 ms throttle window);
 * epoch 2 has 20 s steps so the ETA shows `m:ss` and a shorter redraw must blank out a longer one.
 */
const RUN: FakeEpoch[] = [
  {
    begin: 0,
    steps: [
      { t: 10, loss: 2.3026, accuracy: 0.1 },
      { t: 30, loss: 1.9, accuracy: 0.2 },
      { t: 70, loss: 1.25, accuracy: 0.5 },
      { t: 80, loss: 0.9, accuracy: 0.6 },
      { t: 100, loss: 0.0004, accuracy: 0.75 },
    ],
    end: 150,
    logs: { loss: 0.0004, accuracy: 0.75, val_loss: 0.5, val_accuracy: 0.8 },
  },
  {
    begin: 1000,
    steps: [
      { t: 21_000, loss: 10.5, accuracy: 0.25 },
      { t: 41_000, loss: 0.35, accuracy: 0.875 },
      { t: 61_000, loss: 0.3, accuracy: 0.9 },
      { t: 61_010, loss: 0.28, accuracy: 0.9 },
      { t: 101_000, loss: 0.25, accuracy: 0.9 },
    ],
    end: 102_000,
    logs: { loss: 0.25, accuracy: 0.9, val_loss: 0.3, val_accuracy: 0.91 },
  },
];

async function fakeFit(
  options: { isTTY?: boolean; verbose?: 0 | 1 | 2; run?: FakeEpoch[]; steps?: number } = {},
): Promise<string[]> {
  const writes: string[] = [];
  let clock = 0;
  const logger = new ProgressBarLogger({
    write: (s) => writes.push(s),
    isTTY: options.isTTY ?? true,
    now: () => clock,
  });
  logger.setParams({ ...PARAMS, verbose: options.verbose ?? 1, steps: options.steps ?? PARAMS.steps });
  await logger.onTrainBegin();
  for (const [epoch, e] of (options.run ?? RUN).entries()) {
    clock = e.begin;
    await logger.onEpochBegin(epoch);
    for (const [batch, s] of e.steps.entries()) {
      await logger.onBatchBegin(batch, { batch, size: 32 });
      clock = s.t;
      await logger.onBatchEnd(batch, { batch, size: 32, loss: s.loss, accuracy: s.accuracy });
    }
    clock = e.end;
    await logger.onEpochEnd(epoch, e.logs);
  }
  await logger.onTrainEnd();
  return writes;
}

describe('ProgressBarLogger on a TTY (verbose 1)', () => {
  it('draws the bar in place, throttled, and ends each epoch with timing and val_ metrics', async () => {
    const writes = await fakeFit();
    expect(writes).toEqual([
      'Epoch 1/2\n',
      '\r1/5 [=====>........................] - ETA: 0s - loss: 2.3026 - accuracy: 0.1000',
      // batch 2 (t=30) is within 50 ms of the last draw: skipped
      '\r3/5 [=================>............] - ETA: 0s - loss: 1.2500 - accuracy: 0.5000',
      // batch 4 (t=80) skipped; the last step is always drawn
      '\r5/5 [==============================] - ETA: 0s - loss: 4.0000e-04 - accuracy: 0.7500',
      '\r5/5 [==============================] - 0s 30ms/step - loss: 4.0000e-04 - accuracy: 0.7500 - val_loss: 0.5000 - val_accuracy: 0.8000',
      '\n',
      'Epoch 2/2\n',
      '\r1/5 [=====>........................] - ETA: 1:20 - loss: 10.5000 - accuracy: 0.2500',
      // two characters shorter than the line before: padded with two spaces
      '\r2/5 [===========>..................] - ETA: 60s - loss: 0.3500 - accuracy: 0.8750  ',
      '\r3/5 [=================>............] - ETA: 40s - loss: 0.3000 - accuracy: 0.9000',
      '\r5/5 [==============================] - ETA: 0s - loss: 0.2500 - accuracy: 0.9000 ',
      '\r5/5 [==============================] - 101s 20s/step - loss: 0.2500 - accuracy: 0.9000 - val_loss: 0.3000 - val_accuracy: 0.9100',
      '\n',
    ]);
  });

  it('shows what the terminal ends up displaying', async () => {
    // Replay \r over a virtual line to get the visible text.
    const screen: string[] = [];
    let line = '';
    for (const chunk of (await fakeFit()).join('').split(/(\r|\n)/)) {
      if (chunk === '\r') line = '';
      else if (chunk === '\n') {
        screen.push(line.trimEnd());
        line = '';
      } else line += chunk;
    }
    expect(screen).toEqual([
      'Epoch 1/2',
      '5/5 [==============================] - 0s 30ms/step - loss: 4.0000e-04 - accuracy: 0.7500 - val_loss: 0.5000 - val_accuracy: 0.8000',
      'Epoch 2/2',
      '5/5 [==============================] - 101s 20s/step - loss: 0.2500 - accuracy: 0.9000 - val_loss: 0.3000 - val_accuracy: 0.9100',
    ]);
  });

  it('redraws at most once per interval however many steps there are', async () => {
    const steps: Step[] = [];
    for (let i = 0; i < 1875; i++) steps.push({ t: (i + 1) * 2, loss: 1 / (i + 1), accuracy: 0.5 }); // 2 ms/step
    const writes = await fakeFit({ steps: 1875, run: [{ begin: 0, steps, end: 3750, logs: { loss: 0.1, accuracy: 0.9 } }] });
    const draws = writes.filter((w) => w.startsWith('\r'));
    // Draws at t = 2, 52, …, 3702 ms (75), the last step at 3750 ms, and the epoch end.
    expect(draws.length).toBe(77);
    expect(draws[0]).toBe('\r   1/1875 [..............................] - ETA: 3s - loss: 1.0000 - accuracy: 0.5000');
    expect(draws[1]).toMatch(/^\r {2}26\/1875 \[\.{30}\] - ETA: 3s - loss: 0\.0385/);
    expect(draws[3]).toMatch(/^\r {2}76\/1875 \[>\.{29}\] - ETA: 3s /);
    expect(draws[draws.length - 2]).toBe('\r1875/1875 [==============================] - ETA: 0s - loss: 5.3333e-04 - accuracy: 0.5000');
    expect(draws[draws.length - 1]).toBe('\r1875/1875 [==============================] - 4s 2ms/step - loss: 0.1000 - accuracy: 0.9000');
  });

  it('ends an unfinished line when training stops mid-epoch', async () => {
    const writes: string[] = [];
    const logger = new ProgressBarLogger({ write: (s) => writes.push(s), isTTY: true, now: () => 0 });
    logger.setParams(PARAMS);
    logger.onEpochBegin(0);
    logger.onBatchEnd(0, { loss: 1, accuracy: 0 });
    logger.onTrainEnd();
    expect(writes).toEqual(['Epoch 1/2\n', '\r1/5 [=====>........................] - ETA: 0s - loss: 1.0000 - accuracy: 0.0000e+00', '\n']);
  });
});

describe('ProgressBarLogger line mode', () => {
  const LINES = [
    'Epoch 1/2\n',
    '5/5 - 0s - 30ms/step - loss: 4.0000e-04 - accuracy: 0.7500 - val_loss: 0.5000 - val_accuracy: 0.8000\n',
    'Epoch 2/2\n',
    '5/5 - 101s - 20s/step - loss: 0.2500 - accuracy: 0.9000 - val_loss: 0.3000 - val_accuracy: 0.9100\n',
  ];

  it('prints one summary line per epoch for verbose 1 on a non-TTY', async () => {
    expect(await fakeFit({ isTTY: false })).toEqual(LINES);
  });

  it('prints the same for verbose 2, even on a TTY', async () => {
    expect(await fakeFit({ isTTY: true, verbose: 2 })).toEqual(LINES);
  });

  it('prints nothing for verbose 0', async () => {
    expect(await fakeFit({ verbose: 0 })).toEqual([]);
    expect(await fakeFit({ verbose: 0, isTTY: false })).toEqual([]);
  });

  it('pads the step count to the width of the total', async () => {
    const writes: string[] = [];
    let t = 0;
    const logger = new ProgressBarLogger({ write: (s) => writes.push(s), now: () => t });
    logger.setParams({ ...PARAMS, epochs: 5, initialEpoch: 3, steps: 1875 });
    logger.onEpochBegin(3);
    for (let b = 0; b < 37; b++) logger.onBatchEnd(b, { loss: 0.5 });
    t = 4000;
    logger.onEpochEnd(3, { loss: 0.2214, accuracy: 0.9344 });
    // a custom writer without isTTY is treated as a pipe
    expect(writes).toEqual(['Epoch 4/5\n', '  37/1875 - 4s - 108ms/step - loss: 0.2214 - accuracy: 0.9344\n']);
  });

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('falls back to console.log lines where there is no process.stdout (browsers)', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.stubGlobal('process', undefined);
    const logger = new ProgressBarLogger({ now: () => 0 });
    vi.unstubAllGlobals();
    logger.setParams({ ...PARAMS, epochs: 1, steps: 2 });
    logger.onEpochBegin(0);
    logger.onBatchEnd(0, { loss: 1 });
    logger.onBatchEnd(1, { loss: 1 });
    logger.onEpochEnd(0, { loss: 1 });
    expect(log.mock.calls).toEqual([['Epoch 1/1'], ['2/2 - 0s - 0s/step - loss: 1.0000']]);
  });
});

describe('Keras number and time formats', () => {
  it('formats values with %.4f, or %.4e at or below 1e-3', () => {
    expect(formatLogValue(0.22137)).toBe('0.2214');
    expect(formatLogValue(12.5)).toBe('12.5000');
    expect(formatLogValue(-0.5)).toBe('-0.5000');
    expect(formatLogValue(0.00123)).toBe('0.0012');
    expect(formatLogValue(0.001)).toBe('1.0000e-03');
    expect(formatLogValue(2.5e-4)).toBe('2.5000e-04');
    expect(formatLogValue(-3e-7)).toBe('-3.0000e-07');
    expect(formatLogValue(0)).toBe('0.0000e+00');
    expect(formatLogValue(NaN)).toBe('nan');
    expect(formatLogValue(Infinity)).toBe('inf');
    expect(formatLogValue(-Infinity)).toBe('-inf');
    expect(pyExp(1.5e123, 4)).toBe('1.5000e+123');
  });

  it('rounds exact ties to even like Python', () => {
    expect(pyFixed(0.5, 0)).toBe('0');
    expect(pyFixed(1.5, 0)).toBe('2');
    expect(pyFixed(2.5, 0)).toBe('2');
    expect(pyFixed(-2.5, 0)).toBe('-2');
    expect(pyFixed(0.03125, 4)).toBe('0.0312');
    expect(pyFixed(0.09375, 4)).toBe('0.0938');
    expect(pyFixed(0.1, 4)).toBe('0.1000');
    expect(pyFixed(2.675, 2)).toBe('2.67'); // 2.675 is really 2.67499999…
  });

  it('formats logs in their order, skipping batch and size', () => {
    expect(formatLogs({ batch: 3, size: 32, accuracy: 0.5, loss: 1 })).toBe(' - accuracy: 0.5000 - loss: 1.0000');
    expect(formatLogs(undefined)).toBe('');
  });

  it('formats time per step in s, ms or us', () => {
    expect(formatStepTime(2.4)).toBe('2s/step');
    expect(formatStepTime(1)).toBe('1s/step');
    expect(formatStepTime(0.0021)).toBe('2ms/step');
    expect(formatStepTime(0.999)).toBe('999ms/step');
    expect(formatStepTime(0.000456)).toBe('456us/step');
    expect(formatStepTime(0)).toBe('0s/step');
  });

  it('formats the ETA as s, m:ss or h:mm:ss', () => {
    expect(formatEta(0.4)).toBe('0s');
    expect(formatEta(12.9)).toBe('12s');
    expect(formatEta(60)).toBe('60s');
    expect(formatEta(60.5)).toBe('1:00');
    expect(formatEta(125)).toBe('2:05');
    expect(formatEta(3600)).toBe('60:00');
    expect(formatEta(3725)).toBe('1:02:05');
  });
});
