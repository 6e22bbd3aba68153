/** Which catalogue models an auto worker is assigned: its class or none, what fits its memory and disk, one per role first. */
import { describe, expect, it } from "vitest";
import type { CatalogueEntry } from "../models/catalogue-port.js";
import { assignModels, CHAT_MEMORY_FACTOR, diskBudget, memoryBudget, sameAssignment } from "./model-assignment.js";

const GiB = 1024 ** 3;
let n = 0;
function entry(name: string, role: CatalogueEntry["role"], sizeGiB: number, classes: CatalogueEntry["hardwareClasses"] = []): CatalogueEntry {
  n++;
  return { modelId: `m${n}`, name, sha256: n.toString(16).padStart(64, "0"), sizeBytes: Math.round(sizeGiB * GiB), role, hardwareClasses: classes, contextLength: 4096, embeddingLength: role === "embedding" ? 384 : null };
}
const cpuMid = (ramGiB: number, cache?: { capGiB: number; usedGiB?: number; freeGiB: number }) => ({
  hardware: { hardwareClass: "cpu-mid" as const, ramBytes: ramGiB * GiB, gpu: null },
  cache: cache ? { capBytes: cache.capGiB * GiB, usedBytes: (cache.usedGiB ?? 0) * GiB, freeBytes: cache.freeGiB * GiB } : undefined,
});
const names = (a: { name: string }[]) => a.map((m) => m.name);

describe("assignModels", () => {
  it("gives an unassigned model to every worker it fits (a fresh cluster with one model just works)", () => {
    const only = entry("stories", "fast", 0.001);
    const out = assignModels([only], cpuMid(8));
    expect(out).toEqual([{ name: "stories", sha256: only.sha256, sizeBytes: only.sizeBytes, role: "fast", downloadPath: `/v1/workers/models/${only.sha256}` }]);
  });

  it("skips models assigned to other classes, and prefers the one assigned to this class for a role", () => {
    const generic = entry("generic-fast", "fast", 2);
    const mine = entry("cpu-fast", "fast", 1, ["cpu-mid"]);
    const gpu = entry("gpu-fast", "fast", 1, ["gpu-large"]);
    // Memory for one fast model only: the explicit one wins although the generic one is larger.
    const out = assignModels([generic, mine, gpu], cpuMid(3));
    expect(names(out)).toEqual(["cpu-fast"]);
  });

  it("leaves out what does not fit the memory (size × 1.2 for chat) or the cache", () => {
    const big = entry("big", "reasoning", 7); // 8.4 GiB with its context
    expect(assignModels([big], cpuMid(10))).toEqual([]); // budget 8 GiB
    expect(names(assignModels([big], cpuMid(12)))).toEqual(["big"]);
    expect(assignModels([big], cpuMid(64, { capGiB: 6, freeGiB: 100 }))).toEqual([]);
    expect(assignModels([big], cpuMid(64, { capGiB: 100, freeGiB: 5, usedGiB: 1 }))).toEqual([]);
    expect(names(assignModels([big], cpuMid(64, { capGiB: 100, freeGiB: 5, usedGiB: 3 })))).toEqual(["big"]);
  });

  it("takes one model per role first (largest that fits), then more while memory allows", () => {
    const fastA = entry("fast-a", "fast", 4);
    const fastB = entry("fast-b", "fast", 1);
    const code = entry("coder", "code", 3);
    const emb = entry("minilm", "embedding", 0.05);
    // 8 GiB budget: fast-a (4.8) + coder (3.6) do not both fit → one per role: fast-a, minilm; coder needs 3.6 > 3.145 left.
    expect(names(assignModels([fastA, fastB, code, emb], cpuMid(10)))).toEqual(["fast-a", "fast-b", "minilm"]); // sorted by role, then name
    // Plenty of memory: every model.
    expect(names(assignModels([fastA, fastB, code, emb], cpuMid(64)))).toEqual(["fast-a", "fast-b", "minilm", "coder"]);
  });

  it("counts a GPU's memory when it has more than the RAM", () => {
    const big = entry("big", "fast", 10);
    const gpuWorker = { hardware: { hardwareClass: "gpu-large" as const, ramBytes: 8 * GiB, gpu: { type: "cuda", name: "H100", vramBytes: 80 * GiB } } };
    expect(names(assignModels([big], gpuWorker))).toEqual(["big"]);
    expect(memoryBudget(gpuWorker.hardware)).toBe(Math.floor(80 * GiB * 0.8));
  });

  it("downloads a file uploaded under two names (two tiers) once", () => {
    const fast = entry("tiny-fast", "fast", 1);
    const code = { ...entry("tiny-code", "code", 1), sha256: fast.sha256 };
    const out = assignModels([fast, code], cpuMid(64, { capGiB: 1.5, freeGiB: 100 }));
    expect(names(out)).toEqual(["tiny-fast", "tiny-code"]);
    expect(1 * CHAT_MEMORY_FACTOR * 2).toBeLessThan(64 * 0.8);
  });

  it("compares assignments by names, files and roles, in any order", () => {
    const a = assignModels([entry("x", "fast", 1), entry("y", "embedding", 0.1)], cpuMid(16));
    expect(sameAssignment(a, [...a].reverse())).toBe(true);
    expect(sameAssignment(a, a.slice(1))).toBe(false);
    expect(sameAssignment(a, a.map((m) => (m.name === "x" ? { ...m, role: "code" as const } : m)))).toBe(false);
    expect(diskBudget(undefined)).toBe(Number.POSITIVE_INFINITY);
  });
});
