import { describe, expect, it } from "vitest";
import { AuthFailureLimiter, PreAuthGate } from "./worker-admission.js";

describe("PreAuthGate", () => {
  it("admits up to the per-address cap, then refuses that address with 429 while others pass", () => {
    const gate = new PreAuthGate({ perAddress: 2, total: 5 });
    const a1 = gate.admit("a");
    const a2 = gate.admit("a");
    expect(a1.ok && a2.ok).toBe(true);
    expect(gate.admit("a")).toMatchObject({ ok: false, status: 429 });
    expect(gate.admit("b").ok).toBe(true);
    if (a1.ok) {
      a1.release();
      a1.release(); // idempotent: one socket is released once
    }
    expect(gate.pending).toBe(2);
    expect(gate.admit("a").ok).toBe(true);
    expect(gate.admit("a")).toMatchObject({ ok: false, status: 429 });
  });

  it("refuses everyone with 503 past the total cap", () => {
    const gate = new PreAuthGate({ perAddress: 2, total: 3 });
    for (const addr of ["a", "b", "c"]) expect(gate.admit(addr).ok).toBe(true);
    expect(gate.admit("d")).toMatchObject({ ok: false, status: 503 });
  });
});

describe("AuthFailureLimiter", () => {
  it("blocks an address after N failures for the rest of its window, then forgets it", () => {
    let now = 1_000;
    const limiter = new AuthFailureLimiter({ failures: 3, windowMs: 60_000 }, () => now);
    expect(limiter.fail("a")).toBe(false);
    expect(limiter.fail("a")).toBe(false);
    expect(limiter.blockedFor("a")).toBe(0);
    expect(limiter.fail("a")).toBe(true); // the third blocks
    expect(limiter.blockedFor("a")).toBe(60_000);
    expect(limiter.blockedFor("b")).toBe(0);
    now += 59_000;
    expect(limiter.blockedFor("a")).toBe(1_000);
    now += 1_000;
    expect(limiter.blockedFor("a")).toBe(0);
    expect(limiter.fail("a")).toBe(false); // a new window
  });
});
