/**
 * LiveEvents on a real HTTP server with real `ws` clients, a real registry, dispatcher and sampler;
 * the authentication and the overview are stand-ins here (the e2e test runs the real ones).
 */
import { EventEmitter } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LiveEvent, type Overview } from "../../protocol/dashboard.protocol.js";
import type { Hardware, ServedModel } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { configureLogging } from "../../shared/logger.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import type { WorkerRow } from "../workers/workers.repository.js";
import { CLOSE_AUTH_ENDED, CLOSE_POOL_DRAINING, LiveEvents, type LiveEventsDeps } from "./live-events.js";
import { MetricsSampler } from "./metrics.js";
import { fakeWorker } from "../../../test/harness/worker.js";

const HARDWARE: Hardware = { cores: 4, physicalCores: 2, ramBytes: 8e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-mid" };
const MODELS: ServedModel[] = [{ id: "m1", capabilities: ["chat"], contextSize: 2048, chatTemplate: true }];
const OVERVIEW = { company: { name: "Acme", sector: null, has_logo: false } } as unknown as Overview;

const row = (id: string): WorkerRow => ({
  id,
  name: id,
  credential_hash: "x",
  hardware_class: "cpu-mid",
  hardware: HARDWARE,
  models: MODELS,
  agent_version: "test",
  enrolled_at: new Date("2025-01-01T00:00:00Z"),
  last_seen_at: null,
  revoked_at: null,
  site: "Paris",
  mobility: "mobile",
  clearance: null,
  kind: "server",
});

const until = async (ok: () => boolean, what: string, ms = 3000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

beforeAll(() => configureLogging("silent"));

describe("LiveEvents", () => {
  let server: Server;
  let url: string;
  let live: LiveEvents;
  let registry: WorkerRegistry;
  let dispatcher: Dispatcher;
  let documents: EventEmitter;
  let settings: EventEmitter;
  let valid: boolean;
  let releaseOverview: (() => void) | undefined;
  const clients: WebSocket[] = [];

  function build(over: Partial<LiveEventsDeps> = {}, holdOverview = false): void {
    registry = new WorkerRegistry();
    dispatcher = new Dispatcher({ registry, queueSize: 10, jobTimeoutMs: 60_000, maxAttempts: 2 });
    documents = new EventEmitter();
    settings = new EventEmitter();
    valid = true;
    live = new LiveEvents({
      auth: {
        authenticate: async (req) => {
          if (req.headers.authorization !== "Bearer good") throw new AppError("admin_required", "no");
          return { actor: "admin:a@b.c", stillValid: async () => valid };
        },
      },
      overview: {
        overview: () =>
          holdOverview ? new Promise<Overview>((r) => (releaseOverview = () => r(OVERVIEW))) : Promise.resolve(OVERVIEW),
      },
      repo: { documentProgress: async (id) => ({ id, project_id: "prj_1", indexed_status: "pending", chunks_count: 3, embedded_count: 1 }) },
      workers: { findWorker: async (id) => row(id) },
      registry,
      dispatcher,
      sampler: new MetricsSampler({ dispatcher, registry }),
      documents,
      settings: settings,
      updateGapMs: 100,
      documentDelayMs: 20,
      ...over,
    });
    server.removeAllListeners("upgrade");
    server.on("upgrade", (req, socket, head) => live.handleUpgrade(req, socket, head));
  }

  async function connect(): Promise<{ ws: WebSocket; messages: any[] }> {
    const ws = new WebSocket(`${url}/v1/admin/events`, { headers: { authorization: "Bearer good" } });
    clients.push(ws);
    const messages: any[] = [];
    ws.on("message", (d) => messages.push(JSON.parse((d as Buffer).toString())));
    await new Promise((r, j) => ws.once("open", r).once("error", j));
    return { ws, messages };
  }

  beforeEach(async () => {
    server = createServer((_req, res) => res.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    await live?.close();
    await new Promise((r) => server.close(r));
  });

  it("answers a refused upgrade with the HTTP status and an error body", async () => {
    build();
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${url}/v1/admin/events`);
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("error", () => resolve(-1));
    });
    expect(status).toBe(401);
  });

  it("on drain closes connected dashboards with 1012 and refuses new ones with 503 and Retry-After", async () => {
    build();
    const { ws, messages } = await connect();
    await until(() => messages.length === 1, "snapshot");
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    live.drain();
    expect(await closed).toBe(CLOSE_POOL_DRAINING);
    await until(() => live.size === 0, "client gone");
    const refused = await new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve) => {
      const again = new WebSocket(`${url}/v1/admin/events`, { headers: { authorization: "Bearer good" } });
      again.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body }));
      });
      again.on("error", () => resolve({ status: -1, retryAfter: undefined, body: "" }));
    });
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe("5");
    expect(JSON.parse(refused.body).error.code).toBe("pool_shutting_down");
  });

  it("sends the snapshot first, then what happened meanwhile, in order", async () => {
    build({}, true);
    const { messages } = await connect();
    await until(() => releaseOverview !== undefined, "overview requested");
    settings.emit("changed", { key: "queue.size", value: 12 });
    await new Promise((r) => setTimeout(r, 30));
    expect(messages).toEqual([]);
    releaseOverview!();
    await until(() => messages.length === 2, "two messages");
    expect(messages[0]).toEqual({ type: "snapshot", overview: OVERVIEW });
    expect(messages[1]).toEqual({ type: "settings.changed", key: "queue.size", value: 12 });
  });

  it("sends each sampler point as `metrics`, with the overview's CPU and tokens/s block", async () => {
    const resources = { pool_cpu_percent: 4.2, workers: [{ id: "w1", name: "w1", hardware_class: "cpu-mid", cpu_percent: 55.5, tokens_per_s: 12.5, slots: 2, slots_busy: 1 }] };
    const sampler = new MetricsSampler({ dispatcher: new Dispatcher({ registry: new WorkerRegistry(), queueSize: 1, jobTimeoutMs: 1000, maxAttempts: 1 }), registry: new WorkerRegistry() });
    build({ sampler, overview: { overview: () => Promise.resolve(OVERVIEW), resources: () => resources } });
    const { messages } = await connect();
    await until(() => messages.length === 1, "snapshot");
    const point = sampler.sample();
    await until(() => messages.length === 2, "metrics");
    expect(LiveEvent.parse(messages[1])).toEqual({ type: "metrics", point, resources });
  });

  it("announces joins and leaves in order and throttles slot updates per worker, last state kept", async () => {
    build();
    const { messages } = await connect();
    await until(() => messages.length === 1, "snapshot");
    const w = fakeWorker("w1", { name: "w1", hardware: HARDWARE, models: MODELS, slots: 4 }).conn;
    registry.add(w, { site: "Lyon" });
    await until(() => messages.some((m) => m.type === "worker.joined"), "joined");
    expect(messages.find((m) => m.type === "worker.joined").worker).toMatchObject({ id: "w1", connected: true, site: "Lyon", slots: 4, busy_slots: 0, enrolled_at: "2025-01-01T00:00:00.000Z" });

    const jobs = Array.from({ length: 4 }, () => new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 5 }));
    for (const j of jobs) dispatcher.submit(j); // four slot changes at once
    await new Promise((r) => setTimeout(r, 250));
    const updates = messages.filter((m) => m.type === "worker.updated");
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(3);
    expect(updates.at(-1).worker.busy_slots).toBe(4);

    registry.markGone(w);
    await until(() => messages.some((m) => m.type === "worker.left"), "left");
    expect(messages.filter((m) => m.type.startsWith("worker.") && m.type !== "worker.updated").map((m) => m.type)).toEqual(["worker.joined", "worker.left"]);
    expect(messages.find((m) => m.type === "worker.left")).toEqual({ type: "worker.left", worker_id: "w1" });
  });

  it("coalesces a burst of document changes into one progress message", async () => {
    build();
    const { messages } = await connect();
    await until(() => messages.length === 1, "snapshot");
    for (let i = 0; i < 5; i++) documents.emit("document", { documentId: "doc_1" });
    await until(() => messages.some((m) => m.type === "document.progress"), "progress");
    await new Promise((r) => setTimeout(r, 60));
    expect(messages.filter((m) => m.type === "document.progress")).toEqual([
      { type: "document.progress", project_id: "prj_1", document_id: "doc_1", indexed_status: "pending", chunks_count: 3, embedded_count: 1 },
    ]);
  });

  it("drops a client that does not read instead of buffering without bound", async () => {
    build({ maxBufferedBytes: 64 * 1024 });
    const slow = await connect();
    await until(() => slow.messages.length === 1, "snapshot");
    const closed = new Promise<void>((r) => slow.ws.once("close", () => r()));
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = "x".repeat(256 * 1024);
    for (let i = 0; i < 400 && live.size > 0; i++) {
      live.settingsChanged("big", big);
      await new Promise((r) => setImmediate(r));
    }
    expect(live.size).toBe(0);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await closed;
  });

  it("closes the socket when the session is no longer valid", async () => {
    build({ recheckMs: 50 });
    const { ws, messages } = await connect();
    await until(() => messages.length === 1, "snapshot");
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    valid = false;
    expect(await closed).toBe(CLOSE_AUTH_ENDED);
    expect(live.size).toBe(0);
  });

  it("re-checks at once when sessions end (logout), without waiting for the periodic re-check", async () => {
    const sessionsEnded = new EventEmitter();
    build({ recheckMs: 3_600_000, sessionsEnded });
    const { ws, messages } = await connect();
    await until(() => messages.length === 1, "snapshot");
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    valid = false;
    sessionsEnded.emit("sessions-ended");
    expect(await closed).toBe(CLOSE_AUTH_ENDED);
    expect(live.size).toBe(0);
  });

  it("drops a client that stops answering pings", async () => {
    build({ pingMs: 50 });
    const { ws, messages } = await connect();
    await until(() => messages.length === 1, "snapshot");
    // ws answers pings automatically; a paused socket cannot.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => live.size === 0, "client dropped", 2000);
  });
});
