import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Capability, GenerateParams, Hardware, ServedModel } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { configureLogging } from "../../shared/logger.js";
import { Dispatcher, type DispatcherOptions } from "./dispatcher.js";
import { EmbedJobState, GenerateJobState } from "./job.js";
import type { WorkerConnection } from "./worker-connection.js";
import { WorkerRegistry } from "./worker-registry.js";
import { rejection, thrown } from "../../../test/expect-app-error.js";
import { fakeWorker, servedModel, type FakeWorker } from "../../../test/harness/worker.js";

const HARDWARE: Hardware = { cores: 4, physicalCores: 2, ramBytes: 8e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-mid" };

interface TestWorker {
  conn: WorkerConnection;
  /** What the pool sent this worker (the harness's fake worker records it). */
  ws: FakeWorker;
}

function model(id: string, capabilities: Capability[] = ["chat", "completion"]): ServedModel {
  return servedModel(id, capabilities);
}

function makeWorker(id: string, opts: { slots?: number; models?: ServedModel[]; lastUsedAt?: number } = {}): TestWorker {
  const ws = fakeWorker(id, { hardware: HARDWARE, models: opts.models ?? [model("m1")], slots: opts.slots ?? 1, ...(opts.lastUsedAt !== undefined ? { lastUsedAt: opts.lastUsedAt } : {}) });
  return { conn: ws.conn, ws };
}

function chat(modelId = "m1", params: Partial<GenerateParams> = {}): GenerateJobState {
  return new GenerateJobState(modelId, "chat", { messages: [{ role: "user", content: "Tell me a story" }] }, { maxTokens: 100, ...params });
}

/** Lets queued microtasks (the dispatcher drains queues in one) run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

beforeAll(() => configureLogging("silent"));

let registry: WorkerRegistry;
let dispatcher: Dispatcher;

function setup(opts: Partial<Omit<DispatcherOptions, "registry">> = {}): void {
  registry = new WorkerRegistry();
  dispatcher = new Dispatcher({ registry, queueSize: 2, jobTimeoutMs: 60_000, maxAttempts: 3, retryAfterSeconds: 7, ...opts });
}

function add(...workers: TestWorker[]): void {
  for (const w of workers) registry.add(w.conn);
}

beforeEach(() => setup());
afterEach(() => {
  vi.useRealTimers();
});

describe("Dispatcher placement", () => {
  it("sends a job to the serving worker with the most free slots", () => {
    const a = makeWorker("a", { slots: 2 });
    const b = makeWorker("b", { slots: 3, lastUsedAt: Date.now() + 10_000 });
    const other = makeWorker("other", { slots: 8, models: [model("m2")] });
    add(a, other, b);
    const job = chat();
    dispatcher.submit(job);
    expect(b.ws.generates().map((m) => m.jobId)).toEqual([job.id]);
    expect(a.ws.sent).toEqual([]);
    expect(other.ws.sent).toEqual([]);
    expect(job.state).toBe("running");
    expect(job.worker).toBe(b.conn);
    expect(job.attempts).toBe(1);
    expect(b.conn.busy).toBe(1);
    expect(dispatcher.active).toBe(1);
  });

  it("breaks ties on free slots by least recent use", () => {
    const a = makeWorker("a", { slots: 2, lastUsedAt: 2_000 });
    const b = makeWorker("b", { slots: 2, lastUsedAt: 1_000 });
    const c = makeWorker("c", { slots: 2, lastUsedAt: 3_000 });
    add(a, b, c);
    const first = chat();
    dispatcher.submit(first);
    expect(first.worker).toBe(b.conn);
    expect(b.conn.lastUsedAt).toBeGreaterThan(3_000);
    // b now has 1 free slot, a and c have 2: a was used less recently than c.
    const second = chat();
    dispatcher.submit(second);
    expect(second.worker).toBe(a.conn);
  });

  it("ignores workers that serve the model without the requested capability", () => {
    const chatOnly = makeWorker("chat-only", { slots: 4, models: [model("m1", ["chat"])] });
    const both = makeWorker("both", { slots: 1, models: [model("m1", ["chat", "completion"])] });
    add(chatOnly, both);
    const job = new GenerateJobState("m1", "completion", { prompt: "Once" }, { maxTokens: 10 });
    dispatcher.submit(job);
    expect(job.worker).toBe(both.conn);
    expect(both.ws.generates()[0]).toMatchObject({ jobId: job.id, model: "m1", input: { prompt: "Once" }, params: { maxTokens: 10 } });
    expect(chatOnly.ws.sent).toEqual([]);
  });

  it("refuses an unknown model with 404 model_not_found", () => {
    add(makeWorker("a"));
    const err = thrown(() => dispatcher.submit(chat("nope")));
    expect(err.status).toBe(404);
    expect(err.code).toBe("model_not_found");
    expect(err.param).toBe("model");
    expect(dispatcher.waiting).toBe(0);
  });

  it("answers 503 no_worker_available with Retry-After for a known model with no worker connected", () => {
    registry.remember([model("m1")]);
    const job = chat();
    const err = thrown(() => dispatcher.submit(job));
    expect(err.status).toBe(503);
    expect(err.code).toBe("no_worker_available");
    expect(err.retryAfterSeconds).toBe(7);
    expect(dispatcher.waiting).toBe(0);
    expect(job.timer).toBeUndefined();
  });

  it("answers 503 once the last worker for a model has gone", () => {
    const a = makeWorker("a");
    add(a);
    registry.markGone(a.conn);
    const err = thrown(() => dispatcher.submit(chat()));
    expect(err.status).toBe(503);
    expect(err.code).toBe("no_worker_available");
  });

  it("refuses a capability the model does not have with 400", () => {
    add(makeWorker("a", { models: [model("m1", ["chat"])] }));
    const err = thrown(() => dispatcher.submit(new EmbedJobState("m1", ["hello"])));
    expect(err.status).toBe(400);
    expect(err.code).toBe("unsupported_capability");
    expect(err.param).toBe("model");
  });

  it("queues jobs beyond the free slots and refuses with 429 queue_full past queueSize", () => {
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const running = chat();
    const q1 = chat();
    const q2 = chat();
    dispatcher.submit(running);
    dispatcher.submit(q1);
    dispatcher.submit(q2);
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([running.id]);
    expect(q1.state).toBe("queued");
    expect(q1.worker).toBeUndefined();
    expect(dispatcher.waiting).toBe(2);
    expect(dispatcher.active).toBe(1);

    const err = thrown(() => dispatcher.submit(chat()));
    expect(err.status).toBe(429);
    expect(err.code).toBe("queue_full");
    expect(err.retryAfterSeconds).toBeGreaterThan(0);
    expect(dispatcher.waiting).toBe(2);
  });
});

describe("Dispatcher job lifecycle", () => {
  it("appends chunks to the job and reports each piece of text", () => {
    const a = makeWorker("a");
    add(a);
    const job = chat();
    const seen: string[] = [];
    job.onText = (t) => seen.push(t);
    dispatcher.submit(job);
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: "Once", tokens: 1 });
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: " upon a", tokens: 2 });
    expect(job.rawText).toBe("Once upon a");
    expect(job.completionTokens).toBe(3);
    expect(seen).toEqual(["Once", " upon a"]);
    // A chunk for a job this worker does not run is ignored.
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: "someone-else", text: "x", tokens: 1 });
    expect(job.rawText).toBe("Once upon a");
  });

  it("resolves on done, frees the slot and sends the next queued job (FIFO) to that worker", async () => {
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const j1 = chat();
    const j2 = chat();
    const j3 = chat();
    dispatcher.submit(j1);
    dispatcher.submit(j2);
    dispatcher.submit(j3);
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: j1.id, text: "The end", tokens: 2 });
    dispatcher.onDone(a.conn, { type: "done", jobId: j1.id, finishReason: "stop", promptTokens: 5, completionTokens: 2 });
    await expect(j1.result).resolves.toEqual({ finishReason: "stop", promptTokens: 5, completionTokens: 2 });
    expect(j1.state).toBe("done");
    await flush();
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([j1.id, j2.id]);
    expect(j2.state).toBe("running");
    expect(j3.state).toBe("queued");
    expect(dispatcher.waiting).toBe(1);
    expect(a.conn.busy).toBe(1);
    expect(dispatcher.stats.completed).toBe(1);

    dispatcher.onDone(a.conn, { type: "done", jobId: j2.id, finishReason: "length", promptTokens: 5, completionTokens: 0 });
    await flush();
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([j1.id, j2.id, j3.id]);
    expect(dispatcher.waiting).toBe(0);
  });

  it("drains a queue when a new worker for the model connects", () => {
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const j1 = chat();
    const j2 = chat();
    dispatcher.submit(j1);
    dispatcher.submit(j2);
    const b = makeWorker("b", { slots: 1 });
    add(b);
    expect(b.ws.generates().map((m) => m.jobId)).toEqual([j2.id]);
    expect(dispatcher.waiting).toBe(0);
  });

  it("runs embedding jobs and resolves them with the vectors", async () => {
    const a = makeWorker("a", { models: [model("emb", ["embedding"])] });
    add(a);
    const job = new EmbedJobState("emb", ["hello", "world"]);
    dispatcher.submit(job);
    expect(a.ws.sent).toEqual([{ type: "embed", jobId: job.id, model: "emb", input: ["hello", "world"] }]);
    dispatcher.onEmbedResult(a.conn, { type: "embed_result", jobId: job.id, vectors: [[1, 0], [0, 1]], promptTokens: 2 });
    await expect(job.result).resolves.toEqual({ vectors: [[1, 0], [0, 1]], promptTokens: 2 });
    expect(a.conn.busy).toBe(0);
  });
});

describe("Dispatcher priorities: interactive jobs ahead of bulk ingest", () => {
  const bulk = (text: string) => {
    const j = new EmbedJobState("emb", [text]);
    j.priority = "bulk";
    return j;
  };
  const embedIds = (w: TestWorker) => w.ws.ofType("embed").map((m) => m.jobId);
  const answer = (w: TestWorker, jobId: string) => dispatcher.onEmbedResult(w.conn, { type: "embed_result", jobId, vectors: [[1, 0]], promptTokens: 1 });

  it("a query embedding submitted after queued ingest batches takes the next free slot", async () => {
    const a = makeWorker("a", { models: [model("emb", ["embedding"])] });
    add(a);
    const [b1, b2, b3] = [bulk("c1"), bulk("c2"), bulk("c3")];
    dispatcher.configure({ queueSize: 4 });
    for (const j of [b1, b2, b3]) dispatcher.submit(j);
    const query = new EmbedJobState("emb", ["what is the notice period?"]);
    dispatcher.submit(query);
    expect(embedIds(a)).toEqual([b1.id]);
    answer(a, b1.id);
    await flush();
    expect(embedIds(a)).toEqual([b1.id, query.id]);
    answer(a, query.id);
    await flush();
    expect(embedIds(a)).toEqual([b1.id, query.id, b2.id]);
  });

  it("bulk jobs never fill an interactive job's room in the queue; they get 429 themselves", () => {
    const a = makeWorker("a", { models: [model("emb", ["embedding"])] });
    add(a);
    for (const j of [bulk("c1"), bulk("c2"), bulk("c3")]) dispatcher.submit(j); // 1 running, 2 waiting = queueSize
    expect(thrown(() => dispatcher.submit(bulk("c4"))).code).toBe("queue_full");
    dispatcher.submit(new EmbedJobState("emb", ["q1"]));
    dispatcher.submit(new EmbedJobState("emb", ["q2"]));
    expect(thrown(() => dispatcher.submit(new EmbedJobState("emb", ["q3"]))).code).toBe("queue_full");
    expect(dispatcher.waiting).toBe(4);
  });

  it("a worker serving chat and embeddings takes a waiting chat before an older ingest batch", async () => {
    const a = makeWorker("a", { models: [model("m1", ["chat", "completion", "embedding"])] });
    add(a);
    const running = chat();
    dispatcher.submit(running);
    const batch = new EmbedJobState("m1", ["c1"]);
    batch.priority = "bulk";
    dispatcher.submit(batch);
    const waiting = chat();
    dispatcher.submit(waiting);
    dispatcher.onDone(a.conn, { type: "done", jobId: running.id, finishReason: "stop", promptTokens: 3, completionTokens: 5 });
    await flush();
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([running.id, waiting.id]);
    expect(a.ws.ofType("embed")).toHaveLength(0);
  });

  it("a bulk batch re-queued after its worker was lost stays behind waiting interactive jobs", async () => {
    const a = makeWorker("a", { models: [model("emb", ["embedding"])] });
    const b = makeWorker("b", { models: [model("emb", ["embedding"])] });
    add(a, b);
    const [b1, b2] = [bulk("c1"), bulk("c2")];
    dispatcher.submit(b1);
    dispatcher.submit(b2);
    const query = new EmbedJobState("emb", ["q"]);
    dispatcher.submit(query);
    // Each worker runs one batch; the query waits. The worker running b1 is lost.
    const [lostOn, survivor] = embedIds(a)[0] === b1.id ? [a, b] : [b, a];
    expect(embedIds(survivor)).toEqual([b2.id]);
    registry.markGone(lostOn.conn);
    await flush();
    answer(survivor, b2.id);
    await flush();
    expect(embedIds(survivor)).toEqual([b2.id, query.id]);
    answer(survivor, query.id);
    await flush();
    expect(embedIds(survivor)).toEqual([b2.id, query.id, b1.id]);
  });
});

describe("Dispatcher request ids", () => {
  it("sends the job's request id to the worker (again after a failover), and omits it when there is none", () => {
    const a = makeWorker("a", { models: [model("m1", ["chat", "completion", "embedding"])] });
    add(a);
    const job = chat();
    job.requestId = "req-abc.123";
    dispatcher.submit(job);
    expect(a.ws.generates()[0]).toMatchObject({ jobId: job.id, requestId: "req-abc.123" });
    const b = makeWorker("b");
    add(b);
    registry.markGone(a.conn);
    expect(b.ws.generates()[0]).toMatchObject({ jobId: job.id, requestId: "req-abc.123" });

    const plain = chat();
    const c = makeWorker("c");
    add(c);
    dispatcher.submit(plain);
    expect(c.ws.generates()[0]).not.toHaveProperty("requestId");

    const embed = new EmbedJobState("m1", ["hello"]);
    embed.requestId = "req-embed";
    expect(embed.message()).toEqual({ type: "embed", jobId: embed.id, model: "m1", input: ["hello"], requestId: "req-embed" });
    expect(new EmbedJobState("m1", ["x"]).message()).not.toHaveProperty("requestId");
  });

  it("a worker message with or without requestId parses (the field is optional); an unsafe one does not", async () => {
    const { PoolMessage } = await import("../../protocol/worker.protocol.js");
    const base = { type: "generate", jobId: "j", model: "m1", input: { prompt: "x" }, params: { maxTokens: 1 } };
    expect(PoolMessage.safeParse(base).success).toBe(true);
    expect(PoolMessage.safeParse({ ...base, requestId: "abc-1" }).success).toBe(true);
    expect(PoolMessage.safeParse({ ...base, requestId: "bad id\n" }).success).toBe(false);
  });
});

describe("Dispatcher failover", () => {
  it("continues a generation on another worker after the text already produced", async () => {
    const a = makeWorker("a");
    add(a);
    const job = chat("m1", { temperature: 0.5 });
    const seen: string[] = [];
    job.onText = (t) => seen.push(t);
    dispatcher.submit(job);
    const b = makeWorker("b");
    add(b);
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: "Once", tokens: 1 });
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: " upon a", tokens: 2 });

    registry.markGone(a.conn);

    const resent = b.ws.generates();
    expect(resent).toHaveLength(1);
    expect(resent[0]).toEqual({
      type: "generate",
      jobId: job.id,
      model: "m1",
      input: { messages: [{ role: "user", content: "Tell me a story" }] },
      continuation: "Once upon a",
      params: { maxTokens: 97, temperature: 0.5 },
    });
    expect(job.worker).toBe(b.conn);
    expect(job.attempts).toBe(2);
    expect(a.conn.busy).toBe(0);
    expect(dispatcher.active).toBe(1);
    expect(dispatcher.stats.failovers).toBe(1);

    // The dead worker's late chunks are ignored; the new worker's are appended.
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: " ghost", tokens: 1 });
    dispatcher.onChunk(b.conn, { type: "chunk", jobId: job.id, text: " time", tokens: 1 });
    dispatcher.onDone(b.conn, { type: "done", jobId: job.id, finishReason: "stop", promptTokens: 9, completionTokens: 1 });
    await expect(job.result).resolves.toEqual({ finishReason: "stop", promptTokens: 9, completionTokens: 4 });
    expect(job.rawText).toBe("Once upon a time");
    expect(seen).toEqual(["Once", " upon a", " time"]);
  });

  it("puts a failed-over job at the head of the queue when every other worker is busy", async () => {
    const a = makeWorker("a", { lastUsedAt: 1 });
    const b = makeWorker("b", { lastUsedAt: 2 });
    add(a, b);
    const onA = chat();
    const onB = chat();
    const waiting = chat();
    dispatcher.submit(onA);
    dispatcher.submit(onB);
    dispatcher.submit(waiting);
    expect(onA.worker).toBe(a.conn);
    expect(onB.worker).toBe(b.conn);
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: onA.id, text: "Hi", tokens: 1 });

    registry.markGone(a.conn);
    expect(onA.state).toBe("queued");
    expect(dispatcher.waiting).toBe(2);

    dispatcher.onDone(b.conn, { type: "done", jobId: onB.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    await flush();
    const sentToB = b.ws.generates();
    expect(sentToB.map((m) => m.jobId)).toEqual([onB.id, onA.id]);
    expect(sentToB[1]).toMatchObject({ continuation: "Hi", params: { maxTokens: 99 } });
    expect(waiting.state).toBe("queued");
  });

  it("does not send a continuation when the dead worker had produced nothing", () => {
    const a = makeWorker("a");
    add(a);
    const job = chat();
    dispatcher.submit(job);
    const b = makeWorker("b");
    add(b);
    registry.markGone(a.conn);
    const resent = b.ws.generates()[0]!;
    expect(resent.jobId).toBe(job.id);
    expect(resent).not.toHaveProperty("continuation");
    expect(resent.params.maxTokens).toBe(100);
  });

  it("never hands a JSON-schema job to a second worker: a lost worker fails it with 502 worker_lost (the poisoned-job rule)", async () => {
    const a = makeWorker("a", { lastUsedAt: 1 });
    const b = makeWorker("b", { lastUsedAt: 2 });
    const c = makeWorker("c", { lastUsedAt: 3 });
    add(a, b, c);
    const poison = chat("m1", { json: { schema: { type: "object" } } });
    dispatcher.submit(poison);
    expect(poison.worker).toBe(a.conn);
    registry.markGone(a.conn);
    const err = await rejection(poison.result);
    expect(err.status).toBe(502);
    expect(err.code).toBe("worker_lost");
    expect(err.message).toMatch(/JSON schema is not retried on another worker/);
    expect(b.ws.generates()).toEqual([]);
    expect(c.ws.generates()).toEqual([]);
    expect(dispatcher.stats).toMatchObject({ failed: 1, failovers: 0 });
    // The other workers keep serving.
    const next = chat();
    dispatcher.submit(next);
    expect(next.worker).toBe(b.conn);
  });

  it("fails every job of a worker declared dead by missed heartbeats instead of failing it over, but fails over a crashed worker's plain jobs", async () => {
    const a = makeWorker("a", { slots: 2, lastUsedAt: 1 });
    const b = makeWorker("b", { slots: 2, lastUsedAt: 2 });
    add(a, b);
    const hung = chat();
    const jsonMode = chat("m1", { json: "object" });
    dispatcher.submit(hung);
    dispatcher.submit(jsonMode);
    expect([hung.worker, jsonMode.worker]).toEqual([a.conn, b.conn]);
    registry.markGone(a.conn, "unresponsive");
    const err = await rejection(hung.result);
    expect(err.status).toBe(502);
    expect(err.code).toBe("worker_unresponsive");
    expect(b.ws.generates().map((m) => m.jobId)).toEqual([jsonMode.id]);
    // A closed connection (a crash, a kill -9) is the worker's failure: the job fails over, JSON mode
    // ("object": a fixed grammar, no schema) included.
    const c = makeWorker("c", { slots: 2 });
    add(c);
    registry.markGone(b.conn);
    expect(jsonMode.worker).toBe(c.conn);
    expect(c.ws.generates().map((m) => m.jobId)).toEqual([jsonMode.id]);
    expect(dispatcher.stats.failovers).toBe(1);
  });

  it("fails the job with 503 when no other worker serves the model", async () => {
    const a = makeWorker("a");
    const unrelated = makeWorker("u", { models: [model("m2")] });
    add(a, unrelated);
    const job = chat();
    dispatcher.submit(job);
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: "Once", tokens: 1 });
    registry.markGone(a.conn);
    const err = await rejection(job.result);
    expect(err.status).toBe(503);
    expect(err.code).toBe("no_worker_available");
    expect(err.retryAfterSeconds).toBe(7);
    expect(job.state).toBe("failed");
    expect(unrelated.ws.sent).toEqual([]);
    expect(dispatcher.active).toBe(0);
    expect(dispatcher.stats.failed).toBe(1);
  });

  it("fails queued jobs at once with 503 when the last worker for their model leaves", async () => {
    const a = makeWorker("a");
    add(a);
    const running = chat();
    const queued = chat();
    dispatcher.submit(running);
    dispatcher.submit(queued);
    expect(dispatcher.waiting).toBe(1);
    registry.markGone(a.conn);
    expect((await rejection(queued.result)).status).toBe(503);
    expect((await rejection(running.result)).status).toBe(503);
    expect(dispatcher.waiting).toBe(0);
  });

  it("fails with 502 worker_failed once maxAttempts workers have been tried", async () => {
    setup({ maxAttempts: 2 });
    const a = makeWorker("a", { lastUsedAt: 1 });
    const b = makeWorker("b", { lastUsedAt: 2 });
    const c = makeWorker("c", { lastUsedAt: 3 });
    add(a, b, c);
    const job = chat();
    dispatcher.submit(job);
    expect(job.worker).toBe(a.conn);
    registry.markGone(a.conn);
    expect(job.worker).toBe(b.conn);
    expect(job.attempts).toBe(2);
    registry.markGone(b.conn);
    const err = await rejection(job.result);
    expect(err.status).toBe(502);
    expect(err.code).toBe("worker_failed");
    expect(c.ws.sent).toEqual([]);
  });

  it("finishes with 'length' instead of failing over when the token budget is already spent", async () => {
    const a = makeWorker("a");
    add(a);
    const job = chat("m1", { maxTokens: 3 });
    dispatcher.submit(job);
    const b = makeWorker("b");
    add(b);
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: "one two three", tokens: 3 });
    registry.markGone(a.conn);
    await expect(job.result).resolves.toMatchObject({ finishReason: "length", completionTokens: 3 });
    expect(b.ws.sent).toEqual([]);
  });

  it("fails a job_error of kind invalid_request with 400 and the worker's code, without retrying", async () => {
    const a = makeWorker("a");
    const b = makeWorker("b");
    add(a, b);
    const job = chat();
    dispatcher.submit(job);
    const first = job.worker!;
    dispatcher.onJobError(first, { type: "job_error", jobId: job.id, kind: "invalid_request", code: "context_length_exceeded", message: "too long" });
    const err = await rejection(job.result);
    expect(err.status).toBe(400);
    expect(err.code).toBe("context_length_exceeded");
    expect(err.message).toBe("too long");
    expect(a.conn.busy + b.conn.busy).toBe(0);
    expect(a.ws.generates().length + b.ws.generates().length).toBe(1);
  });

  it("retries a job_error of kind runtime on another worker", async () => {
    // b was used more recently than a, so plain least-recently-used placement would pick a again.
    const a = makeWorker("a", { lastUsedAt: 1 });
    const b = makeWorker("b", { lastUsedAt: Date.now() + 60_000 });
    add(a, b);
    const job = chat();
    dispatcher.submit(job);
    expect(job.worker).toBe(a.conn);
    dispatcher.onJobError(a.conn, { type: "job_error", jobId: job.id, kind: "runtime", code: "crash", message: "llama.cpp crashed" });
    expect(job.worker).toBe(b.conn);
    expect(job.attempts).toBe(2);
    expect(b.ws.generates().map((m) => m.jobId)).toEqual([job.id]);
    expect(a.ws.generates()).toHaveLength(1);
    expect(a.conn.busy).toBe(0);
    await flush();
    expect(a.ws.generates()).toHaveLength(1);
    dispatcher.onDone(b.conn, { type: "done", jobId: job.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    await expect(job.result).resolves.toMatchObject({ finishReason: "stop" });
  });

  it("retries a runtime job_error on the same worker when it is the only one serving the model", () => {
    const a = makeWorker("a");
    add(a);
    const job = chat();
    dispatcher.submit(job);
    dispatcher.onJobError(a.conn, { type: "job_error", jobId: job.id, kind: "runtime", code: "crash", message: "boom" });
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([job.id, job.id]);
    expect(job.attempts).toBe(2);
  });
});

describe("Dispatcher cancellation and timeouts", () => {
  it("cancels a running job: tells the worker, rejects with 'cancelled', frees the slot only on the worker's answer", async () => {
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const job = chat();
    const next = chat();
    dispatcher.submit(job);
    dispatcher.submit(next);
    dispatcher.cancel(job);

    expect(a.ws.ofType("cancel")).toEqual([{ type: "cancel", jobId: job.id }]);
    const err = await rejection(job.result);
    expect(err.code).toBe("cancelled");
    expect(job.state).toBe("cancelled");
    expect(dispatcher.stats.cancelled).toBe(1);

    await flush();
    expect(a.conn.busy).toBe(1);
    expect(next.state).toBe("queued");
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([job.id]);

    // Chunks still in flight are dropped.
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: "late", tokens: 1 });
    expect(job.rawText).toBe("");

    dispatcher.onDone(a.conn, { type: "done", jobId: job.id, finishReason: "stop", promptTokens: 1, completionTokens: 1 });
    await flush();
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([job.id, next.id]);
    expect(next.state).toBe("running");
    // A cancelled job is neither completed nor failed over.
    expect(dispatcher.stats.completed).toBe(0);
    expect(dispatcher.stats.failovers).toBe(0);
  });

  it("frees a cancelled job's slot on a job_error answer too, without retrying it", async () => {
    const a = makeWorker("a");
    const b = makeWorker("b");
    add(a, b);
    const job = chat();
    dispatcher.submit(job);
    const w = job.worker!;
    dispatcher.cancel(job);
    dispatcher.onJobError(w, { type: "job_error", jobId: job.id, kind: "runtime", code: "aborted", message: "aborted" });
    expect(w.busy).toBe(0);
    expect(a.ws.generates().length + b.ws.generates().length).toBe(1);
    expect((await rejection(job.result)).code).toBe("cancelled");
  });

  it("does not fail over a cancelled job when its worker dies", () => {
    const a = makeWorker("a");
    add(a);
    const job = chat();
    dispatcher.submit(job);
    dispatcher.cancel(job);
    const b = makeWorker("b");
    add(b);
    registry.markGone(a.conn);
    expect(b.ws.sent).toEqual([]);
    expect(dispatcher.stats.failovers).toBe(0);
    expect(dispatcher.active).toBe(0);
  });

  it("does not count an embedding result for a cancelled job as completed", async () => {
    const a = makeWorker("a", { models: [model("emb", ["embedding"])] });
    add(a);
    const job = new EmbedJobState("emb", ["hello"]);
    dispatcher.submit(job);
    dispatcher.cancel(job);
    dispatcher.onEmbedResult(a.conn, { type: "embed_result", jobId: job.id, vectors: [[1]], promptTokens: 1 });
    expect((await rejection(job.result)).code).toBe("cancelled");
    expect(a.conn.busy).toBe(0);
    expect(dispatcher.stats).toMatchObject({ completed: 0, cancelled: 1 });
  });

  it("removes a cancelled queued job from the queue", async () => {
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const running = chat();
    const queued = chat();
    const after = chat();
    dispatcher.submit(running);
    dispatcher.submit(queued);
    dispatcher.submit(after);
    dispatcher.cancel(queued);
    expect(dispatcher.waiting).toBe(1);
    expect((await rejection(queued.result)).code).toBe("cancelled");
    expect(a.ws.ofType("cancel")).toEqual([]);

    dispatcher.onDone(a.conn, { type: "done", jobId: running.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    await flush();
    expect(a.ws.generates().map((m) => m.jobId)).toEqual([running.id, after.id]);
    expect(dispatcher.waiting).toBe(0);
  });

  it("ignores a second cancel and a cancel after completion", async () => {
    const a = makeWorker("a");
    add(a);
    const job = chat();
    dispatcher.submit(job);
    dispatcher.onDone(a.conn, { type: "done", jobId: job.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    dispatcher.cancel(job);
    dispatcher.cancel(job);
    await expect(job.result).resolves.toMatchObject({ finishReason: "stop" });
    expect(a.ws.ofType("cancel")).toEqual([]);
    expect(dispatcher.stats.cancelled).toBe(0);
  });

  it("times a running job out with 504 job_timeout and tells the worker to cancel", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    setup({ jobTimeoutMs: 1_000 });
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const job = chat();
    dispatcher.submit(job);
    vi.advanceTimersByTime(999);
    expect(job.state).toBe("running");
    expect(a.ws.ofType("cancel")).toEqual([]);
    vi.advanceTimersByTime(1);
    const err = await rejection(job.result);
    expect(err.status).toBe(504);
    expect(err.code).toBe("job_timeout");
    expect(a.ws.ofType("cancel")).toEqual([{ type: "cancel", jobId: job.id }]);
    expect(dispatcher.stats.failed).toBe(1);
    // The slot stays reserved until the worker answers the cancel.
    expect(a.conn.busy).toBe(1);
    dispatcher.onDone(a.conn, { type: "done", jobId: job.id, finishReason: "stop", promptTokens: 1, completionTokens: 1 });
    expect(a.conn.busy).toBe(0);
    expect(dispatcher.stats).toMatchObject({ failed: 1, completed: 0 });
  });

  it("times out a queued job and removes it from the queue", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    setup({ jobTimeoutMs: 500 });
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const running = chat();
    const queued = chat();
    dispatcher.submit(running);
    vi.advanceTimersByTime(300);
    dispatcher.submit(queued);
    vi.advanceTimersByTime(200);
    expect((await rejection(running.result)).code).toBe("job_timeout");
    expect(queued.state).toBe("queued");
    vi.advanceTimersByTime(300);
    const err = await rejection(queued.result);
    expect(err.status).toBe(504);
    expect(dispatcher.waiting).toBe(0);
    expect(a.ws.ofType("cancel")).toEqual([{ type: "cancel", jobId: running.id }]);
  });

  it("abortAll (end of a drain) fails running and queued jobs with the given error, cancels the running ones on their workers, and frees slots only on the workers' answers", async () => {
    const a = makeWorker("a", { slots: 1 });
    add(a);
    const running = chat();
    const queued = chat();
    const done = chat();
    dispatcher.submit(done);
    dispatcher.onDone(a.conn, { type: "done", jobId: done.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    await flush();
    dispatcher.submit(running);
    dispatcher.submit(queued);
    expect(dispatcher.waiting).toBe(1);

    expect(dispatcher.abortAll(new AppError("pool_shutting_down", "stopping", { retryAfterSeconds: 5 }))).toBe(2);
    for (const job of [running, queued]) {
      const err = await rejection(job.result);
      expect(err.code).toBe("pool_shutting_down");
      expect(err.status).toBe(503);
      expect(err.retryAfterSeconds).toBe(5);
    }
    await expect(done.result).resolves.toMatchObject({ finishReason: "stop" });
    expect(a.ws.ofType("cancel")).toEqual([{ type: "cancel", jobId: running.id }]);
    expect(dispatcher.waiting).toBe(0);
    expect(dispatcher.stats).toMatchObject({ failed: 2, completed: 1 });
    expect(a.conn.busy).toBe(1);
    dispatcher.onDone(a.conn, { type: "done", jobId: running.id, finishReason: "stop", promptTokens: 1, completionTokens: 1 });
    await flush();
    expect(a.conn.busy).toBe(0);
    expect(dispatcher.stats).toMatchObject({ failed: 2, completed: 1 });
    expect(dispatcher.abortAll(new AppError("pool_shutting_down", "again"))).toBe(0);
  });

  it("does not time out a job that completed in time", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    setup({ jobTimeoutMs: 1_000 });
    const a = makeWorker("a");
    add(a);
    const job = chat();
    dispatcher.submit(job);
    dispatcher.onDone(a.conn, { type: "done", jobId: job.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    vi.advanceTimersByTime(5_000);
    await expect(job.result).resolves.toMatchObject({ finishReason: "stop" });
    expect(a.ws.ofType("cancel")).toEqual([]);
    expect(dispatcher.stats.failed).toBe(0);
  });
});
