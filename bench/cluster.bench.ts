/**
 * Cluster benchmark (`npm run bench:cluster`): what forwarding between bonded pools costs (issue 15).
 * Three pools on loopback (127.0.1.1, 127.0.2.1, 127.0.3.1), bonded at trust 3 (test/cluster.ts).
 *
 * 1. Added latency of a forward. An instant worker (CELLULE_RUNTIME=instant, 16 slots) on C only;
 *    the same non-streamed chat (max_tokens 16) sent to A (forwarded to C) and to C directly, by the
 *    same keep-alive client, in interleaved rounds after a warm-up, at c=1 and c=8. "Added" = A's
 *    percentile − C's percentile. Targets: added p50 ≤ 1 ms, added p99 ≤ 3 ms.
 * 2. End to end with stories260K. A real worker (1 slot, 1 llama thread) on C only; 200 streamed
 *    chats (fixed seeds, max_tokens 128) via A and via C at c=1, in 4 segments of 50 run in ABBA
 *    order (C→A, A→C, ...). Target: total time via A / via C ≤ 1.05.
 * 3. Memory. 50 idle instant workers (in-process WorkerAgents of this process, each enrolled with its
 *    own token) spread over the three pools (17/17/16); VmRSS of each pool process (and of its
 *    database process) settled, before and after. Target (the gateway's): each pool ≤ 150 MB.
 * 4. Key propagation (phase `keys`, bench/cluster-access.bench.ts on its own three pools, behind
 *    fault proxies, failed-auth budget raised): 50 API keys created on A until usable on B and C,
 *    revoked on B until refused on A and C. Target: p99 ≤ 1 s.
 *
 * CELLULE_BENCH_PHASES=overhead,e2e,memory,keys (the default: all) runs only some phases.
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/cluster-<timestamp>.json and
 * cluster-latest.json. Exits 0 once measured (targets met or not), non-zero when it could not run.
 */
import { existsSync } from "node:fs";
import { configureLogging } from "../src/shared/logger.js";
import type { WorkerAgent } from "../src/worker/agent.js";
import { startCluster, type ClusterNode } from "../test/cluster.js";
import { keyPropagationChecks, keyPropagationSection, measureKeyPropagation, type KeyPropagationResult } from "./cluster-access.bench.js";
import { startCluster as startProxiedCluster, stopCluster as stopProxiedCluster } from "./federation/cluster.js";
import { CLI, databaseProcessOf, modelPath, startWorker, waitFor } from "../test/helpers.js";
import { stopGracefully } from "./gateway/child.js";
import { KeepAliveClient } from "./gateway/http-client.js";
import { connectAgent, createTokens, settledMemory } from "./gateway/memory.js";
import { readMemory, type MemorySnapshot } from "./gateway/procfs.js";
import { round3, runClosedLoop, summarize, type Summary } from "./gateway/stats.js";
import { check, machine, makeReport, progressOf, publish, runBenchmark, type Check, type Row, type Section } from "./report.js";

const progress = progressOf("cluster");
const WATCHDOG_MS = 20 * 60_000;
const CHAT_PATH = "/v1/chat/completions";
const INSTANT_BODY = JSON.stringify({ model: "instant", messages: [{ role: "user", content: "Say ok sixteen times." }], max_tokens: 16 });
const OVERHEAD_PLAN = [
  { concurrency: 1, rounds: 4, perRound: 300 },
  { concurrency: 8, rounds: 4, perRound: 1000 },
] as const;
const WARMUP = { requests: 1000, concurrency: 8, thenSequential: 200 };
const E2E = { requests: 200, segments: 4, warmup: 8, maxTokens: 128, temperature: 0.8, seedBase: 2000 } as const;
const MEMORY_WORKERS = 50;
const MB = 1e6;

type Nodes = { a: ClusterNode; b: ClusterNode; c: ClusterNode };

interface OverheadLevel {
  concurrency: number;
  viaA: Summary;
  direct: Summary;
  addedP50Ms: number;
  addedP99Ms: number;
  errors: number;
}

interface EndToEnd {
  requests: number;
  maxTokens: number;
  viaA: { totalMs: number; latency: Summary; ttft: Summary };
  direct: { totalMs: number; latency: Summary; ttft: Summary };
  ratio: number;
  identicalOutputs: number;
}

interface PoolMemory {
  pool: string;
  workers: number;
  idle: MemorySnapshot;
  withWorkers: MemorySnapshot;
  databaseProcess: MemorySnapshot | null;
}

interface Results {
  overhead: OverheadLevel[];
  endToEnd: EndToEnd | undefined;
  memory: PoolMemory[];
  forwarded: { aOutTotal: number; cInTotal: number };
  /** Phase `keys`: API-key propagation (bench/cluster-access.bench.ts). */
  keys: KeyPropagationResult | undefined;
}

const NOTES = [
  "Overhead: both sides are non-streamed chats answered by the same instant worker on C; via A adds A's API handling, the placement rule, the peer-signed forward (Ed25519 sign on A, verify on C), C's job and the NDJSON answer back. Interleaved rounds (C→A, then A→C, ...) after a warm-up; added = percentile via A − percentile direct (a difference of percentiles).",
  "End to end: 200 streamed chats (stream_options.include_usage) with fixed seeds, 4 segments of 50 in ABBA order after 8 warm-up requests per side; 1 slot, 1 llama thread on C's worker. identicalOutputs counts requests whose text is the same both ways.",
  "Memory: in-process WorkerAgents (InstantRuntime, 1 slot each) of the benchmark process, 17/17/16 on A/B/C; RSS is the median of 5 readings after 3 s of settling (VmRSS, /proc/<pid>/status; MB = 10^6 bytes). Every pool also receives the others' capacity summaries (every second and on change), which carry their worker lists.",
  "The machine is shared: loadAvg1mAtStart/AtEnd show how busy it was; compare runs with similar load.",
];

async function closedLoop(client: KeepAliveClient, n: number, concurrency: number): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  await runClosedLoop(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async () => {
      const r = await client.post(CHAT_PATH, INSTANT_BODY);
      if (r.status === 200) latencies.push(r.ms);
      else errors++;
    },
  );
  return { latencies, errors };
}

async function measureOverhead(nodes: Nodes): Promise<OverheadLevel[]> {
  progress("overhead: starting an instant worker on C (16 slots)");
  const worker = await startWorker(nodes.c.http.pool, { slots: 16, env: { CELLULE_RUNTIME: "instant", CELLULE_LOG_LEVEL: "warn" } });
  const clients = { viaA: new KeepAliveClient(nodes.a.pool.url, nodes.a.key, 8), direct: new KeepAliveClient(nodes.c.pool.url, nodes.c.key, 8) };
  try {
    await waitFor(async () => (await clients.viaA.post(CHAT_PATH, INSTANT_BODY)).status === 200, "A to forward to C's instant worker", 30_000, 200);
    progress(`overhead: warming up (${WARMUP.requests} at c=${WARMUP.concurrency}, then ${WARMUP.thenSequential} at c=1, each side)`);
    for (const client of [clients.direct, clients.viaA]) {
      await closedLoop(client, WARMUP.requests, WARMUP.concurrency);
      await closedLoop(client, WARMUP.thenSequential, 1);
    }
    const levels: OverheadLevel[] = [];
    for (const plan of OVERHEAD_PLAN) {
      const acc = { viaA: [] as number[], direct: [] as number[] };
      let errors = 0;
      for (let round = 0; round < plan.rounds; round++) {
        const order = round % 2 === 0 ? (["direct", "viaA"] as const) : (["viaA", "direct"] as const);
        for (const side of order) {
          const r = await closedLoop(clients[side], plan.perRound, plan.concurrency);
          acc[side].push(...r.latencies);
          errors += r.errors;
        }
        progress(`overhead c=${plan.concurrency}: round ${round + 1}/${plan.rounds} done`);
      }
      const viaA = summarize(acc.viaA);
      const direct = summarize(acc.direct);
      levels.push({ concurrency: plan.concurrency, viaA, direct, addedP50Ms: round3(viaA.p50 - direct.p50), addedP99Ms: round3(viaA.p99 - direct.p99), errors });
    }
    return levels;
  } finally {
    clients.viaA.close();
    clients.direct.close();
    await stopGracefully(worker, "instant worker");
  }
}

function chatBody(i: number): string {
  const subjects = ["a cat", "a little dog", "a red ball", "a big tree", "a girl named Lily", "a boy named Tim", "the sun", "a small bird"];
  return JSON.stringify({
    model: "stories260K",
    messages: [{ role: "user", content: `Tell me a story about ${subjects[i % subjects.length]} (story ${i}).` }],
    max_tokens: E2E.maxTokens,
    temperature: E2E.temperature,
    seed: E2E.seedBase + i,
    stream: true,
    stream_options: { include_usage: true },
  });
}

async function measureEndToEnd(nodes: Nodes): Promise<EndToEnd> {
  progress("end to end: starting a stories260K worker on C (1 slot, 1 thread)");
  const worker = await startWorker(nodes.c.http.pool, { slots: 1, env: { CELLULE_LOG_LEVEL: "warn" } });
  const clients = { viaA: new KeepAliveClient(nodes.a.pool.url, nodes.a.key, 1), direct: new KeepAliveClient(nodes.c.pool.url, nodes.c.key, 1) };
  try {
    await waitFor(async () => (await clients.viaA.postChatStream(CHAT_PATH, chatBody(0)).then(() => true).catch(() => false)), "A to forward to C's stories260K worker", 60_000, 500);
    for (const side of ["direct", "viaA"] as const) for (let i = 0; i < E2E.warmup; i++) await clients[side].postChatStream(CHAT_PATH, chatBody(E2E.requests + i));
    const per = E2E.requests / E2E.segments;
    const acc = { viaA: { ms: [] as number[], ttft: [] as number[], total: 0, texts: new Map<number, string>() }, direct: { ms: [] as number[], ttft: [] as number[], total: 0, texts: new Map<number, string>() } };
    for (let seg = 0; seg < E2E.segments; seg++) {
      const order = seg % 2 === 0 ? (["direct", "viaA"] as const) : (["viaA", "direct"] as const);
      for (const side of order) {
        const started = performance.now();
        for (let i = seg * per; i < (seg + 1) * per; i++) {
          const r = await clients[side].postChatStream(CHAT_PATH, chatBody(i));
          acc[side].ms.push(r.ms);
          acc[side].ttft.push(r.ttftMs);
          acc[side].texts.set(i, r.text);
        }
        acc[side].total += performance.now() - started;
      }
      progress(`end to end: segment ${seg + 1}/${E2E.segments} done`);
    }
    let identical = 0;
    for (const [i, text] of acc.direct.texts) if (acc.viaA.texts.get(i) === text) identical++;
    const side = (s: typeof acc.viaA) => ({ totalMs: Math.round(s.total), latency: summarize(s.ms), ttft: summarize(s.ttft) });
    return { requests: E2E.requests, maxTokens: E2E.maxTokens, viaA: side(acc.viaA), direct: side(acc.direct), ratio: round3(acc.viaA.total / acc.direct.total), identicalOutputs: identical };
  } finally {
    clients.viaA.close();
    clients.direct.close();
    await stopGracefully(worker, "stories260K worker");
  }
}

async function measureMemory(nodes: Nodes): Promise<PoolMemory[]> {
  const all = [nodes.a, nodes.b, nodes.c];
  const counts = [17, 17, 16];
  progress("memory: idle pools");
  const idle = await Promise.all(all.map((n) => settledMemory(n.pool.proc.pid!)));
  const agents: WorkerAgent[] = [];
  configureLogging("error"); // the agents log through this process's root logger (stdout)
  try {
    let k = 0;
    for (const [j, n] of all.entries()) {
      const admin = new KeepAliveClient(n.pool.url, n.admin, 1);
      try {
        for (const token of await createTokens(admin, counts[j]!)) agents.push(await connectAgent(n.pool.url, token, k++));
      } finally {
        admin.close();
      }
      progress(`memory: ${counts[j]} workers connected to ${n.name}`);
    }
    const withWorkers = await Promise.all(all.map((n) => settledMemory(n.pool.proc.pid!)));
    return all.map((n, j) => {
      const db = databaseProcessOf(n.pool.proc.pid!);
      return { pool: n.name, workers: counts[j]!, idle: idle[j]!, withWorkers: withWorkers[j]!, databaseProcess: db ? readMemory(db) : null };
    });
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
}

function buildChecks(r: Results): Check[] {
  const checks: Check[] = [];
  for (const l of r.overhead) {
    checks.push(check(`forward-added-p50-c${l.concurrency}`, `added p50 via A, c=${l.concurrency}`, l.addedP50Ms, "ms", "≤", 1));
    checks.push(check(`forward-added-p99-c${l.concurrency}`, `added p99 via A, c=${l.concurrency}`, l.addedP99Ms, "ms", "≤", 3));
  }
  if (r.endToEnd) checks.push(check("stories-ratio-c1", "200 chats via A / via C, c=1", r.endToEnd.ratio, "×", "≤", 1.05));
  for (const m of r.memory) checks.push(check(`rss-${m.pool}`, `pool ${m.pool} RSS with its workers`, Math.round(m.withWorkers.rssBytes / MB), "MB", "≤", 150));
  return checks;
}

function sections(r: Results, checks: Check[]): Section[] {
  const byId = new Map(checks.map((c) => [c.id, c]));
  const overhead: Row[] = [];
  for (const l of r.overhead) {
    overhead.push({ metric: `c=${l.concurrency} p50 via A / direct (ms)`, value: `${l.viaA.p50} / ${l.direct.p50}` });
    overhead.push({ metric: `c=${l.concurrency} added p50 (ms)`, value: String(l.addedP50Ms), check: byId.get(`forward-added-p50-c${l.concurrency}`) });
    overhead.push({ metric: `c=${l.concurrency} p99 via A / direct (ms)`, value: `${l.viaA.p99} / ${l.direct.p99}` });
    overhead.push({ metric: `c=${l.concurrency} added p99 (ms)`, value: String(l.addedP99Ms), check: byId.get(`forward-added-p99-c${l.concurrency}`) });
  }
  const e = r.endToEnd;
  const e2e: Row[] = e
    ? [
        { metric: "total via A / direct (s)", value: `${(e.viaA.totalMs / 1000).toFixed(1)} / ${(e.direct.totalMs / 1000).toFixed(1)}` },
        { metric: "ratio via A / direct", value: String(e.ratio), check: byId.get("stories-ratio-c1") },
        { metric: "TTFT p50 via A / direct (ms)", value: `${e.viaA.ttft.p50} / ${e.direct.ttft.p50}` },
        { metric: "identical outputs", value: `${e.identicalOutputs} / ${e.requests}` },
      ]
    : [];
  const memory: Row[] = r.memory.map((m) => ({
    metric: `pool ${m.pool}: RSS idle → ${m.workers} workers (MB); db process`,
    value: `${(m.idle.rssBytes / MB).toFixed(1)} → ${(m.withWorkers.rssBytes / MB).toFixed(1)}; ${m.databaseProcess ? (m.databaseProcess.rssBytes / MB).toFixed(1) : "?"}`,
    check: byId.get(`rss-${m.pool}`),
  }));
  return [
    { title: "Forward overhead (instant worker on C; A → C against C directly)", rows: overhead },
    { title: `End to end (stories260K on C, ${E2E.requests} streamed chats, c=1)`, rows: e2e },
    { title: `Memory (${MEMORY_WORKERS} idle workers over 3 pools)`, rows: memory },
    { title: "Forwarded requests", rows: [{ metric: "A sent / C served (totals)", value: `${r.forwarded.aOutTotal} / ${r.forwarded.cInTotal}` }] },
  ];
}

/** Phase `keys`: key propagation on three other pools (each revocation ends on refused requests: the failed-auth budget is raised). */
async function measureKeys(): Promise<KeyPropagationResult> {
  progress("keys: starting three more bonded pools (behind fault proxies)");
  const cluster = await startProxiedCluster({ CELLULE_FED_SYNC_INTERVAL_MS: "1000", CELLULE_FED_PROBE_INTERVAL_MS: "5000", CELLULE_LOG_LEVEL: "warn", CELLULE_AUTH_FAILURE_LIMIT: "100000" });
  try {
    return await measureKeyPropagation(cluster, Number(process.env.CLUSTER_ACCESS_KEYS ?? 50));
  } finally {
    await stopProxiedCluster(cluster);
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  modelPath();
  const started = new Date();
  const env = machine();
  progress("starting three bonded pools");
  const nodes = (await startCluster({ env: { CELLULE_LOG_LEVEL: "warn" } })) as unknown as Nodes;
  const phases = new Set((process.env.CELLULE_BENCH_PHASES ?? "overhead,e2e,memory,keys").split(",").map((p) => p.trim()));
  const overhead = phases.has("overhead") ? await measureOverhead(nodes) : [];
  const endToEnd = phases.has("e2e") ? await measureEndToEnd(nodes) : undefined;
  const memory = phases.has("memory") ? await measureMemory(nodes) : [];
  const keys = phases.has("keys") ? await measureKeys() : undefined;
  const clusterA = (await (await fetch(`${nodes.a.pool.url}/v1/admin/cluster`, { headers: { authorization: `Bearer ${nodes.a.admin}` } })).json()) as { forwarded: { out_total: number } };
  const clusterC = (await (await fetch(`${nodes.c.pool.url}/v1/admin/cluster`, { headers: { authorization: `Bearer ${nodes.c.admin}` } })).json()) as { forwarded: { in_total: number } };
  const results: Results = { overhead, endToEnd, memory, keys, forwarded: { aOutTotal: clusterA.forwarded.out_total, cInTotal: clusterC.forwarded.in_total } };
  const checks = [...buildChecks(results), ...(keys ? keyPropagationChecks(keys) : [])];
  publish(makeReport("cluster", started, env, NOTES, checks, results), [...sections(results, checks), ...(keys ? [keyPropagationSection(keys, checks)] : [])], progress);
}

runBenchmark({ watchdogMs: WATCHDOG_MS, progress, main });
