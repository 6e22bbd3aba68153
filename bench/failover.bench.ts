/**
 * Failover benchmark (`npm run bench:failover`): how fast a dead pool's workers serve again through
 * a peer, what the move costs the requests, and that a flapping link moves nothing (issue 16).
 * Two bonded pools on loopback (A on 127.0.1.1, B on 127.0.2.1, test/harness/failover-net.ts), real
 * stories260K workers (1 slot, 1 llama thread) enrolled on A, none on B: a chat through B is served
 * by A's workers only (forwarded to A while A lives, by the moved workers once A is dead).
 *
 * 1. confirmed: peer-confirmed failover with the default thresholds (confirmation after 15 s,
 *    FAILING 90 s, DOWN 5 min; only the sticky check is shortened to 3 s so that the workers come
 *    home quickly between runs). 3 runs of: kill -9 of A → chats through B every 250 ms until the
 *    first 200 (capacity recovery); streams through B every second during the move; then A
 *    restarted on its data dir → the workers drain on B and go home, streams through B every
 *    second during that move too. Target: recovery p50 and max ≤ 20 s.
 * 2. guide: the guide's defaults with peer confirmation off (FAILING 90 s, DOWN 5 min): one run.
 *    Target: recovery ≤ 5 min + 5 s.
 * 3. flap: two workers on A through a TCP fault proxy that drops (closes every connection, refuses
 *    new ones) 1 s every 10 s for 2 minutes, default thresholds; chats through A in each up window.
 *    Target: 0 migrations (moves logged by the workers; B's count of connected workers and its
 *    audit trail cross-check it).
 * Jobs lost: streams through B that got their 200 and did not run to their end, among those sent
 * while the workers moved (failover and return). Target 0. Streams running on A's workers at its
 * kill -9 (through B, forwarded to A; killed once their headers came) are counted apart: they run
 * on the pool that dies.
 *
 * BENCH_FAILOVER_PHASES=confirmed,guide,flap (the default: all; guide takes ~6 min) runs only some.
 * Output: a table on stdout, progress on stderr, JSON in bench/results/failover-<timestamp>.json and
 * failover-latest.json. Exits 0 once measured (targets met or not), non-zero when it could not run.
 */
import { existsSync } from "node:fs";
import type { ClusterNode } from "../test/cluster.js";
import {
  chat,
  connectedOn,
  failoverAuditOf,
  faultProxy,
  flap,
  logEntries,
  lost,
  restartNode,
  sampler,
  sleep,
  startPair,
  stream,
  tail,
  waitForPeers,
  workerIdOf,
  type StreamOutcome,
} from "../test/harness/failover-net.js";
import { CLI, killAll, startWorker, waitFor, type WorkerProc } from "../test/helpers.js";
import { summarize, type Summary } from "./gateway/stats.js";
import { check, machine, makeReport, progressOf, publish, runBenchmark, type Check, type Section } from "./report.js";

const progress = progressOf("failover");
const WATCHDOG_MS = 30 * 60_000;
const WORKERS = 2;
const CONFIRMED_RUNS = 3;
const STREAM_TOKENS = 300;
const FLAP_CYCLES = 12;
/** Every failover threshold at its default: no CELLULE_FAILOVER_* inherited from this shell. */
const DEFAULTS = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith("CELLULE_FAILOVER_")).map((k) => [k, undefined]));
const QUIET = { CELLULE_LOG_LEVEL: "info" }; // the workers' info lines are read (moves, states)

interface StreamCount {
  sent: number;
  /** Got a 200. */
  accepted: number;
  completed: number;
  /** Got a 200 and did not run to its end. */
  lost: number;
  /** Refused before starting (503: no worker at that moment; the client may retry). */
  refused: number;
  /** Any other outcome (no answer, another status). */
  other: number;
}

interface MoveRun {
  /** kill -9 of A → the first 200 of a chat through B (served by A's moved workers). */
  recoveryMs: number | null;
  /** kill -9 → B counts all of A's workers connected. */
  allOnBMs: number | null;
  /** kill -9 → each worker's "moving to pool" log line. */
  decisionMs: number[];
  /** kill -9 → each worker's FAILING / DOWN (from their logs), where they went through it. */
  failingMs: number[];
  downMs: number[];
  /** Streams through B running on A's workers when A was killed. */
  beforeKill: StreamCount;
  /** Streams sent to B from the kill until all the workers were there. */
  duringFailover: StreamCount;
  /** Streams sent to B while the workers drained there and went home (A restarted). */
  duringReturn?: StreamCount;
  /** A restarted → every worker back on A, none on B. */
  returnMs?: number | null;
}

interface FlapResult {
  cycles: number;
  workers: number;
  /** "moving to pool" lines in the workers' logs. */
  migrations: number;
  /** Most workers B counted at once (sampled every second). */
  maxConnectedOnB: number;
  /** worker.failover entries about these workers in B's audit trail. */
  auditOnB: number;
  reconnects: number;
  windowsServed: number;
}

interface Results {
  confirmed?: MoveRun[];
  guide?: MoveRun;
  flap?: FlapResult;
}

function count(outcomes: StreamOutcome[]): StreamCount {
  return {
    sent: outcomes.length,
    accepted: outcomes.filter((s) => s.status === 200).length,
    completed: outcomes.filter((s) => s.status === 200 && !lost(s)).length,
    lost: outcomes.filter(lost).length,
    refused: outcomes.filter((s) => s.status === 503).length,
    other: outcomes.filter((s) => s.status !== 200 && s.status !== 503).length,
  };
}

/** Streams through `url`, one started every `everyMs` until `until()` says stop; resolves with their outcomes once all ended. */
async function streamsUntil(url: string, key: string, until: () => boolean, everyMs = 1000): Promise<StreamOutcome[]> {
  const started: Promise<StreamOutcome>[] = [];
  while (!until()) {
    started.push(stream(url, key, STREAM_TOKENS));
    await sleep(everyMs);
  }
  return Promise.all(started);
}

/** First log time ≥ `since` of a line containing `fragment`, minus `since`. */
function logDelays(workers: WorkerProc[], fragment: string, since: number): number[] {
  return workers.flatMap((w) => {
    const t = logEntries(w, fragment).find((e) => e.time !== undefined && e.time >= since)?.time;
    return t === undefined ? [] : [t - since];
  });
}

/** When something did not happen: each worker's exit code and the last lines of its log, on stderr. */
function diagnose(workers: WorkerProc[], what: string): void {
  progress(`${what}; the workers:`);
  workers.forEach((w, i) => progress(`--- worker ${i + 1} (exit code ${w.proc.exitCode ?? "none"}, signal ${w.proc.signalCode ?? "none"}):\n${tail(w, 25)}`));
}

/** Waits until a chat through B is served (forwarded to A's workers): the cluster is in its steady state. */
async function steady(a: ClusterNode, b: ClusterNode, workers: WorkerProc[]): Promise<void> {
  if (workers.some((w) => w.proc.exitCode !== null || w.proc.signalCode !== null)) {
    diagnose(workers, "a worker has exited");
    throw new Error("a worker has exited");
  }
  await waitFor(async () => (await connectedOn(a.pool.url)) === workers.length && (await connectedOn(b.pool.url)) === 0, "every worker on A, none on B", 120_000, 250);
  await waitFor(async () => (await chat(b.pool.url, b.key, { maxTokens: 4 })) === 200, "a chat through B (forwarded to A)", 60_000, 250);
}

/**
 * One failover: kill -9 of A, then chats through B until one is served and streams through B until
 * every worker is there. With `comeBack`, A is restarted and the workers' return is measured too.
 */
async function failoverRun(a: ClusterNode, b: ClusterNode, workers: WorkerProc[], opts: { limitMs: number; comeBack: boolean }): Promise<MoveRun> {
  await steady(a, b, workers);
  // Streams on A's workers (through B, forwarded) when A dies: A is killed once their headers came (or after 5 s).
  let answered = 0;
  const before = workers.map(() => stream(b.pool.url, b.key, STREAM_TOKENS, { onStatus: () => answered++ }));
  const headersBy = Date.now() + 5000;
  while (answered < before.length && Date.now() < headersBy) await sleep(10);
  const killedAt = Date.now();
  await a.pool.kill("SIGKILL");
  progress(`A killed (SIGKILL); waiting for its workers to serve through B (limit ${Math.round(opts.limitMs / 1000)} s)`);
  let recoveredAt: number | undefined;
  let allOnBAt: number | undefined;
  const deadline = killedAt + opts.limitMs;
  const over = () => Date.now() > deadline;
  const poller = (async () => {
    while (recoveredAt === undefined && !over()) {
      const status = await chat(b.pool.url, b.key, { maxTokens: 4, timeoutMs: 5000 });
      if (status === 200) recoveredAt = Date.now();
      else await sleep(250);
    }
  })();
  const counter = (async () => {
    while (allOnBAt === undefined && !over()) {
      if ((await connectedOn(b.pool.url)) >= workers.length) allOnBAt = Date.now();
      else await sleep(250);
    }
  })();
  const during = streamsUntil(b.pool.url, b.key, () => over() || (recoveredAt !== undefined && allOnBAt !== undefined && Date.now() > Math.max(recoveredAt, allOnBAt) + 3000));
  await Promise.all([poller, counter]);
  const run: MoveRun = {
    recoveryMs: recoveredAt === undefined ? null : recoveredAt - killedAt,
    allOnBMs: allOnBAt === undefined ? null : allOnBAt - killedAt,
    decisionMs: logDelays(workers, "moving to pool", killedAt),
    failingMs: logDelays(workers, "→ FAILING", killedAt),
    downMs: logDelays(workers, "→ DOWN", killedAt),
    beforeKill: count(await Promise.all(before)),
    duringFailover: count(await during),
  };
  if (recoveredAt === undefined || allOnBAt === undefined) diagnose(workers, "no recovery within the limit");
  progress(`recovery ${run.recoveryMs ?? "—"} ms, all workers on B after ${run.allOnBMs ?? "—"} ms; streams during the move: ${JSON.stringify(run.duringFailover)}`);
  if (!opts.comeBack) return run;
  const restartedAt = Date.now();
  await restartNode(a, { CELLULE_LOG_LEVEL: "warn" });
  let homeAt: number | undefined;
  const back = (async () => {
    while (homeAt === undefined && Date.now() < restartedAt + 120_000) {
      if ((await connectedOn(a.pool.url)) === workers.length && (await connectedOn(b.pool.url)) === 0) homeAt = Date.now();
      else await sleep(250);
    }
  })();
  const returning = streamsUntil(b.pool.url, b.key, () => homeAt !== undefined || Date.now() > restartedAt + 120_000);
  await back;
  run.duringReturn = count(await returning);
  run.returnMs = homeAt === undefined ? null : homeAt - restartedAt;
  if (homeAt === undefined) diagnose(workers, "the workers did not all come home");
  progress(`A restarted: workers home after ${run.returnMs ?? "—"} ms; streams during the return: ${JSON.stringify(run.duringReturn)}`);
  return run;
}

async function pairWithWorkers(env: Record<string, string | undefined>): Promise<{ a: ClusterNode; b: ClusterNode; workers: WorkerProc[] }> {
  const { a, b } = await startPair({ CELLULE_LOG_LEVEL: "warn" });
  const workers: WorkerProc[] = [];
  for (let i = 0; i < WORKERS; i++) workers.push(await startWorker(a.http.pool, { slots: 1, env: { ...DEFAULTS, ...QUIET, ...env } }));
  await waitForPeers(workers, a);
  return { a, b, workers };
}

async function measureConfirmed(): Promise<MoveRun[]> {
  progress("confirmed: two bonded pools, two stories260K workers on A (default thresholds, sticky check 3 s)");
  const { a, b, workers } = await pairWithWorkers({ CELLULE_FAILOVER_STICKY_MS: "3000" });
  const runs: MoveRun[] = [];
  try {
    for (let i = 0; i < CONFIRMED_RUNS; i++) {
      progress(`confirmed: run ${i + 1}/${CONFIRMED_RUNS}`);
      runs.push(await failoverRun(a, b, workers, { limitMs: 120_000, comeBack: true }));
    }
    return runs;
  } finally {
    await killAll();
  }
}

async function measureGuide(): Promise<MoveRun> {
  progress("guide: peer confirmation off, FAILING 90 s, DOWN 5 min (one run, ~6 min)");
  const { a, b, workers } = await pairWithWorkers({ CELLULE_FAILOVER_CONFIRM: "false" });
  try {
    return await failoverRun(a, b, workers, { limitMs: 420_000, comeBack: false });
  } finally {
    await killAll();
  }
}

async function measureFlap(): Promise<FlapResult> {
  progress(`flap: two workers on A through a fault proxy dropping 1 s every 10 s, ${FLAP_CYCLES} cycles (default thresholds)`);
  const { a, b } = await startPair({ CELLULE_LOG_LEVEL: "warn" });
  const proxy = await faultProxy(a.host, a.pool.port);
  const workers: WorkerProc[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) workers.push(await startWorker({ ...a.http.pool, url: proxy.url }, { slots: 1, env: { ...DEFAULTS, ...QUIET } }));
    await waitForPeers(workers, a);
    const ids = workers.map(workerIdOf);
    const connectsBefore = workers.reduce((n, w) => n + logEntries(w, "connected to pool").length, 0);
    const onB = sampler(() => connectedOn(b.pool.url), 1000);
    const windows = await flap(proxy, { cycles: FLAP_CYCLES, chatUrl: a.pool.url, key: a.key, onCycle: (c) => progress(`flap: cycle ${c + 1}/${FLAP_CYCLES}`) });
    const counts = await onB.stop();
    const audit = (await failoverAuditOf(b)).filter((e) => ids.some((id) => e.target === `worker:${id}`));
    return {
      cycles: FLAP_CYCLES,
      workers: WORKERS,
      migrations: workers.reduce((n, w) => n + logEntries(w, "moving to pool").length, 0),
      maxConnectedOnB: Math.max(0, ...counts),
      auditOnB: audit.length,
      reconnects: workers.reduce((n, w) => n + logEntries(w, "connected to pool").length, 0) - connectsBefore,
      windowsServed: windows.filter((w) => w.served > 0).length,
    };
  } finally {
    proxy.close();
    await killAll();
  }
}

/** The phases, in order (BENCH_FAILOVER_PHASES=confirmed,guide,flap selects some). */
const PHASES: { name: string; run: (r: Results) => Promise<void> }[] = [
  { name: "confirmed", run: async (r) => void (r.confirmed = await measureConfirmed()) },
  { name: "flap", run: async (r) => void (r.flap = await measureFlap()) },
  { name: "guide", run: async (r) => void (r.guide = await measureGuide()) },
];

const recoveries = (r: Results): number[] => (r.confirmed ?? []).map((x) => x.recoveryMs ?? Number.POSITIVE_INFINITY);
const movesOf = (r: Results): MoveRun[] => [...(r.confirmed ?? []), ...(r.guide ? [r.guide] : [])];
const lostDuringMoves = (r: Results): number => movesOf(r).reduce((n, m) => n + m.duringFailover.lost + (m.duringReturn?.lost ?? 0), 0);
const stat = (xs: number[]): Summary | undefined => (xs.length ? summarize(xs) : undefined);

function buildChecks(r: Results): Check[] {
  const checks: Check[] = [];
  const rec = recoveries(r);
  if (rec.length) {
    const s = summarize(rec);
    checks.push(check("failover_confirmed_p50", "capacity recovery, peer-confirmed, p50", s.p50, "ms", "≤", 20_000));
    checks.push(check("failover_confirmed_max", "capacity recovery, peer-confirmed, max", s.max, "ms", "≤", 20_000));
  }
  if (r.guide) checks.push(check("failover_guide", "capacity recovery, guide's defaults (no confirmation)", r.guide.recoveryMs ?? Number.POSITIVE_INFINITY, "ms", "≤", 305_000));
  if (movesOf(r).length) checks.push(check("failover_jobs_lost", "streams lost among those sent during the moves", lostDuringMoves(r), "", "≤", 0));
  if (r.flap) checks.push(check("failover_flap_migrations", "migrations during the flap", r.flap.migrations, "", "≤", 0));
  return checks;
}

const ms = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${(x / 1000).toFixed(1)} s`);
const streams = (c: StreamCount | undefined) => (c ? `${c.sent} sent, ${c.accepted} accepted, ${c.completed} completed, ${c.lost} lost, ${c.refused} refused (503)${c.other ? `, ${c.other} other` : ""}` : "—");

function sections(r: Results, checks: Check[]): Section[] {
  const byId = (id: string) => checks.find((c) => c.id === id);
  const out: Section[] = [];
  if (r.confirmed) {
    const s = summarize(recoveries(r));
    out.push({
      title: `Peer-confirmed failover (default thresholds: confirmation 15 s), ${r.confirmed.length} kill -9 of A, ${WORKERS} workers`,
      rows: [
        ...r.confirmed.map((m, i) => ({ metric: `run ${i + 1}: recovery / all workers on B / moves decided`, value: `${ms(m.recoveryMs)} / ${ms(m.allOnBMs)} / ${m.decisionMs.map((d) => ms(d)).join(", ")}` })),
        { metric: "recovery p50", value: ms(s.p50), check: byId("failover_confirmed_p50") },
        { metric: "recovery max", value: ms(s.max), check: byId("failover_confirmed_max") },
        ...r.confirmed.map((m, i) => ({ metric: `run ${i + 1}: streams during the failover`, value: streams(m.duringFailover) })),
        ...r.confirmed.map((m, i) => ({ metric: `run ${i + 1}: return after A restarted / streams then`, value: `${ms(m.returnMs)} / ${streams(m.duringReturn)}` })),
        ...r.confirmed.map((m, i) => ({ metric: `run ${i + 1}: streams on A's workers at the kill`, value: streams(m.beforeKill) })),
      ],
    });
  }
  if (r.guide) {
    const g = r.guide;
    out.push({
      title: `Guide's defaults, peer confirmation off (FAILING 90 s, DOWN 5 min), ${WORKERS} workers`,
      rows: [
        { metric: "FAILING after (worker logs)", value: g.failingMs.map((d) => ms(d)).join(", ") || "—" },
        { metric: "DOWN after (worker logs)", value: g.downMs.map((d) => ms(d)).join(", ") || "—" },
        { metric: "capacity recovery", value: ms(g.recoveryMs), check: byId("failover_guide") },
        { metric: "all workers on B", value: ms(g.allOnBMs) },
        { metric: "streams during the failover", value: streams(g.duringFailover) },
        { metric: "streams on A's workers at the kill", value: streams(g.beforeKill) },
      ],
    });
  }
  if (movesOf(r).length) out.push({ title: "Jobs lost", rows: [{ metric: "streams lost among those sent during the moves", value: String(lostDuringMoves(r)), check: byId("failover_jobs_lost") }] });
  if (r.flap) {
    const f = r.flap;
    out.push({
      title: `Flap: the link to A drops 1 s every 10 s, ${f.cycles} cycles, ${f.workers} workers, default thresholds`,
      rows: [
        { metric: "migrations (moves in the workers' logs)", value: String(f.migrations), check: byId("failover_flap_migrations") },
        { metric: "most workers B counted at once / its failover audit entries", value: `${f.maxConnectedOnB} / ${f.auditOnB}` },
        { metric: "reconnections to A", value: String(f.reconnects) },
        { metric: "up windows with a chat served through A", value: `${f.windowsServed} of ${f.cycles}` },
      ],
    });
  }
  return out;
}

const NOTES = [
  "Two pools on loopback, real stories260K workers (1 slot, 1 llama thread each) enrolled on A, no worker on B: a chat through B is served by A's workers only, so the first 200 through B after the kill -9 is the moved capacity (B stops forwarding to A 3 s after A's last capacity summary).",
  "Recovery = from the kill -9 to the first 200 of a non-streamed chat through B (polled every 250 ms); 'moves decided' = from the kill to each worker's own 'moving to pool' log line.",
  "Peer-confirmed: the worker asks B 15 s after losing A (CELLULE_FAILOVER_CONFIRM_MS default) and every 5 s after, checking every second: expect 15-17 s. Only the sticky check (60 s by default) is shortened, to 3 s, so the workers come home between runs.",
  "Jobs lost: streams of 300 tokens through B, one a second, during each move; lost = got its 200 and did not end with a finish reason. A 503 (no worker at that moment, Retry-After) is counted as refused, not lost. Streams running on A's workers when A is killed (two, sent through B, A killed once their headers came) run on the pool that dies; they are listed apart.",
  "Flap: chats through A (not through the proxy) in each 9 s up window until one is served. B's connected-worker count is sampled every second.",
  "The machine is shared (2 cores, other jobs running): loadAvg1mAtStart/AtEnd show how busy it was; timings carry that noise.",
];

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  const started = new Date();
  const env = machine();
  const results: Results = {};
  const only = process.env.BENCH_FAILOVER_PHASES?.split(",").map((s) => s.trim());
  for (const phase of PHASES) {
    if (only && !only.includes(phase.name)) continue;
    progress(`phase ${phase.name}`);
    await phase.run(results);
  }
  const checks = buildChecks(results);
  const summaryOf = { confirmedRecovery: stat(recoveries(results).filter(Number.isFinite)) };
  publish(makeReport("failover", started, env, NOTES, checks, { ...results, ...summaryOf }), sections(results, checks), progress);
}

runBenchmark({ watchdogMs: WATCHDOG_MS, progress, main });
