import { describe, expect, it } from "vitest";
import { CpuSampler } from "./cpu-sampler.js";

describe("CpuSampler", () => {
  it("divides the process's CPU time by the wall time and the cores", () => {
    let cpu = 0;
    let now = 0;
    const s = new CpuSampler({ usage: () => ({ user: cpu, system: 0 }), now: () => now, cores: 4 });
    // 2 s of wall time, 4 s of CPU (two cores busy out of four): 50 %.
    now += 2000;
    cpu += 4_000_000;
    expect(s.sample()).toBe(50);
    // Idle interval.
    now += 1000;
    expect(s.sample()).toBe(0);
    // Never above 100 % (clock granularity), never negative.
    now += 1000;
    cpu += 10_000_000;
    expect(s.sample()).toBe(100);
    expect(s.sample()).toBe(0);
  });

  it("measures the real process: a busy loop shows, and stays within 0–100", () => {
    const s = new CpuSampler();
    const until = Date.now() + 150;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const pct = s.sample();
    expect(x).toBeGreaterThan(0);
    expect(pct).toBeGreaterThan(0);
    expect(pct).toBeLessThanOrEqual(100);
  });
});
