import { describe, expect, it } from "vitest";
import { classifyLatency, clusterNetworkType, LAN_MAX_MS, median, METRO_MAX_MS } from "./classify.js";

describe("latency classification", () => {
  it("puts < 5 ms on the LAN, 5–30 ms in the metro area and > 30 ms on a WAN", () => {
    expect(classifyLatency(0)).toBe("lan");
    expect(classifyLatency(0.4)).toBe("lan");
    expect(classifyLatency(4.99)).toBe("lan");
    expect(classifyLatency(LAN_MAX_MS)).toBe("metro");
    expect(classifyLatency(17)).toBe("metro");
    expect(classifyLatency(METRO_MAX_MS)).toBe("metro");
    expect(classifyLatency(30.01)).toBe("wan");
    expect(classifyLatency(250)).toBe("wan");
  });

  it("refuses impossible latencies", () => {
    expect(() => classifyLatency(-1)).toThrow(RangeError);
    expect(() => classifyLatency(Number.NaN)).toThrow(RangeError);
    expect(() => classifyLatency(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it("takes the median, whatever the order, ignoring one outlier", () => {
    expect(median([3])).toBe(3);
    expect(median([9, 1, 5])).toBe(5);
    expect(median([1.2, 1.1, 900, 1.3, 1.0])).toBe(1.2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const input = [5, 4, 3];
    median(input);
    expect(input).toEqual([5, 4, 3]);
    expect(() => median([])).toThrow(RangeError);
  });

  it("derives the cluster's network type from the slowest reachable peer", () => {
    expect(clusterNetworkType([])).toBe("unknown");
    expect(clusterNetworkType([null, undefined])).toBe("unknown");
    expect(clusterNetworkType(["lan", "lan"])).toBe("lan");
    expect(clusterNetworkType(["lan", "metro", null])).toBe("metro");
    expect(clusterNetworkType(["wan", "lan", "metro"])).toBe("wan");
  });
});
