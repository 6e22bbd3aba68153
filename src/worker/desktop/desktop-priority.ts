/**
 * While its owner is back (any state but `dormant`), a desktop worker finishes the jobs that could
 * not move at the lowest priority: its compute threads at nice 19 on Linux
 * (compute-priority.ts), the whole process below normal on Windows and macOS. Restored when dormant
 * again — to the configured compute nice; on Linux an unprivileged process may not lower a nice
 * value, so the threads then stay niced (logged), which only costs the desktop speed.
 */
import os from "node:os";
import { moduleLogger } from "../../shared/logger.js";
import { niceComputeThreads, type ThreadControl } from "../compute-priority.js";

/** Nice value of a yielding desktop's compute (the lowest priority). */
export const YIELD_NICE = 19;
const RECHECK_MS = 2000;

export class DesktopPriority {
  private timer: NodeJS.Timeout | undefined;
  private readonly log = moduleLogger("worker.desktop");

  constructor(
    private readonly normalNice: number,
    private readonly platform: NodeJS.Platform = process.platform,
    private readonly threads?: ThreadControl,
  ) {}

  get lowered(): boolean {
    return this.timer !== undefined;
  }

  /** Lowers the priority (idempotent). */
  lower(): void {
    if (this.timer) return;
    this.set(YIELD_NICE);
    // Threads started meanwhile (a new job's) are niced too.
    this.timer = setInterval(() => this.set(YIELD_NICE), RECHECK_MS);
    this.timer.unref();
    this.log.info({ nice: YIELD_NICE }, "owner active: compute priority lowered");
  }

  /** Restores the normal priority (idempotent). */
  restore(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.set(this.normalNice);
    this.log.info({ nice: this.normalNice }, "dormant again: compute priority restored");
  }

  private set(nice: number): void {
    try {
      if (this.platform === "linux" || this.threads) niceComputeThreads(nice, this.threads);
      else os.setPriority(0, nice);
    } catch (err) {
      this.log.debug({ nice, err: (err as Error).message }, "could not change the compute priority");
    }
  }
}
