/**
 * Gateway benchmark (`npm run bench:gateway`): what the pool costs on top of inference.
 *
 * 1. Pool overhead. Non-streamed POST /v1/chat/completions (max_tokens 16) through a pool process
 *    and an instant worker process (CELLULE_RUNTIME=instant, 16 slots), at concurrency 1 and 16,
 *    versus a bare node:http server in its own process returning a body of the same size. Same
 *    keep-alive client, warm-up first, interleaved rounds. "Added latency" = pool percentile −
 *    baseline percentile. Targets at c=1: added p50 ≤ 1 ms, added p99 ≤ 3 ms.
 * 2. End to end with stories260K. The same 200 chat requests (fixed seeds and temperature)
 *    streamed through pool → real worker process (1 llama thread) versus LlamaRuntime.generate()
 *    in this process with identical jobs, at concurrency 1 (1 slot) and 4 (4 slots), in 4 segments
 *    run in ABBA order (direct→pool, pool→direct, ...). Twice: "short" answers (max_tokens 48,
 *    ~24 ms each: shows the fixed cost per request, reported in ms) and "default" answers (the
 *    requests without max_tokens, as clients send them: the pool's default cap of 512 tokens).
 *    Targets on the default answers: total time pool/direct ≤ 1.05 at c=1 and ≤ 1.10 at c=4;
 *    on all four runs: added time-to-first-token p95 ≤ 5 ms. Beside them, what one loopback
 *    message to an idle process costs here (wake.ts): the floor under the fixed cost.
 *    Beside them, the relay floor (relay-floor.ts): the same 4 hops through a bare http → WebSocket
 *    relay and a busy-loop "worker", against the loop run in this process: the added TTFT that no
 *    code in the pool causes.
 * 3. Pool memory. VmRSS of a fresh pool process idle, then with 50 idle in-process WorkerAgents
 *    (InstantRuntime, one enrolment token each) after ~3 s of settling. Target ≤ 150 MB. Measured
 *    with the default embedded PGlite, and again with the database in another process
 *    (DATABASE_URL to a PGlite socket server) to separate the pool's own memory from the database's.
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/gateway-<timestamp>.json and
 * bench/results/gateway-latest.json. Exits 0 once measurements are complete, targets met or not;
 * non-zero when the benchmark could not run. Pool and workers are the built CLI (dist/), started
 * with the helpers of the end-to-end tests; every child process is killed at the end.
 */
import { existsSync } from "node:fs";
import { CLI, modelPath, startPool } from "../test/helpers.js";
import { stopGracefully } from "./gateway/child.js";
import { ANSWERS, E2E, measureEndToEnd, type EndToEndLevel } from "./gateway/end-to-end.js";
import { measurePoolMemory } from "./gateway/memory.js";
import { measurePoolOverhead, type OverheadResult } from "./gateway/overhead.js";
import { measureWake } from "./gateway/wake.js";
import { measureRelayFloor } from "./gateway/relay-floor.js";
import { buildChecks, sections, type GatewayResults } from "./gateway/report.js";
import { progress } from "./gateway/stats.js";
import { machine, makeReport, publish, runBenchmark } from "./report.js";

const IDLE_WORKERS = 50;
/** The whole run normally takes about 8 minutes (the default-length answers are most of it); past this something hangs. */
const WATCHDOG_MS = 20 * 60_000;

const NOTES = [
  "Overhead: pool and baseline are measured by the same node:http keep-alive client in this process, in interleaved rounds (baseline→pool, then pool→baseline, ...) after a warm-up; the baseline server runs in its own process and returns a body of the same size as a real pool response.",
  "Added latency is a difference of percentiles (pool pN − baseline pN), not a percentile of differences.",
  "End to end, answer lengths: 'short' sends max_tokens 48; 'default' sends no max_tokens, so the pool's default cap applies (the direct side gets the same cap); stories260K never ends a story before it. The ratio targets apply to the default answers. On short answers the pool's path costs a fixed few ms per request (4 process hops, HTTP and WebSocket framing, wake-ups of idle processes on this VM) against ~24 ms of generation: addedMsPerRequest shows it.",
  "End to end: the 200 requests are cut into 4 segments of 50, each run on both sides in ABBA order (direct→pool, pool→direct, direct→pool, pool→direct) after 8 warm-up requests per side. The direct LlamaRuntime (in the benchmark process) stays loaded but idle during pool runs; the worker process is idle during direct runs. Both use 1 llama thread and the same number of slots. Pool requests are streamed with stream_options.include_usage, whose usage chunk gives the pool side's token count (TTFT = first SSE chunk with content, at the client); direct TTFT = first non-empty onText. cpuMsPerRequest: CPU time (user+system, all threads) per request of the benchmark process (direct: client + llama; pool: client only), the pool process and the worker process.",
  "Floor (wake): 200-byte messages echoed by a separate process over loopback TCP, 200 round trips back to back, then 200 each after 25 ms of silence. Half the round trip is one hop. An idle process is woken by the kernel (on a VM, through the hypervisor), which costs far more than the message; the pool and the client are idle while a worker generates.",
  "Relay floor: the 4 hops of a streamed answer with nothing else on them — a bare node:http server relaying each request over one WebSocket to a process whose 'generation' busy-loops on a worker thread (6 ms to the first chunk, 20 ms after it), against the same loop on a worker thread of the benchmark process; one request at a time, alternating. Its added TTFT is what any pool of this architecture (client, pool and worker in separate processes) pays on this machine before its own code runs; the pool's added TTFT minus it is the pool's own cost.",
  "Memory: MB = 10^6 bytes; VmRSS/VmHWM of the pool process, read from /proc/<pid>/status. 'embedded' = default set-up (PGlite in the pool's database process, a child of the pool); 'external' = DATABASE_URL pointing to an in-memory PGlite served by @electric-sql/pglite-socket from a separate process (the pool then starts no database process). In both, the database process's RSS is reported beside the pool's. Workers enrol one after another (each waits for its welcome), then RSS is the median of 5 readings taken after 3 s of settling. perWorkerBytes is indicative only: V8 heap growth/shrinking between the two readings can be larger than what 50 idle workers cost (it can even come out negative).",
  "identicalOutputs: at c=1 every text should match (same prompt, seed and sampling on the same model); at c=4 a few may diverge mid-text because llama.cpp batches the 4 sequences differently from run to run, which changes logits slightly.",
  "The machine is shared: loadAvg1mAtStart/AtEnd show how busy it was; compare runs with similar load.",
];

async function runPhases(modelFile: string): Promise<GatewayResults> {
  progress("starting the pool for phases 1 and 2");
  const pool = await startPool({ env: { CELLULE_LOG_LEVEL: "warn" } });
  let overhead: OverheadResult;
  const endToEnd: EndToEndLevel[] = [];
  try {
    const apiKey = await pool.createKey();
    // End to end first: its direct side runs in this process, which the overhead phase's 10,000
    // requests leave in another state. Measured with c=4 default-length answers: 0.966 when run
    // after that phase (the direct side slower), 1.013 in a fresh process.
    for (const answer of ANSWERS) for (const concurrency of [1, 4]) endToEnd.push(await measureEndToEnd(pool, apiKey, modelFile, concurrency, answer));
    overhead = await measurePoolOverhead(pool, apiKey);
  } finally {
    await stopGracefully(pool, "pool");
  }
  const wake = await measureWake();
  const relayFloor = await measureRelayFloor();
  const memory = [await measurePoolMemory(IDLE_WORKERS, "embedded"), await measurePoolMemory(IDLE_WORKERS, "external")];
  return { overhead, endToEnd, wake, relayFloor, memory };
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  const modelFile = modelPath();
  const started = new Date();
  const env = { ...machine(), model: modelFile, e2eAnswers: ANSWERS.map((a) => `${a.name}: ${a.maxTokens === undefined ? "no max_tokens" : `max_tokens ${a.maxTokens}`}`).join("; "), e2eTemperature: E2E.temperature };
  const results = await runPhases(modelFile);
  const checks = buildChecks(results);
  const report = makeReport("gateway", started, env, NOTES, checks, results);
  publish(report, sections(results, checks), progress);
}

runBenchmark({ watchdogMs: WATCHDOG_MS, progress, main });
