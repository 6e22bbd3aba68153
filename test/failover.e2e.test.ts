/**
 * The dispatcher under failure, with real processes: cancel on disconnect, queue full, kill -9 of a
 * worker before and during a streamed answer (the client still gets a whole answer from another
 * worker), and the explicit error event when no worker is left.
 * Workers here run with 2 llama threads, which on this 2-core machine makes stories260K slow
 * enough (~100 tokens/s instead of ~1,500) to act in the middle of an answer.
 */
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, MODEL_ID, startPool, startWorker, waitFor, type PoolProc, type WorkerProc } from "./helpers.js";

let pool: PoolProc;
let client: OpenAI;
let adminKey: string;
const workers: WorkerProc[] = [];

const slowWorker = async () => {
  const w = await startWorker(pool, { slots: 1, args: ["--threads", "2"] });
  workers.push(w);
  return w;
};
const workerId = (w: WorkerProc) => (JSON.parse(readFileSync(w.configPath, "utf8")) as { workerId: string }).workerId;

/** The worker process currently running a job (its pool-side free_slots is 0). */
async function busyWorker(): Promise<WorkerProc> {
  return waitFor(async () => {
    const r = await fetch(`${pool.url}/v1/admin/workers`, { headers: { authorization: `Bearer ${adminKey}` } });
    const list = (await r.json()) as { data: { id: string; connected: boolean; free_slots: number | null }[] };
    const busy = list.data.find((w) => w.connected && w.free_slots === 0);
    return busy ? workers.find((w) => workerId(w) === busy.id) : undefined;
  }, "a busy worker");
}

const jobs = async () => ((await (await fetch(`${pool.url}/v1/status`)).json()) as { jobs: { failovers: number; failed: number; cancelled: number }; queue: { running: number; waiting: number }; workers: { connected: number; slots_free: number; slots_total: number } });

const story = [{ role: "user" as const, content: "Tell me a long story about a little girl and her dog." }];

beforeAll(async () => {
  pool = await startPool({ env: { CELLULE_QUEUE_SIZE: "1" } });
  // Keys and both workers at once: each startWorker waits for its own worker's credential.
  let userKey: string;
  [userKey, adminKey] = await Promise.all([pool.createKey(), pool.createKey(true), slowWorker(), slowWorker()]);
  client = new OpenAI({ apiKey: userKey, baseURL: `${pool.url}/v1`, maxRetries: 0 });
  expect((await jobs()).workers.connected).toBe(2);
});

afterAll(killAll);

describe("failover", () => {
  it("cancels the job on the worker within a second of the client disconnecting", async () => {
    const ctrl = new AbortController();
    const stream = await client.chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: 1500, stream: true }, { signal: ctrl.signal });
    const w = await busyWorker();
    let got = 0;
    try {
      for await (const c of stream) {
        if (c.choices[0]?.delta.content) got++;
        if (got >= 2) ctrl.abort();
      }
    } catch {
      /* aborted */
    }
    const abortedAt = Date.now();
    await waitFor(() => w.output().includes("job cancelled by pool"), "the worker to cancel", 1000, 20);
    await waitFor(async () => (await jobs()).queue.running === 0, "the slot to be freed", 1000, 20);
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    const s = await jobs();
    expect(s.jobs.cancelled).toBe(1);
    expect(s.workers.slots_free).toBe(s.workers.slots_total);
  });

  it("answers 429 when the model's queue is full", async () => {
    const ctrl = new AbortController();
    const long = () => client.chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: 1500 }, { signal: ctrl.signal }).catch(() => undefined);
    const inflight = [long(), long()];
    await waitFor(async () => (await jobs()).queue.running === 2, "both workers busy");
    inflight.push(long());
    await waitFor(async () => (await jobs()).queue.waiting === 1, "one job queued");
    const err = await client.chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("queue_full");
    ctrl.abort();
    await Promise.all(inflight);
    await waitFor(async () => (await jobs()).queue.running === 0 && (await jobs()).queue.waiting === 0, "the queue to empty", 3000);
  });

  it("continues a streamed answer on another worker when its worker is killed -9 mid-answer", async () => {
    const before = (await jobs()).jobs.failovers;
    const stream = await client.chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: 300, seed: 11, temperature: 0.8, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let killed: WorkerProc | undefined;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
      if (c.usage) usage = c.usage;
      if (!killed && text.length > 20) {
        killed = await busyWorker();
        await killed.kill("SIGKILL");
      }
    }
    expect(killed).toBeDefined();
    expect(finish).toMatch(/^(stop|length)$/);
    expect((await jobs()).jobs.failovers).toBe(before + 1);
    expect(text.length).toBeGreaterThan(20);
    expect(usage!.completion_tokens).toBeLessThanOrEqual(300);
    await waitFor(async () => (await jobs()).workers.connected === 1, "the dead worker to be dropped");
  });

  it("re-runs a non-streamed job whose worker dies before the client got anything", async () => {
    await slowWorker();
    const before = (await jobs()).jobs.failovers;
    const pending = client.chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: 120, seed: 5, temperature: 0.8 });
    const w = await busyWorker();
    await w.kill("SIGKILL");
    const r = await pending;
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(r.choices[0]!.finish_reason).toMatch(/^(stop|length)$/);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(120);
    expect((await jobs()).jobs.failovers).toBe(before + 1);
  });

  it("ends the stream with an explicit error event when no worker is left", async () => {
    await waitFor(async () => (await jobs()).workers.connected === 1, "one worker left");
    const stream = await client.chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: 1500, stream: true });
    let text = "";
    const read = (async () => {
      for await (const c of stream) {
        text += c.choices[0]?.delta.content ?? "";
        if (text.length > 10 && workers.some((w) => w.proc.exitCode === null && w.proc.signalCode === null)) {
          for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) await w.kill("SIGKILL");
        }
      }
    })();
    const err = await read.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toMatch(/no other worker/);
  });

  it("answers 503 with Retry-After for a known model with no worker connected", async () => {
    await waitFor(async () => (await jobs()).workers.connected === 0, "no worker left");
    const r = await fetch(`${pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${client.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages: story }),
    });
    expect(r.status).toBe(503);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("no_worker_available");
  });
});
