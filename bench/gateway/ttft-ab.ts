/**
 * Time to first token of two builds side by side (bench:gateway-ab with CELLULE_BENCH_AB_PHASE=ttft):
 * bench:gateway's end-to-end requests (stories260K, streamed, fixed seeds) through pool A + worker A
 * (the base build) and pool B + worker B (this checkout), with the same requests run directly on
 * LlamaRuntime in this process as the reference. Segments rotate the order of the three sides
 * (A, B, direct; B, direct, A; ...), so drift on a shared machine hits all three alike; the two
 * pools and their workers stay up, idle while another side runs. "Added" = side pN − direct pN,
 * as in bench:gateway.
 */
import { startPool, startWorker, type PoolProc, type WorkerProc } from "../../test/helpers.js";
import { LlamaRuntime, modelIdFromPath } from "../../src/worker/runtime/llama.runtime.js";
import { stopGracefully } from "./child.js";
import { E2E, directRunner, poolRunner, type AnswerLength, type Runner } from "./end-to-end.js";
import { KeepAliveClient } from "./http-client.js";
import { progress, round3, runClosedLoop, summarize, type Summary } from "./stats.js";

export type AbSide = "A" | "B";

export interface TtftAbLevel {
  answer: AnswerLength["name"];
  concurrency: number;
  requests: number;
  ttft: Record<AbSide | "direct", Summary>;
  addedP50Ms: Record<AbSide, number>;
  addedP95Ms: Record<AbSide, number>;
}

interface Stack {
  pool: PoolProc;
  worker: WorkerProc | undefined;
  client: KeepAliveClient | undefined;
}

/** Starts a pool (and its API key) with `launcher` (A: the base build's CLI; B: this checkout's). */
export async function startStack(side: AbSide, baseCli: string): Promise<Stack & { apiKey: string }> {
  progress(`ttft ${side}: starting the pool`);
  const pool = await startPool({ env: { CELLULE_LOG_LEVEL: "warn" }, ...(side === "A" ? { launcher: [baseCli, "pool"] } : {}) });
  return { pool, worker: undefined, client: undefined, apiKey: await pool.createKey() };
}

export async function stopStack(s: Stack): Promise<void> {
  s.client?.close();
  if (s.worker) await stopGracefully(s.worker, "worker");
  await stopGracefully(s.pool, "pool");
}

/** One answer length at one concurrency: `requests` per side, in `segments` rotated segments. */
export async function measureTtftAb(
  stacks: Record<AbSide, Stack & { apiKey: string }>,
  baseCli: string,
  modelFile: string,
  concurrency: number,
  answer: AnswerLength,
  requests: number,
  segments = 6,
): Promise<TtftAbLevel> {
  const modelId = modelIdFromPath(modelFile);
  const tag = `ttft ${answer.name} c=${concurrency}`;
  const runtime = await LlamaRuntime.load({ modelPath: modelFile, slots: concurrency, threads: 1 });
  try {
    const runners: Record<AbSide | "direct", Runner> = { direct: directRunner(runtime, modelId, answer), A: directRunner(runtime, modelId, answer), B: directRunner(runtime, modelId, answer) };
    for (const side of ["A", "B"] as const) {
      const s = stacks[side];
      s.client?.close();
      if (s.worker) await stopGracefully(s.worker, "worker");
      s.worker = await startWorker(s.pool, { slots: concurrency, env: { CELLULE_LOG_LEVEL: "warn" }, ...(side === "A" ? { launcher: baseCli } : {}) });
      s.client = new KeepAliveClient(s.pool.url, s.apiKey, concurrency);
      runners[side] = poolRunner(s.client, modelId, answer);
    }
    const ttfts: Record<AbSide | "direct", number[]> = { A: [], B: [], direct: [] };
    const run = async (side: AbSide | "direct", indices: number[], keep: boolean) => {
      await runClosedLoop(indices, concurrency, async (i) => {
        const r = await runners[side](i);
        if (keep && !Number.isNaN(r.ttftMs)) ttfts[side].push(r.ttftMs);
      });
    };
    const warm = Array.from({ length: E2E.warmup }, (_, k) => E2E.requests + k);
    for (const side of ["direct", "A", "B"] as const) await run(side, warm, false);
    const orders: (AbSide | "direct")[][] = [["A", "B", "direct"], ["B", "direct", "A"], ["direct", "A", "B"]];
    const per = Math.ceil(requests / segments);
    for (let k = 0; k < segments; k++) {
      const indices = Array.from({ length: per }, (_, j) => k * per + j);
      for (const side of orders[k % orders.length]!) await run(side, indices, true);
      progress(`${tag}: segment ${k + 1}/${segments} done`);
    }
    const ttft = { A: summarize(ttfts.A), B: summarize(ttfts.B), direct: summarize(ttfts.direct) };
    const added = (p: "p50" | "p95") => ({ A: round3(ttft.A[p] - ttft.direct[p]), B: round3(ttft.B[p] - ttft.direct[p]) });
    return { answer: answer.name, concurrency, requests: per * segments, ttft, addedP50Ms: added("p50"), addedP95Ms: added("p95") };
  } finally {
    await runtime.close();
  }
}
