/**
 * Replication latency of a small envelope: a memory (one short sentence) created on A through the
 * API, timed from just before the POST until it is listed on B and on C (each polled every
 * POLL_MS through the API while the sample is in flight). One sample at a time. A project holds
 * at most 200 memories, so a fresh project (replicated first) takes over every PER_PROJECT samples.
 */
import type { Cluster } from "./cluster.js";
import { percentile, progress, round, sleep } from "./progress.js";

const POLL_MS = 2;
const PER_PROJECT = 150;

export interface LatencyResult {
  samples: number;
  pollMs: number;
  /** Until listed on both B and C (the slower of the two), ms. */
  both: { p50: number; p90: number; p99: number; max: number; mean: number };
  toB: { p50: number; p99: number };
  toC: { p50: number; p99: number };
  writeMs: { p50: number; p99: number };
}

const stats = (values: number[]) => {
  const s = [...values].sort((x, y) => x - y);
  return { p50: round(percentile(s, 50)), p90: round(percentile(s, 90)), p99: round(percentile(s, 99)), max: round(s[s.length - 1] ?? Number.NaN), mean: round(s.reduce((x, y) => x + y, 0) / Math.max(1, s.length)) };
};

async function waitListed(cluster: Cluster, name: "b" | "c", projectId: string, memoryId: string, t0: number, timeoutMs: number): Promise<number> {
  const until = t0 + timeoutMs;
  while (performance.now() < until) {
    const list = await cluster[name].call<{ data: { id: string }[] }>("GET", `/v1/projects/${projectId}/memories`);
    if (list.data.some((m) => m.id === memoryId)) return performance.now() - t0;
    await sleep(POLL_MS);
  }
  throw new Error(`memory ${memoryId} not replicated to ${name} within ${timeoutMs} ms`);
}

export async function measureReplicationLatency(cluster: Cluster, newProject: () => Promise<string>, samples: number): Promise<LatencyResult> {
  let projectId = "";
  const both: number[] = [];
  const toB: number[] = [];
  const toC: number[] = [];
  const write: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i % PER_PROJECT === 0) projectId = await newProject();
    const t0 = performance.now();
    const m = await cluster.a.call<{ id: string }>("POST", `/v1/projects/${projectId}/memories`, { text: `Latency sample ${i}: the client prefers email.` });
    write.push(performance.now() - t0);
    const [b, c] = await Promise.all([waitListed(cluster, "b", projectId, m.id, t0, 10_000), waitListed(cluster, "c", projectId, m.id, t0, 10_000)]);
    toB.push(b);
    toC.push(c);
    both.push(Math.max(b, c));
    if ((i + 1) % 50 === 0) progress(`replication latency: ${i + 1}/${samples} samples (p50 so far ${stats(both).p50} ms)`);
  }
  const sb = stats(toB);
  const sc = stats(toC);
  const sw = stats(write);
  return { samples, pollMs: POLL_MS, both: stats(both), toB: { p50: sb.p50, p99: sb.p99 }, toC: { p50: sc.p50, p99: sc.p99 }, writeMs: { p50: sw.p50, p99: sw.p99 } };
}
