/**
 * Federation benchmark (`npm run bench:federation`): three pools on loopback, bonded and promoted.
 *
 * 1. Replication latency of a small envelope: a memory created on A, timed until it is listed on
 *    B and on C (bench/federation/latency.ts), ≥ 200 samples. Target: p99 ≤ 1 s.
 * 2. Convergence after a partition: C cut off from A and B for 30 s (fault proxies) while both
 *    sides write; time from the heal until the three pools list the same memories
 *    (bench/federation/partition.ts). Target: ≤ 2 s.
 * 3. Envelope signature verifications per second, the pool's verifyEnvelope against Node's raw
 *    Ed25519 verify of the same bytes (bench/federation/verify.ts). Target: ratio ≥ 0.8.
 *
 * Options (env): FED_BENCH_SAMPLES (default 200), FED_BENCH_PARTITION_S (default 30).
 * Output: a table on stdout, progress on stderr, JSON in bench/results/federation-latest.json and
 * bench/results/federation-<timestamp>.json. Exits 0 once measurements are complete, targets met
 * or not; non-zero when the benchmark could not run. About 2 minutes on a 2-core machine.
 */
import { existsSync } from "node:fs";
import { configureLogging } from "../src/shared/logger.js";
import { CLI } from "../test/helpers.js";
import { startCluster, stopCluster, type Cluster } from "./federation/cluster.js";
import { measureReplicationLatency, type LatencyResult } from "./federation/latency.js";
import { measurePartition, type PartitionResult } from "./federation/partition.js";
import { progress, sleep } from "./federation/progress.js";
import { measureVerify, type VerifyResult } from "./federation/verify.js";
import { check, machine, makeReport, publish, runBenchmark, type Check, type Row, type Section } from "./report.js";

const WATCHDOG_MS = 10 * 60_000;
const SAMPLES = Number(process.env.FED_BENCH_SAMPLES ?? 200);
const PARTITION_S = Number(process.env.FED_BENCH_PARTITION_S ?? 30);
/** The pools' own defaults, except the probes (they would only add noise here). */
const POOL_ENV = { CELLULE_FED_SYNC_INTERVAL_MS: "1000", CELLULE_FED_PROBE_INTERVAL_MS: "5000", CELLULE_LOG_LEVEL: "warn" };

const NOTES = [
  "Pools: three `cellule pool` processes (embedded PGlite) on 127.0.1.1, 127.0.2.1 and 127.0.3.1, each advertising a fault-injecting TCP proxy in this process (127.0.x.2) as its URL, so every federation connection to a pool crosses its proxy (no delay added outside the partition). Anti-entropy pull every 1 s (the default CELLULE_FED_SYNC_INTERVAL_MS), latency probes every 5 s.",
  "Phase 1: one sample at a time; the clock starts just before POST /v1/projects/{id}/memories on A (the write's own time is included) and stops when GET /v1/projects/{id}/memories lists it, on B and on C (each polled every 2 ms while the sample is in flight; the reported figure is the slower of the two). The envelope is pushed on write; the pull only matters when a push was lost.",
  "Phase 2: C's proxy refuses every source and A's and B's proxies refuse C's source address (127.0.3.1, where C's outbound federation connections are bound); live connections are cut. Writes go on on A (~2/s) and on C (~1/s) for the whole partition (a fresh project; at most 180 writes, a project holds at most 200 memories). The clock starts when the proxies stop refusing and stops when the three pools list exactly the expected set of memories (polled every 20 ms).",
  "Phase 3: in this process; the same small memory.create envelope (~600 bytes); pool path = verifyEnvelope (canonical JSON of the payload, sha256 against payload_hash, Ed25519 over the signed text with a cached KeyObject); raw = crypto.verify(null, signedBytes, keyObject, signatureBuffer) prepared once. Alternating rounds, median rate of each.",
  "The machine is shared: loadAvg1mAtStart shows how busy it was.",
];

function sections(lat: LatencyResult, part: PartitionResult, ver: VerifyResult, checks: Check[]): Section[] {
  const find = (id: string) => checks.find((c) => c.id === id);
  const rows: Row[][] = [
    [
      { metric: "samples (memory created on A)", value: String(lat.samples) },
      { metric: "visible on B and C, p50", value: `${lat.both.p50.toFixed(1)} ms` },
      { metric: "visible on B and C, p90", value: `${lat.both.p90.toFixed(1)} ms` },
      { metric: "visible on B and C, p99", value: `${lat.both.p99.toFixed(1)} ms`, check: find("latency.p99") },
      { metric: "visible on B and C, max", value: `${lat.both.max.toFixed(1)} ms` },
      { metric: "to B p50 / p99", value: `${lat.toB.p50.toFixed(1)} / ${lat.toB.p99.toFixed(1)} ms` },
      { metric: "to C p50 / p99", value: `${lat.toC.p50.toFixed(1)} / ${lat.toC.p99.toFixed(1)} ms` },
      { metric: "the write on A itself p50 / p99", value: `${lat.writeMs.p50.toFixed(1)} / ${lat.writeMs.p99.toFixed(1)} ms` },
    ],
    [
      { metric: "partition length", value: `${part.partitionS} s` },
      { metric: "writes during it on A / on C", value: `${part.writesOnMajority} / ${part.writesOnIsolated}` },
      { metric: "C isolated during the partition", value: part.isolatedDuringPartition ? "yes" : "NO" },
      { metric: "memories per pool after convergence", value: String(part.memoriesPerPool) },
      { metric: "convergence after the heal", value: `${(part.convergenceMs / 1000).toFixed(2)} s`, check: find("partition.convergence") },
    ],
    [
      { metric: "envelope size", value: `${ver.envelopeBytes} B` },
      { metric: "pool verifyEnvelope / s", value: ver.poolPerSecond.toLocaleString("en-US") },
      { metric: "raw Ed25519 verify / s", value: ver.rawPerSecond.toLocaleString("en-US") },
      { metric: "pool / raw", value: ver.ratio.toFixed(3), check: find("verify.ratio") },
    ],
  ];
  const titles = ["1. Replication latency of a small envelope (A → B and C)", `2. Convergence after a ${part.partitionS} s partition of C`, "3. Envelope signature verification"];
  return rows.map((section, i) => ({ title: titles[i]!, rows: section }));
}

let cluster: Cluster | undefined;

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  configureLogging("warn");
  const started = new Date();
  const environment = machine();


  progress("phase 3 first (no pools running yet): signature verification rates");
  const verify = measureVerify();

  cluster = await startCluster(POOL_ENV);
  const c = cluster;
  /** A project created on A, returned once B and C have it too. */
  const newProject = async (): Promise<string> => {
    const project = await c.a.call<{ id: string }>("POST", "/v1/projects", { name: "Federation bench", language: "english" });
    for (const n of ["b", "c"] as const) {
      const until = Date.now() + 30_000;
      for (;;) {
        const r = await fetch(`${c[n].pool.url}/v1/projects/${project.id}/memories`, { headers: { authorization: `Bearer ${c[n].adminKey}` } });
        if (r.ok) break;
        if (Date.now() > until) throw new Error(`project ${project.id} never reached ${n}`);
        await sleep(50);
      }
    }
    return project.id;
  };
  progress(`phase 1: ${SAMPLES} replication latency samples`);
  const latency = await measureReplicationLatency(cluster, newProject, SAMPLES);
  progress("phase 2: partition and heal");
  const partition = await measurePartition(cluster, await newProject(), PARTITION_S);

  const checks = [
    check("latency.p99", "replication latency p99 (visible on B and C)", latency.both.p99, "ms", "≤", 1000),
    check("partition.convergence", `convergence after a ${PARTITION_S} s partition heals`, Math.round(partition.convergenceMs) / 1000, "s", "≤", 2),
    check("verify.ratio", "verifyEnvelope / raw Ed25519 verify", verify.ratio, "", "≥", 0.8),
  ];
  publish(makeReport("federation", started, environment, NOTES, checks, { latency, partition, verify }), sections(latency, partition, verify, checks), progress);
}

runBenchmark({
  watchdogMs: WATCHDOG_MS,
  progress,
  main,
  cleanup: async () => {
    if (cluster) await stopCluster(cluster);
  },
});
