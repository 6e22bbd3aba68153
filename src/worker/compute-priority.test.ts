import { describe, expect, it } from "vitest";
import { keepComputeThreadsNiced, niceComputeThreads, type ThreadControl } from "./compute-priority.js";

/** A fake process: thread 100 is the main one; 104 ends before it can be niced. */
function fakeThreads(): ThreadControl & { nice: Map<number, number> } {
  const nice = new Map([
    [100, 0],
    [101, 0],
    [102, 10],
    [103, 0],
  ]);
  return {
    nice,
    mainThread: 100,
    threads: () => [...nice.keys(), 104],
    getPriority: (tid) => {
      const v = nice.get(tid);
      if (v === undefined) throw Object.assign(new Error("no such process"), { code: "ESRCH" });
      return v;
    },
    setPriority: (tid, v) => {
      if (!nice.has(tid)) throw Object.assign(new Error("no such process"), { code: "ESRCH" });
      nice.set(tid, v);
    },
  };
}

describe("compute thread priority", () => {
  it("nices every thread but the main one, skips those already there and those that ended", () => {
    const ctl = fakeThreads();
    expect(niceComputeThreads(10, ctl)).toBe(2);
    expect([...ctl.nice]).toEqual([
      [100, 0],
      [101, 10],
      [102, 10],
      [103, 10],
    ]);
    expect(niceComputeThreads(10, ctl)).toBe(0);
  });

  it("does nothing when turned off (0)", () => {
    const ctl = fakeThreads();
    keepComputeThreadsNiced(0, ctl)();
    expect(ctl.nice.get(101)).toBe(0);
  });

  it("applies at once when on", () => {
    const ctl = fakeThreads();
    const stop = keepComputeThreadsNiced(5, ctl);
    stop();
    expect([ctl.nice.get(100), ctl.nice.get(101), ctl.nice.get(102)]).toEqual([0, 5, 5]);
  });
});
