import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { CloseCode, PROTOCOL_VERSION, type GenerateJob, type Hello, type PoolMessage } from "../../protocol/worker.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import { EnrolmentService } from "../workers/enrolment.service.js";
import { WorkersRepository } from "../workers/workers.repository.js";
import { Dispatcher } from "./dispatcher.js";
import { GenerateJobState } from "./job.js";
import type { GoneReason } from "./worker-registry.js";
import { WorkerRegistry } from "./worker-registry.js";
import { WorkerSocketServer } from "./worker-socket.js";
import { clientAddressResolver } from "../http/client-address.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import { HARDWARE, servedModel } from "../../../test/harness/worker.js";

// The tests of this file share one database: each enrols its own worker.
const t = useTestDb({ reset: "none" });

interface Hub {
  port: number;
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  sockets: WorkerSocketServer;
  close(): Promise<void>;
}

let audit: AuditService;
let enrolment: EnrolmentService;
let hub: Hub;
const hubs: Hub[] = [];

/** A real http server on 127.0.0.1 (port 0) whose upgrades go to a WorkerSocketServer. */
async function startHub(heartbeatMs: number, trustedProxies: string[] = [], embeddingDims?: number): Promise<Hub> {
  const registry = new WorkerRegistry();
  const dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 30_000, maxAttempts: 1 });
  const sockets = new WorkerSocketServer({ registry, dispatcher, enrolment, workers: new WorkersRepository(t.db), heartbeatMs, audit, clientAddress: clientAddressResolver(trustedProxies), embeddingDims });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req, socket, head) => sockets.handleUpgrade(req, socket, head));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const h: Hub = {
    port: (server.address() as AddressInfo).port,
    registry,
    dispatcher,
    sockets,
    async close() {
      await sockets.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  hubs.push(h);
  return h;
}

/** The worker's end: every message the pool sent, and the close code once closed. */
class Client {
  readonly ws: WebSocket;
  readonly messages: PoolMessage[] = [];
  readonly closed: Promise<number>;
  private waiters: (() => void)[] = [];

  constructor(port: number, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/v1/workers/ws`, { headers });
    this.ws.on("message", (d) => {
      this.messages.push(JSON.parse((d as Buffer).toString()) as PoolMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((r) => this.ws.once("close", (code) => r(code)));
  }

  async open(): Promise<this> {
    await once(this.ws, "open");
    return this;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === "string" ? msg : JSON.stringify(msg));
  }

  async next<T extends PoolMessage["type"]>(type: T): Promise<Extract<PoolMessage, { type: T }>> {
    for (;;) {
      const found = this.messages.find((m): m is Extract<PoolMessage, { type: T }> => m.type === type);
      if (found) return found;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

function hello(auth: Hello["auth"], over: Partial<Hello> = {}): Hello {
  return { type: "hello", version: PROTOCOL_VERSION, auth, name: "w", agentVersion: "test", hardware: HARDWARE, models: [servedModel("m1")], slots: 2, ...over };
}

/** Enrols a new worker through the socket; returns its open client and credential. */
async function enrolled(on: Hub = hub, headers: Record<string, string> = {}): Promise<{ client: Client; workerId: string; credential: string }> {
  const { token } = await enrolment.createToken(undefined, "test:admin");
  const client = await new Client(on.port, headers).open();
  client.send(hello({ token }));
  const welcome = await client.next("welcome");
  return { client, workerId: welcome.workerId, credential: welcome.credential! };
}

const until = async (check: () => boolean, what: string, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  configureLogging("silent");
  audit = buildAudit(t.db);
  enrolment = new EnrolmentService({ workers: new WorkersRepository(t.db), audit, tokenTtlHours: 1 });
  hub = await startHub(60_000);
});
afterAll(async () => {
  for (const h of hubs) await h.close();
});

describe("WorkerSocketServer handshake", () => {
  it("welcomes an enrolling worker with its id and credential, and registers it", async () => {
    const { client, workerId, credential } = await enrolled();
    const welcome = await client.next("welcome");
    expect(welcome).toMatchObject({ version: PROTOCOL_VERSION, heartbeatMs: 60_000 });
    expect(credential).toMatch(/^wkr_/);
    expect(hub.registry.get(workerId)?.models.map((m) => m.id)).toEqual(["m1"]);
    client.ws.close();
  });

  it("keeps the embedding capability of a model whose width is not the pool's document width (it serves /v1/embeddings)", async () => {
    const pool384 = await startHub(60_000, [], 384);
    const { token } = await enrolment.createToken(undefined, "test:admin");
    const client = await new Client(pool384.port).open();
    client.send(hello({ token }, { models: [servedModel("m1", ["chat", "completion", "embedding"], { embeddingDims: 64 }), servedModel("e8", ["embedding"], { embeddingDims: 8 })] }));
    const { workerId } = await client.next("welcome");
    const models = pool384.registry.get(workerId)?.models;
    expect(models?.map((m) => [m.id, m.capabilities, m.embeddingDims])).toEqual([
      ["m1", ["chat", "completion", "embedding"], 64],
      ["e8", ["embedding"], 8],
    ]);
    expect(pool384.registry.anyServing("e8", "embedding")).toBe(true);
    client.ws.close();
  });

  it("takes the worker's address from X-Forwarded-For only behind a trusted proxy (CELLULE_TRUSTED_PROXIES); a forged header keeps the socket's address", async () => {
    const forged = await enrolled(hub, { "x-forwarded-for": "10.9.8.7" });
    expect(hub.registry.get(forged.workerId)?.remoteAddress).toBe("127.0.0.1");
    const behindProxy = await startHub(60_000, ["127.0.0.1"]);
    const proxied = await enrolled(behindProxy, { "x-forwarded-for": "6.6.6.6, 10.9.8.7" });
    expect(behindProxy.registry.get(proxied.workerId)?.remoteAddress).toBe("10.9.8.7");
    forged.client.ws.close();
    proxied.client.ws.close();
  });

  it("refuses a wrong enrolment token with a refused message and close 4003, and registers nothing", async () => {
    const client = await new Client(hub.port).open();
    client.send(hello({ token: "enrol_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, { name: "intruder" }));
    expect(await client.closed).toBe(CloseCode.authRefused);
    expect(client.messages).toEqual([{ type: "refused", code: "enrolment_refused", message: expect.any(String) as string, retry: false }]);
    expect([...hub.registry.connected()].map((w) => w.name)).not.toContain("intruder");
    expect(await t.db.query("SELECT id FROM workers WHERE name = 'intruder'")).toEqual([]);
  });

  it("refuses a wrong credential, another protocol version, and a first message that is not JSON", async () => {
    const badCredential = await new Client(hub.port).open();
    badCredential.send(hello({ credential: "wkr_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }));
    expect(await badCredential.closed).toBe(CloseCode.authRefused);
    expect(badCredential.messages[0]).toMatchObject({ type: "refused", code: "worker_credential_refused" });

    const oldVersion = await new Client(hub.port).open();
    oldVersion.send({ ...hello({ token: "x" }), version: PROTOCOL_VERSION + 1 });
    expect(await oldVersion.closed).toBe(CloseCode.protocolVersion);
    expect(oldVersion.messages[0]).toMatchObject({ type: "refused", code: "protocol_version", retry: false });

    const garbage = await new Client(hub.port).open();
    garbage.send("not json");
    expect(await garbage.closed).toBe(CloseCode.badMessage);
    expect(garbage.messages[0]).toMatchObject({ type: "refused", code: "bad_message" });
  });

  it("lets an enrolled worker come back with its credential (no new credential in the welcome)", async () => {
    const first = await enrolled();
    first.client.ws.close();
    await first.client.closed;
    await until(() => hub.registry.get(first.workerId) === undefined, "the first connection to be gone");
    const again = await new Client(hub.port).open();
    again.send(hello({ credential: first.credential }));
    const welcome = await again.next("welcome");
    expect(welcome.workerId).toBe(first.workerId);
    expect(welcome.credential).toBeUndefined();
    expect(hub.registry.get(first.workerId)).toBeDefined();
    again.ws.close();
  });
});

describe("WorkerSocketServer peer pools", () => {
  it("sends the trusted peers' URLs in the welcome, and a peers message to connected workers when they change (not when they do not)", async () => {
    const own = await startHub(60_000);
    own.sockets.setPeerPoolUrls(["http://127.0.2.1:18080", "http://127.0.1.1:18080", "http://127.0.2.1:18080"]);
    const first = await enrolled(own);
    const welcome = first.client.messages.find((m) => m.type === "welcome");
    expect(welcome).toMatchObject({ peerPoolUrls: ["http://127.0.1.1:18080", "http://127.0.2.1:18080"] }); // sorted, once each
    own.sockets.setPeerPoolUrls(["http://127.0.1.1:18080", "http://127.0.2.1:18080"]); // same set: nothing sent
    own.sockets.setPeerPoolUrls(["http://127.0.3.1:18080"]);
    const peers = await first.client.next("peers");
    expect(peers.peerPoolUrls).toEqual(["http://127.0.3.1:18080"]);
    expect(first.client.messages.filter((m) => m.type === "peers")).toHaveLength(1);
    const again = await enrolled(own);
    expect(again.client.messages.find((m) => m.type === "welcome")).toMatchObject({ peerPoolUrls: ["http://127.0.3.1:18080"] });
    first.client.ws.close();
    again.client.ws.close();
  });
});

describe("WorkerSocketServer routing hooks (issue 16)", () => {
  it("asks routing for each worker's peer URLs and pools to measure, tells it of connections and latency reports, and keeps the stored mobility", async () => {
    const own = await startHub(60_000);
    const calls: string[] = [];
    const reports: unknown[] = [];
    own.sockets.useRouting({
      peerUrlsFor: async (w, _site, all) => (w.mobility === "on-site" ? [] : [...all]),
      measureUrls: async (w) => (w.mobility === "on-site" ? undefined : ["http://127.0.1.1:18080", "http://127.0.2.1:18080"]),
      onConnected: async (w) => void calls.push(`${w.id}:${w.mobility}:${w.remoteAddress}`),
      onLatencyReport: async (w, r) => void reports.push({ id: w.id, pools: r.pools }),
    });
    own.sockets.setPeerPoolUrls(["http://127.0.2.1:18080"]);
    // A code that fixes the mobility wins over the hello's.
    const { token } = await enrolment.createToken(undefined, "test:admin", { mobility: "on-site" });
    const onSite = await new Client(own.port).open();
    onSite.send(hello({ token }, { mobility: "mobile" }));
    const w1 = await onSite.next("welcome");
    expect(w1.peerPoolUrls).toEqual([]);
    expect(w1.measurePoolUrls).toBeUndefined();
    const mobile = await enrolled(own);
    const w2 = mobile.client.messages.find((m) => m.type === "welcome");
    expect(w2).toMatchObject({ peerPoolUrls: ["http://127.0.2.1:18080"], measurePoolUrls: ["http://127.0.1.1:18080", "http://127.0.2.1:18080"] });
    expect(calls).toEqual([`${w1.workerId}:on-site:127.0.0.1`, `${mobile.workerId}:mobile:127.0.0.1`]);
    // A peers change: filtered per worker.
    own.sockets.setPeerPoolUrls(["http://127.0.3.1:18080"]);
    expect((await mobile.client.next("peers")).peerPoolUrls).toEqual(["http://127.0.3.1:18080"]);
    expect((await onSite.next("peers")).peerPoolUrls).toEqual([]);
    mobile.client.send({ type: "latency_report", pools: [{ url: "http://127.0.1.1:18080", rttMs: 3.5 }] });
    await until(() => reports.length === 1, "the latency report");
    expect(reports).toEqual([{ id: mobile.workerId, pools: [{ url: "http://127.0.1.1:18080", rttMs: 3.5 }] }]);
    onSite.ws.close();
    mobile.client.ws.close();
  });
});

describe("WorkerSocketServer drain", () => {
  it("refuses new workers with a retryable refusal (close 1001) once the pool drains, and keeps the connected ones working", async () => {
    const draining = await startHub(60_000);
    const { client, workerId } = await enrolled(draining);
    draining.sockets.refuseNew();

    const { token } = await enrolment.createToken(undefined, "test:admin");
    const late = await new Client(draining.port).open();
    late.send(hello({ token }, { name: "late" }));
    expect(await late.closed).toBe(CloseCode.shutdown);
    expect(late.messages).toEqual([{ type: "refused", code: "pool_shutting_down", message: expect.any(String) as string, retry: true }]);
    expect([...draining.registry.connected()].map((w) => w.name)).not.toContain("late");

    const job = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 8 });
    draining.dispatcher.submit(job);
    expect((await client.next("generate")).jobId).toBe(job.id);
    client.send({ type: "done", jobId: job.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    await expect(job.result).resolves.toMatchObject({ finishReason: "stop" });
    expect(draining.registry.get(workerId)).toBeDefined();
    client.ws.close();
  });
});

describe("WorkerSocketServer jobs", () => {
  it("carries a job to the worker and its chunks and done back to the job", async () => {
    const { client, workerId } = await enrolled();
    const job = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 8 });
    hub.dispatcher.submit(job);
    const sent: GenerateJob = await client.next("generate");
    expect(sent).toMatchObject({ jobId: job.id, model: "m1", input: { messages: [{ role: "user", content: "hi" }] } });
    expect(job.worker?.id).toBe(workerId);

    client.send({ type: "chunk", jobId: job.id, text: "Hel", tokens: 1 });
    client.send({ type: "chunk", jobId: job.id, text: "lo", tokens: 1 });
    client.send({ type: "done", jobId: job.id, finishReason: "stop", promptTokens: 4, completionTokens: 2 });
    expect(await job.result).toEqual({ finishReason: "stop", promptTokens: 4, completionTokens: 2 });
    expect(job.rawText).toBe("Hello");
    expect(hub.registry.get(workerId)?.busy).toBe(0);
    client.ws.close();
  });

  it("gives a draining worker no new job (it keeps its running one), and audits the failover transitions a worker reports", async () => {
    const { client, workerId } = await enrolled();
    const running = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 8 });
    hub.dispatcher.submit(running);
    await client.next("generate");
    client.send({ type: "draining", reason: "sticky return: the home pool answers again" });
    client.send({ type: "failover_event", from: "DOWN", to: "FALLBACK", detail: "connected to a peer", at: Date.now(), homePoolUrl: "http://127.0.1.1:18080" });
    await until(() => hub.registry.get(workerId)?.freeSlots === 0, "the worker to be draining");
    const queued = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi again" }] }, { maxTokens: 8 });
    hub.dispatcher.submit(queued); // it has a free slot, but is leaving: the job waits
    await new Promise((r) => setTimeout(r, 100));
    expect(client.messages.filter((m) => m.type === "generate")).toHaveLength(1);
    expect(queued.worker).toBeUndefined();
    client.send({ type: "done", jobId: running.id, finishReason: "stop", promptTokens: 1, completionTokens: 0 });
    await running.result;
    let entries: Awaited<ReturnType<AuditService["list"]>> = [];
    await until(() => {
      void audit.list({ action: "worker.failover" }).then((rows) => (entries = rows));
      return entries.some((e) => e.target === `worker:${workerId}`);
    }, "the failover audit entry");
    expect(entries.find((e) => e.target === `worker:${workerId}`)?.details).toMatchObject({ from: "DOWN", to: "FALLBACK", home_pool: "http://127.0.1.1:18080" });
    hub.dispatcher.cancel(queued);
    client.ws.close();
  });

  it("disconnects a worker that sends a malformed message (4001) and declares it gone", async () => {
    const { client, workerId } = await enrolled();
    client.send({ type: "chunk", jobId: 42 });
    expect(await client.closed).toBe(CloseCode.badMessage);
    await until(() => hub.registry.get(workerId) === undefined, "the worker to be gone");
  });
});

describe("WorkerSocketServer liveness", () => {
  it("declares a worker silent for 3 heartbeats dead, and keeps one that sends heartbeats", async () => {
    const fast = await startHub(150);
    const gone: { id: string; reason: GoneReason }[] = [];
    fast.registry.on("gone", (w: { id: string }, reason: GoneReason) => gone.push({ id: w.id, reason }));
    const silent = await enrolled(fast);
    const beating = await enrolled(fast);
    const beat = setInterval(() => beating.client.send({ type: "heartbeat", freeSlots: 2, activeJobs: 0 }), 50);
    try {
      await silent.client.closed;
      await until(() => gone.some((g) => g.id === silent.workerId), "the silent worker to be declared gone");
      expect(gone.find((g) => g.id === silent.workerId)?.reason).toBe("unresponsive");
      await new Promise((r) => setTimeout(r, 600)); // 4 heartbeat intervals more
      expect(fast.registry.get(beating.workerId)).toBeDefined();
      expect(gone.map((g) => g.id)).not.toContain(beating.workerId);
    } finally {
      clearInterval(beat);
      beating.client.ws.close();
    }
  });
});

describe("WorkerSocketServer desktops (issue 21)", () => {
  it("a desktop (hello, or a provisioning code's kind) gets its policy, no capacity until dormant, and yields when its owner is back", async () => {
    const d = await startHub(60_000);
    const changes: string[] = [];
    d.sockets.useDesktops({
      connected: (w) => w.send({ type: "desktop_policy", policy: { idleMinutes: 5, cpuThresholdPercent: 20, schedule: null } }),
      stateChanged: (_w, from, to) => changes.push(`${from ?? "-"}>${to}`),
    });
    // Enrolled with a desktop code, it says nothing of it in its hello: still a desktop (stored).
    const { token } = await enrolment.createToken(undefined, "test:admin", { kind: "desktop" });
    const client = await new Client(d.port).open();
    client.send(hello({ token }));
    const { workerId } = await client.next("welcome");
    expect(await client.next("desktop_policy")).toMatchObject({ policy: { idleMinutes: 5 } });
    const conn = d.registry.get(workerId)!;
    expect(conn.desktop).toBe(true);
    expect(conn.freeSlots).toBe(0);
    expect((await t.db.query<{ kind: string }>("SELECT kind FROM workers WHERE id = $1", [workerId]))[0]?.kind).toBe("desktop");

    client.send({ type: "desktop_state", state: "dormant", detail: "idle" });
    await until(() => conn.freeSlots === 2, "the desktop's slots to count");
    const job = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 10 });
    d.dispatcher.submit(job);
    await client.next("generate");
    client.send({ type: "desktop_state", state: "owner_active" });
    // No other worker serves m1: the job stays and finishes there.
    await until(() => changes.length === 2, "the second state change");
    expect(changes).toEqual(["->dormant", "dormant>owner_active"]);
    expect(conn.freeSlots).toBe(0);
    expect(job.worker).toBe(conn);
    expect(client.messages.filter((m) => m.type === "cancel")).toEqual([]);
    client.ws.close();
  });

  it("a worker that is no desktop: its hello says so, and a desktop_state from it is ignored", async () => {
    const { client, workerId } = await enrolled();
    const conn = hub.registry.get(workerId)!;
    expect(conn.desktop).toBe(false);
    client.send({ type: "desktop_state", state: "owner_active" });
    client.send({ type: "heartbeat", freeSlots: 2, activeJobs: 0 });
    await until(() => conn.lastSeenAt > Date.now() - 1000 && conn.desktopState === undefined, "the messages");
    await new Promise((r) => setTimeout(r, 50));
    expect(conn.desktopState).toBeUndefined();
    expect(conn.freeSlots).toBe(2);
    client.ws.close();
  });
});
