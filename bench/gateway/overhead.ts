/**
 * Phase 1, the pool's own overhead: non-streamed chat completions through pool → instant worker
 * (CELLULE_RUNTIME=instant, 16 slots, answers at once) against a bare node:http server in its own
 * process that returns a body of the same size. Both are driven by the same keep-alive client, in
 * interleaved rounds (baseline/pool, then pool/baseline, ...) so drift on the shared VM hits both.
 */
import { startWorker, type PoolProc } from "../../test/helpers.js";
import { startListeningChild, stopGracefully, type ListeningChild } from "./child.js";
import { KeepAliveClient } from "./http-client.js";
import { progress, round3, runClosedLoop, summarize, type Summary } from "./stats.js";

const CHAT_PATH = "/v1/chat/completions";
const REQUEST_BODY = JSON.stringify({ model: "instant", messages: [{ role: "user", content: "Say ok sixteen times." }], max_tokens: 16 });

/** Requests per round and rounds per side, by concurrency. */
const PLAN: readonly { concurrency: number; rounds: number; perRound: number }[] = [
  { concurrency: 1, rounds: 4, perRound: 500 },
  { concurrency: 16, rounds: 4, perRound: 2000 },
];
const WARMUP = { concurrency: 16, requests: 2000, thenSequential: 300 };

export interface SideResult {
  latency: Summary;
  requestsPerSecond: number;
  errors: number;
}

export interface OverheadLevel {
  concurrency: number;
  pool: SideResult;
  baseline: SideResult;
  /** Pool percentile minus baseline percentile, ms. */
  addedP50Ms: number;
  addedP99Ms: number;
}

export interface OverheadResult {
  workerSlots: number;
  responseBytes: number;
  levels: OverheadLevel[];
}

/** One closed-loop run of `n` identical requests. */
async function run(client: KeepAliveClient, n: number, concurrency: number): Promise<{ latencies: number[]; wallMs: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const wallMs = await runClosedLoop(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async () => {
      const r = await client.post(CHAT_PATH, REQUEST_BODY);
      if (r.status === 200) latencies.push(r.ms);
      else errors++;
    },
  );
  return { latencies, wallMs, errors };
}

/** Interleaved rounds for one concurrency level. */
async function measureLevel(clients: { pool: KeepAliveClient; baseline: KeepAliveClient }, plan: (typeof PLAN)[number]): Promise<OverheadLevel> {
  const acc = { pool: { latencies: [] as number[], wallMs: 0, errors: 0 }, baseline: { latencies: [] as number[], wallMs: 0, errors: 0 } };
  for (let round = 0; round < plan.rounds; round++) {
    const order = round % 2 === 0 ? (["baseline", "pool"] as const) : (["pool", "baseline"] as const);
    for (const side of order) {
      const r = await run(clients[side], plan.perRound, plan.concurrency);
      acc[side].latencies.push(...r.latencies);
      acc[side].wallMs += r.wallMs;
      acc[side].errors += r.errors;
      progress(`overhead c=${plan.concurrency} round ${round + 1}/${plan.rounds} ${side}: ${plan.perRound} requests in ${Math.round(r.wallMs)} ms (${r.errors} errors)`);
    }
  }
  const side = (s: (typeof acc)["pool"]): SideResult => ({ latency: summarize(s.latencies), requestsPerSecond: Math.round((s.latencies.length / s.wallMs) * 1000), errors: s.errors });
  const pool = side(acc.pool);
  const baseline = side(acc.baseline);
  return { concurrency: plan.concurrency, pool, baseline, addedP50Ms: round3(pool.latency.p50 - baseline.latency.p50), addedP99Ms: round3(pool.latency.p99 - baseline.latency.p99) };
}

/** Checks the instant worker answers as expected and returns a real response body to mirror. */
async function sampleResponse(client: KeepAliveClient): Promise<string> {
  const r = await client.post(CHAT_PATH, REQUEST_BODY);
  if (r.status !== 200) throw new Error(`pool answered ${r.status}: ${r.body.slice(0, 300)}`);
  const content = (JSON.parse(r.body) as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content;
  if (content !== " ok".repeat(16)) throw new Error(`unexpected instant-worker answer: ${JSON.stringify(content)}`);
  return r.body;
}

export async function measurePoolOverhead(pool: PoolProc, apiKey: string): Promise<OverheadResult> {
  const slots = 16;
  progress(`overhead: starting an instant worker (${slots} slots)`);
  const worker = await startWorker(pool, { slots, env: { CELLULE_RUNTIME: "instant", CELLULE_LOG_LEVEL: "warn" } });
  const maxSockets = Math.max(...PLAN.map((p) => p.concurrency));
  const poolClient = new KeepAliveClient(pool.url, apiKey, maxSockets);
  let baselineServer: ListeningChild | undefined;
  let baselineClient: KeepAliveClient | undefined;
  try {
    const body = await sampleResponse(poolClient);
    baselineServer = await startListeningChild("baseline-server.ts", { BASELINE_BODY: body });
    // The same Authorization header goes to the baseline, so both sides send identical bytes.
    baselineClient = new KeepAliveClient(`http://127.0.0.1:${baselineServer.port}`, apiKey, maxSockets);
    const clients = { pool: poolClient, baseline: baselineClient };
    progress(`overhead: warming up (${WARMUP.requests} requests at c=${WARMUP.concurrency}, then ${WARMUP.thenSequential} at c=1, each side)`);
    for (const client of [baselineClient, poolClient]) {
      await run(client, WARMUP.requests, WARMUP.concurrency);
      await run(client, WARMUP.thenSequential, 1);
    }
    const levels: OverheadLevel[] = [];
    for (const plan of PLAN) levels.push(await measureLevel(clients, plan));
    return { workerSlots: slots, responseBytes: Buffer.byteLength(body), levels };
  } finally {
    poolClient.close();
    baselineClient?.close();
    await baselineServer?.stop();
    await stopGracefully(worker, "instant worker");
  }
}
