import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Hardware, ServedModel } from "../../protocol/worker.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { EmbedJobState, GenerateJobState } from "../hub/job.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { METRICS_CAPACITY, MetricsSampler, RingBuffer } from "./metrics.js";
import { fakeWorker } from "../../../test/harness/worker.js";

const HARDWARE: Hardware = { cores: 4, physicalCores: 2, ramBytes: 8e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-mid" };
const MODELS: ServedModel[] = [
  { id: "m1", capabilities: ["chat", "completion"], contextSize: 2048, chatTemplate: true },
  { id: "e1", capabilities: ["embedding"], contextSize: 512, embeddingDims: 8, chatTemplate: false },
];

const flush = () => new Promise<void>((r) => setImmediate(r));

function worker(id: string, slots: number): WorkerConnection {
  return fakeWorker(id, { name: id, hardware: HARDWARE, models: MODELS, slots }).conn;
}

const chat = () => new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 50 });

beforeAll(() => configureLogging("silent"));

describe("RingBuffer", () => {
  it("keeps the last `capacity` values, oldest first", () => {
    const b = new RingBuffer<number>(3);
    expect(b.toArray()).toEqual([]);
    b.push(1);
    b.push(2);
    expect(b.toArray()).toEqual([1, 2]);
    b.push(3);
    b.push(4);
    b.push(5);
    expect(b.length).toBe(3);
    expect(b.toArray()).toEqual([3, 4, 5]);
    for (let i = 6; i <= 10; i++) b.push(i);
    expect(b.toArray()).toEqual([8, 9, 10]);
  });

  it("refuses a capacity below 1", () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe("MetricsSampler", () => {
  let registry: WorkerRegistry;
  let dispatcher: Dispatcher;
  let clock: number;
  let sampler: MetricsSampler;

  beforeEach(() => {
    registry = new WorkerRegistry();
    dispatcher = new Dispatcher({ registry, queueSize: 10, jobTimeoutMs: 60_000, maxAttempts: 2 });
    clock = Date.parse("2025-01-01T00:00:00Z");
    sampler = new MetricsSampler({ dispatcher, registry, now: () => clock });
  });

  it("sums the jobs and tokens of each interval and samples queue depth and busy slots at its end", async () => {
    const w = worker("w1", 2);
    registry.add(w);
    const a = chat();
    const b = chat();
    const c = chat();
    dispatcher.submit(a);
    dispatcher.submit(b);
    dispatcher.submit(c); // no free slot: queued
    dispatcher.onChunk(w, { type: "chunk", jobId: a.id, text: "Once upon", tokens: 7 });
    dispatcher.onDone(w, { type: "done", jobId: a.id, finishReason: "stop", promptTokens: 3, completionTokens: 7 });
    await flush(); // the freed slot takes c
    dispatcher.onJobError(w, { type: "job_error", jobId: b.id, kind: "invalid_request", code: "bad", message: "bad" });
    const e = new EmbedJobState("e1", ["some text"]);
    dispatcher.submit(e);
    await flush();
    dispatcher.onEmbedResult(w, { type: "embed_result", jobId: e.id, vectors: [[0, 1, 2, 3, 4, 5, 6, 7]], promptTokens: 2 });
    await flush();

    clock += 2000;
    const p1 = sampler.sample();
    expect(p1).toEqual({ t: "2025-01-01T00:00:02.000Z", jobs_completed: 2, jobs_failed: 1, tokens: 7, tokens_per_s: 3.5, queue_depth: 0, slots_busy: 1 });

    // Next interval: c completes with 4 tokens; one job waits for a slot; a cancelled job is no outcome.
    dispatcher.submit(chat()); // runs on the second slot
    const waiting = chat();
    dispatcher.submit(waiting);
    const cancelled = chat();
    dispatcher.submit(cancelled);
    dispatcher.cancel(cancelled);
    dispatcher.onChunk(w, { type: "chunk", jobId: c.id, text: " a time", tokens: 4 });
    dispatcher.onDone(w, { type: "done", jobId: c.id, finishReason: "stop", promptTokens: 3, completionTokens: 4 });
    await flush();
    clock += 4000; // a late timer: the rate uses the real elapsed time
    const p2 = sampler.sample();
    expect(p2).toMatchObject({ jobs_completed: 1, jobs_failed: 0, tokens: 4, tokens_per_s: 1, queue_depth: 0, slots_busy: 2 });
    expect(sampler.points()).toEqual([p1, p2]);
  });

  it("counts a job failed for want of a worker and one lost to a timeout", async () => {
    const w = worker("w1", 1);
    registry.add(w);
    const a = chat();
    const queued = chat();
    dispatcher.submit(a);
    dispatcher.submit(queued);
    dispatcher.onChunk(w, { type: "chunk", jobId: a.id, text: "x", tokens: 3 });
    registry.markGone(w); // no other worker: both fail (the running one kept its 3 tokens)
    await flush();
    clock += 2000;
    expect(sampler.sample()).toMatchObject({ jobs_completed: 0, jobs_failed: 2, tokens: 3, queue_depth: 0, slots_busy: 0 });
  });

  it("keeps 10 minutes of points and emits each one", () => {
    const seen: unknown[] = [];
    sampler.on("point", (p) => seen.push(p));
    for (let i = 0; i < METRICS_CAPACITY + 5; i++) {
      clock += 2000;
      sampler.sample();
    }
    expect(seen).toHaveLength(METRICS_CAPACITY + 5);
    const points = sampler.points();
    expect(points).toHaveLength(METRICS_CAPACITY);
    expect(points[0]!.t).toBe(new Date(Date.parse("2025-01-01T00:00:00Z") + 6 * 2000).toISOString());
    expect(points.at(-1)).toBe(seen.at(-1));
  });

  it("samples on its own every interval until stopped, without keeping the process alive", async () => {
    const fast = new MetricsSampler({ dispatcher, registry, intervalMs: 20 });
    fast.start();
    await new Promise((r) => setTimeout(r, 110));
    fast.stop();
    const n = fast.points().length;
    expect(n).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 60));
    expect(fast.points().length).toBe(n);
    // Stopped: job outcomes are no longer counted.
    expect(dispatcher.events.listenerCount("finished")).toBe(1); // `sampler`'s only
  });
});
