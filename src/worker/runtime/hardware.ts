/**
 * What the worker reports about its machine, and the hardware_class the pool routes by:
 * apple-m (Apple silicon), gpu-large (≥ 16 GiB VRAM), gpu-small (any other GPU),
 * cpu-mid (≥ 4 physical cores and ≥ 8 GiB RAM), cpu-low (the rest).
 */
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import type { Hardware, HardwareClass } from "../../protocol/worker.protocol.js";

const GiB = 1024 ** 3;

/** Physical cores (hyper-threads not counted), from /proc/cpuinfo on Linux. */
export function physicalCores(): number {
  const logical = Math.max(1, os.cpus().length);
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const cores = new Set<string>();
    for (const block of info.split(/\n\n+/)) {
      const phys = /physical id\s*:\s*(\d+)/.exec(block)?.[1];
      const core = /core id\s*:\s*(\d+)/.exec(block)?.[1];
      if (phys !== undefined && core !== undefined) cores.add(`${phys}:${core}`);
    }
    return cores.size > 0 ? Math.min(cores.size, logical) : logical;
  } catch {
    return logical;
  }
}

export function classify(h: { os: string; arch: string; physicalCores: number; ramBytes: number; gpu: Hardware["gpu"] }): HardwareClass {
  if (h.os === "darwin" && h.arch === "arm64") return "apple-m";
  if (h.gpu) return h.gpu.vramBytes >= 16 * GiB ? "gpu-large" : "gpu-small";
  return h.physicalCores >= 4 && h.ramBytes >= 8 * GiB ? "cpu-mid" : "cpu-low";
}

/** True when a GPU backend is worth trying (NVIDIA device node, or macOS Metal). */
export function gpuLikely(): boolean {
  return process.platform === "darwin" || existsSync("/dev/nvidia0") || existsSync("/dev/dri/renderD128");
}

export function describeHardware(gpu: Hardware["gpu"]): Hardware {
  const base = { os: process.platform, arch: process.arch, cores: Math.max(1, os.cpus().length), physicalCores: physicalCores(), ramBytes: os.totalmem(), gpu };
  return { ...base, hardwareClass: classify(base) };
}

/**
 * Default llama.cpp threads: the physical cores. Tiny models are the exception: their per-token work
 * is so small that thread synchronisation dominates (stories260K: ~1,500 tokens/s on 1 thread,
 * ~80 tokens/s on 2 threads of this 2-core machine), so a model under 64 MiB gets one thread.
 */
export function defaultThreads(modelBytes: number): number {
  return modelBytes < 64 * 1024 * 1024 ? 1 : physicalCores();
}
