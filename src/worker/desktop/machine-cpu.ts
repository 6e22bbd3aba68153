/**
 * Other processes' CPU use: the machine's busy time (os.cpus() deltas) minus this process's own
 * (process.cpuUsage() deltas), as percent of all cores. Portable (Linux, Windows, macOS), no privilege.
 */
import os from "node:os";

export interface CpuTimes {
  /** Busy and total time of all cores, ms (os.cpus()). */
  machine(): { busyMs: number; totalMs: number };
  /** This process's CPU time, µs (process.cpuUsage()). */
  ownUs(): number;
}

const systemTimes: CpuTimes = {
  machine() {
    let busy = 0;
    let total = 0;
    for (const c of os.cpus()) {
      const t = c.times;
      busy += t.user + t.nice + t.sys + t.irq;
      total += t.user + t.nice + t.sys + t.irq + t.idle;
    }
    return { busyMs: busy, totalMs: total };
  },
  ownUs() {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
};

/** Samples other processes' CPU percent since the previous sample (the first sample covers the time since construction). */
export class OtherCpuSampler {
  private last: { busyMs: number; totalMs: number; ownUs: number };

  constructor(private readonly times: CpuTimes = systemTimes) {
    this.last = { ...times.machine(), ownUs: times.ownUs() };
  }

  sample(): number {
    const m = this.times.machine();
    const own = this.times.ownUs();
    const now = { ...m, ownUs: own };
    const r = otherCpuPercent(this.last, now);
    this.last = now;
    return r;
  }
}

/** (machine busy − own) / machine total between two readings, in percent, clamped to 0–100. */
export function otherCpuPercent(a: { busyMs: number; totalMs: number; ownUs: number }, b: { busyMs: number; totalMs: number; ownUs: number }): number {
  const total = b.totalMs - a.totalMs;
  if (total <= 0) return 0;
  const other = b.busyMs - a.busyMs - (b.ownUs - a.ownUs) / 1000;
  return Math.round(Math.min(100, Math.max(0, (other / total) * 100)) * 10) / 10;
}
