/**
 * Desktops in the dispatcher (issue 21): only dormant slots are capacity; a desktop whose owner
 * comes back hands its movable jobs to another worker (continued after the text produced, not a
 * failed attempt) and keeps the ones that cannot move.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DesktopState, GenerateParams } from "../../protocol/worker.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import { Dispatcher } from "./dispatcher.js";
import { GenerateJobState } from "./job.js";
import { WorkerRegistry } from "./worker-registry.js";
import { fakeWorker, servedModel, type FakeWorker } from "../../../test/harness/worker.js";
import { thrown } from "../../../test/expect-app-error.js";

beforeAll(() => configureLogging("silent"));

let registry: WorkerRegistry;
let dispatcher: Dispatcher;

beforeEach(() => {
  registry = new WorkerRegistry();
  dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 60_000, maxAttempts: 1 });
});

function desktop(id: string, state: DesktopState | undefined, slots = 2, models = [servedModel("m1")]): FakeWorker {
  const w = fakeWorker(id, { slots, models });
  w.conn.desktop = true;
  w.conn.desktopState = state;
  registry.add(w.conn);
  return w;
}

function server(id: string, slots = 1, models = [servedModel("m1")]): FakeWorker {
  const w = fakeWorker(id, { slots, models });
  registry.add(w.conn);
  return w;
}

const chat = (params: Partial<GenerateParams> = {}, model = "m1") => new GenerateJobState(model, "chat", { messages: [{ role: "user", content: "Tell me a story" }] }, { maxTokens: 100, ...params });

/** The owner comes back: the state the socket sets, then the dispatcher's yield. */
function ownerBack(w: FakeWorker, state: DesktopState = "owner_active") {
  w.conn.desktopState = state;
  return dispatcher.yieldDesktop(w.conn);
}

describe("desktop capacity", () => {
  it("only a dormant desktop's slots are capacity (free slots, capacity slots)", () => {
    for (const state of [undefined, "owner_active", "outside_hours", "on_battery"] as const) {
      const d = desktop(`d-${state ?? "new"}`, state);
      expect(d.conn.freeSlots).toBe(0);
      expect(d.conn.capacitySlots).toBe(0);
    }
    const d = desktop("dormant", "dormant");
    expect(d.conn.freeSlots).toBe(2);
    expect(d.conn.capacitySlots).toBe(2);
    const s = server("s");
    expect(s.conn.yielding).toBe(false);
    expect(s.conn.capacitySlots).toBe(1);
  });

  it("a job never goes to a desktop that is not dormant: 503 when only such desktops serve the model", () => {
    const d = desktop("d", "outside_hours");
    const err = thrown(() => dispatcher.submit(chat()));
    expect(err).toMatchObject({ code: "no_worker_available", status: 503, retryAfterSeconds: expect.any(Number) });
    expect(err.message).toMatch(/desktops/);
    expect(d.generates()).toEqual([]);
  });

  it("with a busy server beside it, the job waits, and goes to the desktop once it is dormant", () => {
    const d = desktop("d", "on_battery");
    const s = server("s");
    dispatcher.submit(chat()); // the server's one slot
    const job = chat();
    dispatcher.submit(job);
    expect(job.state).toBe("queued");
    expect(d.generates()).toEqual([]);
    expect(s.generates()).toHaveLength(1);
    d.conn.desktopState = "dormant";
    dispatcher.offer(d.conn);
    expect(d.generates().map((m) => m.jobId)).toEqual([job.id]);
  });
});

describe("a desktop whose owner comes back", () => {
  it("hands its running job to another worker: continued after the text produced, not a failed attempt; cancelled on the desktop", () => {
    const d = desktop("d", "dormant");
    const s = server("s");
    const job = chat();
    dispatcher.submit(job);
    expect(job.worker).toBe(d.conn);
    dispatcher.onChunk(d.conn, { type: "chunk", jobId: job.id, text: "Once upon a time", tokens: 4 });

    expect(ownerBack(d)).toEqual({ moved: [job.id], kept: [] });
    // maxAttempts is 1: a counted attempt would have failed the job.
    expect(job.finished).toBe(false);
    expect(job.worker).toBe(s.conn);
    expect(job.attempts).toBe(1);
    const [resumed] = s.generates();
    expect(resumed).toMatchObject({ jobId: job.id, continuation: "Once upon a time", params: { maxTokens: 96 } });
    expect(d.ofType("cancel")).toEqual([{ type: "cancel", jobId: job.id }]);
    expect(d.conn.busy).toBe(0);
    expect(d.conn.jobs.size).toBe(0);
    expect(dispatcher.active).toBe(1);
    // Late chunks and the cancel's job_error from the desktop change nothing.
    dispatcher.onChunk(d.conn, { type: "chunk", jobId: job.id, text: " late", tokens: 1 });
    dispatcher.onJobError(d.conn, { type: "job_error", jobId: job.id, kind: "runtime", code: "cancelled", message: "cancelled" });
    expect(job.finished).toBe(false);
    expect(job.worker).toBe(s.conn);
  });

  it("a movable job with the other worker busy waits at the head of the queue, and goes when a slot frees", async () => {
    const d = desktop("d", "dormant");
    const s = server("s");
    const [first, second, third] = [chat(), chat(), chat()];
    for (const j of [first, second, third]) dispatcher.submit(j);
    // Most free slots first (the desktop's 2), then the least recently used on a tie (the server).
    expect([first.worker, second.worker, third.worker]).toEqual([d.conn, s.conn, d.conn]);
    expect(ownerBack(d).moved).toEqual([first.id, third.id]);
    expect(dispatcher.waiting).toBe(2);
    expect(first.state).toBe("queued");
    dispatcher.onDone(s.conn, { type: "done", jobId: second.id, finishReason: "stop", promptTokens: 3, completionTokens: 0 });
    await new Promise<void>((r) => setImmediate(r));
    // The moved job that waited longest goes first; the desktop gets nothing new.
    expect(first.worker).toBe(s.conn);
    expect(dispatcher.waiting).toBe(1);
    expect(d.generates()).toHaveLength(2);
  });

  it("keeps what cannot move: a JSON-schema job, and a job no other worker serves", () => {
    const d = desktop("d", "dormant", 2, [servedModel("m1"), servedModel("only-here")]);
    server("s", 1, [servedModel("m1")]);
    const schema = chat({ json: { schema: { type: "object" } } });
    const lonely = chat({}, "only-here");
    dispatcher.submit(schema);
    dispatcher.submit(lonely);
    expect(schema.worker).toBe(d.conn);
    expect(lonely.worker).toBe(d.conn);
    expect(ownerBack(d, "on_battery")).toEqual({ moved: [], kept: [schema.id, lonely.id] });
    expect(d.ofType("cancel")).toEqual([]);
    expect(schema.worker).toBe(d.conn);
    // They finish there, normally.
    dispatcher.onDone(d.conn, { type: "done", jobId: lonely.id, finishReason: "stop", promptTokens: 3, completionTokens: 0 });
    expect(lonely.finished).toBe(true);
  });

  it("another desktop whose owner is back is no place to move to", () => {
    const d = desktop("d", "dormant");
    desktop("d2", "owner_active");
    const job = chat();
    dispatcher.submit(job);
    expect(ownerBack(d)).toEqual({ moved: [], kept: [job.id] });
  });
});
