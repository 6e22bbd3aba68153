/** Latency statistics for the gateway benchmark (all values in milliseconds). */
import { progressOf } from "../report.js";

export interface Summary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending-sorted array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return {
    n: s.length,
    min: round3(s[0] ?? Number.NaN),
    mean: round3(mean),
    p50: round3(percentile(s, 50)),
    p90: round3(percentile(s, 90)),
    p95: round3(percentile(s, 95)),
    p99: round3(percentile(s, 99)),
    max: round3(s[s.length - 1] ?? Number.NaN),
  };
}

/**
 * Closed-loop load: `concurrency` loops each take the next index and await `fn(index)` until all
 * `indices` are done. Returns the wall time of the whole run in ms.
 */
export async function runClosedLoop(indices: readonly number[], concurrency: number, fn: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  const loop = async () => {
    while (next < indices.length) await fn(indices[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, indices.length) }, loop));
  return performance.now() - start;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Progress lines of bench:gateway (stderr). */
export const progress = progressOf("gateway");
