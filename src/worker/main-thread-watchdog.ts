/**
 * Kills the worker process when its main thread has been blocked for too long. A blocked main thread
 * sends no heartbeat (the pool has already declared the worker dead and moved on) and runs no signal
 * handler, so SIGTERM would wait for it: the probe's 250,000-value enum held one for minutes. The
 * watchdog is a worker thread (its own event loop) fed by a counter the main thread bumps; when the
 * counter stops for `limitMs` it writes one log line and sends SIGKILL to its own process (a plain
 * exit would wait for the busy thread), so the service manager restarts the worker.
 * Only `cellule worker` starts it: in `cellule up` the same process is also the pool.
 */
import { Worker } from "node:worker_threads";
import { moduleLogger } from "../shared/logger.js";

/** Default of CELLULE_WORKER_BLOCKED_MS: above the pool's 3 missed heartbeats (3 × 2 s). */
export const MAIN_THREAD_BLOCKED_MS = 10_000;

// Plain JavaScript run by the watchdog thread (eval: no separate file to ship or resolve). It may be
// evaluated as CommonJS or as a module (it inherits --input-type), hence getBuiltinModule, not require.
const WATCHDOG_SOURCE = `
const { workerData } = process.getBuiltinModule("node:worker_threads");
const { writeSync } = process.getBuiltinModule("node:fs");
const { beats, limitMs, pid } = workerData;
let seen = Atomics.load(beats, 0);
let changedAt = Date.now();
setInterval(() => {
  const now = Date.now();
  const beat = Atomics.load(beats, 0);
  if (beat !== seen) {
    seen = beat;
    changedAt = now;
    return;
  }
  if (now - changedAt < limitMs) return;
  const msg = "main thread blocked for " + (now - changedAt) + " ms (limit " + limitMs + " ms, CELLULE_WORKER_BLOCKED_MS): killing the worker so that its service manager restarts it";
  writeSync(2, JSON.stringify({ level: 50, time: now, pid, name: "cellule.worker.watchdog", msg }) + "\\n");
  process.kill(pid, "SIGKILL");
}, Math.max(20, Math.min(500, Math.floor(limitMs / 4))));
`;

export interface Watchdog {
  stop(): Promise<void>;
}

export function startMainThreadWatchdog(limitMs: number = MAIN_THREAD_BLOCKED_MS): Watchdog {
  const beats = new Int32Array(new SharedArrayBuffer(4));
  const beat = setInterval(() => Atomics.add(beats, 0, 1), Math.max(10, Math.min(250, Math.floor(limitMs / 8))));
  beat.unref();
  const thread = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { beats, limitMs, pid: process.pid } });
  thread.unref();
  // Never let the watchdog take the worker down by itself failing.
  thread.on("error", (err) => moduleLogger("worker.watchdog").error({ err: err.message }, "main thread watchdog failed; running without it"));
  return {
    async stop() {
      clearInterval(beat);
      await thread.terminate();
    },
  };
}
