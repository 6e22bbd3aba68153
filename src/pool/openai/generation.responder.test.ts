import type { AddressInfo, Socket } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { GenerateJob } from "../../protocol/worker.protocol.js";
import { configureLogging, moduleLogger } from "../../shared/logger.js";
import { installErrorHandling } from "../http/error-handler.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { respondGeneration, type Shape } from "./generation.responder.js";
import { InferenceService } from "./inference.service.js";
import { fakeWorker, servedModel, type FakeWorker } from "../../../test/harness/worker.js";

/** What the fake worker does with the next generate job: text chunks, then done or a job error. */
interface Script {
  /** The test sends the chunks and the end itself (dispatcher.onChunk/onDone): nothing is played. */
  manual?: boolean;
  chunks: string[];
  end: { finishReason: "stop" | "length"; promptTokens: number } | { error: "invalid_request" | "runtime"; code: string; message: string };
}

let app: FastifyInstance;
let registry: WorkerRegistry;
let dispatcher: Dispatcher;
let worker: FakeWorker;
let script: Script;
const jobs: GenerateJobState[] = [];
/** The server side of the last request's connection (real sockets only, see the TCP writes test). */
let lastSocket: Socket | undefined;

function play(job: GenerateJob): void {
  const { chunks, end, manual } = script;
  if (manual) return;
  setImmediate(() => {
    for (const text of chunks) dispatcher.onChunk(worker.conn, { type: "chunk", jobId: job.jobId, text, tokens: 1 });
    if ("error" in end) dispatcher.onJobError(worker.conn, { type: "job_error", jobId: job.jobId, kind: end.error, code: end.code, message: end.message });
    else dispatcher.onDone(worker.conn, { type: "done", jobId: job.jobId, finishReason: end.finishReason, promptTokens: end.promptTokens, completionTokens: chunks.length });
  });
}

beforeAll(async () => {
  configureLogging("silent");
  registry = new WorkerRegistry();
  dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 10_000, maxAttempts: 1 });
  const inference = new InferenceService({ dispatcher, registry });
  worker = fakeWorker("w1", { slots: 4, models: [servedModel("m1")], onMessage: (msg) => msg.type === "generate" && play(msg) });
  registry.add(worker.conn);

  app = Fastify({ logger: false });
  installErrorHandling(app, moduleLogger("test"));
  app.post<{ Params: { shape: Shape }; Body: { stream?: boolean; usage?: boolean; extra?: Record<string, unknown>; model?: string } }>("/v1/test/:shape", async (req, reply) => {
    const job = new GenerateJobState(req.body.model ?? "m1", req.params.shape === "chat" ? "chat" : "completion", req.params.shape === "chat" ? { messages: [{ role: "user", content: "hi" }] } : { prompt: "Once" }, { maxTokens: 20 });
    jobs.push(job);
    lastSocket = req.raw.socket;
    return respondGeneration(req, reply, inference, job, req.params.shape, { stream: req.body.stream ?? false, includeUsage: req.body.usage ?? false, extra: req.body.extra });
  });
  await app.ready();
});
afterAll(() => app.close());
beforeEach(() => {
  script = { chunks: ["Hel", "lo"], end: { finishReason: "stop", promptTokens: 5 } };
  jobs.length = 0;
});

const post = (shape: Shape, body: Record<string, unknown>) => app.inject({ method: "POST", url: `/v1/test/${shape}`, payload: body });

/** The JSON events of an SSE body, and whether it ended with `data: [DONE]`. */
function events(body: string): { events: Record<string, unknown>[]; done: boolean } {
  const frames = body.split("\n\n").filter((f) => f !== "");
  for (const f of frames) expect(f.startsWith("data: ")).toBe(true);
  const datas = frames.map((f) => f.slice("data: ".length));
  const done = datas.at(-1) === "[DONE]";
  return { events: (done ? datas.slice(0, -1) : datas).map((d) => JSON.parse(d) as Record<string, unknown>), done };
}

describe("respondGeneration, whole responses", () => {
  it("answers a chat.completion with the full message, finish_reason and usage", async () => {
    const res = await post("chat", {});
    expect(res.statusCode).toBe(200);
    const body = res.json<Record<string, unknown>>();
    expect(body).toEqual({
      id: `chatcmpl-${jobs[0]!.id}`,
      object: "chat.completion",
      created: expect.any(Number) as number,
      model: "m1",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello", refusal: null }, finish_reason: "stop", logprobs: null }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    });
    expect(Math.abs((body.created as number) - Date.now() / 1000)).toBeLessThan(60);
  });

  it("splits <think> reasoning out of the chat message into reasoning_content", async () => {
    script.chunks = ["<think>plan", "</think>", "Answer"];
    const body = (await post("chat", {})).json<{ choices: { message: Record<string, unknown> }[] }>();
    expect(body.choices[0]!.message).toMatchObject({ content: "Answer", reasoning_content: "plan" });
  });

  it("answers a text_completion with the raw text, finish_reason length, and extra top-level fields", async () => {
    script.end = { finishReason: "length", promptTokens: 3 };
    const body = (await post("completion", { extra: { citations: [1] } })).json<Record<string, unknown>>();
    expect(body).toMatchObject({
      id: `cmpl-${jobs[0]!.id}`,
      object: "text_completion",
      choices: [{ index: 0, text: "Hello", finish_reason: "length", logprobs: null }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      citations: [1],
    });
  });

  it("renders a job error as an OpenAI-shaped error with its status", async () => {
    script = { chunks: [], end: { error: "invalid_request", code: "context_length_exceeded", message: "too long" } };
    const res = await post("chat", {});
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { message: "too long", type: "invalid_request_error", param: null, code: "context_length_exceeded" } });
  });

  it("refuses an unknown model before anything runs (404 model_not_found)", async () => {
    const res = await post("chat", { model: "nope" });
    expect(res.statusCode).toBe(404);
    expect(res.json<{ error: { code: string } }>().error.code).toBe("model_not_found");
    expect(worker.generates().map((g) => g.model)).not.toContain("nope");
  });
});

describe("respondGeneration, streams", () => {
  it("streams chat chunks in order: role first, the text, the finish chunk, usage, then [DONE]", async () => {
    const res = await post("chat", { stream: true, usage: true, extra: { citations: ["c1"] } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    const { events: ev, done } = events(res.body);
    expect(done).toBe(true);
    const id = `chatcmpl-${jobs[0]!.id}`;
    for (const e of ev) expect(e).toMatchObject({ id, object: "chat.completion.chunk", model: "m1" });
    expect(ev.map((e) => e.choices)).toEqual([
      [{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null, logprobs: null }],
      [{ index: 0, delta: { content: "lo" }, finish_reason: null, logprobs: null }],
      [{ index: 0, delta: {}, finish_reason: "stop", logprobs: null }],
      [],
    ]);
    expect(ev[2]!.citations).toEqual(["c1"]);
    expect(ev[3]!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
    expect(ev.slice(0, 3).every((e) => !("usage" in e))).toBe(true);
  });

  it("streams reasoning as reasoning_content deltas and ends an empty answer with role and empty content", async () => {
    script.chunks = ["<think>hm</think>", "Yes"];
    const reasoned = events((await post("chat", { stream: true })).body).events.map((e) => (e.choices as { delta: Record<string, unknown> }[])[0]!.delta);
    expect(reasoned.filter((d) => "reasoning_content" in d).map((d) => d.reasoning_content).join("")).toBe("hm");
    expect(reasoned.filter((d) => "content" in d).map((d) => d.content).join("")).toBe("Yes");

    script.chunks = [];
    const { events: empty, done } = events((await post("chat", { stream: true })).body);
    expect(done).toBe(true);
    expect(empty.map((e) => e.choices)).toEqual([[{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: "stop", logprobs: null }]]);
  });

  it("streams text_completion chunks without usage unless asked", async () => {
    script.end = { finishReason: "length", promptTokens: 1 };
    const { events: ev, done } = events((await post("completion", { stream: true })).body);
    expect(done).toBe(true);
    expect(ev.map((e) => [e.object, e.choices])).toEqual([
      ["text_completion", [{ index: 0, text: "Hel", finish_reason: null, logprobs: null }]],
      ["text_completion", [{ index: 0, text: "lo", finish_reason: null, logprobs: null }]],
      ["text_completion", [{ index: 0, text: "", finish_reason: "length", logprobs: null }]],
    ]);
  });

  it("ends a stream that fails after its first token with an OpenAI error event and no [DONE]", async () => {
    script = { chunks: ["Hel"], end: { error: "runtime", code: "crash", message: "boom" } };
    const res = await post("chat", { stream: true });
    expect(res.statusCode).toBe(200);
    const { events: ev, done } = events(res.body);
    expect(done).toBe(false);
    expect(ev[0]!.choices).toEqual([{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null, logprobs: null }]);
    expect(ev.at(-1)).toEqual({ error: { message: expect.stringContaining("boom") as string, type: expect.any(String) as string, param: null, code: "worker_failed" } });
  });

  it("answers a stream that fails before any token with a real HTTP error status", async () => {
    script = { chunks: [], end: { error: "invalid_request", code: "bad_grammar", message: "no" } };
    const res = await post("completion", { stream: true });
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toContain("application/json");
    expect(res.json()).toEqual({ error: { message: "no", type: "invalid_request_error", param: null, code: "bad_grammar" } });
  });
});

describe("respondGeneration, TCP writes of a stream", () => {
  const nextTick = () => new Promise<void>((r) => process.nextTick(r));
  const nextTurn = () => new Promise<void>((r) => setImmediate(r));

  it("sends the first chunk at once, then one write per turn of the event loop: the last text, finish, usage and [DONE] together", async () => {
    script = { manual: true, chunks: [], end: { finishReason: "stop", promptTokens: 3 } };
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as AddressInfo;
    const answer = fetch(`http://127.0.0.1:${port}/v1/test/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ stream: true, usage: true }) }).then((r) => r.text());
    await vi.waitFor(() => expect(jobs[0]?.state).toBe("running"));
    const job = jobs[0]!;
    const socket = lastSocket!;
    // Each call is one write(v) to the kernel: what wakes the client.
    const writes = vi.fn();
    const write = socket._write.bind(socket);
    const writev = socket._writev!.bind(socket);
    socket._write = (...args) => (writes(), write(...args));
    socket._writev = (...args) => (writes(), writev(...args));
    const chunk = (text: string) => dispatcher.onChunk(worker.conn, { type: "chunk", jobId: job.id, text, tokens: 1 });

    chunk("Hel");
    await nextTick(); // Node's own cork of a response write lasts until the next tick
    expect(writes).toHaveBeenCalledTimes(1); // headers and the first chunk, without waiting for the next turn

    chunk("lo");
    chunk(" wor");
    await nextTick();
    expect(writes).toHaveBeenCalledTimes(1); // held until the end of this turn...
    await nextTurn();
    expect(writes).toHaveBeenCalledTimes(2); // ...then both in one write

    chunk("ld");
    dispatcher.onDone(worker.conn, { type: "done", jobId: job.id, finishReason: "stop", promptTokens: 3, completionTokens: 4 });
    const { events: ev, done } = events(await answer);
    expect(writes).toHaveBeenCalledTimes(3);
    expect(done).toBe(true);
    expect(ev.map((e) => (e.choices as { delta?: { content?: string } }[])[0]?.delta?.content ?? null)).toEqual(["Hel", "lo", " wor", "ld", null, null]);
    expect(ev.at(-1)!.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });
});
