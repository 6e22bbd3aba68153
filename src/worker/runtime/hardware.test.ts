import { describe, expect, it } from "vitest";
import { classify, defaultThreads, physicalCores } from "./hardware.js";

const GiB = 1024 ** 3;

describe("hardware", () => {
  it("classifies machines", () => {
    const cpu = { os: "linux", arch: "x64", gpu: null };
    expect(classify({ ...cpu, physicalCores: 2, ramBytes: 24 * GiB })).toBe("cpu-low");
    expect(classify({ ...cpu, physicalCores: 8, ramBytes: 16 * GiB })).toBe("cpu-mid");
    expect(classify({ ...cpu, physicalCores: 8, ramBytes: 4 * GiB })).toBe("cpu-low");
    expect(classify({ os: "linux", arch: "x64", physicalCores: 8, ramBytes: 64 * GiB, gpu: { type: "cuda", name: "RTX 3060", vramBytes: 6 * GiB } })).toBe("gpu-small");
    expect(classify({ os: "linux", arch: "x64", physicalCores: 8, ramBytes: 64 * GiB, gpu: { type: "cuda", name: "A6000", vramBytes: 48 * GiB } })).toBe("gpu-large");
    expect(classify({ os: "darwin", arch: "arm64", physicalCores: 8, ramBytes: 16 * GiB, gpu: { type: "metal", name: "M2", vramBytes: 11 * GiB } })).toBe("apple-m");
  });

  it("counts physical cores and picks threads", () => {
    const n = physicalCores();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(defaultThreads(1_200_000)).toBe(1);
    expect(defaultThreads(4 * GiB)).toBe(n);
  });
});
