/**
 * Phase 2, end to end with the real tiny model: the same chat requests (fixed seeds and
 * temperature, prompts varying by index) through pool → real worker process versus directly through
 * node-llama-cpp in this process (LlamaRuntime.generate with an identical job), at one concurrency
 * and one answer length:
 * - "default": the requests as a client sends them, without max_tokens, so answers run to the
 *   pool's default cap (DEFAULT_MAX_TOKENS, 512; stories260K never stops earlier). The targets
 *   apply to these.
 * - "short": max_tokens 48, ~24 ms answers, where the fixed cost of the hops (client → pool →
 *   worker → pool → client) shows: reported as ms per request next to its ratio.
 *
 * Order: the requests are cut into 4 segments of 50, each run on both sides in ABBA order
 * (direct→pool, pool→direct, direct→pool, pool→direct), so drift on the shared VM hits both sides
 * alike. The direct runtime stays loaded but idle while the pool side runs and the worker process
 * is idle while the direct side runs; both use one llama thread (the worker gets --threads 1).
 * CPU time of each process involved is recorded too, to explain where the time goes.
 */
import { randomUUID } from "node:crypto";
import { startWorker, type PoolProc } from "../../test/helpers.js";
import { DEFAULT_MAX_TOKENS } from "../../src/pool/openai/inference.service.js";
import type { GenerateJob } from "../../src/protocol/worker.protocol.js";
import { LlamaRuntime, modelIdFromPath } from "../../src/worker/runtime/llama.runtime.js";
import { stopGracefully } from "./child.js";
import { KeepAliveClient } from "./http-client.js";
import { cpuNow, cpuSince } from "./procfs.js";
import { progress, round3, runClosedLoop, summarize, type Summary } from "./stats.js";

export const E2E = { requests: 200, segments: 4, warmup: 8, temperature: 0.8, seedBase: 1000 } as const;

/** How long the answers are: max_tokens sent (undefined = not sent, the pool's default applies). */
export interface AnswerLength {
  name: "default" | "short";
  maxTokens: number | undefined;
}

export const ANSWERS: readonly AnswerLength[] = [
  { name: "short", maxTokens: 48 },
  { name: "default", maxTokens: undefined },
];

const ASKS = ["Tell me a story about", "Write a short story about", "Once upon a time there was", "What happened to"];
const SUBJECTS = ["a cat", "a little dog", "a red ball", "a big tree", "a girl named Lily", "a boy named Tim", "the sun", "a small bird", "a fish", "a toy car"];

/** The i-th request: a short prompt and its seed (indices ≥ E2E.requests are warm-up only). */
function requestFor(i: number): { prompt: string; seed: number } {
  return { prompt: `${ASKS[i % ASKS.length]} ${SUBJECTS[Math.floor(i / ASKS.length) % SUBJECTS.length]} (story ${i}).`, seed: E2E.seedBase + i };
}

export interface Sample {
  text: string;
  /** Tokens generated (pool side: the stream's usage chunk). */
  tokens: number;
  ttftMs: number;
  ms: number;
}

interface SideResult {
  totalMs: number;
  latency: Summary;
  ttft: Summary;
  /** CPU time per request of each process involved (direct: this process; pool: pool, worker, client), ms. */
  cpuMsPerRequest: Record<string, number>;
}

export interface EndToEndLevel {
  answer: AnswerLength["name"];
  /** max_tokens the job ran with (the pool's default for "default"). */
  maxTokens: number;
  /** Mean tokens per answer on each side: same jobs and caps, so equal unless a stop string ends some answers early on one side (c=4 texts diverge). */
  meanAnswerTokens: { direct: number; pool: number };
  concurrency: number;
  slots: number;
  requests: number;
  direct: SideResult;
  pool: SideResult;
  /** Pool total time / direct total time. */
  totalTimeRatio: number;
  /** (pool total − direct total) / requests: at c=1, what the pool path adds to each request. */
  addedMsPerRequest: number;
  addedTtftP50Ms: number;
  addedTtftP95Ms: number;
  /** Requests whose pool text equals the direct text (same tokens generated). */
  identicalOutputs: number;
  firstMismatch: { index: number; direct: string; pool: string } | null;
}

export type Runner = (index: number) => Promise<Sample>;

export function directRunner(runtime: LlamaRuntime, modelId: string, answer: AnswerLength): Runner {
  return async (i) => {
    const { prompt, seed } = requestFor(i);
    const job: GenerateJob = {
      type: "generate",
      jobId: randomUUID(),
      model: modelId,
      input: { messages: [{ role: "user", content: prompt }] },
      // Exactly what the pool's InferenceService builds from the HTTP request below.
      params: { maxTokens: answer.maxTokens ?? DEFAULT_MAX_TOKENS, temperature: E2E.temperature, seed },
    };
    let text = "";
    let tokens = 0;
    let firstAt: number | undefined;
    const start = performance.now();
    await runtime.generate(job, new AbortController().signal, (chunk, n) => {
      tokens += n;
      if (!chunk) return;
      firstAt ??= performance.now();
      text += chunk;
    });
    return { text, tokens, ttftMs: firstAt === undefined ? Number.NaN : firstAt - start, ms: performance.now() - start };
  };
}

export function poolRunner(client: KeepAliveClient, modelId: string, answer: AnswerLength): Runner {
  return async (i) => {
    const { prompt, seed } = requestFor(i);
    const limit = answer.maxTokens === undefined ? {} : { max_tokens: answer.maxTokens };
    // include_usage: the token count checks that both sides generated as much.
    const body = JSON.stringify({ model: modelId, messages: [{ role: "user", content: prompt }], ...limit, temperature: E2E.temperature, seed, stream: true, stream_options: { include_usage: true } });
    const r = await client.postChatStream("/v1/chat/completions", body);
    return { text: r.text, tokens: r.completionTokens ?? Number.NaN, ttftMs: r.ttftMs, ms: r.ms };
  };
}

interface Side {
  name: "direct" | "pool";
  runner: Runner;
  /** Processes whose CPU time counts for this side. */
  pids: Record<string, number | "self">;
  samples: Map<number, Sample>;
  wallMs: number;
  cpuMs: Record<string, number>;
}

/** Runs `indices` through one side at `concurrency`, adding to its samples, wall time and CPU time. */
async function runSegment(side: Side, indices: readonly number[], concurrency: number, label: string): Promise<void> {
  const cpuBefore = cpuNow(side.pids);
  const wallMs = await runClosedLoop(indices, concurrency, async (i) => {
    side.samples.set(i, await side.runner(i));
  });
  const cpu = cpuSince(cpuBefore, side.pids);
  side.wallMs += wallMs;
  for (const [k, v] of Object.entries(cpu)) side.cpuMs[k] = (side.cpuMs[k] ?? 0) + v;
  progress(`${label} ${side.name}: ${indices.length} requests in ${Math.round(wallMs)} ms (${side.samples.size} done on this side)`);
}

function sideResult(side: Side): SideResult {
  const all = [...side.samples.values()];
  const cpuMsPerRequest = Object.fromEntries(Object.entries(side.cpuMs).map(([k, v]) => [k, round3(v / all.length)]));
  return { totalMs: Math.round(side.wallMs), latency: summarize(all.map((s) => s.ms)), ttft: summarize(all.map((s) => s.ttftMs).filter((x) => !Number.isNaN(x))), cpuMsPerRequest };
}

/** Index ranges of the measured segments. */
function segments(): number[][] {
  const size = Math.ceil(E2E.requests / E2E.segments);
  return Array.from({ length: E2E.segments }, (_, k) => Array.from({ length: Math.min(size, E2E.requests - k * size) }, (_, i) => k * size + i));
}

function compareOutputs(direct: Map<number, Sample>, pool: Map<number, Sample>): Pick<EndToEndLevel, "identicalOutputs" | "firstMismatch"> {
  let identical = 0;
  let firstMismatch: EndToEndLevel["firstMismatch"] = null;
  for (let i = 0; i < E2E.requests; i++) {
    const d = direct.get(i)?.text ?? "";
    const p = pool.get(i)?.text ?? "";
    if (d === p) identical++;
    else firstMismatch ??= { index: i, direct: d, pool: p };
  }
  return { identicalOutputs: identical, firstMismatch };
}

export async function measureEndToEnd(pool: PoolProc, apiKey: string, modelFile: string, concurrency: number, answer: AnswerLength): Promise<EndToEndLevel> {
  const slots = concurrency;
  const modelId = modelIdFromPath(modelFile);
  const tag = `e2e ${answer.name} answers c=${concurrency}`;
  progress(`${tag}: loading the direct runtime and starting a worker (${slots} slot(s), 1 thread each)`);
  const runtime = await LlamaRuntime.load({ modelPath: modelFile, slots, threads: 1 });
  const client = new KeepAliveClient(pool.url, apiKey, concurrency);
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    worker = await startWorker(pool, { slots, env: { CELLULE_LOG_LEVEL: "warn" } });
    const mk = (name: Side["name"], runner: Runner, pids: Side["pids"]): Side => ({ name, runner, pids, samples: new Map(), wallMs: 0, cpuMs: {} });
    const direct = mk("direct", directRunner(runtime, modelId, answer), { self: "self" });
    const viaPool = mk("pool", poolRunner(client, modelId, answer), { pool: pool.proc.pid!, worker: worker.proc.pid!, client: "self" });
    const warm = Array.from({ length: E2E.warmup }, (_, k) => E2E.requests + k);
    for (const side of [direct, viaPool]) await runSegment({ ...side, samples: new Map(), wallMs: 0, cpuMs: {} }, warm, concurrency, `${tag} warm-up`);

    for (const [k, indices] of segments().entries()) {
      const order = k % 2 === 0 ? [direct, viaPool] : [viaPool, direct];
      for (const side of order) await runSegment(side, indices, concurrency, `${tag} segment ${k + 1}/${E2E.segments}`);
    }
    const d = sideResult(direct);
    const p = sideResult(viaPool);
    const meanTokens = (side: Side) => summarize([...side.samples.values()].map((s) => s.tokens)).mean;
    return {
      answer: answer.name,
      maxTokens: answer.maxTokens ?? DEFAULT_MAX_TOKENS,
      meanAnswerTokens: { direct: meanTokens(direct), pool: meanTokens(viaPool) },
      concurrency,
      slots,
      requests: E2E.requests,
      direct: d,
      pool: p,
      totalTimeRatio: round3(viaPool.wallMs / direct.wallMs),
      addedMsPerRequest: round3((viaPool.wallMs - direct.wallMs) / E2E.requests),
      addedTtftP50Ms: round3(p.ttft.p50 - d.ttft.p50),
      addedTtftP95Ms: round3(p.ttft.p95 - d.ttft.p95),
      ...compareOutputs(direct.samples, viaPool.samples),
    };
  } finally {
    client.close();
    if (worker) await stopGracefully(worker, "worker");
    await runtime.close();
  }
}
