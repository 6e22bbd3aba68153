import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CapacitySummary, ForwardLine, ForwardRequest } from "../../protocol/cluster.protocol.js";
import { AppError } from "../../shared/errors.js";
import { configureLogging } from "../../shared/logger.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { EmbedJobState, GenerateJobState } from "../hub/job.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { rejection } from "../../../test/expect-app-error.js";
import { ForwardingPolicy, PeerCapacity } from "./peer-capacity.js";
import { PeerWorker, type ForwardTransport } from "./peer-worker.js";

const A = "a".repeat(32);
const B = "b".repeat(32);

interface Call {
  peer: string;
  body: ForwardRequest;
  signal: AbortSignal;
  stream: PassThrough;
  /** Answers the call: the stream as a 2xx answer. */
  accept(): void;
  refuse(err: Error): void;
  line(l: ForwardLine): void;
}

let calls: Call[];
let dispatcher: Dispatcher;
let capacity: PeerCapacity<PeerWorker>;
let workers: Map<string, PeerWorker>;
let forwarded: string[];

const flush = () => new Promise<void>((r) => setImmediate(r));

function summary(of: string, free = 2): CapacitySummary {
  return {
    atom_id: of,
    pool_url: null,
    at: 0,
    leaving: false,
    models: [{ id: "m1", capabilities: ["chat", "embedding"], workers: 1, slots: 2, free, queued: 0 }],
    workers: [],
    forwarded: { out_total: 0, in_total: 0, out_per_min: 0, in_per_min: 0 },
  };
}

const transport: ForwardTransport = {
  open(peer, body, signal) {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const stream = new PassThrough();
      const call: Call = {
        peer: peer.atom,
        body,
        signal,
        stream,
        accept: () => resolve(stream as unknown as IncomingMessage),
        refuse: reject,
        line: (l) => stream.write(`${JSON.stringify(l)}\n`),
      };
      signal.addEventListener("abort", () => {
        reject(new AppError("peer_unreachable", "aborted"));
        stream.destroy();
      });
      calls.push(call);
    });
  },
};

beforeAll(() => configureLogging("silent"));

beforeEach(() => {
  calls = [];
  forwarded = [];
  workers = new Map();
  const registry = new WorkerRegistry();
  dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 60_000, maxAttempts: 3, retryAfterSeconds: 7 });
  const policy = new ForwardingPolicy({ forwardingEnabled: true });
  capacity = new PeerCapacity<PeerWorker>({
    targetOf: (p) => {
      const w = new PeerWorker(p.atom_id, p.url, { transport, capacity, sink: () => dispatcher, onForward: (job, peer) => forwarded.push(`${job.id}@${peer.atom}`) });
      workers.set(p.atom_id, w);
      return w;
    },
    enabled: () => policy.enabled,
    threshold: () => policy.threshold,
  });
  capacity.setPeers([
    { atom_id: A, url: "http://127.0.1.1:1", latency_ms: 1 },
    { atom_id: B, url: "http://127.0.2.1:1", latency_ms: 2 },
  ]);
  capacity.receive(summary(A, 3));
  capacity.receive(summary(B, 1));
  dispatcher.remote = capacity;
});

function chat(params: Partial<GenerateJobState["params"]> = {}): GenerateJobState {
  const job = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "Tell me a story" }] }, { maxTokens: 100, ...params });
  job.caller = { keyId: "key1", scope: "user", projectId: "p1" };
  return job;
}

describe("PeerWorker", () => {
  it("forwards a job with the caller's principal and hop 1, and feeds the streamed lines to the dispatcher", async () => {
    const job = chat();
    const texts: string[] = [];
    job.onText = (t) => texts.push(t);
    dispatcher.submit(job);
    await flush();
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.peer).toBe(A);
    expect(call.body).toMatchObject({ hop: 1, capability: "chat", principal: { key_id: "key1", scope: "user", project_id: "p1" }, job: { type: "generate", jobId: job.id, model: "m1" } });
    expect(forwarded).toEqual([`${job.id}@${A}`]);
    expect(workers.get(A)!.busy).toBe(1);
    call.accept();
    call.line({ type: "chunk", jobId: job.id, text: "Once", tokens: 1 });
    await flush();
    // Each chunk reaches the job as it arrives, before the answer ends.
    expect(texts).toEqual(["Once"]);
    call.line({ type: "chunk", jobId: job.id, text: " upon", tokens: 1 });
    call.line({ type: "done", jobId: job.id, finishReason: "stop", promptTokens: 7, completionTokens: 2 });
    const result = await job.result;
    expect(result).toEqual({ finishReason: "stop", promptTokens: 7, completionTokens: 2 });
    expect(job.rawText).toBe("Once upon");
    expect(workers.get(A)!.busy).toBe(0);
    expect(workers.get(A)!.jobs.size).toBe(0);
  });

  it("forwards embeddings and returns their vectors", async () => {
    const job = new EmbedJobState("m1", ["a", "b"]);
    dispatcher.submit(job);
    await flush();
    calls[0]!.accept();
    calls[0]!.line({ type: "embed_result", jobId: job.id, vectors: [[1, 2], [3, 4]], promptTokens: 4 });
    expect(await job.result).toEqual({ vectors: [[1, 2], [3, 4]], promptTokens: 4 });
  });

  it("a peer that fails before its first byte is marked down and the next peer is tried", async () => {
    const job = chat();
    dispatcher.submit(job);
    await flush();
    calls[0]!.refuse(new AppError("peer_unreachable", "ECONNREFUSED"));
    await flush();
    expect(capacity.available(A)).toBe(false);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.peer).toBe(B);
    calls[1]!.accept();
    calls[1]!.line({ type: "done", jobId: job.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    await expect(job.result).resolves.toMatchObject({ finishReason: "stop" });
  });

  it("no peer left after a failure: 503 no_worker_available with Retry-After", async () => {
    capacity.setPeers([{ atom_id: A, url: "http://127.0.1.1:1", latency_ms: 1 }]);
    const job = chat();
    dispatcher.submit(job);
    await flush();
    calls[0]!.refuse(new AppError("peer_unreachable", "ECONNREFUSED"));
    const err = await rejection(job.result);
    expect(err.code).toBe("no_worker_available");
    expect(err.retryAfterSeconds).toBe(7);
  });

  it("a peer lost mid-answer: the job continues on the next peer after the text already received", async () => {
    const job = chat();
    dispatcher.submit(job);
    await flush();
    calls[0]!.accept();
    calls[0]!.line({ type: "chunk", jobId: job.id, text: "Once upon", tokens: 2 });
    await flush();
    calls[0]!.stream.destroy();
    await flush();
    expect(calls).toHaveLength(2);
    const retried = calls[1]!.body.job;
    expect(retried).toMatchObject({ type: "generate", continuation: "Once upon", params: { maxTokens: 98 } });
    calls[1]!.accept();
    calls[1]!.line({ type: "chunk", jobId: job.id, text: " a time", tokens: 2 });
    calls[1]!.line({ type: "done", jobId: job.id, finishReason: "stop", promptTokens: 5, completionTokens: 2 });
    await expect(job.result).resolves.toMatchObject({ completionTokens: 4 });
    expect(job.rawText).toBe("Once upon a time");
  });

  it("a job with a JSON schema is not retried after its peer is lost (poisoned-job rule)", async () => {
    const job = chat({ json: { schema: { type: "object" } } });
    dispatcher.submit(job);
    await flush();
    calls[0]!.accept();
    calls[0]!.stream.end();
    expect((await rejection(job.result)).code).toBe("worker_lost");
    expect(calls).toHaveLength(1);
  });

  it("a final job error from the peer fails the job with that code; a runtime one tries the next peer", async () => {
    const bad = chat();
    dispatcher.submit(bad);
    await flush();
    calls[0]!.accept();
    calls[0]!.line({ type: "job_error", jobId: bad.id, kind: "invalid_request", code: "context_length_exceeded", message: "too long" });
    const err = await rejection(bad.result);
    expect(err).toMatchObject({ code: "context_length_exceeded", status: 400 });
    const busy = chat();
    dispatcher.submit(busy);
    await flush();
    calls[1]!.accept();
    calls[1]!.line({ type: "job_error", jobId: busy.id, kind: "runtime", code: "no_worker_available", message: "none" });
    await flush();
    expect(calls[2]!.peer).toBe(B);
  });

  it("cancel aborts the forward and frees the slot at once", async () => {
    const job = chat();
    dispatcher.submit(job);
    await flush();
    calls[0]!.accept();
    await flush();
    dispatcher.cancel(job);
    expect(calls[0]!.signal.aborted).toBe(true);
    await flush();
    expect(workers.get(A)!.busy).toBe(0);
    expect(workers.get(A)!.jobs.size).toBe(0);
    expect(capacity.available(A)).toBe(true);
    expect((await rejection(job.result)).code).toBe("cancelled");
  });
});
