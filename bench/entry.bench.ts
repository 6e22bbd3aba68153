/**
 * Entry benchmark (`npm run bench:entry`): what the unified entry (nginx from `cellule entry nginx`,
 * issue 17) costs and what it saves.
 *
 * 1. overhead: non-streamed POST /v1/chat/completions (max_tokens 16) to one pool with an instant
 *    worker (CELLULE_RUNTIME=instant, 16 slots), straight and through nginx in front of that same
 *    pool, at concurrency 1 and 16: the same keep-alive client, a warm-up, interleaved rounds
 *    (direct→entry, entry→direct, ...). Added latency = entry percentile − direct percentile.
 *    Target at c=1: added p50 ≤ 0.3 ms.
 * 2. kill: three bonded pools (test/cluster.ts), an instant worker on each, nginx over the three;
 *    chats sent open-loop at 50 req/s for 10 s through the entry, kill -9 of one pool after 3 s.
 *    Target: 0 failed among the requests started ≥ 1 s after the kill.
 * 3. vip: measureVipTakeover (bench/entry/vip-takeover.ts): three hosts in network namespaces,
 *    10 kills of the VIP holder's pool, takeover p95 ≤ 3 s, never two holders (needs root).
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/entry-<timestamp>.json and
 * entry-latest.json. Exits 0 once measured (targets met or not), non-zero when it could not run.
 */
import { measureVipTakeover, type VipTakeoverResult } from "./entry/vip-takeover.js";
import { existsSync } from "node:fs";
import { startCluster } from "../test/cluster.js";
import { CLI, startPool, startWorker } from "../test/helpers.js";
import { NGINX, startNginxEntry } from "../test/nginx.js";
import { stopGracefully } from "./gateway/child.js";
import { KeepAliveClient } from "./gateway/http-client.js";
import { round3, runClosedLoop, sleep, summarize, type Summary } from "./gateway/stats.js";
import { check, machine, makeReport, progressOf, publish, runBenchmark, type Check, type Section } from "./report.js";

const progress = progressOf("entry");
const WATCHDOG_MS = 15 * 60_000;
const CHAT_PATH = "/v1/chat/completions";
const BODY = JSON.stringify({ model: "instant", messages: [{ role: "user", content: "Say ok sixteen times." }], max_tokens: 16 });
const PLAN = [
  { concurrency: 1, rounds: 4, perRound: 500 },
  { concurrency: 16, rounds: 4, perRound: 2000 },
] as const;
const KILL = { perSecond: 50, seconds: 10, killAfterMs: 3000 };

interface Side {
  latency: Summary;
  errors: number;
}
interface OverheadLevel {
  concurrency: number;
  direct: Side;
  entry: Side;
  addedP50Ms: number;
  addedP99Ms: number;
}
interface KillResult {
  requests: number;
  failed: number;
  /** Failed among the requests started ≥ 1 s after the kill. */
  failedAfterKillPlus1s: number;
  /** Failed requests: ms from the kill to their start (negative: started before it) and what they got. */
  failures: { startedMsAfterKill: number; status: number }[];
  latencyAfterKill: Summary;
}
interface Results {
  overhead?: OverheadLevel[];
  kill?: KillResult;
  vip?: VipTakeoverResult;
}

async function closedLoop(client: KeepAliveClient, n: number, concurrency: number): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  await runClosedLoop(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async () => {
      const r = await client.post(CHAT_PATH, BODY).catch(() => ({ status: 0, ms: 0 }));
      if (r.status === 200) latencies.push(r.ms);
      else errors++;
    },
  );
  return { latencies, errors };
}

async function measureOverhead(): Promise<OverheadLevel[]> {
  progress("overhead: one pool, an instant worker (16 slots), nginx in front of it");
  const pool = await startPool({ env: { CELLULE_LOG_LEVEL: "warn" } });
  const key = await pool.createKey();
  const worker = await startWorker(pool, { slots: 16, env: { CELLULE_RUNTIME: "instant", CELLULE_LOG_LEVEL: "warn" } });
  const nginx = await startNginxEntry([`127.0.0.1:${pool.port}`]);
  const clients = { direct: new KeepAliveClient(pool.url, key, 16), entry: new KeepAliveClient(nginx.url, key, 16) };
  try {
    for (const side of ["direct", "entry"] as const) {
      const r = await clients[side].post(CHAT_PATH, BODY);
      if (r.status !== 200) throw new Error(`${side}: ${r.status} ${r.body.slice(0, 300)}`);
      await closedLoop(clients[side], 2000, 16);
      await closedLoop(clients[side], 300, 1);
    }
    const levels: OverheadLevel[] = [];
    for (const plan of PLAN) {
      const acc = { direct: { latencies: [] as number[], errors: 0 }, entry: { latencies: [] as number[], errors: 0 } };
      for (let round = 0; round < plan.rounds; round++) {
        for (const side of round % 2 === 0 ? (["direct", "entry"] as const) : (["entry", "direct"] as const)) {
          const r = await closedLoop(clients[side], plan.perRound, plan.concurrency);
          acc[side].latencies.push(...r.latencies);
          acc[side].errors += r.errors;
        }
        progress(`overhead c=${plan.concurrency}: round ${round + 1}/${plan.rounds}`);
      }
      const direct = { latency: summarize(acc.direct.latencies), errors: acc.direct.errors };
      const entry = { latency: summarize(acc.entry.latencies), errors: acc.entry.errors };
      levels.push({ concurrency: plan.concurrency, direct, entry, addedP50Ms: round3(entry.latency.p50 - direct.latency.p50), addedP99Ms: round3(entry.latency.p99 - direct.latency.p99) });
    }
    return levels;
  } finally {
    clients.direct.close();
    clients.entry.close();
    await nginx.stop();
    await stopGracefully(worker, "instant worker");
    await stopGracefully(pool, "pool");
  }
}

async function measureKill(): Promise<KillResult> {
  progress("kill: three bonded pools, an instant worker on each, nginx over the three");
  const nodes = await startCluster({ env: { CELLULE_LOG_LEVEL: "warn" } });
  const all = Object.values(nodes);
  await Promise.all(all.map((n) => startWorker(n.http.pool, { slots: 4, env: { CELLULE_RUNTIME: "instant", CELLULE_LOG_LEVEL: "warn" } })));
  const key = nodes.a!.key;
  // a's key reaches b and c (replicated) before the load is spread over them.
  for (const n of all) {
    const client = new KeepAliveClient(n.pool.url, key, 1);
    for (let i = 0; (await client.post(CHAT_PATH, BODY)).status !== 200; i++) {
      if (i > 100) throw new Error(`a's key never worked on ${n.name}`);
      await sleep(100);
    }
    client.close();
  }
  const nginx = await startNginxEntry(all.map((n) => `${n.host}:${n.pool.port}`));
  const client = new KeepAliveClient(nginx.url, key, 64);
  try {
    const count = KILL.perSecond * KILL.seconds;
    let killedAt = Number.POSITIVE_INFINITY;
    setTimeout(() => {
      killedAt = performance.now();
      nodes.c!.pool.proc.kill("SIGKILL");
      progress("kill: pool c killed (SIGKILL)");
    }, KILL.killAfterMs);
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        await sleep(Math.max(0, t0 + (i * 1000) / KILL.perSecond - performance.now()));
        const startedAt = performance.now();
        const r = await client.post(CHAT_PATH, BODY).catch(() => ({ status: 0, ms: 0 }));
        return { startedAt, status: r.status, ms: r.ms };
      }),
    );
    const failed = results.filter((r) => r.status !== 200);
    return {
      requests: results.length,
      failed: failed.length,
      failedAfterKillPlus1s: failed.filter((r) => r.startedAt >= killedAt + 1000).length,
      failures: failed.map((r) => ({ startedMsAfterKill: Math.round(r.startedAt - killedAt), status: r.status })),
      latencyAfterKill: summarize(results.filter((r) => r.status === 200 && r.startedAt >= killedAt).map((r) => r.ms)),
    };
  } finally {
    client.close();
    await nginx.stop();
  }
}

/** The phases, in order (BENCH_ENTRY_PHASES=overhead,kill,vip selects some). */
const PHASES: { name: string; run: (r: Results) => Promise<void> }[] = [
  { name: "overhead", run: async (r) => void (r.overhead = await measureOverhead()) },
  { name: "kill", run: async (r) => void (r.kill = await measureKill()) },
  { name: "vip", run: async (r) => void (r.vip = await measureVipTakeover()) },
];

function buildChecks(r: Results): Check[] {
  const checks: Check[] = [];
  const c1 = r.overhead?.find((l) => l.concurrency === 1);
  if (c1) checks.push(check("entry_added_p50_c1", "added p50 through nginx, c=1", c1.addedP50Ms, "ms", "≤", 0.3));
  if (r.kill) checks.push(check("entry_kill_failed_after_1s", "failed requests started ≥ 1 s after kill -9", r.kill.failedAfterKillPlus1s, "", "≤", 0));
  if (r.vip) {
    checks.push(check("vip_takeover_p95", "VIP takeover p95 (kill -9 of the holder's pool → a 200 through the VIP)", r.vip.p95, "ms", "≤", 3000));
    checks.push(check("vip_dual_master_samples", "samples with two VIP holders", r.vip.dualMasterSamples, "", "≤", 0));
  }
  return checks;
}

function sections(r: Results, checks: Check[]): Section[] {
  const byId = (id: string) => checks.find((c) => c.id === id);
  const out: Section[] = [];
  if (r.overhead)
    out.push({
      title: "Through nginx vs straight to the pool (instant worker, non-streamed chats)",
      rows: r.overhead.flatMap((l) => [
        { metric: `c=${l.concurrency} direct p50 / p99`, value: `${l.direct.latency.p50} / ${l.direct.latency.p99} ms` },
        { metric: `c=${l.concurrency} entry p50 / p99`, value: `${l.entry.latency.p50} / ${l.entry.latency.p99} ms` },
        { metric: `c=${l.concurrency} added p50`, value: `${l.addedP50Ms} ms`, check: l.concurrency === 1 ? byId("entry_added_p50_c1") : undefined },
        { metric: `c=${l.concurrency} added p99`, value: `${l.addedP99Ms} ms` },
        { metric: `c=${l.concurrency} errors direct / entry`, value: `${l.direct.errors} / ${l.entry.errors}` },
      ]),
    });
  if (r.kill)
    out.push({
      title: `kill -9 of one pool of three at ${KILL.perSecond} req/s through the entry`,
      rows: [
        { metric: "requests", value: String(r.kill.requests) },
        { metric: "failed (all)", value: String(r.kill.failed) },
        { metric: "failed, started ≥ kill + 1 s", value: String(r.kill.failedAfterKillPlus1s), check: byId("entry_kill_failed_after_1s") },
        { metric: "latency after the kill p50 / p99", value: `${r.kill.latencyAfterKill.p50} / ${r.kill.latencyAfterKill.p99} ms` },
      ],
    });
  if (r.vip)
    out.push({
      title: `VIP takeover: kill -9 of the VIP holder's pool, ${r.vip.takeoverMs.length} times (three hosts in network namespaces, real keepalived)`,
      rows: [
        { metric: "takeover p50", value: `${Math.round(r.vip.p50)} ms` },
        { metric: "takeover p95", value: `${Math.round(r.vip.p95)} ms`, check: byId("vip_takeover_p95") },
        { metric: "samples with two holders", value: String(r.vip.dualMasterSamples), check: byId("vip_dual_master_samples") },
      ],
    });
  return out;
}

const NOTES = [
  "Overhead: both sides go through the same node:http keep-alive client (16 sockets) in this process, in interleaved rounds after a warm-up; nginx runs the generated file as it is (least_conn, upstream keepalive, access log on). Added latency is a difference of percentiles (entry pN − direct pN).",
  "Kill: requests are sent open-loop on a fixed schedule (not waiting for each other); a request counts as failed when the client gets anything but 200 (a broken connection counts as status 0). nginx retries a refused connection and a 503 on the next pool, POSTs included, as long as it has sent the client nothing.",
  "VIP takeover: from the kill -9 of the pool holding the VIP to the first 200 from /v1/status through the VIP, measured from outside (a loaded machine's process start-up inflates it); a whole host dying takes VRRP's 3 advertisements of 1 s instead.",
  "The machine is shared: loadAvg1mAtStart/AtEnd show how busy it was.",
];

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  if (!NGINX) throw new Error("nginx is not installed (apt-get install -y nginx)");
  const started = new Date();
  const env = machine();
  const results: Results = {};
  const only = process.env.BENCH_ENTRY_PHASES?.split(",").map((s) => s.trim());
  for (const phase of PHASES) {
    if (only && !only.includes(phase.name)) continue;
    progress(`phase ${phase.name}`);
    await phase.run(results);
  }
  const checks = buildChecks(results);
  publish(makeReport("entry", started, env, NOTES, checks, results), sections(results, checks), progress);
}

runBenchmark({ watchdogMs: WATCHDOG_MS, progress, main });
