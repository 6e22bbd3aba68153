import { beforeAll, describe, expect, it } from "vitest";
import type { AppError } from "../../shared/errors.js";
import { configureLogging, moduleLogger, type Logger } from "../../shared/logger.js";
import { drainPool } from "./drain.js";

let log: Logger;
beforeAll(() => {
  configureLogging("silent");
  log = moduleLogger("test");
});

/** A gate whose in-flight answers the test ends by hand. */
class FakeGate {
  closed = false;
  inFlight: number;
  private readonly waiters = new Set<() => void>();
  constructor(running: number) {
    this.inFlight = running;
  }
  close(): void {
    this.closed = true;
  }
  end(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const w of this.waiters) w();
  }
  whenIdle(ms: number, abort?: AbortSignal): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(onIdle);
        resolve(idle);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.waiters.add(onIdle);
      abort?.addEventListener("abort", () => done(false), { once: true });
    });
  }
}

/** The dispatcher's side: what abortAll received, and as many running answers as it ends. */
function fakeJobs(gate?: FakeGate) {
  const aborted: AppError[] = [];
  return {
    aborted,
    active: 1,
    waiting: 0,
    abortAll(err: AppError) {
      aborted.push(err);
      // The clients get their error event: the answers end.
      if (gate) {
        setTimeout(() => {
          while (gate.inFlight > 0) gate.end();
        }, 5);
      }
      return 1;
    },
  };
}

describe("drainPool", () => {
  it("closes the gate first, runs every feature's drain in build order, and finishes when the running answers have ended", async () => {
    const gate = new FakeGate(2);
    const jobs = fakeJobs();
    const order: string[] = [];
    const feature = (name: string) => ({
      drain: async () => {
        expect(gate.closed).toBe(true);
        order.push(name);
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    const started = Date.now();
    setTimeout(() => gate.end(), 30);
    setTimeout(() => gate.end(), 60);
    const outcome = await drainPool({ features: [feature("a"), {}, feature("b"), feature("c")], gate, jobs, timeoutMs: 10_000, log });
    expect(outcome).toBe("done");
    expect(order).toEqual(["a", "b", "c"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(jobs.aborted).toEqual([]);
  });

  it("goes on past a feature whose drain hangs or fails, within the drain time", async () => {
    const gate = new FakeGate(0);
    const order: string[] = [];
    const outcome = await drainPool({
      features: [
        { drain: () => new Promise<void>(() => {}) },
        { drain: () => Promise.reject(new Error("peer unreachable")) },
        { drain: async () => void order.push("last") },
      ],
      gate,
      jobs: fakeJobs(),
      timeoutMs: 50,
      log,
    });
    expect(outcome).toBe("done");
    expect(order).toEqual(["last"]);
  });

  it("ends what still runs at the end of the drain time with 503 pool_shutting_down", async () => {
    const gate = new FakeGate(1);
    const jobs = fakeJobs(gate);
    const started = Date.now();
    const outcome = await drainPool({ features: [], gate, jobs, timeoutMs: 80, log, progressEveryMs: 20 });
    expect(outcome).toBe("timed_out");
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(jobs.aborted).toHaveLength(1);
    expect(jobs.aborted[0]).toMatchObject({ code: "pool_shutting_down", status: 503, retryAfterSeconds: 5 });
    expect(gate.inFlight).toBe(0);
  });

  it("stops waiting at once when hurried (a second signal)", async () => {
    const gate = new FakeGate(1);
    const jobs = fakeJobs(gate);
    const hurry = new AbortController();
    const started = Date.now();
    setTimeout(() => hurry.abort(), 30);
    const outcome = await drainPool({ features: [{ drain: () => new Promise<void>(() => {}) }], gate, jobs, timeoutMs: 30_000, hurry: hurry.signal, log });
    expect(outcome).toBe("cut_short");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(jobs.aborted.map((e) => e.code)).toEqual(["pool_shutting_down"]);
  });
});
