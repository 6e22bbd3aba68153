/**
 * Convergence after a partition: C is cut off from A and B (its proxy refuses everyone, and A's
 * and B's proxies refuse C's source address; live connections are cut) for `partitionS` seconds
 * while writes go on on both sides (memories on A and on C, ~2/s and ~1/s, at most 180 in all: a
 * project holds at most 200 memories). Then the partition heals, and the
 * time from the heal until the three pools list the same memories (the full expected set) is
 * measured, polling every 20 ms.
 */
import { HOSTS, NAMES, type Cluster } from "./cluster.js";
import { progress, round, sleep } from "./progress.js";

export interface PartitionResult {
  partitionS: number;
  writesOnMajority: number;
  writesOnIsolated: number;
  /** C had none of A's partition-time writes (and A none of C's) just before the heal. */
  isolatedDuringPartition: boolean;
  /** Heal → every pool lists every memory, ms. */
  convergenceMs: number;
  memoriesPerPool: number;
}

const ids = async (cluster: Cluster, name: "a" | "b" | "c", projectId: string) =>
  new Set((await cluster[name].call<{ data: { id: string }[] }>("GET", `/v1/projects/${projectId}/memories`)).data.map((m) => m.id));

export async function measurePartition(cluster: Cluster, projectId: string, partitionS: number): Promise<PartitionResult> {
  const before = await ids(cluster, "a", projectId);
  progress(`partition: cutting C off from A and B for ${partitionS} s, writes on both sides`);
  cluster.c.proxy.block("*");
  cluster.a.proxy.block(HOSTS.c);
  cluster.b.proxy.block(HOSTS.c);

  const onA: string[] = [];
  const onC: string[] = [];
  const end = Date.now() + partitionS * 1000;
  let i = 0;
  while (Date.now() < end) {
    if (onA.length + onC.length >= 180) {
      await sleep(Math.min(250, Math.max(0, end - Date.now())));
      continue;
    }
    onA.push((await cluster.a.call<{ id: string }>("POST", `/v1/projects/${projectId}/memories`, { text: `Written on A during the partition (${i})` })).id);
    if (i % 2 === 0) onC.push((await cluster.c.call<{ id: string }>("POST", `/v1/projects/${projectId}/memories`, { text: `Written on C during the partition (${i})` })).id);
    i++;
    await sleep(Math.min(500, Math.max(0, end - Date.now())));
  }
  const [cNow, aNow] = await Promise.all([ids(cluster, "c", projectId), ids(cluster, "a", projectId)]);
  const isolated = onA.every((id) => !cNow.has(id)) && onC.every((id) => !aNow.has(id));
  const expected = new Set([...before, ...onA, ...onC]);

  progress(`partition: healing (${onA.length} writes on A, ${onC.length} on C meanwhile)`);
  const healed = performance.now();
  for (const n of NAMES) cluster[n].proxy.unblock("*");
  const deadline = healed + 60_000;
  for (;;) {
    const sets = await Promise.all(NAMES.map((n) => ids(cluster, n, projectId)));
    if (sets.every((s) => s.size === expected.size && [...expected].every((id) => s.has(id)))) break;
    if (performance.now() > deadline) throw new Error(`no convergence within 60 s of the heal (sizes ${sets.map((s) => s.size).join("/")}, expected ${expected.size})`);
    await sleep(20);
  }
  const convergenceMs = performance.now() - healed;
  return { partitionS, writesOnMajority: onA.length, writesOnIsolated: onC.length, isolatedDuringPartition: isolated, convergenceMs: round(convergenceMs, 1), memoriesPerPool: expected.size };
}
