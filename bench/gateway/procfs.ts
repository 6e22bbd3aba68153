/** Per-process memory and CPU time from /proc (Linux). */
import { readFileSync } from "node:fs";

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every mainstream Linux. */
const CLOCK_TICKS_PER_S = 100;

export interface MemorySnapshot {
  /** VmRSS, bytes. */
  rssBytes: number;
  /** VmHWM (peak RSS so far), bytes. */
  peakRssBytes: number;
}

export function readMemory(pid: number): MemorySnapshot {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
}

/** User + system CPU time of a process (all its threads), ms; `self` reads this process. */
export function cpuMs(pid: number | "self"): number {
  if (pid === "self") {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  // Fields after "(comm) ": state is index 0, utime index 11, stime index 12.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/** CPU ms used by each named process since `before` was taken. */
export function cpuSince<K extends string>(before: Record<K, number>, pids: Record<K, number | "self">): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(pids) as K[]) out[k] = cpuMs(pids[k]) - before[k];
  return out;
}

export function cpuNow<K extends string>(pids: Record<K, number | "self">): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(pids) as K[]) out[k] = cpuMs(pids[k]);
  return out;
}

