/** The dashboard's data shapes and their conversions, free of the DOM (the board server uses them too). */
export interface HistogramStepLike {
  step: number;
  wallTime: number;
  buckets: { left: number; right: number; count: number }[];
}

/** A run as the runs list needs it: its tags with their point counts, and a version that grows with new data. */
export interface RunInfo {
  run: string;
  version: number;
  scalars: Record<string, number>;
  histograms: Record<string, number>;
  hasModel: boolean;
}

/** One run's points of a tag, as columns; `total` is the run's full count when the columns are a sample. */
export interface ScalarColumns {
  step: number[];
  wallTime: number[];
  value: number[];
  total: number;
}

/** The shape of the event-file reader's runs (see src/tensorboard/reader.ts), restated so this module needs no reader. */
export interface RunDataLike {
  run: string;
  scalars: Record<string, { step: number; wallTime: number; value: number }[]>;
  histograms: Record<string, HistogramStepLike[]>;
  modelConfig?: unknown;
}

/** Columns of a scalar series, sampled to at most `samples` points (evenly, first and last kept); 0 = all. */
export function scalarColumns(points: readonly { step: number; wallTime: number; value: number }[], samples = 0): ScalarColumns {
  const n = points.length;
  const take = samples > 0 && n > samples ? samples : n;
  const out: ScalarColumns = { step: new Array(take), wallTime: new Array(take), value: new Array(take), total: n };
  for (let k = 0; k < take; k++) {
    const i = take === n ? k : Math.round((k * (n - 1)) / (take - 1));
    const p = points[i];
    out.step[k] = p.step;
    out.wallTime[k] = p.wallTime;
    out.value[k] = p.value;
  }
  return out;
}

export function runInfo(r: RunDataLike, version = 0): RunInfo {
  const count = <T,>(rec: Record<string, T[]>) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, v.length]));
  return { run: r.run, version, scalars: count(r.scalars), histograms: count(r.histograms), hasModel: r.modelConfig !== undefined };
}

/** CSV of a tag's points (`run,step,wall_time,value`), TensorBoard's download columns plus the run. */
export function scalarsCsv(byRun: Record<string, { step: number; wallTime: number; value: number }[]>): string {
  const lines = ['run,step,wall_time,value'];
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  for (const [run, pts] of Object.entries(byRun)) for (const p of pts) lines.push(`${q(run)},${p.step},${p.wallTime},${p.value}`);
  return lines.join('\n') + '\n';
}

