/**
 * The pool's metrics registry on a real dispatcher and worker registry (fake sockets): gauges read
 * the live state at scrape time, counters follow the dispatcher's events, the text passes
 * Prometheus's own `promtool check metrics`, two pools in one process keep apart, and every metric
 * the shipped Grafana dashboard queries is exposed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { fakeWorker, hardware, servedModel } from "../../../test/harness/worker.js";
import { familiesOf, parseExposition, promtoolCheck, sum } from "../../../test/harness/prom-text.js";
import { createPoolMetrics, workerState, type MetricsSources } from "./pool-metrics.js";

const job = () => new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 10 });

function pool(extra: Partial<MetricsSources> = {}) {
  const registry = new WorkerRegistry();
  const dispatcher = new Dispatcher({ registry, queueSize: 10, jobTimeoutMs: 60_000, maxAttempts: 2 });
  const metrics = createPoolMetrics({ atomId: "a".repeat(32), dispatcher, registry, ...extra });
  return { registry, dispatcher, metrics, scrape: async () => parseExposition(await metrics.registry.metrics()) };
}

describe("createPoolMetrics", () => {
  it("reads workers, queues and free slots live, and counts requests, tokens, jobs and first tokens from events", async () => {
    const enrolled = [
      { id: "w-busy", hardware_class: "cpu-mid", revoked_at: null },
      { id: "w-gpu", hardware_class: "gpu-large", revoked_at: null },
      { id: "w-away", hardware_class: "cpu-low", revoked_at: null },
      { id: "w-gone", hardware_class: "cpu-low", revoked_at: new Date() },
    ];
    const p = pool({ workers: { listWorkers: async () => enrolled }, forwarded: () => ({ out_total: 3, in_total: 1 }), ingest: () => ({ waiting: 2, extracting: 1, embedding: 4 }), databaseMemory: async () => 123 * 1024 * 1024, replication: () => [{ peer: "b".repeat(32), behind: 7, syncedAt: Date.now() - 2000, queued: 5 }] });
    const busy = fakeWorker("w-busy", { slots: 2, models: [servedModel("m1")] }).conn;
    const gpu = fakeWorker("w-gpu", { slots: 1, models: [servedModel("m1")], hardware: hardware("gpu-large") }).conn;
    p.registry.add(busy);
    p.registry.add(gpu);
    busy.heartbeat(37.5);

    // Three jobs on three slots, a fourth waits.
    const jobs = [job(), job(), job(), job()];
    for (const j of jobs) p.dispatcher.submit(j);
    let e = await p.scrape();
    expect(sum(e, "cellule_queue_length", { model: "m1" })).toBe(1);
    expect(sum(e, "cellule_free_slots", { model: "m1" })).toBe(0);
    expect(sum(e, "cellule_workers", { state: "full", hardware_class: "cpu-mid" })).toBe(1);
    expect(sum(e, "cellule_workers", { state: "full", hardware_class: "gpu-large" })).toBe(1);
    expect(sum(e, "cellule_workers", { state: "offline", hardware_class: "cpu-low" })).toBe(1); // w-gone is revoked
    expect(sum(e, "cellule_worker_cpu_percent", { worker_id: "w-busy" })).toBe(37.5);
    expect(sum(e, "cellule_forwarded_requests_total", { direction: "out" })).toBe(3);
    expect(sum(e, "cellule_ingest_queue_documents", { stage: "embedding" })).toBe(4);
    expect(sum(e, "cellule_database_resident_memory_bytes")).toBe(123 * 1024 * 1024);
    expect(sum(e, "cellule_replication_lag_envelopes")).toBe(7);
    expect(sum(e, "cellule_replication_push_queue")).toBe(5);
    expect(sum(e, "cellule_replication_last_sync_age_seconds")).toBeGreaterThanOrEqual(2);
    expect(sum(e, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(sum(e, "process_resident_memory_bytes")).toBeGreaterThan(0);

    // A streamed job's first token, then it finishes with 5 tokens.
    const streamed = jobs[0]!;
    streamed.onText = () => {};
    const w = streamed.worker as typeof busy;
    p.dispatcher.onChunk(w, { type: "chunk", jobId: streamed.id, text: "Once", tokens: 2 });
    p.dispatcher.onChunk(w, { type: "chunk", jobId: streamed.id, text: " upon", tokens: 3 });
    p.dispatcher.onDone(w, { type: "done", jobId: streamed.id, finishReason: "stop", promptTokens: 4, completionTokens: 5 });
    // A non-streamed job: tokens counted, no first-token observation.
    const whole = jobs[1]!;
    const w2 = whole.worker as typeof busy;
    p.dispatcher.onChunk(w2, { type: "chunk", jobId: whole.id, text: "x", tokens: 1 });
    p.dispatcher.onDone(w2, { type: "done", jobId: whole.id, finishReason: "stop", promptTokens: 4, completionTokens: 1 });
    await Promise.all([streamed.result, whole.result]);
    await new Promise((r) => setImmediate(r));
    p.metrics.observeRequest("/v1/chat/completions", "POST", "200", 0.3);
    p.metrics.observeRequest("/v1/projects/:id", "GET", "404", 0.01);

    e = await p.scrape();
    expect(sum(e, "cellule_time_to_first_token_seconds_count", { model: "m1" })).toBe(1);
    expect(sum(e, "cellule_tokens_generated_total", { model: "m1" })).toBe(6);
    expect(sum(e, "cellule_jobs_total", { model: "m1", outcome: "ok" })).toBe(2);
    expect(sum(e, "cellule_http_requests_total", { route: "/v1/chat/completions", method: "POST", status: "200" })).toBe(1);
    expect(sum(e, "cellule_http_request_duration_seconds_count", { route: "/v1/projects/:id" })).toBe(1);
    expect(sum(e, "cellule_http_request_duration_seconds_bucket", { route: "/v1/chat/completions", le: "0.5" })).toBe(1);
    // The queued job took a freed slot: nothing waits now.
    expect(sum(e, "cellule_queue_length", { model: "m1" })).toBe(0);

    // Prometheus's parser reads it; its linter finds nothing in ours (prom-client's own Node.js
    // gauges named *_total are its authors' choice).
    const lint = promtoolCheck(await p.metrics.registry.metrics());
    expect(lint.parsed, lint.output).toBe(true);
    expect(lint.complaints.filter((c) => !/^nodejs_active_(handles|requests|resources)_total non-counter/.test(c)), lint.output).toEqual([]);
    p.metrics.close();
  });

  it("keeps two pools of one process apart (a registry each, never the global one)", async () => {
    const a = pool();
    const b = pool();
    a.metrics.observeRequest("/v1/status", "GET", "200", 0.001);
    expect(sum(await a.scrape(), "cellule_http_requests_total")).toBe(1);
    expect(sum(await b.scrape(), "cellule_http_requests_total")).toBe(0);
    a.metrics.close();
    b.metrics.close();
  });

  it("names a worker's state", () => {
    expect(workerState({ draining: true, busy: 0, freeSlots: 0 })).toBe("draining");
    expect(workerState({ draining: false, busy: 0, freeSlots: 2 })).toBe("idle");
    expect(workerState({ draining: false, busy: 1, freeSlots: 1 })).toBe("busy");
    expect(workerState({ draining: false, busy: 2, freeSlots: 0 })).toBe("full");
  });
});

describe("the Grafana dashboard shipped in docs/grafana/cellule-pool.json", () => {
  it("queries only metrics that /metrics exposes", async () => {
    const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, "../../../docs/grafana/cellule-pool.json"), "utf8")) as { panels: { title: string; targets?: { expr: string }[] }[] };
    // Every optional source present, as on an embedded pool with federation.
    const p = pool({ workers: { listWorkers: async () => [] }, forwarded: () => ({ out_total: 0, in_total: 0 }), ingest: () => ({ waiting: 0, extracting: 0, embedding: 0 }), databaseMemory: async () => 1, replication: () => [] });
    const exposed = (await p.scrape()).types;
    p.metrics.close();
    const queried = dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((t) => familiesOf(t.expr).map((name) => ({ panel: panel.title, name }))));
    expect(queried.length).toBeGreaterThan(10);
    for (const q of queried) expect(exposed.has(q.name), `${q.panel}: ${q.name}`).toBe(true);
    // And the dashboard shows each family of the pool's own metrics.
    const shown = new Set(queried.map((q) => q.name));
    for (const name of exposed.keys()) if (name.startsWith("cellule_") && name !== "cellule_pool_info") expect(shown.has(name), name).toBe(true);
  });
});
