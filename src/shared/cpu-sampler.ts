/**
 * The worker's CPU use between two heartbeats: process.cpuUsage() (user + system time of every
 * thread of the process, llama.cpp's compute threads included) over the wall time elapsed, divided
 * by the machine's logical cores: 0–100 % of the whole machine. Sent in each heartbeat
 * (`cpuPercent`, optional); the pool measures its own the same way for the Overview.
 */
import { availableParallelism } from "node:os";

export interface CpuClock {
  /** CPU time used by the process, µs (process.cpuUsage()). */
  usage(): { user: number; system: number };
  /** Wall clock, ms (performance.now()). */
  now(): number;
  cores: number;
}

const systemClock: CpuClock = { usage: () => process.cpuUsage(), now: () => performance.now(), cores: Math.max(1, availableParallelism()) };

export class CpuSampler {
  private lastCpuUs: number;
  private lastAt: number;

  constructor(private readonly clock: CpuClock = systemClock) {
    this.lastCpuUs = this.cpuUs();
    this.lastAt = clock.now();
  }

  private cpuUs(): number {
    const u = this.clock.usage();
    return u.user + u.system;
  }

  /** Percent of the machine's cores (0–100, one decimal) used by the process since the previous sample. */
  sample(): number {
    const cpu = this.cpuUs();
    const at = this.clock.now();
    const elapsedUs = (at - this.lastAt) * 1000;
    const used = cpu - this.lastCpuUs;
    this.lastCpuUs = cpu;
    this.lastAt = at;
    if (elapsedUs <= 0) return 0;
    const pct = (used / (elapsedUs * this.clock.cores)) * 100;
    return Math.round(Math.min(100, Math.max(0, pct)) * 10) / 10;
  }
}
