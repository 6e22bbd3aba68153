/**
 * Optionally runs the worker's compute threads below its event loop on the CPU (Linux, opt-in:
 * CELLULE_WORKER_COMPUTE_NICE, default 0 = off).
 *
 * llama.cpp computes on threads beside the main thread (node-llama-cpp's native calls run on the
 * libuv thread pool), while the main thread decodes the results, schedules each next batch and does
 * all the network I/O. With as many busy threads as cores, the main thread's wake-ups (a token
 * ready, a job arriving, a chunk to send) can wait for a compute thread's time slice. Nicing every
 * thread but the main one lets them preempt. Measured on the shared 2-vCPU test VM (load 10–20 from
 * other work), stories260K, pool + worker vs direct, nice 0 and nice 10 in interleaved segments:
 * 4 slots, short answers: time to first token p50 27.7 → 17.7 ms and 33.8 → 29.4 ms (two runs),
 * nice 5: 34.9 → 48.3 ms; 1 slot, short answers: 8.6 → 8.8 ms (no gain); 4 slots, 512-token
 * answers with the machine saturated: 46 → 156 ms, and each answer twice as long: against other
 * busy processes, niced compute threads get a smaller share of the CPU. Hence off by default; worth
 * trying on a worker whose cores are its own (measure with bench:gateway-ab, CELLULE_BENCH_AB_PHASE=ttft).
 * Raising one's own nice value needs no privilege; threads started later by a compute thread
 * inherit its value, others are caught by the periodic re-check.
 */
import { readdirSync } from "node:fs";
import os from "node:os";
import { moduleLogger } from "../shared/logger.js";

/** How often threads started since are niced too. */
const RECHECK_MS = 10_000;

export interface ThreadControl {
  /** Thread ids of this process (the main thread's id is the process id). */
  threads(): number[];
  getPriority(tid: number): number;
  setPriority(tid: number, nice: number): void;
  mainThread: number;
}

const linuxThreads: ThreadControl = {
  threads: () => readdirSync("/proc/self/task").map(Number),
  getPriority: (tid) => os.getPriority(tid),
  setPriority: (tid, nice) => os.setPriority(tid, nice),
  mainThread: process.pid,
};

/** Sets every thread but the main one to `nice` (those not already there); returns how many changed. */
export function niceComputeThreads(nice: number, ctl: ThreadControl = linuxThreads): number {
  let changed = 0;
  for (const tid of ctl.threads()) {
    if (tid === ctl.mainThread) continue;
    try {
      if (ctl.getPriority(tid) === nice) continue;
      ctl.setPriority(tid, nice);
      changed++;
    } catch {
      // The thread ended meanwhile (ESRCH), or the system refuses: nothing to do for it.
    }
  }
  return changed;
}

/**
 * Nices the compute threads now and every RECHECK_MS; a no-op for `nice` 0 or off Linux.
 * Returns a stop function.
 */
export function keepComputeThreadsNiced(nice: number, ctl?: ThreadControl): () => void {
  if (nice <= 0 || (!ctl && process.platform !== "linux")) return () => undefined;
  const apply = () => niceComputeThreads(nice, ctl);
  const n = apply();
  moduleLogger("worker.priority").debug({ nice, threads: n }, "compute threads niced below the event loop");
  const timer = setInterval(apply, RECHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
