import { describe, expect, it } from "vitest";
import { clusterMembers, derivedAuthPass, derivedPriority, derivedRouterId } from "./vrrp.js";

const A = "a".repeat(32);
const B = "b".repeat(32);
const C = "c".repeat(32);

describe("VRRP values derived from the cluster", () => {
  it("every pool of a full mesh derives the same router id and password, whatever its own id", () => {
    const fromA = clusterMembers({ self: A, peers: [C, B] });
    const fromB = clusterMembers({ self: B, peers: [A, C] });
    const fromC = clusterMembers({ self: C, peers: [B, A, A] });
    expect(fromA).toEqual([A, B, C]);
    expect(fromB).toEqual(fromA);
    expect(fromC).toEqual(fromA);
    const vrid = derivedRouterId(fromA);
    expect(vrid).toBeGreaterThanOrEqual(1);
    expect(vrid).toBeLessThanOrEqual(255);
    expect(derivedRouterId(fromB)).toBe(vrid);
    expect(derivedAuthPass(fromC, vrid)).toBe(derivedAuthPass(fromA, vrid));
    expect(derivedAuthPass(fromA, vrid)).toMatch(/^[A-Za-z0-9_-]{8}$/);
  });

  it("another cluster (or a pool alone) gets another router id and password", () => {
    const three = [A, B, C];
    const alone = clusterMembers({ self: A, peers: [] });
    expect(derivedAuthPass(alone, 7)).not.toBe(derivedAuthPass(three, 7));
    // Router ids over many two-pool clusters spread over 1–255.
    const ids = new Set(Array.from({ length: 200 }, (_, i) => derivedRouterId([A, i.toString(16).padStart(32, "0")])));
    expect(ids.size).toBeGreaterThan(100);
    for (const id of ids) expect(id >= 1 && id <= 255).toBe(true);
  });

  it("the cluster secret, when the pools share one, keys the password", () => {
    const m = [A, B];
    expect(derivedAuthPass(m, 9, "s3cret-one")).toBe(derivedAuthPass(m, 9, "s3cret-one"));
    expect(derivedAuthPass(m, 9, "s3cret-one")).not.toBe(derivedAuthPass(m, 9, "s3cret-two"));
    expect(derivedAuthPass(m, 9, "s3cret-one")).not.toBe(derivedAuthPass(m, 9));
  });

  it("priorities: 200 for the first pool, then 190, 180, never under 10", () => {
    expect([A, B, C].map((id) => derivedPriority([A, B, C], id))).toEqual([200, 190, 180]);
    const many = Array.from({ length: 40 }, (_, i) => i.toString(16).padStart(32, "0"));
    expect(derivedPriority(many, many[39]!)).toBe(10);
  });
});
