/** CPU accounting from /proc/stat and process.cpuUsage (no other imports: child processes measure RSS). */
import { readFileSync } from 'node:fs';

export interface CpuSnapshot {
  wall: number;
  /** Busy and steal jiffies of all CPUs (Linux /proc/stat), or NaN elsewhere. */
  busy: number;
  steal: number;
  /** This process' CPU time (all threads), µs. */
  own: number;
}

export function cpuSnapshot(): CpuSnapshot {
  let busy = NaN;
  let steal = NaN;
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    busy = f[0] + f[1] + f[2] + f[5] + f[6];
    steal = f[7] ?? 0;
  } catch {
    /* not Linux */
  }
  const u = process.cpuUsage();
  return { wall: performance.now(), busy, steal, own: u.user + u.system };
}
